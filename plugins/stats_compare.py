"""``cgr compare``: one channel of run B against run A on the items both answered, with the report's
interval (:mod:`cgr.plugins.stats_interval`) over (dataset, task) cells."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np

from cgr.kernel.records import Record
from cgr.plugins.stats_interval import (
    DEFAULT_RESAMPLES,
    EXACT_TEST,
    INTERVAL,
    SMALL_CELL,
    disagreement,
    paired_difference,
)


def _arr(xs: Iterable[bool]) -> np.ndarray:
    return np.array(list(xs), dtype=float)


CHANNELS = ("assisted", "assisted_clean", "direct", "generator_side")


def _correct(record: Record, channel: str) -> bool:
    if channel == "assisted_clean":
        return bool(record.assisted.correct) and not any(a.verdict == "flag" for a in record.audits)
    return bool(getattr(record, channel).correct)


def compare(
    records_a: list[Record],
    records_b: list[Record],
    *,
    channel: str = "assisted",
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """Run B against run A on one channel, over the items both answered: per (dataset, task) cell
    accuracies, the macro difference B - A with the report's interval (items resampled within cells,
    both runs kept together), the sign-flip and McNemar p. Raises ValueError if an item has different
    gold answers in the two runs (they are not runs of the same items)."""
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
    arrays = {
        key: (_arr(_correct(a, channel) for a, _ in ps), _arr(_correct(b, channel) for _, b in ps))
        for key, ps in sorted(groups.items())
    }
    pairs = list(arrays.values())
    result = paired_difference(pairs, resamples=resamples, seed=seed)

    def label(records: list[Record]) -> list[str]:
        return sorted({f"{r.solver} {r.generator}" for r in records})

    small = [f"{task} n={len(a)}" for (_, task), (a, _) in arrays.items() if len(a) < SMALL_CELL]
    warnings = []
    if small:
        named = ", ".join(small[:6]) + (", ..." if len(small) > 6 else "")
        verb = "has" if len(small) == 1 else "have"
        warnings.append(f"{len(small)} of {len(pairs)} cells {verb} fewer than {SMALL_CELL} items ({named})")
    if reason := disagreement(result):
        warnings.append(f"B - A: {reason}")
    return {
        "channel": channel,
        "a": label(records_a),
        "b": label(records_b),
        "n_items": len(common),
        "only_in_a": len(by_a) - len(common),
        "only_in_b": len(by_b) - len(common),
        "bootstrap": {"resamples": resamples, "seed": seed, "interval": INTERVAL, "exact_test": EXACT_TEST},
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
        **result,
        "warnings": warnings,
    }
