"""The built-in direct-channel modes: how the solver answers an item without a scaffold.

- ``generate``: the letter prompt (``prompts.DIRECT_TEMPLATE``), a greedy reply, the extractor chain
  reads the letter. When the option text that follows the letter names another option ("C.
  Mandibular nerve" where that is option D's text), the channel keeps both (``text_answer``,
  ``disagreement``); the answer stays the letter, which is what the prompt asks for.
- ``grammar``: the same prompt, the reply constrained to one of the labels (the solver's
  ``complete(choices=labels)``: a GBNF grammar in the llama solver), greedy.
- ``logprobs``: the same prompt, the label with the highest next-token log-probability.
- ``cloze``: host-side option scoring: ``prompts.render_cloze`` (``Question: ...\\nAnswer:``) and
  ``" " + option`` for each option, scored in one ``solver.logprobs`` call; the answer has the highest
  log-likelihood divided by the option's length in UTF-8 bytes (lm-evaluation-harness ``acc_norm``,
  which divides by characters: the same for ASCII options, and ``acc_bytes`` exactly).
- ``cloze_raw``: the same scores, unnormalised (lm-evaluation-harness ``acc``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cgr.kernel import prompts
from cgr.kernel.api import DirectAnswer, DirectModeRegistrar, Solver, scored_tokens
from cgr.kernel.chain import extract_label
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.manager import Entry
from cgr.kernel.records import Item

__all__ = [
    "CLOZE_MODES",
    "ClozeCache",
    "DirectAnswer",
    "answer_in_mode",
    "best_option",
    "cloze_continuations",
    "option_length",
    "text_answer",
]

#: The modes that score the cloze prompt (the host computes both from one solver call).
CLOZE_MODES = ("cloze", "cloze_raw")

_WORDS = re.compile(r"\w+")  # one character class: linear, cannot backtrack


def option_length(choice: str) -> int:
    """The length a cloze score is divided by: the option's UTF-8 bytes (at least 1)."""
    return max(1, len(choice.encode("utf-8", "surrogatepass")))


def cloze_continuations(choices: Iterable[str]) -> list[str]:
    """The scored continuations: ``" " + option`` (lm-evaluation-harness's target delimiter)."""
    return [" " + c for c in choices]


@dataclass
class ClozeCache:
    """One item's cloze scores, shared by ``cloze`` and ``cloze_raw`` (scored once for both)."""

    scores: list[float] | None = None
    tokens: int = 0


def best_option(scores: list[float], choices: list[str], *, normalise: bool) -> int:
    """Index of the best option: highest score (divided by ``option_length`` when ``normalise``);
    the first of equal ones (``numpy.argmax``, as lm-evaluation-harness)."""
    values = [s / option_length(c) if normalise else s for s, c in zip(scores, choices)]
    return max(range(len(values)), key=lambda i: (values[i], -i))


def _words(text: str) -> list[str]:
    return _WORDS.findall(text)


def text_answer(reply: str, labels: list[str], choices: list[str]) -> str | None:
    """The option whose text the reply states, or None.

    A leading label (``C``, ``C.``, ``(C)``, ``C:``; not ``A cell``) is skipped; then the rest of the reply must be an
    option's text (case and punctuation ignored), start with one (the longest if several), or — a
    reply cut by ``max_tokens`` — be the start of exactly one option's text (at least 4 characters).
    Failing that, one option's text occurring in the reply as whole words decides. Linear in the
    reply's length (the reply is the solver's, bounded by ``direct_max_tokens``).
    """
    words = _words(reply)
    head = reply.lstrip("([ \t\n")
    if words and words[0] in labels and head.startswith(words[0]) and head[len(words[0]) : len(words[0]) + 1] in ".):]":
        words = words[1:]  # "C. ...", "(C) ...", "C" alone; not the article in "A cell ..."
    body = " ".join(words).lower()
    if not body:
        return None
    options = [" ".join(_words(c)).lower() for c in choices]
    starts = [i for i, o in enumerate(options) if o and (body == o or body.startswith(o + " "))]
    if starts:
        longest = max(len(options[i]) for i in starts)
        top = [i for i in starts if len(options[i]) == longest]
        return labels[top[0]] if len(top) == 1 else None
    if len(body) >= 4:
        cut = [i for i, o in enumerate(options) if o.startswith(body)]
        if len(cut) == 1:
            return labels[cut[0]]
    padded = f" {body} "
    inside = [i for i, o in enumerate(options) if o and f" {o} " in padded]
    inside = [i for i in inside if not any(j != i and f" {options[i]} " in f" {options[j]} " for j in inside)]
    return labels[inside[0]] if len(inside) == 1 else None


def cloze(
    solver: Solver, chain: list[Entry], item: Item, *, max_tokens: int, cache: dict[str, Any], normalise: bool = True
) -> DirectAnswer:
    """Score each option after the cloze prompt; the best by log-likelihood per UTF-8 byte (acc_norm)."""
    scored: ClozeCache = cache.setdefault("cloze", ClozeCache())
    if scored.scores is None:
        got = solver.logprobs(prompts.render_cloze(item.guest_view()), cloze_continuations(item.choices))
        if len(got) != len(item.choices):
            raise ValueError(f"the solver returned {len(got)} scores for {len(item.choices)} options")
        scored.scores, scored.tokens = [float(x) for x in got], scored_tokens(got)
    best = best_option(scored.scores, item.choices, normalise=normalise)
    text = " ".join(
        f"{lab}:{s:.4f}/{option_length(c)}" if normalise else f"{lab}:{s:.4f}"
        for lab, s, c in zip(item.labels, scored.scores, item.choices)
    )
    how = "cloze_acc_norm" if normalise else "cloze_acc"
    return DirectAnswer(
        item.labels[best], how, text, scored.tokens, scores=scored.scores, prompt_version=prompts.CLOZE_VERSION
    )


def cloze_raw(
    solver: Solver, chain: list[Entry], item: Item, *, max_tokens: int, cache: dict[str, Any]
) -> DirectAnswer:
    """The cloze scores unnormalised (acc); shares the scoring call with cloze."""
    return cloze(solver, chain, item, max_tokens=max_tokens, cache=cache, normalise=False)


def logprobs(solver: Solver, chain: list[Entry], item: Item, *, max_tokens: int, cache: dict[str, Any]) -> DirectAnswer:
    """The label with the highest next-token log-probability after the letter prompt."""
    scores = solver.label_logprobs(prompts.render_direct(item.guest_view()), list(item.labels))
    best = max(range(len(scores)), key=lambda i: (scores[i], -i))
    listed = " ".join(f"{lab}:{s:.4f}" for lab, s in zip(item.labels, scores))
    return DirectAnswer(item.labels[best], "label_logprobs", listed, scored_tokens(scores), scores=list(scores))


def generate(
    solver: Solver, chain: list[Entry], item: Item, *, max_tokens: int, cache: dict[str, Any], grammar: bool = False
) -> DirectAnswer:
    """A greedy reply to the letter prompt, read by the extractor chain."""
    completion = solver.complete(
        prompts.render_direct(item.guest_view()),
        max_tokens=4 if grammar else max_tokens,
        temperature=0.0,
        stop=None if grammar else ["\n"],
        choices=list(item.labels) if grammar else None,
    )
    reply = completion.text
    found: tuple[str | None, str | None] = (reply, "grammar") if reply in item.labels else (None, None)
    if not grammar:
        found = extract_label(chain, reply, item.labels, item.choices)
    said = None if grammar else text_answer(reply, item.labels, item.choices)
    return DirectAnswer(
        found[0], found[1], reply, completion.prompt_tokens, completion.completion_tokens, text_answer=said
    )


def grammar(solver: Solver, chain: list[Entry], item: Item, *, max_tokens: int, cache: dict[str, Any]) -> DirectAnswer:
    """The letter prompt with the reply constrained to one of the labels, greedy."""
    return generate(solver, chain, item, max_tokens=max_tokens, cache=cache, grammar=True)


MODES = {"generate": generate, "grammar": grammar, "logprobs": logprobs, "cloze": cloze, "cloze_raw": cloze_raw}


def answer_in_mode(
    solver: Solver,
    chain: list[Entry],
    item: Item,
    mode: str,
    *,
    max_tokens: int,
    cloze_cache: ClozeCache | None = None,
) -> DirectAnswer:
    """One built-in mode's answer for ``item`` (exceptions propagate); ``cloze_cache`` carries the
    cloze scores between ``cloze`` and ``cloze_raw`` of one item."""
    return MODES[mode](solver, chain, item, max_tokens=max_tokens, cache={"cloze": cloze_cache or ClozeCache()})


@hookimpl
def register_direct_modes(register: DirectModeRegistrar) -> None:
    for name, fn in MODES.items():  # in this order in ``cgr run --help``
        version = prompts.CLOZE_VERSION if name in CLOZE_MODES else prompts.DIRECT_VERSION
        register(name, fn, prompt_version=version)
