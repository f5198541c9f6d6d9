"""`cgr run --workers N` against a served model: items per second with N workers vs one, same run.

The server is the test suite's OpenAI-compatible stub (tests/plugins_builtin/openai_stub.py) with a
fixed delay per request standing in for model latency, so the ratio measures what the pipeline's
concurrency buys when the model is elsewhere (a vLLM or llama-server box), not any model's speed.
Each item makes one direct request and one echo request per option (template/per_option), plus one
alignment probe per run. Runs alternate (1, N, 1, N, ...) so machine noise hits both alike.

    python bench/bench_workers.py [--items 24] [--delay-ms 40] [--workers 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the stub lives in the test tree

from cgr.kernel.config import RunConfig  # noqa: E402
from cgr.kernel.manager import load_plugins  # noqa: E402
from cgr.kernel.pipeline import run  # noqa: E402
from tests.plugins_builtin.openai_stub import MODEL_ID, Stub  # noqa: E402
from tests.records import records_without_timings  # noqa: E402


def bundle(path: Path, n: int) -> Path:
    rows = [
        {
            "id": f"q{i:03d}",
            "dataset": "bench",
            "task": f"t{i % 4}",
            "question": f"What is the capital of France ({i})?",
            "choices": ["Berlin", "Paris", "Rome", "Madrid"],
            "answer": "B",
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def one_run(stub: Stub, items: Path, out: Path, workers: int) -> float:
    cfg = RunConfig(
        bundle=items, out=out, solver="openai", model=MODEL_ID, workers=workers, solver_options={"base_url": stub.url}
    )
    start = time.perf_counter()
    run(cfg, plugins=load_plugins(entry_points=False))
    return time.perf_counter() - start


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=24)
    ap.add_argument("--delay-ms", type=float, default=40.0, help="stub latency per request")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)

    stub = Stub()
    stub.delay_s = args.delay_ms / 1e3
    times: dict[int, list[float]] = {1: [], args.workers: []}
    try:
        with tempfile.TemporaryDirectory(prefix="cgr-bench-workers-") as tmp:
            tmp = Path(tmp)
            items = bundle(tmp / "items.jsonl", args.items)
            one_run(stub, items, tmp / "warm", 1)  # builds/loads the sandbox once, outside the timing
            for r in range(args.rounds):
                for w in (1, args.workers):
                    times[w].append(one_run(stub, items, tmp / f"run-{r}-{w}", w))
            same = all(
                records_without_timings(tmp / f"run-{r}-{args.workers}") == records_without_timings(tmp / f"run-{r}-1")
                for r in range(args.rounds)
            )
    finally:
        stub.close()
    seq, par = statistics.median(times[1]), statistics.median(times[args.workers])
    print(
        f"{platform.machine()}, {len(os.sched_getaffinity(0))} CPU, Python {platform.python_version()}; "
        f"{args.items} items, stub delay {args.delay_ms:.0f} ms per request, median of {args.rounds} rounds"
    )
    print("| workers | run time | items/s | speed-up |")
    print("|---|---|---|---|")
    print(f"| 1 | {seq:.2f} s | {args.items / seq:.1f} | 1.00x |")
    print(f"| {args.workers} | {par:.2f} s | {args.items / par:.1f} | {seq / par:.2f}x |")
    print(f"records identical to the one-worker run (timings aside): {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
