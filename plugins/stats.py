"""Statistics: per-cell accuracies, macro partitions and a paired, cell-stratified bootstrap.

Cell = (solver model, generator, dataset, task). Macro = mean over cells. The bootstrap resamples items within each
cell with both channels kept together (paired), B times, seeded, fully vectorized with numpy; the
interval is the percentile interval of the macro difference assisted − direct. An exact McNemar
test (scipy's binomial test on discordant pairs) gives a pooled p-value beside it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np
from scipy import stats as sps

from cgr.kernel.records import Record

DEFAULT_TAU = 0.30
DEFAULT_RESAMPLES = 2000


def _mean(xs: list[float]) -> float:
    return float(np.mean(xs)) if xs else 0.0


def cells(records: Iterable[Record]) -> list[dict]:
    """One row per (solver model, generator, dataset, task) with accuracies, mean calls and extraction failures."""
    rows = []
    for (solver, generator, dataset, task), rs in sorted(_groups(records).items()):
        rows.append(
            {
                "solver": solver,
                "generator": generator,
                "dataset": dataset,
                "task": task,
                "n": len(rs),
                "direct_acc": _mean([r.direct.correct for r in rs]),
                "assisted_acc": _mean([r.assisted.correct for r in rs]),
                "generator_acc": _mean([r.generator_side.correct for r in rs]),
                "generator_answered": sum(r.generator_side.answer is not None for r in rs),
                "direct_calls": _mean([r.direct.calls for r in rs]),
                "assisted_calls": _mean([r.assisted.calls for r in rs]),
                "generator_calls": _mean([r.generator_side.calls for r in rs]),
                "direct_tokens": _mean([r.direct.prompt_tokens + r.direct.completion_tokens for r in rs]),
                "assisted_tokens": _mean([r.assisted.prompt_tokens + r.assisted.completion_tokens for r in rs]),
                "direct_extract_fail": sum(r.direct.answer is None for r in rs),
                "assisted_no_answer": sum(r.assisted.answer is None for r in rs),
                "assisted_status": dict(sorted(_count(r.assisted.status for r in rs).items())),
                "flagged": sum(any(a.verdict == "flag" for a in r.audits) for r in rs),
                **_budget_cell(rs),
            }
        )
    return rows


def _groups(records: Iterable[Record]) -> dict[tuple[str, str, str, str], list[Record]]:
    """Records by cell: (solver model, generator, dataset, task)."""
    groups: dict[tuple[str, str, str, str], list[Record]] = defaultdict(list)
    for r in records:
        groups[(r.solver, r.generator, r.dataset, r.task)].append(r)
    return groups


def _budget_cell(rs: list[Record]) -> dict:
    """The call-budget-matched baseline's accuracy and calls, or None where it was not run."""
    if not all(r.budget_matched is not None or r.assisted.calls == 0 for r in rs) or not any(
        r.budget_matched is not None for r in rs
    ):
        return {"budget_acc": None, "budget_calls": None}
    return {
        "budget_acc": _mean([bool(r.budget_matched and r.budget_matched.correct) for r in rs]),
        "budget_calls": _mean([r.budget_matched.calls if r.budget_matched else 0 for r in rs]),
    }


def _count(xs: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for x in xs:
        out[x] += 1
    return out


def paired_bootstrap(
    pairs: list[tuple[np.ndarray, np.ndarray]], *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> tuple[float, float, float]:
    """Macro difference (mean over cells of assisted − direct accuracy) and its 95% interval.

    ``pairs`` holds, per cell, the 0/1 correctness arrays (direct, assisted) of the same items.
    """
    if not pairs:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    point = float(np.mean([a.mean() - d.mean() for d, a in pairs]))
    diffs = np.zeros(resamples)
    for d, a in pairs:
        idx = rng.integers(0, len(d), size=(resamples, len(d)))
        diffs += a[idx].mean(axis=1) - d[idx].mean(axis=1)  # same idx: the pairing
    diffs /= len(pairs)
    low, high = np.percentile(diffs, [2.5, 97.5])
    return point, float(low), float(high)


def mcnemar_p(pairs: list[tuple[np.ndarray, np.ndarray]]) -> float | None:
    """Exact two-sided McNemar p-value pooled over the cells' items (None without discordant pairs)."""
    b = int(sum(((a == 1) & (d == 0)).sum() for d, a in pairs))
    c = int(sum(((a == 0) & (d == 1)).sum() for d, a in pairs))
    if b + c == 0:
        return None
    return float(sps.binomtest(b, b + c, 0.5).pvalue)


def partitions(
    records: list[Record], *, tau: float = DEFAULT_TAU, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> dict[str, dict]:
    """``all``, ``nonzero_baseline`` and ``gate_<tau>`` partitions with macro accuracies and CIs."""
    groups = _groups(records)
    arrays = {
        key: (
            np.array([r.direct.correct for r in rs], dtype=float),
            np.array([r.assisted.correct for r in rs], dtype=float),
        )
        for key, rs in sorted(groups.items())
    }
    budget = {
        key: np.array([bool(r.budget_matched and r.budget_matched.correct) for r in rs], dtype=float)
        for key, rs in groups.items()
        if _budget_cell(rs)["budget_acc"] is not None
    }
    selectors = {
        "all": lambda d: True,
        "nonzero_baseline": lambda d: d.sum() > 0,
        f"gate_{tau:.2f}": lambda d: d.mean() > tau,
    }
    out = {}
    for name, keep in selectors.items():
        keys = [k for k, (d, _) in arrays.items() if keep(d)]
        pairs = [arrays[k] for k in keys]
        delta, low, high = paired_bootstrap(pairs, resamples=resamples, seed=seed)
        out[name] = {
            "n_cells": len(pairs),
            "n_items": int(sum(len(d) for d, _ in pairs)),
            "macro_direct": float(np.mean([d.mean() for d, _ in pairs])) if pairs else None,
            "macro_assisted": float(np.mean([a.mean() for _, a in pairs])) if pairs else None,
            "delta": None if not pairs else delta,
            "ci_low": None if not pairs else low,
            "ci_high": None if not pairs else high,
            "mcnemar_p": mcnemar_p(pairs),
        }
        if keys and all(k in budget for k in keys):
            # assisted vs the call-budget-matched baseline, on the same items, same bootstrap
            vs = [(budget[k], arrays[k][1]) for k in keys]
            d_b, lo_b, hi_b = paired_bootstrap(vs, resamples=resamples, seed=seed)
            out[name].update(
                macro_budget=float(np.mean([b.mean() for b, _ in vs])),
                delta_vs_budget=d_b,
                ci_low_vs_budget=lo_b,
                ci_high_vs_budget=hi_b,
            )
    return out


def report(
    records: list[Record], *, tau: float = DEFAULT_TAU, resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> dict:
    """The full report object of ``cgr report --format json``."""
    rows = cells(records)
    return {
        "n_records": len(records),
        "tau": tau,
        "bootstrap": {"resamples": resamples, "seed": seed, "interval": "percentile 95%"},
        "cells": rows,
        "partitions": partitions(records, tau=tau, resamples=resamples, seed=seed),
        "regressions": [
            {k: row[k] for k in ("solver", "generator", "dataset", "task", "n", "direct_acc", "assisted_acc")}
            for row in rows
            if row["assisted_acc"] < row["direct_acc"]
        ],
    }


CHANNELS = ("assisted", "direct", "generator_side")


def compare(
    records_a: list[Record],
    records_b: list[Record],
    *,
    channel: str = "assisted",
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> dict:
    """Run B against run A on one channel, over the items both answered: per (dataset, task) cell
    accuracies, the macro difference B − A with a paired bootstrap interval (items resampled within
    cells, both runs kept together) and a pooled exact McNemar p. Raises ValueError if an item has
    different gold answers in the two runs (they are not runs of the same items)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; one of {', '.join(CHANNELS)}")
    by_a, by_b = {r.item_id: r for r in records_a}, {r.item_id: r for r in records_b}
    common = [i for i in by_a if i in by_b]
    groups: dict[tuple[str, str], list[tuple[Record, Record]]] = defaultdict(list)
    for item_id in common:
        a, b = by_a[item_id], by_b[item_id]
        if a.gold != b.gold:
            raise ValueError(f"item {item_id!r} has gold {a.gold!r} in A but {b.gold!r} in B: not the same items")
        groups[(a.dataset, a.task)].append((a, b))

    def correct(records) -> np.ndarray:
        return np.array([getattr(r, channel).correct for r in records], dtype=float)

    arrays = {key: (correct(a for a, _ in ps), correct(b for _, b in ps)) for key, ps in sorted(groups.items())}
    pairs = list(arrays.values())
    delta, low, high = paired_bootstrap(pairs, resamples=resamples, seed=seed)

    def label(records) -> list[str]:
        return sorted({f"{r.solver} {r.generator}" for r in records})

    return {
        "channel": channel,
        "a": label(records_a),
        "b": label(records_b),
        "n_items": len(common),
        "only_in_a": len(by_a) - len(common),
        "only_in_b": len(by_b) - len(common),
        "bootstrap": {"resamples": resamples, "seed": seed, "interval": "percentile 95%"},
        "cells": [
            {
                "dataset": ds,
                "task": task,
                "n": len(a),
                "acc_a": float(a.mean()),
                "acc_b": float(b.mean()),
                "delta": float(b.mean() - a.mean()),
            }
            for (ds, task), (a, b) in arrays.items()
        ],
        "n_cells": len(pairs),
        "macro_a": float(np.mean([a.mean() for a, _ in pairs])) if pairs else None,
        "macro_b": float(np.mean([b.mean() for _, b in pairs])) if pairs else None,
        "delta": delta if pairs else None,
        "ci_low": low if pairs else None,
        "ci_high": high if pairs else None,
        "mcnemar_p": mcnemar_p(pairs),
    }
