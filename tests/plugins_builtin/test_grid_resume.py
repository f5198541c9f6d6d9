"""A grid killed with SIGKILL in the middle, then resumed: every (item, solver, generator) exactly once,
and the same records (apart from timings) as a grid that was never interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.store import count_records, read_records
from cgr.plugins.echo_solver import EchoSolver
from cgr.plugins.grid import parse_experiment, run_grid
from tests.plugins_builtin.test_grid_run import comparable, grid_plugins

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENT = """\
limit = 4
direct_modes = ["generate", "logprobs"]
[[solvers]]
plugin = "slow_echo"
[[generators]]
strategy = "per_option"
[[generators]]
strategy = "pmi"
[[generators]]
strategy = "letter"
"""


class SlowEcho(EchoSolver):
    """TEST ONLY: the echo solver, slowed down so that a kill lands in the middle of the grid."""

    name = "slow_echo"

    def complete(self, prompt, **kwargs):
        time.sleep(0.05)
        return super().complete(prompt, **kwargs)

    def label_logprobs(self, prompt, labels):
        time.sleep(0.05)
        return super().label_logprobs(prompt, labels)

    def logprobs(self, prompt, continuations):
        time.sleep(0.05)
        return super().logprobs(prompt, continuations)


class SlowPlugin:
    @hookimpl
    def register_solvers(self, register):
        register("slow_echo", SlowEcho, description="TEST ONLY: a slow echo")


CHILD = """
import sys
from pathlib import Path
from cgr.plugins.grid import parse_experiment, run_grid
from tests.plugins_builtin.test_grid_resume import EXPERIMENT, SlowPlugin
from tests.plugins_builtin.test_grid_run import grid_plugins
run_grid(parse_experiment(EXPERIMENT), Path(sys.argv[1]), resume=sys.argv[2] == "1", plugins=grid_plugins(SlowPlugin()))
"""


def kill_when(out: Path, ready, resume: bool) -> int:
    """Start the grid in a child process, SIGKILL it once ``ready(out)``; the child's return code."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(out), "1" if resume else "0"], cwd=ROOT)
    try:
        deadline = time.monotonic() + 600
        while child.poll() is None and not ready(out) and time.monotonic() < deadline:
            time.sleep(0.02)
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        return child.wait(timeout=60)
    finally:
        if child.poll() is None:  # pragma: no cover
            child.kill()


def cell_dirs(out: Path) -> list[Path]:
    return sorted((out / "cells").iterdir()) if (out / "cells").is_dir() else []


def test_kill_9_in_the_middle_then_resume_finishes_every_cell_exactly_once(tmp_path):
    out = tmp_path / "grid"
    # first kill: once the second cell has a record (the first is complete, the third not begun)
    code = kill_when(out, lambda o: sum(count_records(d) > 0 for d in cell_dirs(o)) >= 2, resume=False)
    assert code == -signal.SIGKILL, "the grid finished before it could be killed: slow the solver down"
    grid = json.loads((out / "grid.json").read_text())
    assert [c["status"] for c in grid["cells"]][0] == "complete" and grid["cells"][1]["status"] == "running"
    # a second kill during the resume, wherever it lands
    kill_when(out, lambda o: sum(count_records(d) for d in cell_dirs(o)) >= 7, resume=True)
    summary = run_grid(parse_experiment(EXPERIMENT), out, resume=True, plugins=grid_plugins(SlowPlugin()))
    assert summary.status == "complete" and len(summary.cells) == 3
    grid = json.loads((out / "grid.json").read_text())
    assert grid["status"] == "complete" and all(c["status"] == "complete" and c["records"] == 4 for c in grid["cells"])
    # the same grid never interrupted: the same records, cell by cell, in the same order
    clean = run_grid(parse_experiment(EXPERIMENT), tmp_path / "clean", plugins=grid_plugins(SlowPlugin()))
    for cell, other in zip(summary.cells, clean.cells):
        got, want = read_records(out / cell.dir), read_records(tmp_path / "clean" / other.dir)
        assert len({r.item_id for r in got}) == len(got) == 4
        assert [comparable(r) for r in got] == [comparable(r) for r in want]
