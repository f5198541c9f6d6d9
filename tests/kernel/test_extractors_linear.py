"""The host extractors are linear-time on hostile text: work is counted, never timed.

Work is Python line events (``sys.settrace``) plus C calls (``sys.setprofile``). C calls are opaque,
so every regex method called must be on a pattern audited as linear; the profiler raises before an
unaudited pattern runs, so an old backtracking regex fails the test instead of hanging it.
"""

from __future__ import annotations

import random
import re
import string
import sys

import pytest

from cgr.kernel.chain import MAX_EXTRACT_CHARS, extract_label
from cgr.kernel.manager import Entry
from cgr.plugins import extractors as ex

L, C = ["A", "B", "C", "D"], ["Berlin", "Paris", "Rome", "iron oxide"]
MB = 1_000_000
K, BASE = 8, 200  # allowed work: K per character of text plus BASE

#: Patterns audited as linear: one character class with ``+`` and nothing after it to backtrack into.
LINEAR_PATTERNS = {r"\s+", r"\w+"}

#: The pre-fix regexes: the reference semantics on short text, and hours of backtracking on long.
OLD_WRAPPED = re.compile(r"^\s*[\(\[]?\s*([A-Za-z0-9]{1,3})\s*[\)\]]?\s*[.:]?\s*$")
OLD_ANSWER_IS = re.compile(
    r"(?:answer|option|choice)\s*(?:is|:|=)?\s*(?:option\s*)?[\(\[]?\s*([A-Za-z0-9]{1,3})\s*[\)\]]?(?![A-Za-z0-9])",
    re.IGNORECASE,
)
OLD_LEADING = re.compile(r"^\s*[\(\[]?\s*([A-Za-z0-9]{1,3})\s*(?:[\)\]]|[.:)])(?:\s|$)")

EXTRACTORS = [ex.exact_label, ex.answer_is, ex.leading_label, ex.option_text]

#: Hostile inputs of about ``n`` characters.
HOSTILE = {
    "label_spaces_x": lambda n: "A" + " " * n + "x",
    "answer_spaces_bang": lambda n: "answer" + " " * n + "!",
    "answer_repeated": lambda n: "answer " * (n // 7),
    "answer_glued": lambda n: "answer" * (n // 6),
    "open_parens": lambda n: "(" * n,
    "label_dot_spaces": lambda n: "A." + " " * n,
    "answer_is_open_spaces": lambda n: "answer is (" + " " * n,
    "answer_is_long_token": lambda n: "answer is " + "a" * n,
    "wrapped_spaces": lambda n: "(" + " " * n + "B" + " " * n + ")" + " " * n + ".",
    "near_miss_options": lambda n: "Pari Parisx iron oxid Berlinn Rom " * (n // 34),
    "unicode_words": lambda n: "жİ" * (n // 2),
    "mixed_alternations": lambda n: "Answer: option ( [ is = choice:(" * (n // 32),
    "mixed_whitespace": lambda n: " \t\n\u00a0\u2003(" * (n // 6),
    "agreeing_statements": lambda n: "the answer is (B) " * (n // 18),
}


class UnauditedRegex(AssertionError):
    """A regex not audited as linear was about to run on guest text."""


class OverBudget(AssertionError):
    """The extractor did more work than the linear budget allows."""


def count_ops(call, *, limit: int | None = None, patterns: set[str] | None = None) -> int:
    """Line events + C calls while ``call()`` runs; the regex patterns it calls go to ``patterns``."""
    ops = 0

    def charge():
        nonlocal ops
        ops += 1
        if limit is not None and ops > limit:
            raise OverBudget(f"over {limit} operations")

    def trace(frame, event, arg):
        if event == "line":
            charge()
        return trace

    def profile(frame, event, arg):
        if event == "c_call":
            charge()
            owner = getattr(arg, "__self__", None)
            if isinstance(owner, re.Pattern):
                if owner.pattern not in LINEAR_PATTERNS:
                    raise UnauditedRegex(f"{arg.__name__} on {owner.pattern!r}")
                if patterns is not None:
                    patterns.add(owner.pattern)

    old_trace, old_profile = sys.gettrace(), sys.getprofile()
    sys.setprofile(profile)
    sys.settrace(trace)
    try:
        call()
    finally:
        sys.settrace(old_trace)
        sys.setprofile(old_profile)
    return ops


def extractor_ops(fn, text: str, **kw) -> int:
    return count_ops(lambda: fn(text, L, C), **kw)


@pytest.mark.parametrize("name", sorted(HOSTILE))
@pytest.mark.parametrize("fn", EXTRACTORS, ids=lambda f: f.__name__)
def test_linear_work_on_1mb_hostile_text(fn, name):
    text = HOSTILE[name](MB)
    assert len(text) >= MB * 0.99
    extractor_ops(fn, text, limit=K * len(text) + BASE)


@pytest.mark.parametrize("name", sorted(HOSTILE))
@pytest.mark.parametrize("fn", EXTRACTORS, ids=lambda f: f.__name__)
def test_doubling_the_text_at_most_doubles_the_work(fn, name):
    small, big = (extractor_ops(fn, HOSTILE[name](n)) for n in (MB // 4, MB // 2))
    assert big <= 2 * small + BASE, (small, big)


def test_the_guard_sees_the_extractors_regex_calls():
    patterns: set[str] = set()
    for fn in EXTRACTORS:
        extractor_ops(fn, " (answer: is B) Paris", patterns=patterns)
    assert patterns == LINEAR_PATTERNS


def test_the_guard_stops_old_backtracking_regexes_before_they_run():
    # On these texts the pre-fix patterns run for hours; the profiler refuses them before the call.
    with pytest.raises(UnauditedRegex):
        count_ops(lambda: OLD_WRAPPED.match("A" + " " * MB + "x"))
    with pytest.raises(UnauditedRegex):
        count_ops(lambda: list(OLD_ANSWER_IS.finditer("answer" + " " * MB + "!")))
    with pytest.raises(UnauditedRegex):
        count_ops(lambda: OLD_LEADING.match("(" * MB))


# --- the cap in extract_label -------------------------------------------------------------------


def _recorder(seen: list[str]) -> Entry:
    return Entry("extractor", "recorder", lambda text, labels, choices: seen.append(text), "test")


def test_extract_label_passes_only_the_last_max_chars():
    text = "answer is B " + string.ascii_lowercase * (MB // 26)
    seen: list[str] = []
    assert extract_label([_recorder(seen)], text, L, C) == (None, None)
    assert seen == [text[-MAX_EXTRACT_CHARS:]] and len(seen[0]) == MAX_EXTRACT_CHARS == 32_000


def test_extract_label_passes_short_text_unchanged():
    seen: list[str] = []
    text = "x" * MAX_EXTRACT_CHARS
    extract_label([_recorder(seen)], text, L, C)
    assert seen == [text]


def test_extract_label_reads_the_final_answer_of_long_output(plugins):
    chain = plugins.extractors()
    assert extract_label(chain, "log line\n" * MB + "The answer is C.", L, C) == ("C", "answer_is")
    assert extract_label(chain, "The answer is C." + " " * MB, L, C) == (None, None)


def test_extract_label_work_does_not_grow_past_the_cap(plugins):
    chain = plugins.extractors()
    per = [count_ops(lambda n=n: extract_label(chain, "answer " * (n // 7), L, C)) for n in (MB, 2 * MB)]
    assert per[0] == per[1] <= len(chain) * (K * MAX_EXTRACT_CHARS + BASE)


# --- semantics of the rewritten extractors ------------------------------------------------------


@pytest.mark.parametrize(
    "text, want",
    [
        (" [b] ", "B"),
        ("\u00a0(C)\u2003", "C"),
        ("(B]", "B"),
        ("B):", "B"),
        ("( B ) .", "B"),
        ("B.)", None),
        ("((B)", None),
        ("B C", None),
        ("ABCD", None),
        ("é", None),
        ("()", None),
        ("(" + " " * 1000 + "D" + " " * 1000 + ")", "D"),
    ],
)
def test_exact_label(text, want):
    assert ex.exact_label(text, L, C) == want


@pytest.mark.parametrize(
    "text, want",
    [
        ("the answer is option B", "B"),
        ("Answer:(c)", "C"),
        ("choice = [D]", "D"),
        ("The correct option is B.", "B"),
        ("ANSWER IS A", "A"),
        ("answer is\n\n  (B)", "B"),
        ("the answer is Paris", None),
        ("the answer is B, i.e. option B", "B"),
        ("answer is A; choice: B", None),
        ("answer is AB", None),
        ("answer is (A)x", "A"),
        ("answer:" + " " * 1000 + "C", "C"),
    ],
)
def test_answer_is(text, want):
    assert ex.answer_is(text, L, C) == want


@pytest.mark.parametrize(
    "text, want",
    [
        ("(C) because", "C"),
        ("[B]\tx", "B"),
        ("B.", "B"),
        ("B.Paris", None),
        ("ABCD. x", None),
        ("  D : y", "D"),
        ("b) Paris", None),
    ],
)
def test_leading_label(text, want):
    assert ex.leading_label(text, L, C) == want


PIECES = [
    "answer",
    "Option",
    "CHOICE",
    "is",
    "IS",
    ":",
    "=",
    "(",
    "[",
    ")",
    "]",
    ".",
    " ",
    "  ",
    "\t",
    "\n",
    "\u00a0",
    "A",
    "b",
    "c",
    "x",
    "1",
    "ab1",
    "abcd",
    "é",
    "'",
    "!",
]


def test_same_results_as_the_old_regexes_on_short_text():
    labels = ["A", "b", "c", "x", "1", "ab1", "is", "IS", "D"]
    rnd = random.Random(7)
    for _ in range(5000):
        text = "".join(rnd.choice(PIECES) for _ in range(rnd.randint(0, 9)))
        m = OLD_WRAPPED.match(text)
        assert ex.exact_label(text, labels, []) == (ex._as_label(m.group(1), labels) if m else None), text
        m = OLD_LEADING.match(text)
        old_lead = m.group(1) if m and m.group(1) in labels else None
        found = {ex._as_label(m.group(1), labels) for m in OLD_ANSWER_IS.finditer(text)} - {None}
        assert ex.leading_label(text, labels, []) == old_lead, text
        assert ex.answer_is(text, labels, []) == (found.pop() if len(found) == 1 else None), text
