"""Statistics: per-cell accuracies, macro partitions and paired comparisons with honest intervals.

Cell = (solver model, generator, dataset, task). Macro = mean over cells. Each comparison (assisted
or assisted_clean against the primary direct mode, against the best direct mode of the run, and
assisted against the call-budget-matched baseline) is a paired, cell-stratified macro difference with
the interval and exact tests of :mod:`cgr.plugins.stats_interval` (hull of the BCa bootstrap and the
Newcombe-MOVER score interval; sign-flip and McNemar p).

``assisted_clean`` counts a record whose audits contain any ``flag`` as wrong. Direct modes: the
primary one is ``record.direct`` (named by ``record.direct.mode``), extra ones are
``record.direct_modes`` (mode -> DirectChannel, read with getattr so older records work too).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from cgr.kernel.records import Channel, Record
from cgr.plugins.stats_compare import CHANNELS, compare
from cgr.plugins.stats_interval import (
    DEFAULT_RESAMPLES,
    EXACT_TEST,
    INTERVAL,
    MCNEMAR,
    SMALL_CELL,
    Pairs,
    bca_interval,
    bootstrap_distribution,
    disagreement,
    mcnemar_p,
    paired_difference,
    tables_of,
)

__all__ = [
    "CHANNELS",
    "DEFAULT_RESAMPLES",
    "DEFAULT_TAU",
    "cells",
    "compare",
    "mcnemar_p",
    "paired_bootstrap",
    "paired_difference",
    "partitions",
    "report",
]

DEFAULT_TAU = 0.30
BEST_DIRECT = (
    "the direct mode with the highest macro accuracy over the partition's cells, chosen on these data: "
    "optimistic for direct, the conservative side for assisted"
)

Key = tuple[str, str, str, str]


def _mean(xs: Iterable[float]) -> float:
    xs = list(xs)
    return float(np.mean(xs)) if xs else 0.0


def flagged(record: Record) -> bool:
    """Whether any auditor flagged the record's scaffold."""
    return any(a.verdict == "flag" for a in record.audits)


def direct_modes(record: Record) -> dict[str, Channel]:
    """Every direct mode the record was answered in: the primary one and the extra ones."""
    extra = getattr(record, "direct_modes", None) or {}
    return {**extra, record.direct.mode: record.direct}


def paired_bootstrap(pairs: Pairs, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> tuple[float, float, float]:
    """Macro difference (mean over cells of other - base; ``pairs`` per cell: (base, other) 0/1 arrays
    of the same items) and its paired BCa bootstrap 95% interval (the bootstrap half of the report's)."""
    if not pairs:
        return float("nan"), float("nan"), float("nan")
    replicates = bootstrap_distribution(pairs, resamples=resamples, seed=seed)
    low, high = bca_interval(pairs, replicates)
    return float(np.mean([np.mean(o) - np.mean(b) for b, o in pairs])), low, high


def _groups(records: Iterable[Record]) -> dict[Key, list[Record]]:
    groups: dict[Key, list[Record]] = defaultdict(list)
    for r in records:
        groups[(r.solver, r.generator, r.dataset, r.task)].append(r)
    return dict(sorted(groups.items()))


def _arr(xs: Iterable[bool]) -> np.ndarray:
    return np.array(list(xs), dtype=float)


class _Cell:
    """One cell's 0/1 arrays, item by item."""

    def __init__(self, key: Key, rs: list[Record]) -> None:
        self.key, self.records, self.n = key, rs, len(rs)
        self.direct = _arr(r.direct.correct for r in rs)
        self.assisted = _arr(r.assisted.correct for r in rs)
        self.flags = _arr(flagged(r) for r in rs)
        self.clean = self.assisted * (1 - self.flags)
        per_record = [direct_modes(r) for r in rs]
        names = sorted({m for modes in per_record for m in modes})
        self.mode_acc = {m: [bool(modes[m].correct) for modes in per_record if m in modes] for m in names}
        self.modes = {m: _arr(v) for m, v in self.mode_acc.items() if len(v) == self.n}  # complete modes
        # the call-budget-matched baseline: items whose scaffold made no call have none and are left out
        has = [r.budget_matched is not None for r in rs]
        self.zero_calls = sum(r.budget_matched is None and r.assisted.calls == 0 for r in rs)
        self.budget_ran = any(has) and all(h or r.assisted.calls == 0 for h, r in zip(has, rs))
        self.budget_mask = np.array(has, dtype=bool)
        self.budget = _arr(bool(r.budget_matched and r.budget_matched.correct) for r in rs)[self.budget_mask]
        # the baseline's own one-call greedy answer, on the same items (shown beside the baseline)
        self.budget_greedy = _arr(bool(r.budget_matched and r.budget_matched.greedy == r.gold) for r in rs)[
            self.budget_mask
        ]


def cells(records: Iterable[Record]) -> list[dict[str, Any]]:
    """One row per (solver model, generator, dataset, task): accuracies of every channel and direct
    mode, the flag rate, mean calls and tokens, extraction failures and the budget-matched baseline."""
    rows = []
    for (solver, generator, dataset, task), rs in _groups(records).items():
        c = _Cell((solver, generator, dataset, task), rs)
        rows.append(
            {
                "solver": solver,
                "generator": generator,
                "dataset": dataset,
                "task": task,
                "n": c.n,
                "direct_acc": float(c.direct.mean()),
                "direct_mode": "+".join(sorted({r.direct.mode for r in rs})),
                "direct_modes": {m: {"n": len(v), "acc": _mean(v)} for m, v in c.mode_acc.items()},
                "assisted_acc": float(c.assisted.mean()),
                "assisted_clean_acc": float(c.clean.mean()),
                "generator_acc": _mean(r.generator_side.correct for r in rs),
                "generator_answered": sum(r.generator_side.answer is not None for r in rs),
                "direct_calls": _mean(r.direct.calls for r in rs),
                "assisted_calls": _mean(r.assisted.calls for r in rs),
                "generator_calls": _mean(r.generator_side.calls for r in rs),
                "direct_tokens": _mean(r.direct.prompt_tokens + r.direct.completion_tokens for r in rs),
                "assisted_tokens": _mean(r.assisted.prompt_tokens + r.assisted.completion_tokens for r in rs),
                "direct_extract_fail": sum(r.direct.answer is None for r in rs),
                "assisted_no_answer": sum(r.assisted.answer is None for r in rs),
                "assisted_status": dict(sorted(_count(r.assisted.status for r in rs).items())),
                "flagged": int(c.flags.sum()),
                "flag_rate": float(c.flags.mean()),
                "budget_acc": float(c.budget.mean()) if c.budget_ran and len(c.budget) else None,
                "budget_greedy_acc": float(c.budget_greedy.mean()) if c.budget_ran and len(c.budget) else None,
                "budget_calls": (
                    _mean(r.budget_matched.calls for r in rs if r.budget_matched)
                    if c.budget_ran and len(c.budget)
                    else None
                ),
                "budget_n": int(len(c.budget)) if c.budget_ran else 0,
                "budget_zero_call_items": c.zero_calls if c.budget_ran or c.zero_calls == c.n else 0,
            }
        )
    return rows


def _count(xs: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for x in xs:
        out[x] += 1
    return out


def _best_mode(chosen: list[_Cell]) -> tuple[str | None, dict[str, float]]:
    """The direct mode with the highest macro accuracy over ``chosen`` among the modes every item of
    every cell was answered in (ties: the primary mode, then by name), and every such mode's macro."""
    complete = set.intersection(*(set(c.modes) for c in chosen)) if chosen else set()
    macros = {m: float(np.mean([c.modes[m].mean() for c in chosen])) for m in sorted(complete)}
    primary = {r.direct.mode for c in chosen for r in c.records}
    ranked = sorted(macros, key=lambda m: (-round(macros[m], 12), m not in primary, m))
    return (ranked[0] if ranked else None), macros


Memo = dict[tuple[Any, ...], dict[str, Any]]


def _compare(pairs: Pairs, base: str, other: str, resamples: int, seed: int, memo: Memo) -> dict[str, Any]:
    tables = tables_of(pairs)  # the same counts (an equal partition, best = primary mode) are computed once
    key = (tables.tobytes(), tables.shape)
    if key not in memo:
        memo[key] = paired_difference(tables, resamples=resamples, seed=seed)
    return {"base": base, "other": other, **memo[key]}


def partitions(
    records: list[Record], *, tau: float = DEFAULT_TAU, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> dict[str, dict[str, Any]]:
    """``all``, ``nonzero_baseline`` and ``gate_<tau>`` partitions (chosen by the primary direct mode's
    accuracy) with macro accuracies and every paired comparison."""
    all_cells = [_Cell(k, rs) for k, rs in _groups(records).items()]
    selectors: dict[str, Callable[[_Cell], bool]] = {
        "all": lambda c: True,
        "nonzero_baseline": lambda c: c.direct.sum() > 0,
        f"gate_{tau:.2f}": lambda c: c.direct.mean() > tau,
    }
    memo: Memo = {}
    return {
        name: _partition([c for c in all_cells if keep(c)], resamples, seed, memo) for name, keep in selectors.items()
    }


def _partition(chosen: list[_Cell], resamples: int, seed: int, memo: Memo) -> dict[str, Any]:
    out: dict[str, Any] = {
        "n_cells": len(chosen),
        "n_items": sum(c.n for c in chosen),
        "min_cell_n": min((c.n for c in chosen), default=0),
        "cells_under_30": sum(c.n < SMALL_CELL for c in chosen),
        "macro_direct": None,
        "macro_assisted": None,
        "macro_assisted_clean": None,
        "flag_rate": None,
        "delta": None,
        "ci_low": None,
        "ci_high": None,
        "mcnemar_p": None,
        "exact_p": None,
        "comparisons": {},
    }
    if not chosen:
        return out
    primary = "+".join(sorted({r.direct.mode for c in chosen for r in c.records}))
    best, macros = _best_mode(chosen)
    out.update(
        macro_direct=float(np.mean([c.direct.mean() for c in chosen])),
        macro_assisted=float(np.mean([c.assisted.mean() for c in chosen])),
        macro_assisted_clean=float(np.mean([c.clean.mean() for c in chosen])),
        flag_rate=float(sum(c.flags.sum() for c in chosen) / out["n_items"]),
        direct_mode=primary,
        direct_modes=macros,
        best_direct={"mode": best, "macro": macros.get(best) if best else None, "chosen_on_data": True},
    )
    cmp = out["comparisons"]
    for channel in ("assisted", "assisted_clean"):
        values = [(c.direct, c.assisted if channel == "assisted" else c.clean) for c in chosen]
        cmp[f"{channel}_vs_direct"] = _compare(values, f"direct ({primary})", channel, resamples, seed, memo)
        if best is not None:
            values = [(c.modes[best], v) for c, (_, v) in zip(chosen, values)]
            cmp[f"{channel}_vs_best_direct"] = _compare(values, f"best direct ({best})", channel, resamples, seed, memo)
    main, clean = cmp["assisted_vs_direct"], cmp["assisted_clean_vs_direct"]
    out.update({k: main[k] for k in ("delta", "ci_low", "ci_high", "mcnemar_p", "exact_p")})
    out.update({f"{k}_clean": clean[k] for k in ("delta", "ci_low", "ci_high", "mcnemar_p", "exact_p")})
    if best is not None:
        vs_best = cmp["assisted_vs_best_direct"]
        out.update({f"{k}_vs_best": vs_best[k] for k in ("delta", "ci_low", "ci_high", "mcnemar_p", "exact_p")})
    if all(c.budget_ran or c.zero_calls == c.n for c in chosen) and any(len(c.budget) for c in chosen):
        # assisted vs the call-budget-matched baseline on the items that have one (zero-call items left out)
        used = [c for c in chosen if len(c.budget)]
        values = [(c.budget, c.assisted[c.budget_mask]) for c in used]
        vs = _compare(values, "budget-matched", "assisted", resamples, seed, memo)
        cmp["assisted_vs_budget"] = vs
        out.update(
            macro_budget=float(np.mean([b.mean() for b, _ in values])),
            macro_budget_greedy=float(np.mean([c.budget_greedy.mean() for c in used])),
            macro_assisted_budget_items=float(np.mean([a.mean() for _, a in values])),
            delta_vs_budget=vs["delta"],
            ci_low_vs_budget=vs["ci_low"],
            ci_high_vs_budget=vs["ci_high"],
            budget_cells=len(used),
            budget_items=sum(len(b) for b, _ in values),
            budget_zero_call_items=sum(c.zero_calls for c in chosen),
        )
    return out


def report(
    records: list[Record], *, tau: float = DEFAULT_TAU, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> dict[str, Any]:
    """The full report object of ``cgr report --format json``."""
    rows = cells(records)
    parts = partitions(records, tau=tau, resamples=resamples, seed=seed)
    return {
        "n_records": len(records),
        "tau": tau,
        "bootstrap": {
            "resamples": resamples,
            "seed": seed,
            "interval": INTERVAL,
            "exact_test": EXACT_TEST,
            "mcnemar": MCNEMAR,
            "best_direct": BEST_DIRECT,
        },
        "cells": rows,
        "partitions": parts,
        "regressions": [
            {k: row[k] for k in ("solver", "generator", "dataset", "task", "n", "direct_acc", "assisted_acc")}
            for row in rows
            if row["assisted_acc"] < row["direct_acc"]
        ],
        "warnings": _warnings(rows, parts) + _repeated_items(records),
    }


def _repeated_items(records: list[Record]) -> list[str]:
    """A warning when a cell holds an item more than once: runs of one solver and generator label
    (e.g. the same model with other options) read together and pooled into one cell."""
    cells = [
        f"{solver} {generator} {task}"
        for (solver, generator, _, task), rs in _groups(records).items()
        if len(rs) > len({r.item_id for r in rs})
    ]
    if not cells:
        return []
    named = ", ".join(cells[:4]) + (", ..." if len(cells) > 4 else "")
    return [
        f"{len(cells)} cell(s) hold an item more than once ({named}): runs with the same solver and generator "
        "labels were pooled (e.g. one model with other options); report those runs separately"
    ]


def _warnings(rows: list[dict[str, Any]], parts: dict[str, dict[str, Any]]) -> list[str]:
    out = []
    small = sorted((r for r in rows if r["n"] < SMALL_CELL), key=lambda r: r["n"])
    if small:
        named = ", ".join(f"{r['task']} n={r['n']}" for r in small[:6]) + (", ..." if len(small) > 6 else "")
        out.append(
            f"{len(small)} of {len(rows)} cells {'has' if len(small) == 1 else 'have'} fewer than {SMALL_CELL} "
            f"items ({named}): their accuracies are rough and the intervals lean on the score method"
        )
    partial = sorted({m for r in rows for m, v in r["direct_modes"].items() if v["n"] < r["n"]})
    if partial:
        out.append(f"direct mode(s) {', '.join(partial)} missing on some items: left out of the best-direct choice")
    seen: set[tuple[Any, ...]] = set()
    for name, p in parts.items():
        for what, result in p["comparisons"].items():
            reason = disagreement(result)
            # the same numbers as a comparison already warned about (a partition equal to an earlier
            # one, or the best direct mode being the primary one) are not repeated
            key = (what.split("_vs_")[0], p["n_items"], result["delta"], result["ci_low"], result["mcnemar_p"])
            if reason and key not in seen:
                seen.add(key)
                out.append(f"{name}, {LABELS[what]}: {reason}")
    return out


#: Comparison keys of a partition, in the order the reports show them, and their labels.
LABELS = {
    "assisted_vs_best_direct": "assisted - best direct",
    "assisted_clean_vs_best_direct": "assisted_clean - best direct",
    "assisted_vs_direct": "assisted - direct",
    "assisted_clean_vs_direct": "assisted_clean - direct",
    "assisted_vs_budget": "assisted - budget-matched",
}
