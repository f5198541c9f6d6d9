"""Sandbox benchmark: per-scaffold and per-crossing cost, each against a baseline measured in the same run.

* per-scaffold: fresh wasmtime Store + instantiate + a trivial scaffold (``submit(ITEM.labels[1])``)
  vs a fresh ``python -c`` subprocess per scaffold running the equivalent trivial script (read the
  item, print the label) with the same interpreter. Batches of the two are interleaved so machine
  noise hits both alike. Also shown: where the sandbox's time goes (store / instantiate / run /
  close), the same run with on-demand allocation instead of the pooling allocator, and
  ``python -c pass`` / ``python -I -S -c pass`` for reference.
* per-crossing: a scaffold making N solver calls to an echo host (one WIT crossing each, with
  argument validation and JSON both ways) minus the same loop without calls, vs one JSON line
  round trip over pipes to a long-lived child process.
* load: Sandbox construction + loading the verified, cached compiled component (``--cold``: also
  the first build into an empty cache: componentize-py + wasmtime compile).
* ``--soak N``: N hostile and honest scaffolds in one process (the mix of tests/sandbox/test_soak.py):
  outcome counts, RSS growth, anything leaked.

Usage: python bench/bench_sandbox.py [--runs 400] [--calls 2000] [--cold] [--soak 1000] [--record bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from cgr.sandbox import Limits, Sandbox, _callbacks
from cgr.sandbox._api import MiB, guest_view
from cgr.sandbox._bridge import Run

ROOT = Path(__file__).resolve().parents[1]
ITEM = {"id": "b1", "question": "2 + 2 = ?", "choices": ["3", "4", "5"], "labels": ["A", "B", "C"], "context": None}
TRIVIAL = "submit(ITEM.labels[1])\n"
# The same trivial work in a fresh interpreter: read the item, answer with its second label.
CHILD_TRIVIAL = "import json, sys; item = json.loads(sys.argv[1]); print(item['labels'][1])"
CHILD_ECHO = (
    "import sys, json\nfor line in sys.stdin:\n"
    "    sys.stdout.write(json.dumps(json.loads(line)) + '\\n'); sys.stdout.flush()\n"
)


def echo_host(op, args):
    return args["prompt"] if op == "solve" else None


def ms(samples):
    return statistics.median(samples) * 1e3


def machine() -> dict:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "wasmtime": version("wasmtime"),
        "componentize-py": version("componentize-py"),
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
        "load_avg_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def bench_load(cold: bool) -> list[tuple[str, float]]:
    rows = []
    if cold:
        with tempfile.TemporaryDirectory(prefix="cgr-bench-cache-") as tmp:
            start = time.perf_counter()
            Sandbox(tmp).warm()
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
        rows.append(("cached load (verify sha256 + deserialize + pool probe), median of 5", statistics.median(times)))
    return rows


def _sandbox(pooling: bool) -> Sandbox:
    old = os.environ.get("CGR_SANDBOX_POOLING")
    os.environ["CGR_SANDBOX_POOLING"] = "1" if pooling else "0"
    try:
        sb = Sandbox()
        sb.warm()
    finally:
        if old is None:
            os.environ.pop("CGR_SANDBOX_POOLING", None)
        else:
            os.environ["CGR_SANDBOX_POOLING"] = old
    return sb


def _one_run(sb: Sandbox) -> float:
    start = time.perf_counter()
    result = sb.run(TRIVIAL, ITEM, echo_host)
    elapsed = time.perf_counter() - start
    assert result.status == "ok", result
    return elapsed


def _one_subprocess(args: list[str]) -> float:
    start = time.perf_counter()
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - start
    assert out.returncode == 0
    return elapsed


def bench_per_scaffold(runs: int) -> dict:
    pooled, on_demand = _sandbox(True), _sandbox(False)
    assert pooled.load_info["default"]["allocator"] == "pooling", pooled.load_info
    item_json = json.dumps(ITEM)
    child = [sys.executable, "-c", CHILD_TRIVIAL, item_json]
    assert subprocess.run(child, capture_output=True, text=True).stdout == "B\n"
    refs = {"pass": [sys.executable, "-c", "pass"], "isolated": [sys.executable, "-I", "-S", "-c", "pass"]}
    for _ in range(20):
        _one_run(pooled)
        _one_run(on_demand)
    samples = {"sandbox": [], "on_demand": [], "subprocess": [], "pass": [], "isolated": []}
    faults = {"sandbox": 0, "on_demand": 0}
    blocks = 10
    per_block = max(1, runs // blocks)
    sub_per_block = max(2, per_block // 10)
    for _ in range(blocks):  # interleaved: noise on this shared machine hits every series alike
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        samples["sandbox"] += [_one_run(pooled) for _ in range(per_block)]
        faults["sandbox"] += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
        samples["subprocess"] += [_one_subprocess(child) for _ in range(sub_per_block)]
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        samples["on_demand"] += [_one_run(on_demand) for _ in range(per_block // 2)]
        faults["on_demand"] += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
        for name, args in refs.items():
            samples[name] += [_one_subprocess(args) for _ in range(max(1, sub_per_block // 2))]
    out = {name: ms(values) for name, values in samples.items()}
    out["faults"] = {name: faults[name] / len(samples[name]) for name in faults}
    out["sandbox_p10"] = sorted(samples["sandbox"])[len(samples["sandbox"]) // 10] * 1e3
    out["sandbox_p90"] = sorted(samples["sandbox"])[len(samples["sandbox"]) * 9 // 10] * 1e3
    out["stages"] = _stages(pooled, runs)
    return out


def _stages(sb: Sandbox, runs: int) -> dict:
    """Where one trivial run's time goes (pooled engine), by the same steps Sandbox.run takes."""
    rt = sb._runtime(False)
    view = guest_view(ITEM)
    item_json = json.dumps(view, ensure_ascii=True)
    names = ("store", "instantiate", "run (guest + 2 host calls)", "close (slot reset)")
    times: dict[str, list[float]] = {n: [] for n in names}
    for i in range(runs + 20):
        run = Run(next(_callbacks.RUN_IDS), Limits(), echo_host, view["labels"], rt.engine)
        run.deadline = time.monotonic() + 20
        _callbacks.RUNS[run.id] = run
        _callbacks.TLS.run = run
        try:
            t0 = time.perf_counter()
            store = rt.new_store(run.id, 256 * MiB, None)
            t1 = time.perf_counter()
            instance = rt.instantiate(store)
            t2 = time.perf_counter()
            rt.call_run(store, instance, TRIVIAL, item_json, 0)
            t3 = time.perf_counter()
            store.close()
            t4 = time.perf_counter()
        finally:
            _callbacks.RUNS.pop(run.id, None)
            _callbacks.TLS.run = None
        assert run.answer == "B"
        if i >= 20:
            for name, a, b in zip(names, (t0, t1, t2, t3), (t1, t2, t3, t4)):
                times[name].append(b - a)
    return {name: statistics.median(v) * 1e6 for name, v in times.items()}


def bench_per_crossing(calls: int) -> tuple[float, float]:
    sb = _sandbox(True)
    source = f"for i in range({calls}):\n    r = solver_call('prompt number ' + str(i))\nsubmit('A')\n"
    empty = f"for i in range({calls}):\n    r = 'prompt number ' + str(i)\nsubmit('A')\n"
    limits = Limits(max_calls=calls, timeout_s=120)
    with_calls, without = [], []
    for _ in range(5):
        start = time.perf_counter()
        result = sb.run(source, ITEM, echo_host, limits)
        with_calls.append(time.perf_counter() - start)
        assert result.status == "ok" and result.solver_calls == calls, result
        start = time.perf_counter()
        assert sb.run(empty, ITEM, echo_host, limits).status == "ok"
        without.append(time.perf_counter() - start)
    per_call = (statistics.median(with_calls) - statistics.median(without)) / calls

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_ECHO], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
    )
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


def run_soak(n: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from tests.sandbox.test_soak import soak  # the same mix as the (smaller) soak test

    report = soak(_sandbox(True), n)
    report["bad"] = [(name, result.status) for name, result in report["bad"]]
    return report


def render(info: dict, load_rows, scaffold: dict | None, crossing, soak: dict | None) -> str:
    lines = [
        "## Sandbox",
        "",
        f"`python bench/bench_sandbox.py` on {info['nproc']} CPU ({info['cpu']}), {info['platform']}, "
        f"Python {info['python']}, wasmtime-py {info['wasmtime']}, componentize-py {info['componentize-py']}; "
        f"load average at start {info['load_avg_start']} (a shared, noisy machine: each ratio's two sides "
        "were measured interleaved in the same run).",
        "",
    ]
    if scaffold or crossing:
        lines += ["| measure | sandbox | baseline (same run) | ratio |", "|---|---|---|---|"]
    if scaffold:
        lines.append(
            f"| per scaffold: fresh store + instantiate + trivial script (median; p10-p90 "
            f"{scaffold['sandbox_p10']:.2f}-{scaffold['sandbox_p90']:.2f} ms) | {scaffold['sandbox']:.2f} ms "
            f"| fresh `python -c` subprocess, same trivial script: {scaffold['subprocess']:.1f} ms "
            f"| {scaffold['subprocess'] / scaffold['sandbox']:.1f}x faster |"
        )
        lines.append(
            f"| per scaffold, on-demand allocation instead of the pooling allocator "
            f"({scaffold['faults']['on_demand']:.0f} vs {scaffold['faults']['sandbox']:.0f} page faults per run) | "
            f"{scaffold['on_demand']:.2f} ms | pooling: {scaffold['sandbox']:.2f} ms | "
            f"pooling {scaffold['on_demand'] / scaffold['sandbox']:.2f}x faster |"
        )
    if crossing:
        per_call, pipe, ncalls = crossing
        lines.append(
            f"| per solver crossing (echo host, {ncalls} calls) | {per_call:.1f} us | JSON line round trip "
            f"over pipes to a child process: {pipe:.1f} us | "
            + (f"{pipe / per_call:.1f}x faster |" if pipe >= per_call else f"{per_call / pipe:.2f}x slower |")
        )
    if scaffold:
        st = scaffold["stages"]
        lines += [
            "",
            "Where a trivial run's time goes (pooling allocator, medians): "
            + ", ".join(f"{name} {us:.0f} us" for name, us in st.items())
            + f". Reference subprocesses: `python -c pass` {scaffold['pass']:.1f} ms, "
            f"`python -I -S -c pass` {scaffold['isolated']:.1f} ms.",
        ]
    if scaffold and scaffold["subprocess"] / scaffold["sandbox"] < 20:
        st = list(scaffold["stages"].values())
        need = scaffold["subprocess"] / 20
        lines += [
            "",
            f"Why not 20x: that needs <= {need:.2f} ms per scaffold against this baseline. The floor measured "
            f"above is instantiate ({st[1]:.0f} us; mostly wasmtime eagerly filling the shared function table "
            "from the element segments of the dynamically linked libpython and its siblings, ~5.7k entries "
            "(libpython's own segment has 4,955), one funcref and code-address lookup each: the segments sit at "
            "an imported `__table_base` in an imported table, which wasmtime cannot initialize lazily; "
            "wasmtime-py 50 has no component InstancePre to hoist the rest) + "
            f"slot reset ({st[3]:.0f} us: copying the 14.4 MiB snapshot image back; the pooling allocator's "
            "`pagemap_scan`, which would restore only dirtied pages, is off by default and wasmtime-py 50's "
            "C API has no setter for it, and without keep-resident "
            f"the run instead takes ~{scaffold['faults']['on_demand']:.0f} copy-on-write page faults, slower, "
            "see the on-demand row) + the "
            f"guest's own run ({st[2]:.0f} us) = {sum(st) / 1e3:.2f} ms, before any Python bookkeeping. "
            "A `perf` profile of instantiate + close agrees: ~40% `memmove` (the slot reset) and ~23% "
            "`CompiledFunctionsTable::func_loc` under the `ref_func` libcall (the table fill). "
            "The baseline is not the cause: `python -c` with the same interpreter is what a subprocess per "
            "scaffold costs (with `-I -S` it is faster still, which would lower the ratio).",
        ]
    if load_rows:
        lines += [""] + [f"- {label}: " + (f"{s * 1e3:.0f} ms" if s < 1 else f"{s:.1f} s") for label, s in load_rows]
    if soak:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(soak["counts"].items(), key=lambda kv: -kv[1]))
        lines += [
            "",
            f"Soak (`--soak {soak['runs']}`): {soak['runs']} hostile and honest scaffolds in one process in "
            f"{soak['seconds']:.1f} s; RSS {soak['rss_before_mb']:.0f} MB -> {soak['rss_after_mb']:.0f} MB "
            f"(growth {soak['rss_growth_mb']:+.1f} MB); outcomes: {counts}; leaks or untyped outcomes: "
            f"{len(soak['bad'])}.",
        ]
    return "\n".join(lines) + "\n"


def record(path: Path, section: str) -> None:
    """Replace the ``## Sandbox`` section of ``path`` (other sections are left as they are)."""
    text = path.read_text() if path.exists() else "# Benchmark results\n\n"
    pattern = re.compile(r"^## Sandbox\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400, help="scaffold runs for the per-scaffold figure")
    parser.add_argument("--calls", type=int, default=2000, help="solver calls for the per-crossing figure (>= 1000)")
    parser.add_argument("--cold", action="store_true", help="also time a first build into an empty cache")
    parser.add_argument("--soak", type=int, default=0, metavar="N", help="also run N hostile/honest scaffolds")
    parser.add_argument("--only-soak", action="store_true", help="run the soak only")
    parser.add_argument("--record", type=Path, metavar="RESULTS_MD", help="write the Sandbox section of this file")
    args = parser.parse_args(argv)

    info = machine()
    load_rows, scaffold, crossing, soak = [], None, None, None
    if not args.only_soak:
        load_rows = bench_load(args.cold)
        scaffold = bench_per_scaffold(args.runs)
        per_call, pipe = bench_per_crossing(max(1000, args.calls))
        crossing = (per_call, pipe, max(1000, args.calls))
    if args.soak:
        soak = run_soak(args.soak)
    section = render(info, load_rows, scaffold, crossing, soak)
    print(section)
    if scaffold:
        ratio = scaffold["subprocess"] / scaffold["sandbox"]
        print(
            f"per-scaffold: {scaffold['sandbox']:.2f} ms vs subprocess {scaffold['subprocess']:.1f} ms = {ratio:.1f}x "
            f"(target: <= 3 ms and >= 20x: {'met' if scaffold['sandbox'] <= 3 and ratio >= 20 else 'NOT met'})"
        )
    if crossing:
        print(f"per-crossing: {crossing[0]:.1f} us (target <= 50 us: {'met' if crossing[0] <= 50 else 'NOT met'})")
    if soak:
        print(f"soak: RSS growth {soak['rss_growth_mb']:+.1f} MB (target < 100 MB), bad outcomes: {soak['bad']}")
    if args.record:
        record(args.record, section)
        print(f"recorded in {args.record}")
    return 1 if soak and (soak["bad"] or soak["rss_growth_mb"] >= 100) else 0


if __name__ == "__main__":
    raise SystemExit(main())
