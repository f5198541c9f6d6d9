"""``cgr run --config EXPERIMENT.toml`` and ``cgr run --model A --model B``: a grid on the command line.

The run command (``cgr.plugins.run_command``) hands a grid here: progress per cell (the same display
as one run), the report of every cell at the end (with the solver x dataset matrix), and one clear
line for what failed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from cgr.kernel.api import ReportRequest
from cgr.kernel.cli import UserError
from cgr.kernel.manager import Plugins
from cgr.kernel.records import Record, RunManifest
from cgr.plugins.grid import Experiment, ExperimentError, check_plugins, grid_cells, load_experiment, run_grid
from cgr.plugins.grid_experiment import Cell

#: ``cgr run`` parameters an experiment file may be combined with; the others are the file's to say
WITH_CONFIG = ("config_file", "out", "resume", "quiet")


def experiment_of(path: Path, flags: list[str]) -> Experiment:
    """The experiment in ``path``; ``flags`` are the other run options given on the command line
    (besides ``WITH_CONFIG``'s), an error: the experiment file says everything else."""
    if flags:
        raise UserError(
            f"--config {path}: {', '.join(flags)} belong(s) in the experiment file (only --out, --resume and -q go "
            "with --config)"
        )
    try:
        return load_experiment(path)
    except ExperimentError as exc:
        raise UserError(str(exc)) from None


def run_grid_cli(experiment: Experiment, out: Path, *, resume: bool, quiet: bool, plugins: Plugins) -> None:
    """Run the grid with progress on stderr, then print the report of all its cells."""
    from cgr.kernel import pipeline
    from cgr.kernel.store import read_records
    from cgr.plugins.run_display import RunDisplay

    try:
        check_plugins(experiment, plugins)  # before the header: a misnamed plugin is the only line
        cells = experiment.cells(out)
    except ExperimentError as exc:
        raise UserError(str(exc)) from None
    shape = f"{len(experiment.bundles)} bundle(s) x {len(experiment.solvers)} solver(s) x {len(experiment.generators)}"
    click.echo(f"cgr: grid of {len(cells)} cell(s) ({shape} generator(s)) -> {out}/", err=True)
    state: dict[str, Any] = {"display": RunDisplay.for_stderr(quiet), "warned": False}

    def on_cell(cell: Cell, index: int, count: int, status: str) -> None:
        if status == "running":
            state["display"], state["warned"] = RunDisplay.for_stderr(quiet), False
            click.echo(f"\ncgr: cell {index + 1}/{count}: {cell.slug}", err=True)
            return
        state["display"].close()
        if status == "error":
            click.echo(f"cgr: warning: cell {cell.slug} failed; the next cell runs", err=True)

    def on_start(cell: Cell, manifest: RunManifest, todo: int, done: int) -> None:
        s = manifest.solver
        model = f" ({s['model']})" if s.get("model") else ""
        click.echo(f"cgr: solver {s['name']}{model}; {todo} to run, {done} already recorded", err=True)
        state["display"].start(todo)

    def progress(cell: Cell, i: int, n: int, record: Record) -> None:
        error = pipeline.solver_error(record)
        if error and not state["warned"]:
            state["warned"] = True
            state["display"].warn(f"cgr: warning: first solver error (item {record.item_id}): {error}")
        state["display"].item(i, n, record)

    try:
        summary = run_grid(
            experiment,
            out,
            resume=resume,
            plugins=plugins,
            progress=progress,
            on_cell=on_cell,
            on_start=on_start,
            phase=lambda message: state["display"].phase(message),
        )
    except ExperimentError as exc:
        raise UserError(str(exc)) from None
    except KeyboardInterrupt:
        state["display"].close()
        click.echo(
            f"\ncgr: interrupted: the grid is kept in {out}/; continue with the same command plus --resume", err=True
        )
        sys.exit(130)
    finally:
        state["display"].close()
    runs = grid_cells(out)
    records = [r for d in runs for r in read_records(d)]
    if records:
        click.echo(plugins.reporter("table").obj(ReportRequest(records, runs=runs, seed=experiment.seed)))
    done = sum(c.status == "complete" for c in summary.cells)
    written = sum(c.written for c in summary.cells)
    click.echo(
        f"\n{done} of {len(summary.cells)} cell(s) complete, {written} new record(s) in {out}/cells/ "
        f"(grid: {out}/grid.json; `cgr report {out}` for the report)"
    )
    if summary.failed:
        first = summary.failed[0]
        raise UserError(
            f"{len(summary.failed)} of {len(summary.cells)} cell(s) failed: first {first.slug}: {first.error}; "
            "continue with the same command plus --resume"
        )
