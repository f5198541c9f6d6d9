"""Letter extractors: turn free text into one of the item's labels, or None — never a guess.

The chain runs in ascending ``order``: an exact label, "the answer is X", a leading "X." / "(X)",
then a unique option-text match.
"""

from __future__ import annotations

import re

from cgr.kernel.hookspecs import hookimpl

_WRAPPED = re.compile(r"^\s*[\(\[]?\s*([A-Za-z0-9]{1,3})\s*[\)\]]?\s*[.:]?\s*$")
_ANSWER_IS = re.compile(
    r"(?:answer|option|choice)\s*(?:is|:|=)?\s*(?:option\s*)?[\(\[]?\s*([A-Za-z0-9]{1,3})\s*[\)\]]?(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_LEADING = re.compile(r"^\s*[\(\[]?\s*([A-Za-z0-9]{1,3})\s*(?:[\)\]]|[.:)])(?:\s|$)")


def _as_label(token: str, labels: list[str]) -> str | None:
    if token in labels:
        return token
    upper = token.upper()
    return upper if upper in labels and upper != token and len(token) == 1 else None


def exact_label(text: str, labels: list[str], choices: list[str]) -> str | None:
    """The whole reply is one label, optionally wrapped: ``B``, ``(B)``, ``B.``."""
    m = _WRAPPED.match(text)
    return _as_label(m.group(1), labels) if m else None


def answer_is(text: str, labels: list[str], choices: list[str]) -> str | None:
    """An explicit statement: "the answer is B", "Answer: (C)"; all statements must agree."""
    found = {_as_label(m.group(1), labels) for m in _ANSWER_IS.finditer(text)}
    found.discard(None)
    return found.pop() if len(found) == 1 else None


def leading_label(text: str, labels: list[str], choices: list[str]) -> str | None:
    """The reply starts with a label followed by punctuation: ``B. Paris``, ``(C) because…``."""
    m = _LEADING.match(text)
    if not m:
        return None
    token = m.group(1)
    return token if token in labels else None  # no case folding: "a. ..." is too often a word


def _norm(s: str) -> str:
    return " ".join(re.findall(r"\w+", s.lower()))


def option_text(text: str, labels: list[str], choices: list[str]) -> str | None:
    """Exactly one option's text occurs in the reply (word-bounded, case-insensitive)."""
    hay = f" {_norm(text)} "
    hits = [
        label
        for label, choice in zip(labels, choices)
        if (needle := _norm(choice)) and f" {needle} " in hay
    ]
    if len(hits) != 1:
        return None
    # An option that is a substring of another hit-free option is still ambiguous, e.g. "iron" in
    # "iron oxide": require that no longer option contains the hit's text.
    hit_text = _norm(choices[labels.index(hits[0])])
    longer = [c for c in choices if hit_text != _norm(c) and f" {hit_text} " in f" {_norm(c)} "]
    return None if longer else hits[0]


@hookimpl
def register_extractors(register) -> None:
    """The built-in letter extractor chain."""
    register("exact_label", exact_label, order=10)
    register("answer_is", answer_is, order=20)
    register("leading_label", leading_label, order=30)
    register("option_text", option_text, order=40)
