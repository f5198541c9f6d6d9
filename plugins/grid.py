"""Experiment grids: every bundle x solver x generator of an experiment file into one output directory.

``OUT/grid.json`` holds the validated experiment and the cells (slug, directory, status, records);
``OUT/cells/<slug>/`` is an ordinary run directory (``run.json`` + ``records.jsonl``) made by
``cgr.kernel.pipeline.run``, so ``cgr report``/``export``/``replay``/``show`` work on a cell and
``cgr report OUT`` reads them all. Cells run one after another, solver-major, and a solver's model
is dropped from the llama model cache before the next solver's is loaded (one model at a time).

Resumable as a whole: each cell's ``RunStore`` writes every record with one fsynced append, so after
a kill anywhere the same grid with ``resume=True`` finishes every cell, each (item, solver,
generator) exactly once. Generated programs are shared across solvers through the program store
(``cgr.plugins.programs``): two cells with the same ``llm`` generator generate each program once.

Python use::

    from cgr.plugins.grid import load_experiment, run_grid
    summary = run_grid(load_experiment("experiment.toml"), Path("out"))
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cgr.kernel.api import SolverError
from cgr.kernel.manager import Plugins, UnknownPluginError, load_plugins
from cgr.kernel.records import Record, RunManifest
from cgr.kernel.store import MANIFEST, RECORDS, StoreError, count_records
from cgr.plugins.grid_experiment import (
    BundleSpec,
    Cell,
    Experiment,
    ExperimentError,
    GeneratorSpec,
    SolverSpec,
    load_experiment,
    parse_experiment,
)

__all__ = [
    "GRID",
    "CellResult",
    "Experiment",
    "ExperimentError",
    "GridSummary",
    "check_plugins",
    "experiment_from_run",
    "grid_cells",
    "is_grid",
    "load_experiment",
    "parse_experiment",
    "run_grid",
]

GRID = "grid.json"


@dataclass
class CellResult:
    """One cell after ``run_grid``: its directory, status and record counts."""

    slug: str
    dir: str
    status: str  # pending | running | complete | partial | error | interrupted
    written: int = 0
    skipped: int = 0
    records: int = 0
    error: str | None = None


@dataclass
class GridSummary:
    """What ``run_grid`` did: the output directory, each cell, and the grid's status."""

    out: str
    cells: list[CellResult] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "complete" if all(c.status == "complete" for c in self.cells) else "partial"

    @property
    def failed(self) -> list[CellResult]:
        return [c for c in self.cells if c.status == "error"]


def is_grid(directory: Path | str) -> bool:
    """Whether ``directory`` is a grid's output directory (it has ``grid.json``)."""
    return (Path(directory) / GRID).is_file()


def grid_cells(directory: Path | str) -> list[Path]:
    """The run directories of a grid's cells that have records, in the grid's order."""
    path = Path(directory) / GRID
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        dirs = [Path(directory) / str(c["dir"]) for c in data["cells"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"{path}: not a readable grid file ({type(exc).__name__}: {exc})") from None
    root = Path(directory).resolve()
    for d in dirs:
        if not d.resolve().is_relative_to(root):
            raise StoreError(f"{path}: cell directory {d} is outside the grid directory")
    return [d for d in dirs if (d / RECORDS).is_file()]


def check_plugins(experiment: Experiment, plugins: Plugins) -> None:
    """Every bundle file and plugin the experiment names exists: else an ``ExperimentError`` naming its line."""
    wanted: list[tuple[str, str, tuple[str | int, ...]]] = []
    wanted += [("solver", s.plugin, ("solvers", i, "plugin")) for i, s in enumerate(experiment.solvers)]
    wanted += [("generator", g.plugin, ("generators", i, "plugin")) for i, g in enumerate(experiment.generators)]
    wanted += [("direct_mode", m, ("direct_modes", i)) for i, m in enumerate(experiment.direct_modes)]
    wanted.append(("executor", experiment.executor, ("executor",)))
    if experiment.budget_baseline:
        wanted.append(("baseline", experiment.baseline, ("baseline",)))
    for i, bundle in enumerate(experiment.bundles):
        path = experiment.bundle_path(bundle)
        if path is not None and not path.is_file():
            raise ExperimentError(f"{experiment.where('bundles', i, 'path')}: no such file: {path}")
    for family, name, loc in wanted:
        if not plugins.entries.get(family):  # a family no plugin fills (an older cgr): the run says
            continue
        try:
            plugins.get(family, name)
        except UnknownPluginError as exc:
            raise ExperimentError(f"{experiment.where(*loc)}: {exc}") from None


def experiment_from_run(
    config: Any, solvers: list[tuple[str, str | None]], *, modes: list[str] | None = None
) -> Experiment:
    """The grid of ``cgr run --model A --model B`` (or ``--solver``): ``solvers`` as (plugin, model)
    pairs, everything else from the command line's ``RunConfig``."""
    bundle = BundleSpec(path=config.bundle.absolute() if config.bundle else None, tasks=config.tasks)
    solver_specs = [
        SolverSpec(
            plugin=plugin,
            model=model,
            options=config.solver_options,
            gpu_layers=config.gpu_layers,
            n_threads=config.n_threads,
            n_ctx=config.n_ctx,
        )
        for plugin, model in dict.fromkeys(solvers)
    ]
    generator = GeneratorSpec(
        plugin=config.generator,
        strategy=config.strategy,
        model=config.generator_model,
        options=config.generator_options,
    )
    extra = (
        {"executor": config.executor, "executor_options": config.executor_options}
        if hasattr(config, "executor")
        else {}
    )
    return Experiment(
        bundles=[bundle],
        solvers=solver_specs,
        generators=[generator],
        direct_modes=modes or [config.direct_mode, *config.direct_modes],
        limit=config.limit,
        seed=config.seed,
        workers=config.workers,
        direct_max_tokens=config.direct_max_tokens,
        budget_baseline=config.budget_baseline,
        baseline=config.baseline,
        budget_temperature=config.budget_temperature,
        limits=config.limits,
        **extra,
    )


Progress = Callable[[Cell, int, int, Record], None]
OnCell = Callable[[Cell, int, int, str], None]


def run_grid(
    experiment: Experiment,
    out: Path | str,
    *,
    resume: bool = False,
    plugins: Plugins | None = None,
    progress: Progress | None = None,
    on_cell: OnCell | None = None,
    on_start: Callable[[Cell, RunManifest, int, int], None] | None = None,
    phase: Callable[[str], AbstractContextManager[object]] | None = None,
) -> GridSummary:
    """Run every cell of ``experiment`` into ``out`` (see the module doc).

    ``progress(cell, i, n, record)`` follows each record; ``on_cell(cell, index, count, status)``
    comes before (status ``running``) and after each cell; ``on_start`` and ``phase`` are passed to
    ``pipeline.run``. A cell whose solver fails (``SolverError``) is marked ``error`` (its message
    kept in ``grid.json``) and the next cell runs; any other error (a bundle, plugin or store
    problem) is marked and raised; Ctrl-C marks the running cell ``interrupted``."""
    from cgr.kernel import pipeline

    out = Path(out)
    plugins = plugins or load_plugins()
    check_plugins(experiment, plugins)
    cells = experiment.cells(out)
    _prepare(out, experiment, resume)
    results = [_initial(out, c) for c in cells]
    _write(out, experiment, results)
    previous: SolverSpec | None = None
    for index, (cell, result) in enumerate(zip(cells, results)):
        if previous is not None and cell.solver != previous:
            _drop_models()  # one model at a time: the next solver's load replaces the last one's
        previous = cell.solver
        if result.status == "complete":
            continue
        result.status, result.error = "running", None
        _write(out, experiment, results)
        if on_cell:
            on_cell(cell, index, len(cells), "running")
        config = cell.config.model_copy(update={"resume": (cell.config.out / RECORDS).exists()})

        def report(i: int, n: int, record: Record, cell: Cell = cell) -> None:
            if progress:
                progress(cell, i, n, record)

        def started(manifest: RunManifest, todo: int, done: int, cell: Cell = cell) -> None:
            if on_start:
                on_start(cell, manifest, todo, done)

        try:
            summary = pipeline.run(config, plugins=plugins, progress=report, on_start=started, phase=phase)
        except KeyboardInterrupt:
            result.status, result.records = "interrupted", count_records(cell.config.out)
            _write(out, experiment, results)
            raise
        except Exception as exc:
            result.status, result.error = "error", f"{type(exc).__name__}: {exc}"[:1000]
            result.records = count_records(cell.config.out)
            if not isinstance(exc, SolverError):  # a user error would fail every cell the same way
                _write(out, experiment, results)
                raise
        else:
            result.written, result.skipped, result.records = summary.written, summary.skipped, summary.total
            result.status = _run_status(cell.config.out)
        _write(out, experiment, results)
        if on_cell:
            on_cell(cell, index, len(cells), result.status)
    return GridSummary(str(out), results)


def _prepare(out: Path, experiment: Experiment, resume: bool) -> None:
    """Refuse an output directory that holds something else, or another experiment on ``resume``."""
    grid = out / GRID
    if (out / RECORDS).exists() or (out / MANIFEST).exists():
        raise StoreError(f"{out}: holds a single run (run.json/records.jsonl), not a grid; choose another output")
    if grid.exists():
        if not resume:
            raise StoreError(f"{grid} exists; pass --resume to continue that grid or choose another output")
        try:
            old = json.loads(grid.read_text(encoding="utf-8"))["experiment"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"{grid}: cannot resume: unreadable ({type(exc).__name__}: {exc})") from None
        key = _first_difference(old, experiment.describe())
        if key is not None:
            raise StoreError(f"{grid}: cannot resume: the experiment differs at {key} from the recorded grid")
    elif out.exists() and any(out.iterdir()) and not (out / "cells").is_dir():
        raise StoreError(f"{out}: exists and is not empty; choose another output")


def _first_difference(a: Any, b: Any, path: str = "") -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            found = _first_difference(a.get(key), b.get(key), f"{path}.{key}" if path else key)
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            found = _first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b else (path or "(top level)")


def _run_status(directory: Path) -> str:
    try:
        status = json.loads((directory / MANIFEST).read_text(encoding="utf-8")).get("status", "partial")
    except (OSError, ValueError):
        return "partial"
    return "complete" if status == "complete" else "partial"


def _initial(out: Path, cell: Cell) -> CellResult:
    directory = cell.config.out
    rel = str(directory.relative_to(out))
    if not directory.exists():
        return CellResult(cell.slug, rel, "pending")
    status = _run_status(directory)
    return CellResult(cell.slug, rel, status, records=count_records(directory))


def _write(out: Path, experiment: Experiment, results: list[CellResult]) -> None:
    """``grid.json``, atomically (temp file + rename)."""
    data = {
        "grid_version": 1,
        "source": str(experiment._source.absolute()) if experiment._source else None,
        "status": "complete" if all(r.status == "complete" for r in results) else "partial",
        "experiment": experiment.describe(),
        "cells": [
            {**r.__dict__, "bundle": c.bundle.label(), "solver": c.solver.label(), "generator": c.generator.label()}
            for r, c in zip(results, experiment.cells(out))
        ],
    }
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / (GRID + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out / GRID)


def _drop_models() -> None:
    """Forget the llama models this process loaded (the last solver's), so two are never held at once."""
    try:
        from cgr.plugins.llama_load import MODELS
    except ImportError:  # pragma: no cover - llama-cpp-python is a dependency
        return
    MODELS.clear()
    gc.collect()
