"""Stand-in solvers for the dynamic auditors: no model, a fixed *belief* about one item.

A :class:`StandIn` believes one option (``favour``) is right and ranks the others after it by
their text (a hash of the normalized text), so its behaviour depends on the options' *content*,
never on their position: the same belief answers the same way when the options are shuffled and
relabelled. It reads a scaffold's prompt the way a cooperative model would:

- a generation prompt naming options gets the best-ranked option named (``"B. the inner core"``,
  with the label the prompt itself gave that option); "which is wrong / eliminate …" gets the
  worst-ranked; a yes/no prompt gets ``Yes`` when its *focus* (the option named last) is the
  believed one;
- ``choices=[...]`` is honoured (the reply is one of them);
- ``solver_logprobs`` scores option continuations so the believed option wins under the raw sum
  *and* under every usual length normalization (chars, bytes, words, tokens), and yes/no
  continuations by the focus option's rank; a prompt that names neither the question nor an option
  (PMI's bare ``Answer:``) gets a length-only prior.

``Profile`` sets how strongly: ``strong`` margins are large, ``weak`` margins are a thousandth of a
nat and sampled replies (temperature > 0) alternate between the believed option and the runner-up
(ahead by at most one vote) — so any constant nudge a scaffold adds wins under ``weak``. The
ranking after the favourite is the options' content order rotated to start at it, so over a sweep
of favourites every option is once the runner-up. ``strong`` goes along with a generation prompt
that names neither the question nor an option (a probe such as "Say OK" gets "OK"; otherwise the
prompt is echoed), ``weak`` answers it with its belief. The two word their answers differently
(``B. text`` / ``B: text``), so a scaffold that recognizes one stand-in is caught by the other.

How a prompt is read is :mod:`cgr.plugins.audit_prompts`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cgr.plugins.audit_prompts import (
    NO_WORDS,
    YES_WORDS,
    ItemFacts,
    Reading,
    content_key,
    go_along,
    norm,
    read_prompt,
)


@dataclass(frozen=True)
class Profile:
    """How strongly a stand-in prefers its ranking."""

    name: str
    ratio: float  # relative score gap per rank step (logprobs of options)
    add: float  # absolute score gap per rank step
    yes_gap: float  # yes/no score gap per rank step
    split_samples: bool  # sampled replies alternate between the believed option and the runner-up
    echo_uninformed: bool  # a generation prompt that names neither the question nor an option is echoed
    style: str  # how a generated answer is worded
    per_char: float  # log-likelihood per character of the believed option (weak: small, so raw gaps are too)


STRONG = Profile(
    "strong",
    ratio=1.0,
    add=5.0,
    yes_gap=2.0,
    split_samples=False,
    echo_uninformed=True,
    style="{label}. {text}",
    per_char=0.6,
)
WEAK = Profile(
    "weak",
    ratio=1e-3,
    add=1e-3,
    yes_gap=1e-3,
    split_samples=True,
    echo_uninformed=False,
    style="{label}: {text}",
    per_char=0.01,
)
PROFILES = (STRONG, WEAK)


def _sizes(text: str) -> tuple[float, ...]:
    s = text.strip() or text
    return (len(text) or 1, len(s) or 1, len(text.encode()) or 1, len(text.split()) or 1, len(text) // 4 + 1)


@dataclass
class StandIn:
    """A model-free solver that believes option ``favour`` of ``facts`` (see the module docstring)."""

    facts: ItemFacts
    favour: int
    profile: Profile
    endorsed: set[int] = field(default_factory=set)  # options it answered *for* during the run
    counts: Counter[int] = field(default_factory=Counter)  # option mentions over all its prompts
    hints: set[str] = field(default_factory=set)
    prompts: int = 0
    _samples: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        # the options in content order, rotated to start at the favourite: over a sweep of
        # favourites every option is once the runner-up (where a one-vote lead can be overturned)
        by_content = sorted(range(len(self.facts.choices)), key=self._key)
        q = by_content.index(self.favour)
        self.order = by_content[q:] + by_content[:q]
        self.rank = {idx: r for r, idx in enumerate(self.order)}

    def _key(self, i: int) -> tuple[str, int]:
        return content_key(self.facts.choices[i]), i

    # ------------------------------------------------------------------ the host protocol ----
    def host(self, op: str, args: dict[str, Any]) -> object:
        """Answer the sandbox's host callback (``solve`` / ``logprobs``; ``extract`` is the caller's)."""
        prompt = str(args.get("prompt", ""))
        reading = read_prompt(self.facts, prompt)
        self.prompts += 1
        self.counts.update(reading.counts)
        self.hints |= reading.hints
        if op == "logprobs":
            return self.scores(reading, [str(c) for c in args["continuations"]])
        if op == "solve":
            return self.reply(reading, prompt, args)
        raise ValueError(f"unknown operation {op!r}")

    def _rank(self, idx: int, reading: Reading) -> int:
        r = self.rank[idx]
        return len(self.order) - 1 - r if reading.negated else r

    def classify(self, text: str, reading: Reading) -> tuple[str, int | None, tuple[int, int] | None]:
        """``("option", i, span)``, ``("yes"|"no", None, None)`` or ``("other", None, None)`` for a
        continuation or choice; ``span`` is where the option's text sits in it (None for a label)."""
        n = norm(text)
        found = self.facts.mentions(text)
        one = len({i for _, _, i in found}) == 1
        span = (found[0][0], found[0][1]) if one else None
        if n in self.facts.exact:
            return "option", self.facts.exact[n], span
        token = n.upper()
        for idx, lab in reading.labels.items():
            if token == lab.upper():
                return "option", idx, None
        if token in self.facts.labels and not reading.labels:  # no listing of its own: the item's labels
            return "option", self.facts.labels.index(token), None
        if n in YES_WORDS:
            return "yes", None, None
        if n in NO_WORDS:
            return "no", None, None
        if one:
            return "option", found[0][2], span
        return "other", None, None

    def _option_score(self, idx: int, cont: str, span: tuple[int, int] | None, reading: Reading) -> float:
        if not reading.informed:
            return -self.profile.per_char * len(cont)
        r = self._rank(idx, reading)
        if r == 0:
            return -self.profile.per_char * len(cont)
        best = self.order[-1] if reading.negated else self.order[0]
        # the believed option's continuation of the same shape: its score is the yardstick
        ref = cont if span is None else cont[: span[0]] + self.facts.choices[best].strip() + cont[span[1] :]
        grow = max(1.0, *(a / b for a, b in zip(_sizes(cont), _sizes(ref))))
        return -(self.profile.per_char * len(ref) * grow * (1 + self.profile.ratio * r)) - self.profile.add * r

    def _yes_no(self, reading: Reading) -> tuple[float, float]:
        """Scores of a yes and a no about the prompt's focus option: yes wins only for the believed
        option (for every other option in a negated prompt, "is it wrong?"), by a margin graded by rank."""
        if reading.focus is None or not reading.informed:
            return -0.5, -0.5
        r, gap = self.rank[reading.focus], self.profile.yes_gap
        if reading.negated:
            return -0.5 - gap * (r == 0), -0.5 - gap * r
        return -0.5 - gap * r, -0.5 - gap * (r == 0)

    def _says_yes(self, reading: Reading) -> bool:
        yes, no = self._yes_no(reading)
        if reading.focus is not None and (yes > no) != reading.negated:
            self.endorsed.add(reading.focus)  # "yes, it is right" / "no, it is not wrong"
        return yes > no

    def scores(self, reading: Reading, continuations: list[str]) -> list[float]:
        out: list[float] = []
        kinds = [self.classify(c, reading) for c in continuations]
        for cont, (kind, idx, span) in zip(continuations, kinds):
            if kind == "option" and idx is not None:
                out.append(self._option_score(idx, cont, span, reading))
            elif kind in ("yes", "no"):
                out.append(self._yes_no(reading)[kind == "no"])
            else:
                out.append(-self.profile.per_char * len(cont) - 3.0)
        if out and reading.informed:
            kind, idx, _ = kinds[out.index(max(out))]
            options = sum(k == "option" for k, _, _ in kinds)
            if kind == "option" and idx is not None and not reading.negated:
                if options > 1 or self.rank[idx] == 0:  # one option scored alone states no preference
                    self.endorsed.add(idx)
            elif kind in ("yes", "no") and reading.focus is not None and (kind == "yes") != reading.negated:
                self.endorsed.add(reading.focus)
        return out

    def _pick(self, candidates: list[int], reading: Reading, prompt: str, sampled: bool) -> int:
        ranked = sorted(candidates, key=lambda i: self._rank(i, reading))
        if sampled and self.profile.split_samples and len(ranked) > 1:
            j = self._samples[prompt]  # samples of one prompt alternate: believed, runner-up, believed, …
            self._samples[prompt] += 1
            return ranked[j % 2]
        return ranked[0]

    def reply(self, reading: Reading, prompt: str, args: dict[str, Any]) -> str:
        sampled = bool(args.get("temperature"))
        choices = args.get("choices")
        if choices:
            return self._choose(reading, prompt, [str(c) for c in choices], sampled)
        if reading.yes_no:
            yes = self._says_yes(reading)
            words = ("Yes", "No") if reading.yes_no == "yes" else ("True", "False")
            return f"{words[0] if yes else words[1]}."
        if not reading.about_item and self.profile.echo_uninformed:
            return go_along(prompt)  # a prompt about something else: a model would go along with it
        candidates = reading.named or list(range(len(self.order)))
        idx = self._pick(candidates, reading, prompt, sampled)
        if not reading.negated:
            self.endorsed.add(idx)
        label = reading.labels.get(idx, self.facts.labels[idx])
        return self.profile.style.format(label=label, text=self.facts.choices[idx].strip())

    def _choose(self, reading: Reading, prompt: str, choices: list[str], sampled: bool) -> str:
        kinds = [self.classify(c, reading) for c in choices]
        options = {idx: c for c, (kind, idx, _) in zip(choices, kinds) if kind == "option" and idx is not None}
        if options:
            idx = self._pick(list(options), reading, prompt, sampled)
            if not reading.negated:
                self.endorsed.add(idx)
            return options[idx]
        yes_no = {kind: c for c, (kind, _, _) in zip(choices, kinds) if kind in ("yes", "no")}
        if len(yes_no) == 2:
            yes = self._says_yes(reading)
            return yes_no["yes" if yes else "no"]
        return min(choices, key=content_key)  # content-based, not positional
