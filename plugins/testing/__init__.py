"""cgr.testing: checks and pytest fixtures for plugin authors.

Installing cgr registers the pytest plugin ``cgr.testing.plugin`` (entry point ``pytest11``), so any
test suite gets the fixtures ``cgr_plugins``, ``cgr_item``, ``cgr_check_solver`` and
``cgr_sandbox_run``. The checks are plain functions as well: ``check_solver(solver)``.
"""

from __future__ import annotations

import copy
import json
import math

__all__ = ["SAMPLE_ITEM", "SolverConformanceError", "check_solver", "sample_item"]

#: A guest view (what solvers' prompts, scaffolds and generators see): never the gold answer.
SAMPLE_ITEM = {
    "id": "cgr-testing-1",
    "question": "What is the capital of France?",
    "choices": ["Berlin", "Paris", "Rome", "Madrid"],
    "labels": ["A", "B", "C", "D"],
    "context": None,
}


class SolverConformanceError(AssertionError):
    """A solver broke the ``cgr.kernel.api.Solver`` protocol; the message says how."""


def sample_item() -> dict:
    """A fresh copy of ``SAMPLE_ITEM``."""
    return copy.deepcopy(SAMPLE_ITEM)


def _require(ok: bool, who: str, message: str) -> None:
    if not ok:
        raise SolverConformanceError(f"solver {who}: {message}")


def _scores(values, n: int, who: str, what: str) -> list[float]:
    _require(isinstance(values, (list, tuple)), who, f"{what} must return a list, got {type(values).__name__}")
    _require(len(values) == n, who, f"{what} returned {len(values)} scores for {n} inputs")
    for v in values:
        _require(isinstance(v, (int, float)) and not isinstance(v, bool), who, f"{what} returned a non-number {v!r}")
        _require(not math.isnan(v), who, f"{what} returned NaN")
    return [float(v) for v in values]


def check_solver(solver, *, item: dict | None = None, deterministic: bool = True) -> dict:
    """Run ``solver`` through the Solver protocol; raise SolverConformanceError, else return what it said.

    Checks: the protocol's attributes; ``info()`` is a JSON-serializable dict with a ``name``;
    ``complete`` returns a ``Completion`` with ``str`` text and non-negative token counts (the same
    text twice at temperature 0 when ``deterministic``); with ``choices`` (the labels, then the option
    texts) the text is exactly one of them; ``label_logprobs`` and ``logprobs`` return one real
    number per input.
    """
    from cgr.kernel.api import Completion, Solver
    from cgr.kernel.prompts import render_direct

    item = item or sample_item()
    who = repr(getattr(solver, "name", type(solver).__name__))
    _require(
        isinstance(solver, Solver), who, "lacks part of the protocol (name, info, complete, label_logprobs, logprobs)"
    )
    _require(isinstance(solver.name, str) and bool(solver.name), who, "name must be a non-empty str")

    info = solver.info()
    _require(isinstance(info, dict), who, f"info() must return a dict, got {type(info).__name__}")
    _require(isinstance(info.get("name"), str) and bool(info["name"]), who, "info() needs a 'name' str")
    try:
        json.dumps(info)
    except (TypeError, ValueError) as exc:
        raise SolverConformanceError(f"solver {who}: info() must be JSON-serializable ({exc})") from None

    labels, choices = list(item["labels"]), list(item["choices"])
    prompt = render_direct(item)
    cloze = f"Question: {item['question']}\nAnswer:"
    options = [" " + c for c in choices]

    def complete(p: str, **kw) -> Completion:
        out = solver.complete(p, **kw)
        _require(isinstance(out, Completion), who, f"complete() must return a Completion, got {type(out).__name__}")
        _require(isinstance(out.text, str), who, "Completion.text must be a str")
        for field in ("prompt_tokens", "completion_tokens"):
            n = getattr(out, field)
            _require(isinstance(n, int) and n >= 0, who, f"Completion.{field} must be an int >= 0, got {n!r}")
        return out

    free = complete(prompt, max_tokens=8, temperature=0.0, stop=["\n"])
    if deterministic:
        again = complete(prompt, max_tokens=8, temperature=0.0, stop=["\n"])
        _require(again.text == free.text, who, f"not deterministic at temperature 0: {free.text!r} then {again.text!r}")
    label = complete(prompt, max_tokens=4, temperature=0.0, choices=labels)
    _require(label.text in labels, who, f"complete(choices={labels}) returned {label.text!r}")
    option = complete(cloze, max_tokens=16, temperature=0.0, choices=options)
    _require(option.text in options, who, f"complete(choices={options}) returned {option.text!r}")
    label_scores = _scores(solver.label_logprobs(prompt, labels), len(labels), who, "label_logprobs()")
    option_scores = _scores(solver.logprobs(cloze, options), len(options), who, "logprobs()")
    return {
        "info": info,
        "complete": free.text,
        "choice": label.text,
        "option": option.text,
        "label_logprobs": label_scores,
        "logprobs": option_scores,
    }
