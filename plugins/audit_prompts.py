"""How the audit's stand-in solvers read a scaffold's prompt (no model): which options it names
and how it labels them, its focus (the option named last), whether it is negated ("which is
wrong"), whether it asks for yes/no, and labels it states as the answer.

Prompts come from the guest (hostile): every pattern here is linear (a literal alternation with
lookarounds, bounded repeats) and the caller bounds calls and time per audit.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

_WS = re.compile(r"\s+")
GENERIC = re.compile(
    r"(all|none|both|neither|each|any)( of)?( the| these| those)?( above| options| answers| choices)?"
    r"|true|false|yes|no|not enough information|cannot be determined|it depends|i don'?t know"
)
_LABEL_BEFORE = re.compile(r"(?:^|[^A-Za-z0-9])[(\[]?([A-Za-z0-9]{1,3})\s?[)\].:]\s{0,3}[\"'“]?$")
_LABEL_REF = re.compile(r"(?i:\b(?:option|choice|letter))\s{0,3}[\"'(\[]?([A-Z0-9]{1,3})[\"')\]]?(?![A-Za-z0-9])")
_NEGATION = re.compile(
    r"\b(?:which|what)\b[^.?\n]{0,40}?\b(?:not|incorrect|wrong|false|least)\b|\beliminat|\brule[sd]?\s{1,3}out\b"
    r"|\bleast\s{1,3}likely\b|\b(?:is|are)\b[^.?\n]{0,30}?\b(?:incorrect|wrong|not\s{1,3}(?:correct|true|right))\b"
    r"|\bimplausible\b"
)
_LISTING_LINE = re.compile(r"(?m)^[ \t]{0,8}[(\[]?([A-Za-z0-9]{1,3})[)\].:][ \t]{1,8}(\S[^\n]{0,2000})$")
#: Words too common to single out as an option's text in a prompt (a template's "which of these two").
COMMON_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve hundred thousand million first second "
    "third last none all both some many more less most least yes no true false a an the it this that these".split()
)
_YES = re.compile(r"\byes\b")
_NO = re.compile(r"\bno\b")
_TRUE_FALSE = re.compile(r"\btrue\b[^\n]{0,40}?\bfalse\b")
HINT = re.compile(
    r"(?i:\b(?:answer|solution)\s{1,3}(?:is|would\s{1,3}be|should\s{1,3}be)|\bcorrect\s{1,3}(?:answer|option|choice)"
    r"\s{0,3}(?:is|:))\s{0,3}:?\s{0,3}(?i:(?:option|choice|letter)\s{1,3})?[(\[]?([A-Z])[)\]]?(?=[\s.!]|$)"
    r"|(?i:\b(?:option|choice|letter|answer))\s{1,3}[(\[]?([A-Z])[)\]]?\s{1,3}(?i:is\s{1,3}(?:right|correct|true|the\s{1,3}answer))"
)
#: "the third option is right": an ordinal stated as the answer (its position's label)
ORDINAL_HINT = re.compile(
    r"(?i:\b(first|second|third|fourth|fifth|sixth|last)\s{1,3}(?:option|choice|answer|one)\s{1,3}is\s{1,3}"
    r"(?:right|correct|true|the\s{1,3}answer))"
)
ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "sixth": 5, "last": -1}
_ASKED_WORD = (
    re.compile(r"(?i:\b(?:word|just|only))\s{1,3}[\"'“]?(\w+)"),
    re.compile(r"(?i:\b(?:say|write|output|print|repeat))\s{1,3}[\"'“]?(\w+)"),
)
_WORD = re.compile(r"[a-z]{3,}")
PLAIN_WORDS = frozenset(
    "answer answers the correct right best option choice question solution reply final response this that "
    "and you your our its please only one letter text output result following here will would should".split()
)
YES_WORDS = frozenset({"yes", "true", "correct", "right", "y", "t"})
NO_WORDS = frozenset({"no", "false", "incorrect", "wrong", "n", "f"})


def norm(text: str) -> str:
    """Lower case, whitespace collapsed, outer punctuation and quotes stripped."""
    return _WS.sub(" ", text.lower()).strip(" \t\n.,;:!?\"'`()[]")


def is_generic(text: str) -> bool:
    """Option texts that carry no content of their own ("all of the above", "true", …)."""
    return GENERIC.fullmatch(norm(text)) is not None


def content_key(text: str) -> str:
    """A position-free order on option texts (the stand-in's ranking after its favourite)."""
    return hashlib.sha1(norm(text).encode()).hexdigest()


class ItemFacts:
    """What the stand-in knows about one (possibly permuted) item view."""

    def __init__(self, view: dict[str, Any]):
        self.labels: list[str] = [str(x) for x in view["labels"]]
        self.choices: list[str] = [str(x) for x in view["choices"]]
        self.norms = [norm(c) for c in self.choices]
        self.question = str(view.get("question") or "")
        self.context = str(view.get("context") or "")
        qc = norm(self.question + " " + self.context)
        # options too short to find reliably are not looked for (numbers are); an option named in the
        # question itself is found outside the question only, and no auditor counts on finding it
        self.findable = [len(n) >= 2 or n.isdigit() for n in self.norms]
        self.in_question = [bool(n) and _contains_word(qc, n) for n in self.norms]
        by_text: dict[str, int] = {}
        for i, n in enumerate(self.norms):
            if self.findable[i]:
                by_text.setdefault(n, i)
        self.by_text = by_text
        self.exact: dict[str, int] = {}  # every option's text, for continuations and choices
        for i, n in enumerate(self.norms):
            self.exact.setdefault(n, i)
        alts = sorted(by_text, key=len, reverse=True)  # longest first: "carbon dioxide" before "carbon"
        body = "|".join(r"\s+".join(map(re.escape, a.split())) for a in alts)
        self.pattern = re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE) if alts else None
        self.q_probe = [s for s in (self.question.strip()[:40], self.context.strip()[:40]) if len(s) >= 8]
        # read_prompt's results for this view, by prompt: the stand-in runs of one session put the
        # same prompts to the same view again and again (bounded: READ_CACHE_ENTRIES, READ_CACHE_CHARS)
        self.readings: dict[str, Reading] = {}

    def nameable(self, i: int) -> bool:
        """Whether option ``i`` can be told apart in any prompt: findable, not named in the question,
        not generic ("all of the above") and not a common word ("two", "water" stays)."""
        n = self.norms[i]
        return self.findable[i] and not self.in_question[i] and not is_generic(n) and n not in COMMON_WORDS

    def listing(self, prompt: str) -> dict[int, str]:
        """The label each option gets in the prompt's own listing lines (``B. text``, ``(2) text``)."""
        out: dict[int, str] = {}
        for m in _LISTING_LINE.finditer(prompt):
            idx = self.exact.get(norm(m.group(2)))
            if idx is not None and idx not in out:
                out[idx] = m.group(1)
        return out

    def spans_to_skip(self, prompt: str) -> list[tuple[int, int]]:
        """Where the question and context text sit in the prompt (their words are not the scaffold's)."""
        out: list[tuple[int, int]] = []
        for text in (self.question, self.context):
            text = text.strip()
            if len(text) < 8:
                continue
            start = prompt.find(text)
            while start >= 0 and len(out) < 64:
                out.append((start, start + len(text)))
                start = prompt.find(text, start + len(text))
        return out

    def mentions(self, prompt: str) -> list[tuple[int, int, int]]:
        """``(start, end, option index)`` of each option text named in the prompt, outside the question."""
        if self.pattern is None:
            return []
        skip = self.spans_to_skip(prompt)
        out = []
        for m in self.pattern.finditer(prompt):
            if any(a <= m.start() < b for a, b in skip):
                continue
            idx = self.by_text.get(norm(m.group(0)))
            if idx is not None:
                out.append((m.start(), m.end(), idx))
        return out


def _contains_word(hay: str, needle: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", hay) is not None


@dataclass
class Reading:
    """One prompt as the stand-in reads it."""

    named: list[int]  # options named, in order of first mention
    focus: int | None  # the option named last (text or "option B")
    labels: dict[int, str]  # the label the prompt gives each listed option
    about_item: bool  # names the question or an option
    informed: bool  # about the item, or says something of its own (not just "Answer:")
    negated: bool  # "which is wrong", "eliminate", …
    yes_no: str | None  # "yes" / "true" when the prompt asks for that kind of reply
    counts: Counter[int]  # mentions per option
    hints: set[str]  # labels stated as "the answer is X" by the scaffold's own text


#: Longer prompts are read as their head and tail only (bounds the host's work per call).
READ_HEAD, READ_TAIL = 4000, 8000
#: Readings kept per ItemFacts (prompts up to READ_CACHE_CHARS long; a Reading is never mutated by its users).
READ_CACHE_ENTRIES, READ_CACHE_CHARS = 64, 4000


def read_prompt(facts: ItemFacts, prompt: str) -> Reading:
    """How the stand-in understands ``prompt`` (its first 4,000 and last 8,000 characters).

    A pure function of the view and the prompt; the result is remembered on ``facts`` (read-only:
    callers must not change it)."""
    cacheable = len(prompt) <= READ_CACHE_CHARS
    if cacheable:
        hit = facts.readings.get(prompt)
        if hit is not None:
            return hit
    reading = _read_prompt(facts, prompt)
    if cacheable and len(facts.readings) < READ_CACHE_ENTRIES:
        facts.readings[prompt] = reading
    return reading


def _read_prompt(facts: ItemFacts, prompt: str) -> Reading:
    if len(prompt) > READ_HEAD + READ_TAIL:
        prompt = prompt[:READ_HEAD] + "\n…\n" + prompt[-READ_TAIL:]
    found = facts.mentions(prompt)
    labels = facts.listing(prompt)
    label_to_idx = {lab: idx for idx, lab in labels.items()}
    for start, _, idx in found:
        m = _LABEL_BEFORE.search(prompt[max(0, start - 8) : start])
        if m and idx not in labels:
            labels[idx] = m.group(1)
            label_to_idx.setdefault(m.group(1), idx)
    last = (found[-1][0], found[-1][2]) if found else None
    for m in _LABEL_REF.finditer(prompt):
        token = m.group(1)
        idx = label_to_idx.get(token, -1)
        if idx < 0 and not labels and token in facts.labels:  # no listing of its own: the item's labels
            idx = facts.labels.index(token)
        if idx >= 0 and (last is None or m.start() > last[0]):
            last = (m.start(), idx)
    authored = _without(prompt, facts.spans_to_skip(prompt) + [(s, e) for s, e, _ in found])
    low = authored.lower()
    named = list(dict.fromkeys(idx for _, _, idx in found))
    about = bool(found) or any(p in prompt for p in facts.q_probe)
    yes_no = "yes" if _YES.search(low) and _NO.search(low) else ("true" if _TRUE_FALSE.search(low) else None)
    return Reading(
        named=named,
        focus=last[1] if last else None,
        labels=labels,
        about_item=about,
        informed=about or _has_content(low),
        negated=_NEGATION.search(low) is not None,
        yes_no=yes_no,
        counts=Counter(idx for _, _, idx in found),
        hints=stated_labels(authored, facts.labels),
    )


def stated_labels(text: str, labels: list[str]) -> set[str]:
    """Labels that ``text`` states as the answer ("the answer is C", "option B is correct", "the
    third option is right")."""
    out = {a or b for a, b in HINT.findall(text)} & set(labels)
    for word in ORDINAL_HINT.findall(text):
        k = ORDINALS[word.lower()]
        if -len(labels) <= k < len(labels):
            out.add(labels[k])
    return out


def go_along(prompt: str) -> str:
    """The reply to a prompt that is not about the item: the word it asks for, else the prompt itself."""
    tail = prompt[-2000:]
    for pattern in _ASKED_WORD:
        m = pattern.search(tail)
        if m:
            return m.group(1)
    return tail


def _has_content(authored: str) -> bool:
    """Whether the program's own words say something beyond "the answer is" (PMI's bare ``Answer:``)."""
    return any(w not in PLAIN_WORDS for w in _WORD.findall(authored[:4000]))


def _without(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with the spans cut out (each replaced by one space); linear in its length."""
    pieces, at = [], 0
    for a, b in sorted(spans):
        if a >= at:
            pieces.append(text[at:a])
            pieces.append(" ")
        at = max(at, b)
    pieces.append(text[at:])
    return "".join(pieces)
