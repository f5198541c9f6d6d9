"""Choices and labels from what an OpenAI-compatible server returns: a free-text reply, or the top-N
(token, log-probability) pairs of the first generated token. Pure functions, no HTTP.
"""

from __future__ import annotations

import math
import re

#: Score of a label that is not among the top-N next tokens ("-inf-like", finite for JSON records).
LOGPROB_FLOOR = -1e4


def logsumexp(values: list[float]) -> float:
    """``log(sum(exp(v)))`` without overflow (``values`` not empty)."""
    m = max(values)
    return m + math.log(sum(math.exp(v - m) for v in values))


def norm(text: str, fold: bool = True) -> str:
    """``text`` without surrounding spaces, brackets and punctuation; case-folded unless ``fold=False``."""
    text = text.strip().strip("()[]*.:,;!?\"'`").strip()
    return text.casefold() if fold else text


def match_choice(reply: str, choices: list[str]) -> int | None:
    """Index of the choice a free-text ``reply`` names, or None (exact, prefix, first mention)."""
    r = norm(reply)
    normed = [norm(c) for c in choices]
    for i, c in enumerate(normed):
        if c and r == c:
            return i
    # Beyond an exact reply, one-character choices match case-sensitively: "a" is a word, "A" a label.
    cased = norm(reply, fold=False)
    for i in sorted(range(len(choices)), key=lambda i: -len(normed[i])):  # "AB" before "A"
        c, hay = (choices[i].strip(), cased) if len(choices[i].strip()) == 1 else (normed[i], r)
        if c and hay.startswith(c) and not hay[len(c)].isalnum():
            return i
    first: tuple[int, int] | None = None
    for i, choice in enumerate(choices):
        short = len(choice.strip()) == 1
        needle, hay = (choice.strip(), reply) if short else (normed[i], reply.casefold())
        m = re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", hay) if needle else None
        if m and (first is None or m.start() < first[0]):
            first = (m.start(), i)
    return first[1] if first else None


def first_token_choice(top: list[tuple[str, float]], choices: list[str]) -> int | None:
    """The choice that the most likely of the ``top`` first tokens starts, or None."""
    normed = [norm(c) for c in choices]
    for token, _ in sorted(top, key=lambda t: -t[1]):
        t = norm(token)
        for i, c in enumerate(normed):
            if t and c.startswith(t):
                return i
    return None


def label_scores(top: list[tuple[str, float]], labels: list[str]) -> list[float]:
    """Per label, the log-sum-exp of the ``top`` tokens equal to it once spaces are stripped
    ("A", " A"); ``LOGPROB_FLOOR`` for a label outside them."""
    out = []
    for label in labels:
        values = [lp for tok, lp in top if tok.strip() == label.strip()]
        out.append(logsumexp(values) if values else LOGPROB_FLOOR)
    return out
