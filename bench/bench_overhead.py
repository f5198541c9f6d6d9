"""Kernel overhead on the embedded run: everything but the time inside the solver, stage by stage.

Runs the default ``cgr run`` in-process (the shipped sample bundle, the llama solver with its
default model, the template generator, direct mode ``generate``, every default auditor including
the dynamic ones) on the first N items, with no product code changed for measuring:

* the engine's solver is wrapped in a timing proxy: every ``complete`` / ``logprobs`` /
  ``label_logprobs`` call's time is "inside the solver" (and the call is recorded);
* Engine methods, the generator, the extractor chain, each auditor, record validation and the store
  append are wrapped from here, each timing its *own* time (time in anything nested that is timed
  as well, the solver above all, is that one's): so the scaffold's sandbox run excludes the solver
  time spent in its host callbacks, and the stages plus the solver add up to the wall time;
* plugin loading, the model load and the sandbox warm-ups (the scaffold's and the auditors') are
  start-up, reported apart;
* baseline, same run: the recorded solver calls replayed alone on the same solver (the bare solver
  time for these items), so overhead / bare solver is a ratio against a baseline measured here.

Target (issue 14): overhead = wall - solver <= 3% of wall.

    python bench/bench_overhead.py [--limit 250] [--model NAME|PATH] [--no-baseline]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import importlib
import importlib.util
import os
import platform
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cgr.kernel import channels
from cgr.kernel.chain import verdict_of
from cgr.kernel.config import RunConfig
from cgr.kernel.manager import DEFAULT_PLUGINS, PluginError, Plugins, load_plugins
from cgr.kernel.pipeline import Engine, run
from cgr.kernel.store import RunStore
from cgr.plugins import audit_runs
from cgr.sandbox import Sandbox

SOLVER_METHODS = ("complete", "logprobs", "label_logprobs")
SOLVER = "solver"
BACKGROUND = " [audit thread, overlapped]"
#: Modules that call the extractor chain by the imported name ``extract_label`` (each wrapped where present).
NEWER_BUILTINS = ("cgr.plugins.executor_local", "cgr.plugins.direct_modes")
EXTRACT_USERS = ("cgr.kernel.channels", "cgr.plugins.direct_modes", "cgr.plugins.budget_baseline")


class Clock:
    """Exclusive time per stage: a stage's elapsed time minus that of timed stages nested in it.

    Also its CPU time on the calling thread (``time.thread_time``), nested stages' excluded the same
    way: on a shared machine wall time includes waiting for a core, CPU time does not. Each thread has
    its own nesting; a stage timed off the main thread (the local executor's audit thread) is named
    with ``BACKGROUND`` appended: it overlaps the main thread's work instead of adding to the wall time."""

    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.per_item: dict[str, list[float]] = defaultdict(list)  # exclusive seconds per item, per stage
        self._item: dict[str, float] = defaultdict(float)
        self._local = threading.local()  # .stack: [start, nested seconds, cpu start, nested cpu] frames
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            name += BACKGROUND
        stack: list[list[float]] = self._local.__dict__.setdefault("stack", [])
        frame = [time.perf_counter(), 0.0, time.thread_time(), 0.0]
        stack.append(frame)
        try:
            yield
        finally:
            elapsed = time.perf_counter() - frame[0]
            cpu = time.thread_time() - frame[2]
            stack.pop()
            if stack:
                stack[-1][1] += elapsed
                stack[-1][3] += cpu
            own = elapsed - frame[1]
            self._lock.acquire()
            self.total[name] += own
            self.cpu[name] += cpu - frame[3]
            self.calls[name] += 1
            self._item[name] += own
            self._lock.release()

    def end_item(self) -> None:
        for name, seconds in self._item.items():
            self.per_item[name].append(seconds)
        self._item.clear()

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)  # keeps the signature (Engine.solver_takes_seed inspects ``complete``)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.stage(name):
                return fn(*args, **kwargs)

        return timed


def instrument(engine: Engine, clock: Clock, calls: list[tuple[str, tuple, dict]]) -> Callable[[], None]:
    """Wrap the solver, the stages and the auditors of ``engine``; returns the undo."""
    undo: list[Callable[[], None]] = []

    def patch(obj: Any, attr: str, value: Any) -> None:
        had = attr in vars(obj)
        old = vars(obj).get(attr)
        setattr(obj, attr, value)
        undo.append(lambda: setattr(obj, attr, old) if had else delattr(obj, attr))

    solver = engine.solver
    for name in SOLVER_METHODS:
        method = getattr(solver, name, None)
        if method is None:
            continue

        def recorded(*args: Any, _fn: Callable[..., Any] = method, _name: str = name, **kwargs: Any) -> Any:
            calls.append((_name, args, kwargs))
            with clock.stage(SOLVER):
                return _fn(*args, **kwargs)

        patch(solver, name, functools.wraps(method)(recorded))

    def stage(obj: Any, attr: str, name: str) -> None:
        """Time ``obj.attr`` as stage ``name``; the kernel moves things around, so a missing one is skipped."""
        fn = getattr(obj, attr, None)
        if callable(fn):
            patch(obj, attr, clock.wrap(name, fn))

    stage(Engine, "all_direct", "direct channel")
    stage(Engine, "assisted", "assisted: bookkeeping")
    stage(Engine, "process", "process glue")
    stage(engine.sandbox, "run", "assisted: sandbox run")
    stage(engine.generator, "generate", "generator")
    for module in EXTRACT_USERS:
        with contextlib.suppress(ImportError):
            stage(importlib.import_module(module), "extract_label", "extraction")
    stage(channels, "valid_record", "record validation")
    stage(RunStore, "append", "store append (encode + fsync)")
    # the dynamic auditors' shared stand-in runs (whichever auditor of a record asks first makes them)
    patch(audit_runs.Session, "_run", clock.wrap("audit dynamic: stand-in sandbox runs", audit_runs.Session._run))

    table = engine.plugins.entries["auditor"]
    saved = dict(table)
    for name, entry in saved.items():
        kind = "dynamic" if entry.extra.get("sandbox") else "static"
        table[name] = dataclasses.replace(entry, obj=clock.wrap(f"audit {kind}: {name}", entry.obj))
    undo.append(lambda: table.update(saved))

    def restore() -> None:
        for fn in reversed(undo):
            fn()

    return restore


def bench_plugins() -> Plugins:
    """The default plugins, plus built-in modules a kernel in mid-move may not declare as entry points yet."""
    missing = tuple(m for m in NEWER_BUILTINS if m not in DEFAULT_PLUGINS and importlib.util.find_spec(m))
    if missing:
        with contextlib.suppress(PluginError):
            return load_plugins(builtins=DEFAULT_PLUGINS + missing)
    return load_plugins()


def replay(solver: Any, calls: list[tuple[str, tuple, dict]]) -> float:
    """Seconds for ``calls`` made on ``solver`` alone (the bare-solver baseline)."""
    start = time.perf_counter()
    for name, args, kwargs in calls:
        getattr(solver, name)(*args, **kwargs)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=250, help="items of the sample bundle (default 250: all)")
    ap.add_argument("--model", default=None, help="solver model (default: the solver's default)")
    ap.add_argument("--strategy", default=None, help="template strategy (default: the run's default, per_option)")
    ap.add_argument("--no-baseline", action="store_true", help="skip replaying the solver calls alone")
    ap.add_argument(
        "--scaffold-output-files",
        action="store_true",
        help="run the scaffolds in Sandbox(output_files=True) (as the auditors' runs are) instead of the default",
    )
    ap.add_argument(
        "--audit-ahead",
        default="1,0",
        help="the local executor's audit_ahead for each measured run, comma-separated (default 1,0: audits "
        "overlapping the next item, then every item audited before the next; same engine, same items)",
    )
    args = ap.parse_args(argv)
    modes = [int(x) for x in args.audit_ahead.split(",")]

    startup: dict[str, float] = {}
    t = time.perf_counter()
    plugins = bench_plugins()
    startup["plugin loading"] = time.perf_counter() - t
    with tempfile.TemporaryDirectory(prefix="cgr-bench-overhead-") as tmp:
        config = RunConfig(limit=args.limit, out=Path(tmp) / "run", model=args.model, strategy=args.strategy)
        t = time.perf_counter()
        engine = Engine.from_config(config, plugins)
        startup["solver (model load) + generator"] = time.perf_counter() - t
        if args.scaffold_output_files:
            engine.sandbox = Sandbox(output_files=True)
        t = time.perf_counter()
        engine.sandbox.warm(fuel=config.limits.fuel is not None)
        startup["sandbox warm-up (scaffold runs)"] = time.perf_counter() - t
        t = time.perf_counter()
        audit_runs.shared_sandbox().warm()
        startup["sandbox warm-up (audit runs)"] = time.perf_counter() - t
        print("start-up (once, not in the wall time): " + ", ".join(f"{k} {v:.2f} s" for k, v in startup.items()))
        results = []
        for k, ahead in enumerate(modes):
            update = {"out": Path(tmp) / f"run{k}", "executor_options": {"audit_ahead": str(ahead)}}
            results.append((ahead, *measure(config.model_copy(update=update), plugins, engine, args)))
    if len(results) > 1:
        print("\n## Same run, same engine and items: each mode's wall time against the first's")
        print(
            "| audit_ahead | wall s | wall / first | overhead (wall - in-run solver) % of wall | wall / bare solver |"
        )
        print("|---:|---:|---:|---:|---:|")
        first = results[0][1]
        for ahead, wall, solver, bare in results:
            ratio = f"{wall / bare:.3f}" if bare else "-"
            print(f"| {ahead} | {wall:.2f} | {wall / first:.3f} | {(wall - solver) / wall:.2%} | {ratio} |")
    return 0


def measure(
    config: RunConfig, plugins: Plugins, engine: Engine, args: argparse.Namespace
) -> tuple[float, float, float]:
    """One measured run of ``config`` on ``engine``, printed; returns (wall, in-run solver, bare solver) seconds.

    The auditors' per-record session cache is emptied first, so no run reuses another's stand-in runs
    (it keeps the last 32 records' sessions: runs of <= 32 items would otherwise be audited once)."""
    with audit_runs._sessions_lock:
        audit_runs._sessions.clear()
    audit_runs._parses.cache_clear()
    clock = Clock()
    calls: list[tuple[str, tuple, dict]] = []
    restore = instrument(engine, clock, calls)
    load = os.getloadavg()
    try:
        start = time.perf_counter()
        summary = run(config, plugins=plugins, engine=engine, progress=lambda i, n, r: clock.end_item())
        wall = time.perf_counter() - start
    finally:
        restore()
    bare = None if args.no_baseline else replay(engine.solver, calls)
    n = summary.written
    info = engine.solver.info()
    solver = clock.total.pop(SOLVER, 0.0)
    clock.cpu.setdefault(SOLVER, 0.0)
    solver_items = clock.per_item.pop(SOLVER, [])
    overhead = wall - solver
    stages = dict(clock.total)
    runs_stage = "audit dynamic: stand-in sandbox runs"
    audit_runs_s = stages.get(runs_stage, 0.0) + stages.get(runs_stage + BACKGROUND, 0.0)
    audit_runs_n = clock.calls.get(runs_stage, 0) + clock.calls.get(runs_stage + BACKGROUND, 0)
    main_stages = sum(v for k, v in stages.items() if not k.endswith(BACKGROUND))
    stages["pipeline loop (untimed rest)"] = overhead - main_stages
    omp = os.environ.get("OMP_WAIT_POLICY", "(unset)")
    capture = "files" if getattr(engine.sandbox, "output_files", False) else "callback"
    print(
        f"\n## audit_ahead={config.executor_options['audit_ahead']}\n"
        f"machine: {platform.machine()} nproc={len(os.sched_getaffinity(0))} load avg at start "
        f"{' '.join(f'{x:.2f}' for x in load)} | OMP_WAIT_POLICY={omp} | scaffold output capture: {capture} | "
        f"model {info.get('model')} | items {n} | audit_ahead {config.executor_options['audit_ahead']} | "
        f"auditors {', '.join(sorted(engine.plugins.entries['auditor']))}"
    )
    print(f"wall time            {wall:8.2f} s  ({wall / n * 1e3:.0f} ms/item)")
    print(f"inside the solver    {solver:8.2f} s  ({len(calls)} calls; median {_ms(solver_items)} ms/item)")
    print(f"overhead (wall-solv) {overhead:8.2f} s  = {overhead / wall:.2%} of wall (target <= 3%)")
    if bare is not None:
        print(
            f"baseline, same run: the {len(calls)} solver calls replayed alone {bare:.2f} s "
            f"(in-run solver time / bare = {solver / bare:.3f}); overhead / bare solver = {overhead / bare:.2%}"
        )
        print(
            f"wall - bare solver  {wall - bare:8.2f} s  = {(wall - bare) / wall:.2%} of wall (counts the solver's "
            "slow-down by work overlapping it)"
        )
    print(
        "\n| stage (own time, solver excluded) | seconds | % of wall | ms/item (mean) | ms/item (median) "
        "| CPU ms/item (its thread) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
        cpu = f"{clock.cpu[name] / n * 1e3:.2f}" if name in clock.cpu else "-"
        print(
            f"| {name} | {seconds:.3f} | {seconds / wall:.2%} | {seconds / n * 1e3:.2f} | "
            f"{_ms(clock.per_item.get(name, []))} | {cpu} |"
        )
    timed_cpu = sum(v for k, v in clock.cpu.items() if k != SOLVER)
    print(
        f"| **overhead total** | {overhead:.3f} | {overhead / wall:.2%} | {overhead / n * 1e3:.2f} | "
        f"| {timed_cpu / n * 1e3:.2f} (timed stages) |"
    )
    print(
        f"| (solver) | {solver:.3f} | {solver / wall:.2%} | {solver / n * 1e3:.2f} | {_ms(solver_items)} "
        f"| {clock.cpu[SOLVER] / n * 1e3:.2f} |"
    )
    if audit_runs_n:
        print(
            f"\nstand-in sandbox runs of the dynamic auditors: {audit_runs_n}, {audit_runs_n / n:.1f} per item, "
            f"{audit_runs_s / audit_runs_n * 1e3:.2f} ms each (sandbox + stand-in solver)"
        )
    verdicts = defaultdict(int)
    for record in summary.records:
        verdicts[verdict_of(record.audits)] += 1
    correct = sum(r.assisted.correct for r in summary.records)
    print(f"records: {n}, assisted correct {correct}, verdicts {dict(verdicts)}")
    return wall, solver, bare or 0.0


def _ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1e3:.2f}" if samples else "-"


if __name__ == "__main__":
    raise SystemExit(main())
