"""Hostile scaffolds at the run level ("Sandbox, round two"): the kernel's side of the boundary.

* ``cgr run`` with scaffolds that only print pathological lines (the old extractor regexes
  backtracked on them) finishes and records ``no_submit``;
* host memory for one scaffold at the CLI's maximum call budget, with maximum-size solver replies,
  stays within the documented bound ``memory_mb + 2 x max_output_bytes + 64 MiB``, and the
  record's trace within ``MAX_TRACE_CHARS`` plus a marker's worth per call (the pipeline's own host
  callback, measured in a fresh process);
* (forged outcomes and corrupted record lines: ``test_hostile_records.py``).

No test asserts wall-clock time; subprocess timeouts are hang guards only.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from cgr.kernel.cli import main
from cgr.kernel.records import MAX_TRACE_CHARS
from cgr.kernel.store import read_records

HANG_GUARD_S = 600


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def write_bundle(path: Path, ids: list[str]) -> Path:
    path.write_text(
        "".join(
            json.dumps(
                {
                    "id": i,
                    "dataset": "hostile",
                    "task": "t",
                    "question": f"Which city is in France? ({i})",
                    "choices": ["Paris", "Lima", "Oslo"],
                    "answer": "A",
                }
            )
            + "\n"
            for i in ids
        )
    )
    return path


# --------------------------------------------------------------- 1. cgr run, hostile stdout ---

LONG_LINE = 1_000_000

# A TEST-ONLY generator plugin, installed for the subprocess by putting a distribution on PYTHONPATH.
PRINTER = textwrap.dedent(f"""
    from cgr.kernel.api import Scaffold
    from cgr.kernel.hookspecs import hookimpl

    PROGRAMS = {{
        "geo-1": 'print("A" + " " * 31000 + "x")\\n',
        "geo-2": 'print("answer" + " " * 31000 + "!")\\n',
        "sci-1": 'print("A" + " " * {LONG_LINE} + "x The answer is B.")\\n',
    }}

    class Printer:
        name = "printer"
        def __init__(self, config=None):
            pass
        def info(self):
            return {{"name": "printer"}}
        def generate(self, item):
            return Scaffold(source=PROGRAMS[item["id"]])

    @hookimpl
    def register_generators(register):
        register("printer", Printer, description="TEST ONLY: scaffolds that print hostile lines")
""")


def _install(root: Path, module: str, source: str) -> None:
    root.mkdir()
    (root / f"{module}.py").write_text(source)
    info = root / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[cgr]\n{module} = {module}\n")


def test_cgr_run_extracts_from_pathological_stdout_and_records_no_submit(tmp_path, toy_bundle):
    _install(tmp_path / "site", "printer_generator", PRINTER)
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "site"), os.environ.get("PYTHONPATH", "")]))
    cmd = [
        sys.executable,
        "-m",
        "cgr.kernel.cli",
        "run",
        "--solver",
        "echo",
        "--generator",
        "printer",
        "--bundle",
        str(toy_bundle),
        "--out",
        str(out),
        "--max-output-kb",
        "2048",
        "-q",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=HANG_GUARD_S)
    assert proc.returncode == 0, proc.stderr
    records = {r.item_id: r.assisted for r in read_records(out)}
    assert set(records) == {"geo-1", "geo-2", "sci-1"}
    assert {i: a.status for i, a in records.items()} == dict.fromkeys(records, "no_submit")
    assert records["geo-1"].stdout == "A" + " " * 31000 + "x\n"
    assert records["geo-2"].stdout == "answer" + " " * 31000 + "!\n"
    assert (records["geo-1"].answer, records["geo-2"].answer) == (None, None)
    # the 1 MB line reached the extractor chain (its tail) whole, and its statement was found
    assert len(records["sci-1"].stdout) == LONG_LINE + len("A" + "x The answer is B.\n")
    assert (records["sci-1"].answer, records["sci-1"].method) == ("B", "stdout:answer_is")
    assert all(a.calls == 0 and a.error is None for a in records.values())


# --------------------------------------------- 2. host memory and the trace at the maximum budget ---

RSS_SCRIPT = textwrap.dedent('''
    import hashlib, json, os, sys
    import msgspec
    from cgr.kernel.api import Completion
    from cgr.kernel.config import RunConfig
    from cgr.sandbox import MAX_CALLS_MAX, MEMORY_MB_RANGE
    from cgr.kernel.manager import load_plugins
    from cgr.kernel.pipeline import Engine
    from cgr.kernel.records import Item
    from cgr.sandbox import Limits
    from cgr.sandbox._api import MAX_LIST_ITEMS, MAX_REPLY_CHARS

    class MaxReplies:
        """Every completion is MAX_REPLY_CHARS long; logprobs take MAX_LIST_ITEMS continuations."""
        name = "max"
        def info(self):
            return {"name": "max", "model": None}
        def complete(self, prompt, *, max_tokens=256, temperature=0.0, stop=None, choices=None):
            return Completion(text="r" * MAX_REPLY_CHARS)
        def label_logprobs(self, prompt, labels):
            return [0.0] * len(labels)
        def logprobs(self, prompt, continuations):
            assert len(continuations) <= MAX_LIST_ITEMS
            return [0.0] * len(continuations)

    # the smallest memory_mb the CLI allows: the documented bound is tightest there
    LIMITS = Limits(max_calls=MAX_CALLS_MAX, memory_mb=MEMORY_MB_RANGE[0])
    N, LIMIT = LIMITS.max_calls, LIMITS.max_prompt_chars
    SOURCE = f"""
    P = "p" * {LIMIT}
    STOPS = ["s" * ({LIMIT} // {MAX_LIST_ITEMS})] * {MAX_LIST_ITEMS}
    def spend(call, n):
        done = 0
        for _ in range(n):
            try:
                call()
            except RuntimeError as exc:
                return done, str(exc).split(" (")[0]
            done += 1
        return done, None
    big = lambda: solver_call(P, stop=STOPS)  # max_prompt_chars prompt and stop strings, max-size reply
    print(spend(big, 150))
    print(spend(lambda: solver_logprobs("", ["c"] * {MAX_LIST_ITEMS}), {N} - 400))
    print(spend(big, 10 ** 9))  # until the run's byte budget refuses
    print(spend(lambda: solver_logprobs("", ["c"]), 10 ** 9))  # until the call budget refuses
    """

    engine = Engine(load_plugins(entry_points=False), MaxReplies(), None, "max", "none", RunConfig(solver="max"))
    item = Item(id="rss", dataset="d", task="t", question="q?", choices=["x", "y", "z"], labels=["A", "B", "C"],
                answer="A")

    def go(source, limits):
        trace = []
        result = engine.sandbox.run(source, item.guest_view(), engine.host_callback(item, trace), limits)
        return result, trace

    go("solver_call('x'); solver_logprobs('x', ['a', 'b']); extract_choice('A')", LIMITS)  # warm-up
    def status_kib(key):
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith(key + ":")) * 1024

    maxrss_before = status_kib("VmHWM")  # the peak so far (loading the sandbox), for the message only
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset the peak RSS (VmHWM) to the current RSS: the run's peak is its own
    rss_before = status_kib("VmRSS")
    result, trace = go(SOURCE, LIMITS)
    maxrss_after = status_kib("VmHWM")

    def text(call):
        n = len(call.prompt) + (len(call.reply) if isinstance(call.reply, str) else 0)
        for value in call.options.values():
            if isinstance(value, str):
                n += len(value)
            elif isinstance(value, list):
                n += sum(len(v) for v in value if isinstance(v, str))
        return n

    P = "p" * LIMIT
    STOPS = ["s" * (LIMIT // MAX_LIST_ITEMS)] * MAX_LIST_ITEMS
    first = msgspec.json.encode(["solve", P, {"max_tokens": 256, "temperature": 0.0, "stop": STOPS},
                                 "r" * MAX_REPLY_CHARS])
    json.dump({
        "status": result.status, "solver_calls": result.solver_calls, "stdout": result.stdout,
        "stderr": result.stderr[-2000:], "limits": {"memory_mb": LIMITS.memory_mb,
                                                    "max_output_bytes": LIMITS.max_output_bytes},
        "rss_before": rss_before, "maxrss_before": maxrss_before, "maxrss_after": maxrss_after,
        "calls": len(trace), "text": sum(text(c) for c in trace),
        "cut": [[i, c.truncated, c.sha256] for i, c in enumerate(trace) if "[cut by cgr:" in
                json.dumps([c.prompt, c.reply, c.options], ensure_ascii=False)],
        "first_sha256": trace[0].sha256 if trace else None,
        "first_expected": hashlib.sha256(first).hexdigest(),
    }, sys.stdout)
''')


@pytest.fixture(scope="module")
def max_budget_run(tmp_path_factory):
    """The hostile run at the maximum call budget, in a fresh process whose peak RSS is reset before it."""
    script = tmp_path_factory.mktemp("rss") / "rss.py"
    script.write_text(RSS_SCRIPT)
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout)


def test_max_budget_run_reaches_both_budgets(max_budget_run):
    r = max_budget_run
    assert r["status"] == "call_budget", r["stderr"]
    assert r["solver_calls"] == r["calls"] == 10_000  # every call reached the host (and the trace)
    lines = r["stdout"].splitlines()
    assert lines[:2] == ["(150, None)", "(9600, None)"]
    assert re.fullmatch(r"\(\d+, 'solver_call: byte budget exhausted'\)", lines[2])
    assert re.fullmatch(r"\(\d+, 'solver_logprobs: call budget exhausted'\)", lines[3])


def test_host_memory_at_max_budget_stays_within_the_documented_bound(max_budget_run):
    """Growth is the run's own peak RSS (VmHWM, reset just before it through /proc/self/clear_refs)
    minus the RSS it started from. Loading the sandbox may have peaked higher before; that peak is
    neither the base (it would hide growth) nor the run's (ru_maxrss never goes down)."""
    r = max_budget_run
    mib = 1024 * 1024
    bound = r["limits"]["memory_mb"] * mib + 2 * r["limits"]["max_output_bytes"] + 64 * mib
    growth = r["maxrss_after"] - r["rss_before"]
    assert growth <= bound, (
        f"host RSS grew {growth / mib:.1f} MiB during the run (peak before it "
        f"{r['maxrss_before'] / mib:.1f} MiB, RSS at its start {r['rss_before'] / mib:.1f} "
        f"MiB); documented bound {bound / mib:.1f} MiB"
    )


def test_trace_at_max_budget_stays_within_its_bound(max_budget_run):
    r = max_budget_run
    allowed = MAX_TRACE_CHARS + 200 * r["calls"]
    assert r["text"] <= allowed, (
        f"the record's trace holds {r['text']} characters of text for {r['calls']} "
        f"calls; bound MAX_TRACE_CHARS + 200 per call = {allowed}"
    )


def test_cut_calls_are_marked_and_hashed(max_budget_run):
    r = max_budget_run
    assert r["cut"], "the trace bound never cut a call"
    for index, truncated, sha in r["cut"]:
        assert truncated is True, index
        assert re.fullmatch(r"[0-9a-f]{64}", sha or ""), index
    assert r["first_sha256"] == r["first_expected"]  # the hash is of the call as it was really made
