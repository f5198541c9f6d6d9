"""The cloze arithmetic shared by the built-in ``cloze`` direct modes and ``kernel/budget.py``."""

from __future__ import annotations

from collections.abc import Iterable


def option_length(choice: str) -> int:
    """The length a cloze score is divided by: the option's UTF-8 bytes (at least 1)."""
    return max(1, len(choice.encode("utf-8", "surrogatepass")))


def cloze_continuations(choices: Iterable[str]) -> list[str]:
    """The scored continuations: ``" " + option`` (lm-evaluation-harness's target delimiter)."""
    return [" " + c for c in choices]
