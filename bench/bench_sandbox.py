"""Sandbox benchmark: per-scaffold and per-crossing cost, each against a baseline run in the same process.

* per-scaffold: fresh wasmtime Store + instantiate + a trivial scaffold, vs a fresh
  ``python -c`` subprocess per scaffold (the obvious process-isolation alternative).
* per-crossing: a scaffold making N solver calls to an echo host function (one WIT crossing each,
  with argument validation and JSON both ways), vs one JSON line round trip over pipes to a
  long-lived child process per call.
* load: Sandbox construction + loading the verified, cached compiled component (and, with
  ``--cold``, the first build into an empty cache: componentize-py + wasmtime compile).

Usage: python bench/bench_sandbox.py [--runs 200] [--calls 2000] [--cold]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

from cgr.sandbox import Limits, Sandbox

ITEM = {"id": "b1", "question": "2 + 2 = ?", "choices": ["3", "4", "5"], "labels": ["A", "B", "C"], "context": None}
TRIVIAL = "submit(ITEM.labels[1])\n"
CHILD_ECHO = "import sys, json\nfor line in sys.stdin:\n    sys.stdout.write(json.dumps(json.loads(line)) + '\\n'); sys.stdout.flush()\n"


def echo_host(op, args):
    return args["prompt"] if op == "solve" else None


def median_ms(samples):
    return statistics.median(samples) * 1e3


def bench_load(cold: bool) -> list[tuple[str, float]]:
    rows = []
    if cold:
        with tempfile.TemporaryDirectory(prefix="cgr-bench-cache-") as tmp:
            start = time.perf_counter()
            sb = Sandbox(tmp)
            sb.warm()
            rows.append(("first build (componentize-py + compile + cache write)", time.perf_counter() - start))
            start = time.perf_counter()
            Sandbox(tmp).warm()
            rows.append(("cached load (verify sha256 + deserialize)", time.perf_counter() - start))
    else:
        Sandbox().warm()  # make sure the cache is populated
        times = []
        for _ in range(5):
            start = time.perf_counter()
            Sandbox().warm()
            times.append(time.perf_counter() - start)
        rows.append(("cached load (verify sha256 + deserialize), median of 5", statistics.median(times)))
    return rows


def bench_per_scaffold(sb: Sandbox, runs: int) -> tuple[float, float]:
    for _ in range(10):
        sb.run(TRIVIAL, ITEM, echo_host)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        result = sb.run(TRIVIAL, ITEM, echo_host)
        samples.append(time.perf_counter() - start)
        assert result.status == "ok", result
    baseline = []
    code = "import json; print(json.dumps({'answer': 'B'}))"
    for _ in range(max(10, runs // 10)):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        baseline.append(time.perf_counter() - start)
        assert "answer" in out.stdout
    return median_ms(samples), median_ms(baseline)


def bench_per_crossing(sb: Sandbox, calls: int) -> tuple[float, float]:
    source = f"for i in range({calls}):\n    r = solver_call('prompt number ' + str(i))\nsubmit('A')\n"
    limits = Limits(max_calls=calls, timeout_s=120)
    empty = sb.run("for i in range(%d):\n    r = 'prompt number ' + str(i)\nsubmit('A')\n" % calls, ITEM, echo_host, limits)
    start = time.perf_counter()
    result = sb.run(source, ITEM, echo_host, limits)
    total = time.perf_counter() - start
    assert result.status == "ok" and result.solver_calls == calls, result
    per_call = (total - empty.elapsed_s) / calls

    child = subprocess.Popen([sys.executable, "-c", CHILD_ECHO], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True, bufsize=1)
    try:
        child.stdin.write(json.dumps({"prompt": "warm"}) + "\n")
        child.stdout.readline()
        start = time.perf_counter()
        for i in range(calls):
            child.stdin.write(json.dumps({"prompt": f"prompt number {i}"}) + "\n")
            child.stdin.flush()
            json.loads(child.stdout.readline())
        pipe = (time.perf_counter() - start) / calls
    finally:
        child.stdin.close()
        child.wait(timeout=10)
    return per_call * 1e6, pipe * 1e6


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="scaffold runs for the per-scaffold figure")
    parser.add_argument("--calls", type=int, default=2000, help="solver calls for the per-crossing figure")
    parser.add_argument("--cold", action="store_true", help="also time a first build into an empty cache")
    args = parser.parse_args(argv)

    for label, seconds in bench_load(args.cold):
        print(f"{label}: {seconds * 1e3:.0f} ms" if seconds < 1 else f"{label}: {seconds:.1f} s")
    sb = Sandbox()
    sb.warm()

    scaffold_ms, subprocess_ms = bench_per_scaffold(sb, args.runs)
    crossing_us, pipe_us = bench_per_crossing(sb, args.calls)

    rows = [
        ("per-scaffold (fresh store + instantiate + trivial script)", f"{scaffold_ms:.2f} ms",
         f"subprocess `python -c`: {subprocess_ms:.1f} ms", subprocess_ms / scaffold_ms),
        (f"per-crossing ({args.calls} solver_call to an echo host)", f"{crossing_us:.1f} us",
         f"pipe JSON round trip to a child: {pipe_us:.1f} us", pipe_us / crossing_us),
    ]
    width = max(len(r[0]) for r in rows)
    print()
    print(f"{'measure':<{width}}  {'sandbox':>10}  {'baseline (same run)':<42} ratio")
    for name, ours, base, ratio in rows:
        print(f"{name:<{width}}  {ours:>10}  {base:<42} {ratio:.1f}x {'faster' if ratio >= 1 else 'slower'}")
    print()
    print(f"per-scaffold: {scaffold_ms:.2f} ms vs subprocess {subprocess_ms:.1f} ms = {subprocess_ms / scaffold_ms:.1f}x faster")
    print(f"per-crossing: {crossing_us:.1f} us vs pipe round trip {pipe_us:.1f} us = "
          f"{pipe_us / crossing_us:.1f}x {'faster' if pipe_us >= crossing_us else 'slower'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
