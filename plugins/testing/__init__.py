"""cgr.testing: checks and pytest fixtures for plugin authors.

Installing cgr registers the pytest plugin ``cgr.testing.plugin`` (entry point ``pytest11``), so any
test suite gets the fixtures ``cgr_plugins``, ``cgr_item``, ``cgr_records``, ``cgr_check_solver`` and
``cgr_sandbox_run``. The checks are plain functions as well: ``check_solver(solver)``.
"""

from __future__ import annotations

import copy
import json
import math
import re

__all__ = ["SAMPLE_ITEM", "SolverConformanceError", "check_solver", "sample_item", "sample_records"]

#: A guest view (what solvers' prompts, scaffolds and generators see): never the gold answer.
SAMPLE_ITEM = {
    "id": "cgr-testing-1",
    "question": "What is the capital of France?",
    "choices": ["Berlin", "Paris", "Rome", "Madrid"],
    "labels": ["A", "B", "C", "D"],
    "context": None,
}


_METHOD = re.compile(r"\b(info|complete|label_logprobs|logprobs)\b")

#: How far above 0 a log-probability may round (log 1 computed in float32 is not always 0.0).
LOGPROB_TOLERANCE = 1e-4


class SolverConformanceError(AssertionError):
    """A solver broke the ``cgr.kernel.api.Solver`` protocol. ``str()`` is one line: ``solver 'x':
    <part>: <check>: <what it did>``; ``part`` is the method (``complete(choices=labels)``,
    ``logprobs()``…) and ``check`` the rule it broke."""

    def __init__(self, who: str, part: str, check: str, detail: str):
        self.solver, self.part, self.check, self.detail = who, part, check, detail
        super().__init__(f"solver {who}: {part}: {check}: {detail}")


def sample_item() -> dict:
    """A fresh copy of ``SAMPLE_ITEM``."""
    return copy.deepcopy(SAMPLE_ITEM)


def sample_records() -> list:
    """Four ``cgr.kernel.records.Record`` objects (two tasks, direct and assisted each right twice),
    for testing reporters and commands without a run."""
    from cgr.kernel.records import AssistedChannel, DirectChannel, GeneratorChannel, Record

    out = []
    for i, (task, direct, assisted) in enumerate(
        [("geo", True, True), ("geo", False, True), ("sci", True, False), ("sci", False, False)], start=1
    ):
        out.append(
            Record(
                item_id=f"{task}-{i}",
                dataset="toy",
                task=task,
                solver="fake/none",
                generator="template/per_option",
                gold="A",
                direct=DirectChannel(answer="A" if direct else "B", correct=direct, calls=1),
                assisted=AssistedChannel(answer="A" if assisted else "C", correct=assisted, calls=4, status="ok"),
                generator_side=GeneratorChannel(answer=None, correct=False, calls=0),
            )
        )
    return out


def _require(ok: bool, who: str, part: str, check: str, detail: str) -> None:
    if not ok:
        raise SolverConformanceError(who, part, check, detail)


def _call(who: str, part: str, fn, *args, **kwargs):
    """``fn(*args, **kwargs)``; an exception it raises becomes a SolverConformanceError naming ``part``."""
    try:
        return fn(*args, **kwargs)
    except SolverConformanceError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of the solver's own code
        raise SolverConformanceError(who, part, "raised", f"{type(exc).__name__}: {exc}") from exc


def _scores(values, inputs: list[str], who: str, part: str) -> list[float]:
    """One finite log-probability (<= 0) per input."""
    n = len(inputs)
    _require(isinstance(values, (list, tuple)), who, part, "returns a list", f"got {type(values).__name__}")
    _require(len(values) == n, who, part, "one score per input", f"{len(values)} scores for {n} inputs")
    for v, what in zip(values, inputs):
        number = isinstance(v, (int, float)) and not isinstance(v, bool)
        _require(number, who, part, "scores are numbers", f"{v!r} for {what!r}")
        _require(math.isfinite(v), who, part, "log-probabilities are finite", f"{v!r} for {what!r}")
        _require(
            v <= LOGPROB_TOLERANCE,
            who,
            part,
            "log-probabilities are <= 0",
            f"{v!r} for {what!r} (log p with p <= 1: return log-probabilities, not probabilities or counts)",
        )
    return [float(v) for v in values]


def check_solver(solver, *, item: dict | None = None, deterministic: bool = True) -> dict:
    """Run ``solver`` through the Solver protocol; raise SolverConformanceError, else return what it said.

    Checks, in order (the error names the part and the check): each protocol method exists with a
    signature the kernel can call (``protocol_problem``); ``name`` is a non-empty str; ``info()``
    is a JSON-serializable dict with a ``name``; ``complete`` returns a ``Completion`` with ``str``
    text and non-negative token counts (the same text twice at temperature 0 when
    ``deterministic``); with ``choices`` (the labels, then the option texts) the text is exactly
    one of them; ``label_logprobs`` and ``logprobs`` return one finite log-probability (<= 0) per
    input. An exception a method raises is reported as that method's failure.
    """
    from cgr.kernel.api import Completion, protocol_problem
    from cgr.kernel.prompts import render_direct

    item = item or sample_item()
    who = repr(getattr(solver, "name", type(solver).__name__))
    problem = protocol_problem(solver)
    if problem:
        found = [(m.start(), m.group()) for m in _METHOD.finditer(problem)]
        method = min(found)[1] if found else "protocol"
        raise SolverConformanceError(who, f"{method}()", "matches the Solver protocol", problem)
    name = getattr(solver, "name", None)
    _require(isinstance(name, str) and bool(name), who, "name", "is a non-empty str", f"got {name!r}")

    info = _call(who, "info()", solver.info)
    _require(isinstance(info, dict), who, "info()", "returns a dict", f"got {type(info).__name__}")
    _require(isinstance(info.get("name"), str) and bool(info["name"]), who, "info()", "has a 'name' str", repr(info))
    try:
        json.dumps(info)
    except (TypeError, ValueError) as exc:
        raise SolverConformanceError(who, "info()", "is JSON-serializable", str(exc)) from None

    labels, choices = list(item["labels"]), list(item["choices"])
    prompt = render_direct(item)
    cloze = f"Question: {item['question']}\nAnswer:"
    options = [" " + c for c in choices]

    def complete(part: str, p: str, **kw) -> Completion:
        out = _call(who, part, solver.complete, p, **kw)
        _require(isinstance(out, Completion), who, part, "returns a Completion", f"got {type(out).__name__}")
        _require(isinstance(out.text, str), who, part, "Completion.text is a str", f"got {type(out.text).__name__}")
        for field in ("prompt_tokens", "completion_tokens"):
            n = getattr(out, field)
            _require(isinstance(n, int) and n >= 0, who, part, f"Completion.{field} is an int >= 0", f"got {n!r}")
        return out

    free = complete("complete()", prompt, max_tokens=8, temperature=0.0, stop=["\n"])
    if deterministic:
        again = complete("complete()", prompt, max_tokens=8, temperature=0.0, stop=["\n"])
        _require(
            again.text == free.text,
            who,
            "complete()",
            "deterministic at temperature 0",
            f"{free.text!r} then {again.text!r}",
        )
    part = f"complete(choices={labels})"
    label = complete(part, prompt, max_tokens=4, temperature=0.0, choices=labels)
    _require(label.text in labels, who, part, "returns exactly one of the choices", f"returned {label.text!r}")
    part = f"complete(choices={options})"
    option = complete(part, cloze, max_tokens=16, temperature=0.0, choices=options)
    _require(option.text in options, who, part, "returns exactly one of the choices", f"returned {option.text!r}")
    label_scores = _scores(
        _call(who, "label_logprobs()", solver.label_logprobs, prompt, labels), labels, who, "label_logprobs()"
    )
    option_scores = _scores(_call(who, "logprobs()", solver.logprobs, cloze, options), options, who, "logprobs()")
    return {
        "info": info,
        "complete": free.text,
        "choice": label.text,
        "option": option.text,
        "label_logprobs": label_scores,
        "logprobs": option_scores,
    }
