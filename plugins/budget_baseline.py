"""The built-in baseline ``budget_matched``: as many solver calls as the scaffold made, of the same kinds.

A scaffold's solver calls come in three kinds (read from its trace): ``score`` (``solver_logprobs``),
``choice`` (``solver_call`` with ``choices``: a constrained reply) and ``generate`` (free
``solver_call``). The baseline spends the same number of calls of each kind on the item itself,
with no code between them. Every call is deterministic and as strong in kind as the first:

- ``score`` calls: call ``i`` scores all options (one batched ``solver.logprobs`` call) after cloze
  wording ``i`` of ``cloze_wordings()``: call 0 is the ``cloze`` direct mode's own prompt,
  the others the fixed rewordings of ``CLOZE_VARIANTS`` ("Q: …\\nA:", "…\\nThe answer is", …;
  chosen a priori, not on gold; after the last one the list starts again). Each option's score is
  its log-likelihood per UTF-8 byte (``acc_norm``).
- ``choice`` calls: the ``grammar`` direct mode (the letter prompt, reply constrained to a label,
  temperature 0) with the options in the order of call ``i``, mapped back to the original option.
- ``generate`` calls: the ``generate`` direct mode (greedy letter reply, extracted) likewise.

Option orders (``permutation``): call 0 keeps the item's order; calls 1 .. n-1 rotate it (so with n
calls each option stands once at each letter, which cancels a pure position bias), calls n .. 2n-1
rotate the reversed order, later calls are shuffles seeded by (run seed, item, kind, call): a record
never depends on other items. No call samples at a temperature (the record's ``temperature`` is 0.0).

**The rule** (fixed before measuring): the score calls form one *ensemble*: each option's per-byte
log-likelihoods are summed over the score calls that answered (greedy's scores are one member), and
the best sum is the ensemble's answer, with weight = those calls. Each choice or generate call is one
vote for the option it answered. The answer is the option with the most weight (``votes``); every tie
(of sums, and of weights) goes to the *greedy* answer, the first call of the first kind the scaffold
used (in the order score, choice, generate), else to the first option / first seen.

**What is guaranteed, and what is not.** With a budget of one call the baseline IS its greedy
answer (the matching direct mode: same prompt, same call, same answer). With two calls that are not
both score calls it is greedy too whenever greedy answered (1 against 1 is a tie). Every tie goes to
greedy, greedy's scores are a member of the ensemble, and no extra call is weaker *in kind* than the
first (same call, same decoding, temperature 0, a prompt of the same family chosen a priori). But
"never below its own greedy answer" cannot be guaranteed by construction for any budget above that:
not per item (other wordings or orders can outweigh a right greedy answer) and not on average (if the
other prompts are weaker for a model, their sum can be weaker than greedy alone; that is an empirical
question, not a property of the rule). Only choosing between greedy and the ensemble on the gold
labels could promise it, and that would be optimistic for the baseline. So the report must show the
baseline's greedy accuracy (``BudgetChannel.greedy``) beside it, and assisted is read against both.

Items whose scaffold made no solver call get no baseline (``None``, with the reason in
``Record.budget_matched_reason``): they are left out of the comparison rather than counted as misses.

Registered through ``register_baselines`` as ``budget_matched`` (``RunConfig.baseline``'s default); a
plugin may replace it (``replace=True``) or add another baseline beside it.
"""

from __future__ import annotations

import math
import random
import time
from typing import Any

from cgr.kernel import prompts
from cgr.kernel.api import BaselineRegistrar, BaselineRequest, Solver, SolverError, call_seed, scored_tokens
from cgr.kernel.chain import extract_label
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.manager import Entry
from cgr.kernel.records import AssistedChannel, BudgetChannel, Item
from cgr.plugins.direct_modes import cloze_continuations, option_length

__all__ = [
    "CLOZE_VARIANTS",
    "BudgetBaseline",
    "budget_matched",
    "calls_by_kind",
    "cloze_wordings",
    "decide",
    "ensemble",
    "per_byte",
    "permutation",
    "render_cloze_variant",
    "vote",
]

#: The baseline's further scoring calls: the cloze prompt reworded, one wording per call after the
#: first (which is ``prompts.CLOZE_TEMPLATE`` itself), in this order. Fixed a priori (common cloze
#: wordings of lm-evaluation-harness-style evaluations), not tuned on any gold labels; each scores the
#: options as ``" " + option`` like ``prompts.CLOZE_TEMPLATE``. Normative copies:
#: ``specs/prompts/<name>.txt``.
CLOZE_VARIANTS: dict[str, str] = {
    "cloze-qa-v1": "{context_block}Q: {question}\nA:",
    "cloze-bare-v1": "{context_block}{question}\nAnswer:",
    "cloze-answer-is-v1": "{context_block}{question}\nThe answer is",
    "cloze-correct-v1": "{context_block}Question: {question}\nThe correct answer is",
    "cloze-question-a-v1": "{context_block}Question: {question}\nA:",
}


def cloze_wordings() -> list[str]:
    """The cloze wordings, in call order: ``prompts.CLOZE_TEMPLATE`` first, then the variants."""
    return [prompts.CLOZE_TEMPLATE, *CLOZE_VARIANTS.values()]


def render_cloze_variant(item: dict[str, Any], index: int) -> str:
    """The cloze prompt of scoring call ``index``: wording ``index`` of ``cloze_wordings()`` (after the
    last one the list starts again); call 0 is exactly ``prompts.render_cloze(item)``."""
    wordings = cloze_wordings()
    return wordings[index % len(wordings)].format(
        context_block=prompts.context_block(item.get("context")), question=item["question"]
    )


KINDS = ("score", "choice", "generate")


def calls_by_kind(assisted: AssistedChannel) -> dict[str, int]:
    """The scaffold's solver calls per kind (``assisted.calls`` in all; extraction is not a call)."""
    score = sum(1 for c in assisted.trace if c.op == "logprobs")
    choice = sum(1 for c in assisted.trace if c.op == "solve" and c.options.get("choices"))
    score = min(score, assisted.calls)
    choice = min(choice, assisted.calls - score)
    return {"score": score, "choice": choice, "generate": assisted.calls - score - choice}


def permutation(seed: int, item: Item, kind: str, index: int) -> list[int]:
    """The option order of call ``index`` of ``kind``: identity, rotations, reversed rotations, shuffles."""
    n = len(item.choices)
    order = list(range(n))
    if index < n:
        return order[index:] + order[:index]
    if index < 2 * n:
        rev, k = order[::-1], index - n
        return rev[k:] + rev[:k]
    random.Random(call_seed(seed, item.id, "budget", kind, index)).shuffle(order)
    return order


def vote(answers: list[str | None], greedy: str | None) -> tuple[str | None, dict[str, int]]:
    """Majority of ``answers`` (None does not vote); a tie goes to ``greedy``, else to the first seen."""
    votes: dict[str, int] = {}
    for label in answers:
        if label is not None:
            votes[label] = votes.get(label, 0) + 1
    return decide(votes, greedy), votes


def decide(votes: dict[str, int], greedy: str | None) -> str | None:
    """The label with the most votes; a tie goes to ``greedy``, else to the first seen."""
    if not votes:
        return None
    top = max(votes.values())
    tied = [label for label, n in votes.items() if n == top]  # dicts keep first-seen order
    return greedy if greedy in tied else tied[0]


def per_byte(scores: list[float], choices: list[str]) -> list[float] | None:
    """``acc_norm`` values of one scoring call, or None if the call does not vote (wrong length, NaN or
    +inf: a log-likelihood is at most 0; -inf, an impossible option, is kept)."""
    values = [float(s) for s in scores]
    if len(values) != len(choices) or any(math.isnan(v) or v == math.inf for v in values):
        return None
    return [v / option_length(c) for v, c in zip(values, choices)]


def ensemble(members: list[list[float]], labels: list[str], greedy: str | None) -> str | None:
    """The label whose per-byte log-likelihood summed over ``members`` is highest; a tie goes to
    ``greedy``, else to the first option. None without members."""
    if not members:
        return None
    sums = [math.fsum(m[i] for m in members) for i in range(len(labels))]
    top = max(sums)
    tied = [labels[i] for i, s in enumerate(sums) if s == top]
    return greedy if greedy in tied else tied[0]


class BudgetBaseline:
    """Computes the baseline for one item with a solver, an extractor chain and run settings."""

    def __init__(self, solver: Solver, chain: list[Entry], *, seed: int, max_tokens: int):
        self.solver, self.chain = solver, chain
        self.seed, self.max_tokens = seed, max_tokens
        self.prompt_tokens = self.completion_tokens = 0

    def _score(self, item: Item, index: int) -> list[float] | None:
        prompt = render_cloze_variant(item.guest_view(), index)
        scores = self.solver.logprobs(prompt, cloze_continuations(item.choices))
        self.prompt_tokens += scored_tokens(scores)
        return per_byte(list(scores), item.choices)

    def _reply(self, item: Item, index: int, kind: str) -> str | None:
        order = permutation(self.seed, item, kind, index)
        view = {**item.guest_view(), "choices": [item.choices[i] for i in order]}
        constrained = kind == "choice"
        options: dict[str, Any] = {
            "max_tokens": 4 if constrained else self.max_tokens,
            "temperature": 0.0,
            "stop": None if constrained else ["\n"],
            "choices": list(item.labels) if constrained else None,
        }
        completion = self.solver.complete(prompts.render_direct(view), **options)
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens
        if constrained:
            label = completion.text if completion.text in item.labels else None
        else:
            label = extract_label(self.chain, completion.text, item.labels, view["choices"])[0]
        return None if label is None else item.labels[order[item.labels.index(label)]]

    def _call(self, item: Item, kind: str, index: int) -> list[float] | str | None:
        try:
            return self._score(item, index) if kind == "score" else self._reply(item, index, kind)
        except SolverError:
            raise  # the solver itself is down: stop the run
        except Exception:  # noqa: BLE001 - this request was refused: the call does not vote
            return None

    def run(self, item: Item, assisted: AssistedChannel) -> tuple[BudgetChannel | None, str | None]:
        """``(channel, None)``, or ``(None, reason)`` when the scaffold made no solver call."""
        if assisted.calls <= 0:
            return None, f"the scaffold made no solver call (assisted status {assisted.status})"
        kinds = calls_by_kind(assisted)
        self.prompt_tokens = self.completion_tokens = 0
        start = time.perf_counter()
        members: list[list[float]] = []
        replies: list[str | None] = []
        raw: list[str] = []
        greedy: str | None = None
        first = True
        for kind in KINDS:
            for index in range(kinds[kind]):
                got = self._call(item, kind, index)
                if isinstance(got, list):
                    members.append(got)
                    own = ensemble([got], item.labels, None)
                else:
                    replies.append(got)
                    own = got
                if first:
                    greedy, first = own, False
                raw.append(f"{kind}:{own or '?'}")
        votes: dict[str, int] = {}
        pooled = ensemble(members, item.labels, greedy)
        if pooled is not None:
            votes[pooled] = len(members)
            raw.append(f"ensemble:{pooled}")
        for label in replies:
            if label is not None:
                votes[label] = votes.get(label, 0) + 1
        answer = decide(votes, greedy)
        if assisted.calls == 1:
            method = "greedy"
        elif kinds["score"] and kinds["score"] == assisted.calls:
            method = "cloze_ensemble"
        else:
            method = "cloze_ensemble+permuted_votes" if kinds["score"] else "permuted_votes"
        return (
            BudgetChannel(
                answer=answer,
                correct=answer == item.answer,
                calls=assisted.calls,
                raw=" ".join(raw),
                method=method,
                prompt_tokens=self.prompt_tokens,
                completion_tokens=self.completion_tokens,
                latency_s=time.perf_counter() - start,
                temperature=0.0,
                votes=votes,
                greedy=greedy,
                calls_by_kind=kinds,
            ),
            None,
        )


def budget_matched(request: BaselineRequest) -> tuple[BudgetChannel | None, str | None]:
    """As many greedy calls of the same kinds as the scaffold made: a cloze ensemble and option-permuted votes.

    ``request.temperature`` (the run's ``budget_temperature``) is ignored: every call is greedy."""
    baseline = BudgetBaseline(request.solver, request.chain, seed=request.seed, max_tokens=request.max_tokens)
    return baseline.run(request.item, request.assisted)


@hookimpl
def register_baselines(register: BaselineRegistrar) -> None:
    register("budget_matched", budget_matched)
