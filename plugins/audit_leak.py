"""``leak``: an answer handed to the solver or to the submit instead of obtained from it.

The auditor never sees the gold answer (the pipeline gives auditors the guest view; a bare script
has no gold at all), and it does not need it: a leak is item-specific knowledge that the program
carries *as a constant*, and constants do not move when the solver's beliefs do. Three checks:

1. **Stated answers in prompts.** A solver prompt (in the stand-in runs, and in the record's trace)
   whose program-written text says "the answer is C" / "correct option: (B)" naming a label.
2. **An option singled out in the prompts whatever the solver believes.** Over each stand-in run
   (the solver favouring each option in turn), option texts named in the prompts are counted
   outside the question; an honest scaffold names options symmetrically (a listing, one prompt per
   option) or following the solver (elimination, a playoff of the top two). When the same option is
   named more often than every other in every run, the program pastes it in on its own: the answer
   text is being fed to the solver (``"Hint: think about photosynthesis"``, ``ITEM.choices[2]``).
3. **Hard-coded option text that picks the submit.** A string constant of the program compared
   with (``==``, ``in``) or searched for (``.index``, ``.find``, ``.startswith``…) that matches the
   text of exactly one option (and not the question, a generic option such as "all of the above",
   or common scaffold words such as "correct").

Generic options and options named inside the question are left out of 2 and 3.
"""

from __future__ import annotations

import ast
from typing import Any

from cgr.plugins.audit_prompts import ItemFacts, is_generic, norm, read_prompt, stated_labels
from cgr.plugins.audit_runs import Session, session, skip_reason, view_of
from cgr.plugins.audit_standin import STRONG

DECIDING_METHODS = frozenset({"index", "find", "rfind", "count", "startswith", "endswith", "get", "__contains__"})
COMMON = frozenset(
    "answer answers option options choice choices correct incorrect right wrong true false yes none above "
    "likely unlikely final letter because therefore explanation reason question error unknown maybe best "
    "most least not all both neither".split()
)
MAX_LITERAL = 4000


def _constants(node: ast.AST) -> list[tuple[str, int]]:
    """``(text, line)`` of the string constants in an operand (itself, or a tuple/list/set of them)."""
    nodes = node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else [node]
    return [(e.value, e.lineno) for e in nodes if isinstance(e, ast.Constant) and isinstance(e.value, str)]


def _one_option(text: str, facts: ItemFacts, question: str) -> int | None:
    """The one option whose text this constant matches (see the module docstring), else None."""
    lit = norm(text[:MAX_LITERAL])
    if len(lit) < 4 or lit in COMMON or is_generic(lit) or lit in question:
        return None
    hits = [
        i
        for i, n in enumerate(facts.norms)
        if not is_generic(n) and n and (lit in n or (len(n) >= 4 and facts.nameable(i) and n in lit))
    ]
    return hits[0] if len(hits) == 1 else None


def literal_findings(program: str, item: dict[str, Any]) -> list[str]:
    """Checks 1 and 3 on the program's own string constants."""
    try:
        tree = ast.parse(program)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    facts = ItemFacts(view_of(item))
    question = norm(f"{facts.question} {facts.context}")
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for label in sorted(stated_labels(node.value[:MAX_LITERAL], facts.labels)):
                out.append(f"the program's text states the answer {label!r} (line {node.lineno})")
        operands: list[ast.AST] = []
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in DECIDING_METHODS:
            operands = list(node.args)
        for text, line in (c for op in operands for c in _constants(op)):
            idx = _one_option(text, facts, question)
            if idx is not None:
                out.append(
                    f"compares with a constant naming option {facts.labels[idx]} {text[:40]!r} "
                    f"(line {line}): item knowledge that picks the submit"
                )
    return list(dict.fromkeys(out))


def _singled_out(counts: dict[int, int], eligible: set[int]) -> int | None:
    ranked = sorted(((counts.get(i, 0), i) for i in eligible), reverse=True)
    if not ranked or ranked[0][0] == 0 or (len(ranked) > 1 and ranked[0][0] == ranked[1][0]):
        return None
    return ranked[0][1]


def _trace_hints(assisted: Any, facts: ItemFacts) -> list[str]:
    out = []
    for n, call in enumerate(getattr(assisted, "trace", None) or [], 1):
        if getattr(call, "op", None) in ("solve", "logprobs") and isinstance(call.prompt, str):
            for label in sorted(read_prompt(facts, call.prompt).hints):
                out.append(f"recorded solver call {n} is told the answer is {label!r}")
    return out[:3]


def _dynamic(s: Session) -> str | None:
    runs = list(s.sweep(STRONG))
    if len(runs) < max(2, len(s.favoured())):  # a partial sweep (budget spent) proves nothing
        return None
    stated = set.intersection(*(r.hints for r in runs))
    if stated:
        return f"every stand-in run's prompts state the answer {sorted(stated)[0]!r}"
    eligible = {i for i in range(s.n) if s.nameable(i)}
    picked = {_singled_out(r.counts, eligible) for r in runs}
    if len(picked) == 1 and None not in picked:
        i = picked.pop()
        assert i is not None
        times = sorted({r.counts.get(i, 0) for r in runs})
        return (
            f"the solver prompts single out option {s.label(i)} {s.text(i)} (named {'/'.join(map(str, times))} "
            f"time(s), more than any other) whichever option the solver favours: the answer is fed to the solver"
        )
    return None


def leak(program: str, item: dict[str, Any] | None, assisted: Any = None) -> tuple[str, str]:
    """Flags an answer handed to the solver (stated, or one option pasted into every prompt) or to the submit.

    A label stated as the answer in a solver prompt, an option singled out in the prompts whatever
    the solver believes, or hard-coded option text that picks the submit (see the module docstring).
    """
    why = skip_reason(program, item, assisted)
    if why:
        return "pass", why
    assert item is not None
    findings = literal_findings(program, item)
    if assisted is not None:
        findings += _trace_hints(assisted, ItemFacts(view_of(item)))
    s = session(program, item)
    dynamic = _dynamic(s)
    if dynamic:
        findings.append(dynamic)
    if findings:
        return "flag", "; ".join(findings[:4])
    if s.stopped and len(s.runs) < 2:
        return "pass", f"inconclusive: {s.stopped} (only its text was checked)"
    return "pass", "no answer handed to the solver or the submit"
