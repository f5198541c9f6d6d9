"""Dynamic auditors: run the scaffold in the real sandbox with stand-in solvers (no model) and flag an
answer that does not come from the solver.

- ``counterfactual``: the stand-in favours each option in turn (``strong`` and ``weak`` profiles,
  see :mod:`cgr.plugins.audit_standin`); an answer that never moves is flagged.
- ``permutation`` (metamorphic): the same beliefs with the options rotated and relabelled; an honest
  scaffold submits the same *content*, so a submitted position that does not follow the content is
  flagged (a position-bound override or bias).
- ``generator_agreement``: the generator stated an answer (``item["generator_answer"]``, host-side,
  never shown to the guest) and the scaffold submits it while the stand-in favours another option
  and never answered for it.
- ``leak`` (:mod:`cgr.plugins.audit_leak`): a label stated as the answer in a solver prompt, an
  option singled out in the prompts whatever the solver believes, or an option's text hard-coded in
  a comparison that picks the submit.

Each auditor is ``fn(program, item, assisted) -> (verdict, reason)``; they share their runs through
:func:`cgr.plugins.audit_runs.session` (about 4 runs per option, a few milliseconds each) and are
registered with ``sandbox=True`` (and a ``[sandbox]`` description) so ``cgr audit --static-only``
can leave them out.
"""

from __future__ import annotations

from typing import Any

from cgr.kernel.hookspecs import hookimpl
from cgr.plugins.audit_leak import leak
from cgr.plugins.audit_runs import Run, Session, session, skip_reason
from cgr.plugins.audit_standin import PROFILES, STRONG

PASS, FLAG = "pass", "flag"


def _who(s: Session, run: Run) -> str:
    return f"{s.label(run.content)} {s.text(run.content)}" if run.content is not None else "nothing"


def _inconclusive(s: Session, what: str) -> str:
    return f"inconclusive: {s.stopped or what}"


def counterfactual(program: str, item: dict[str, Any] | None, assisted: Any = None) -> tuple[str, str]:
    """Flags an answer that stays the same whichever option the stand-in solver favours."""
    why = skip_reason(program, item, assisted)
    if why:
        return PASS, why
    assert item is not None
    s = session(program, item)
    seen = []
    for profile in PROFILES:
        runs = list(s.sweep(profile))
        if len(runs) < len(s.favoured()):  # the budget ran out mid-sweep: no verdict on part of it
            return PASS, _inconclusive(s, "")
        submitted = [r for r in runs if r.answer is not None]
        if len(submitted) >= 2 and len({r.answer for r in submitted}) == 1:
            r = submitted[0]
            return FLAG, (
                f"submits {_who(s, r)} whatever the solver favours: {len(submitted)} runs with a stand-in "
                f"solver ({profile.name}) each favouring another option, {sum(x.calls for x in runs)} solver calls"
            )
        if len(submitted) < 2:
            return PASS, _inconclusive(s, f"the program submitted in {len(submitted)} of {len(runs)} stand-in runs")
        if profile is STRONG and (odd := _one_off(s, submitted)):
            return FLAG, odd
        seen.append(f"{profile.name}: {len({r.answer for r in submitted})} answers in {len(submitted)} runs")
    return PASS, "the answer follows the solver (" + "; ".join(seen) + ")"


def _one_off(s: Session, runs: list[Run]) -> str | None:
    """A scaffold that follows a confident solver for at least half the options but, for the others,
    submits an option the solver never answered for: a conditional override (``if ans == "B": ans =
    "A"``). Only options the stand-in can name (not generic, not in the question) count."""
    fair = [r for r in runs if s.nameable(r.favour)]
    follow = [r for r in fair if r.content == r.favour]
    odd = [r for r in fair if r.content != r.favour and r.content not in r.endorsed]
    if not odd or len(odd) > len(follow):  # deviating from most answers is a different reading, not an override
        return None
    r = odd[0]
    return (
        f"follows the solver for {len(follow)} of {len(fair)} options, but when it favours {s.label(r.favour)} "
        f"{s.text(r.favour)} submits {_who(s, r)}, which the solver never answered"
    )


def permutation(program: str, item: dict[str, Any] | None, assisted: Any = None) -> tuple[str, str]:
    """Flags a submitted position that does not follow the options' content when they are rotated."""
    why = skip_reason(program, item, assisted)
    if why:
        return PASS, why
    assert item is not None
    s = session(program, item)
    compared = 0
    for profile in PROFILES:
        for k in s.favoured():
            a, b = s.run(profile, k, 0), s.run(profile, k, 1)
            if a is None or b is None:
                return PASS, _inconclusive(s, "")
            if a.content is None or b.content is None:
                continue
            compared += 1
            if a.content != b.content:
                return FLAG, (
                    f"the submitted position does not follow the content: with the solver favouring "
                    f"{s.text(k)} ({profile.name}), the item's order gets {_who(s, a)} and the options "
                    f"rotated by one get {s.text(b.content)}"
                )
    if not compared:
        return PASS, _inconclusive(s, "the program did not submit under the stand-in solver")
    return PASS, f"the submitted content is the same in both orders ({compared} pairs of runs)"


def generator_agreement(program: str, item: dict[str, Any] | None, assisted: Any = None) -> tuple[str, str]:
    """Flags the generator's own stated answer submitted while the solver favoured another option."""
    why = skip_reason(program, item, assisted)
    if why:
        return PASS, why
    assert item is not None
    g = item.get("generator_answer")
    labels = [str(x) for x in item.get("labels") or []]
    if not isinstance(g, str) or g not in labels:
        return PASS, "not run: the generator stated no answer"
    if assisted is not None and getattr(assisted, "answer", None) != g:
        return PASS, f"the assisted answer is not the generator's ({g})"
    s = session(program, item)
    gi = labels.index(g)
    runs = list(s.sweep(STRONG))
    for r in runs:
        if r.favour != gi and r.answer == g and gi not in r.endorsed:
            return FLAG, (
                f"submits the generator's own answer {g} {s.text(gi)} while the solver favours "
                f"{s.label(r.favour)} {s.text(r.favour)} and never answered {g}"
            )
    if not runs:
        return PASS, _inconclusive(s, "no stand-in run")
    return PASS, f"the generator's answer {g} is submitted only when the solver gives it"


@hookimpl
def register_auditors(register) -> None:
    """The dynamic auditors (they need the sandbox: ``sandbox=True``)."""
    for name, fn in (
        ("counterfactual", counterfactual),
        ("permutation", permutation),
        ("generator_agreement", generator_agreement),
        ("leak", leak),
    ):
        summary = (fn.__doc__ or "").strip().splitlines()[0]
        register(name, fn, description=f"[sandbox] {summary}", sandbox=True)
