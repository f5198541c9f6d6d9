"""Helpers for tests that compare whole runs."""

import json
from pathlib import Path


def records_without_timings(out: Path) -> list[dict]:
    """A run's records as dicts, without the wall-clock fields (the only ones two runs may differ in)."""
    rows = [json.loads(x) for x in (Path(out) / "records.jsonl").read_text().splitlines()]
    for rec in rows:
        for ch in ("direct", "assisted", "generator_side"):
            rec[ch].pop("latency_s", None)
            for call in rec[ch].get("trace") or ():
                call.pop("latency_s", None)
    return rows
