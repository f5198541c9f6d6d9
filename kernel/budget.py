"""The call-budget-matched baseline: as many solver calls as the scaffold made, of the same kinds.

A scaffold's solver calls come in three kinds (read from its trace): ``score`` (``solver_logprobs``),
``choice`` (``solver_call`` with ``choices``: a constrained reply) and ``generate`` (free
``solver_call``). The baseline spends the same number of calls of each kind on the item itself,
with no code between them:

- ``score`` calls: the first is the ``cloze`` direct mode (the plain cloze prompt, options scored in
  one call, ``acc_norm``); each further one scores the options after a cloze prompt that also lists
  them, in an order permuted per call (``prompts.render_listed_cloze``), same normalisation.
- ``choice`` calls: the first is the ``grammar`` direct mode (the letter prompt, reply constrained to
  a label, greedy); each further one is a sample at ``budget_temperature`` from the letter prompt with
  the options permuted, mapped back to the original option.
- ``generate`` calls: the first is the ``generate`` direct mode (greedy letter reply, extracted);
  each further one a sample at ``budget_temperature`` from the permuted letter prompt.

Each call is one vote. The first call of the first kind the scaffold used (in the order score,
choice, generate) is the baseline's *greedy* answer: with a budget of one call the baseline IS that
direct mode, never a temperature sample; with more calls the majority of votes wins and a tie goes to
greedy. Permutations and samples are seeded by (run seed, item, call), so a record does not depend
on other items. Items whose scaffold made no solver call get no baseline (``None``, with the reason in
``Record.budget_matched_reason``): they are left out of the comparison rather than counted as misses.
"""

from __future__ import annotations

import random
import time
from typing import Any

from cgr.kernel import prompts
from cgr.kernel.api import Solver, SolverError, call_seed, scored_tokens, takes_seed
from cgr.kernel.chain import extract_label
from cgr.kernel.direct import best_option, cloze_continuations
from cgr.kernel.manager import Entry
from cgr.kernel.records import AssistedChannel, BudgetChannel, Item

KINDS = ("score", "choice", "generate")


def calls_by_kind(assisted: AssistedChannel) -> dict[str, int]:
    """The scaffold's solver calls per kind (``assisted.calls`` in all; extraction is not a call)."""
    score = sum(1 for c in assisted.trace if c.op == "logprobs")
    choice = sum(1 for c in assisted.trace if c.op == "solve" and c.options.get("choices"))
    score = min(score, assisted.calls)
    choice = min(choice, assisted.calls - score)
    return {"score": score, "choice": choice, "generate": assisted.calls - score - choice}


def permutation(seed: int, item: Item, kind: str, index: int) -> list[int]:
    """The option order of call ``index`` of ``kind`` (the identity for the first call)."""
    order = list(range(len(item.choices)))
    if index > 0:
        random.Random(call_seed(seed, item.id, "budget", kind, index)).shuffle(order)
    return order


def vote(answers: list[str | None], greedy: str | None) -> tuple[str | None, dict[str, int]]:
    """Majority of ``answers`` (None does not vote); a tie goes to ``greedy``, else to the first seen."""
    votes: dict[str, int] = {}
    for label in answers:
        if label is not None:
            votes[label] = votes.get(label, 0) + 1
    if not votes:
        return None, votes
    top = max(votes.values())
    tied = [label for label, n in votes.items() if n == top]  # dicts keep first-seen order
    return (greedy if greedy in tied else tied[0]), votes


class BudgetBaseline:
    """Computes the baseline for one item with a solver, an extractor chain and run settings."""

    def __init__(self, solver: Solver, chain: list[Entry], *, seed: int, temperature: float, max_tokens: int):
        self.solver, self.chain = solver, chain
        self.seed, self.temperature, self.max_tokens = seed, temperature, max_tokens
        self.seeded = takes_seed(solver)
        self.prompt_tokens = self.completion_tokens = 0

    def _score(self, item: Item, index: int) -> str | None:
        order = permutation(self.seed, item, "score", index)
        choices = [item.choices[i] for i in order]
        view = item.guest_view()
        prompt = prompts.render_cloze(view) if index == 0 else prompts.render_listed_cloze(view, choices)
        scores = self.solver.logprobs(prompt, cloze_continuations(choices))
        self.prompt_tokens += scored_tokens(scores)
        if len(scores) != len(choices):
            return None
        return item.labels[order[best_option(list(scores), choices, normalise=True)]]

    def _reply(self, item: Item, index: int, kind: str) -> str | None:
        order = permutation(self.seed, item, kind, index)
        view = {**item.guest_view(), "choices": [item.choices[i] for i in order]}
        constrained = kind == "choice"
        options: dict[str, Any] = {
            "max_tokens": 4 if constrained else self.max_tokens,
            "temperature": 0.0 if index == 0 else self.temperature,
            "stop": None if constrained else ["\n"],
            "choices": list(item.labels) if constrained else None,
        }
        if self.seeded and index > 0:
            options["seed"] = call_seed(self.seed, item.id, "budget", kind, index)
        completion = self.solver.complete(prompts.render_direct(view), **options)
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens
        if constrained:
            label = completion.text if completion.text in item.labels else None
        else:
            label = extract_label(self.chain, completion.text, item.labels, view["choices"])[0]
        return None if label is None else item.labels[order[item.labels.index(label)]]

    def run(self, item: Item, assisted: AssistedChannel) -> tuple[BudgetChannel | None, str | None]:
        """``(channel, None)``, or ``(None, reason)`` when the scaffold made no solver call."""
        if assisted.calls <= 0:
            return None, f"the scaffold made no solver call (assisted status {assisted.status})"
        kinds = calls_by_kind(assisted)
        self.prompt_tokens = self.completion_tokens = 0
        start = time.perf_counter()
        answers: list[str | None] = []
        raw: list[str] = []
        for kind in KINDS:
            for index in range(kinds[kind]):
                try:
                    label = self._score(item, index) if kind == "score" else self._reply(item, index, kind)
                except SolverError:
                    raise  # the solver itself is down: stop the run
                except Exception:  # noqa: BLE001 - this request was refused: the call does not vote
                    label = None
                answers.append(label)
                raw.append(f"{kind}:{label or '?'}")
        greedy = answers[0]
        answer, votes = vote(answers, greedy)
        sampled = kinds["choice"] > 1 or kinds["generate"] > 1
        return (
            BudgetChannel(
                answer=answer,
                correct=answer == item.answer,
                calls=assisted.calls,
                raw=" ".join(raw),
                method="self_consistency" if assisted.calls > 1 else "greedy",
                prompt_tokens=self.prompt_tokens,
                completion_tokens=self.completion_tokens,
                latency_s=time.perf_counter() - start,
                temperature=self.temperature if sampled else 0.0,
                votes=votes,
                greedy=greedy,
                calls_by_kind=kinds,
            ),
            None,
        )
