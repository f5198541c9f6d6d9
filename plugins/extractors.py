"""Letter extractors: turn free text into one of the item's labels, or None — never a guess.

The chain runs in ascending ``order``: an exact label, "the answer is X", a leading "X." / "(X)",
then a unique option-text match.

The text is hostile (a sandboxed program's stdout or ``extract_choice`` argument), so every
extractor is linear in ``len(text)`` in the worst case: plain ``str`` methods plus two regexes that
are one character class each (``\\s+``, ``\\w+``), which cannot backtrack. Backtracking patterns such
as ``\\s*[(\\[]?\\s*`` went cubic on long runs of spaces.
"""

from __future__ import annotations

import re
import string

from cgr.kernel.hookspecs import hookimpl

_WS = re.compile(r"\s+")  # same Unicode whitespace as str.strip()
_WORDS = re.compile(r"\w+")
_ALNUM = string.ascii_letters + string.digits  # a label token is 1-3 of these
_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)  # unlike lower(), keeps indices
_KEYWORDS = ("answer", "option", "choice")  # all six letters long, and none can overlap another


def _as_label(token: str, labels: list[str]) -> str | None:
    if token in labels:
        return token
    upper = token.upper()
    return upper if upper in labels and upper != token and len(token) == 1 else None


def _is_token(s: str) -> bool:
    return 1 <= len(s) <= 3 and s.isascii() and s.isalnum()


def _run(text: str, i: int) -> int:
    """Length of the ASCII-alnum run at ``i``, counted up to 4 (4 means "too long for a token")."""
    head = text[i : i + 4]
    return len(head) - len(head.lstrip(_ALNUM))


def _skip_ws(text: str, i: int) -> int:
    m = _WS.match(text, i)
    return m.end() if m else i


def exact_label(text: str, labels: list[str], choices: list[str]) -> str | None:
    """The whole reply is one label, optionally wrapped: ``B``, ``(B)``, ``B.``, `` [b] ``.

    From the left: an optional ``(``/``[``; from the right: an optional ``.``/``:``, then an
    optional ``)``/``]``; whitespace anywhere between. Brackets need not pair, as before.
    """
    s = text.strip()
    if s.startswith(("(", "[")):
        s = s[1:].lstrip()
    if s.endswith((".", ":")):
        s = s[:-1].rstrip()
    if s.endswith((")", "]")):
        s = s[:-1].rstrip()
    return _as_label(s, labels) if _is_token(s) else None


def _after_sep(text: str, low: str, i: int) -> tuple[int, int] | None:
    """The token span at ``i`` (at non-space) after an optional ``option`` and ``(``/``[``."""
    if low.startswith("option", i):
        i = _skip_ws(text, i + 6)
    if text.startswith(("(", "["), i):
        i = _skip_ws(text, i + 1)
    n = _run(text, i)
    return (i, i + n) if 1 <= n <= 3 else None


def _statement(text: str, low: str, p: int) -> tuple[int, int] | None:
    """The token span named by a statement whose keyword starts at ``p``, or None.

    Same result as the old backtracking regex: try with the ``is``/``:``/``=`` separator, then
    without (so "answer is." names "is", which no label matches). The token must not be followed by
    an ASCII alnum; a closing ``)``/``]`` may follow. Only the whitespace and markers after the
    keyword are scanned, so all statements together stay linear.
    """
    q = _skip_ws(text, p + 6)
    sep = 2 if low.startswith("is", q) else 1 if text.startswith((":", "="), q) else 0
    if sep and (span := _after_sep(text, low, _skip_ws(text, q + sep))):
        return span
    return _after_sep(text, low, q)


def _keyword_starts(low: str):
    """Start of every ``answer``/``option``/``choice`` in ``low``, ascending (one forward scan each)."""
    heads = [low.find(k) for k in _KEYWORDS]
    while live := [h for h in heads if h >= 0]:
        p = min(live)
        yield p
        heads = [low.find(k, p + 6) if h == p else h for k, h in zip(_KEYWORDS, heads)]


def answer_is(text: str, labels: list[str], choices: list[str]) -> str | None:
    """An explicit statement: "the answer is B", "Answer: (C)"; all statements must agree.

    A statement is a keyword (answer|option|choice, case-insensitive), an optional ``is``/``:``/
    ``=``, an optional ``option``, an optional ``(``/``[``, then a 1-3 character ASCII alnum token
    not followed by another. Statements do not overlap: "answer is option B" is one statement.
    """
    low = text.translate(_LOWER)
    found: set[str | None] = set()
    end = 0
    for p in _keyword_starts(low):
        if p >= end and (span := _statement(text, low, p)):
            found.add(_as_label(text[span[0] : span[1]], labels))
            end = span[1]
    found.discard(None)
    return found.pop() if len(found) == 1 else None


def leading_label(text: str, labels: list[str], choices: list[str]) -> str | None:
    """The reply starts with a label followed by punctuation: ``B. Paris``, ``(C) because…``."""
    s = text.lstrip()
    i = _skip_ws(s, 1) if s.startswith(("(", "[")) else 0
    n = _run(s, i)
    j = _skip_ws(s, i + n)
    # the token, then optional whitespace, one of )].: and whitespace or the end
    if not (1 <= n <= 3 and s.startswith((")", "]", ".", ":"), j)) or s[j + 1 : j + 2].strip():
        return None
    token = s[i : i + n]
    return token if token in labels else None  # no case folding: "a. ..." is too often a word


def _norm(s: str) -> str:
    return " ".join(_WORDS.findall(s.lower()))


def option_text(text: str, labels: list[str], choices: list[str]) -> str | None:
    """Exactly one option's text occurs in the reply (word-bounded, case-insensitive)."""
    hay = f" {_norm(text)} "
    needles = [_norm(c) for c in choices]
    hits = [(label, n) for label, n in zip(labels, needles) if n and f" {n} " in hay]
    if len(hits) != 1:
        return None
    # An option that is a substring of another hit-free option is still ambiguous, e.g. "iron" in
    # "iron oxide": require that no longer option contains the hit's text.
    label, hit = hits[0]
    return None if any(n != hit and f" {hit} " in f" {n} " for n in needles) else label


@hookimpl
def register_extractors(register) -> None:
    """The built-in letter extractor chain."""
    register("exact_label", exact_label, order=10)
    register("answer_is", answer_is, order=20)
    register("leading_label", leading_label, order=30)
    register("option_text", option_text, order=40)
