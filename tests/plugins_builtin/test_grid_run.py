"""Experiment grids end to end (real sandbox; the real embedded models): cells, reports, shared programs."""

from __future__ import annotations

import importlib.util
import json

import msgspec
from click.testing import CliRunner

from cgr.kernel.api import Completion
from cgr.kernel.cli import main
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.manager import DEFAULT_PLUGINS, load_plugins
from cgr.kernel.store import read_manifest, read_records
from cgr.plugins.grid import load_experiment, parse_experiment, run_grid
from tests.plugins import fake_solver

#: plugin modules of this tree that an installed cgr may not list as entry points yet
NEW_MODULES = ("cgr.plugins.executor_local", "cgr.plugins.direct_modes", "cgr.plugins.executor_ray")


def comparable(record) -> dict:
    """A record without what depends on the wall clock: every ``latency_s``, and the reasons of the
    audits (the dynamic auditors spend a budget of sandbox seconds per item, ``audit_runs.AUDIT_SECONDS``,
    so under load the number of stand-in runs a reason counts varies; the verdicts are kept)."""

    def walk(x):
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items() if k != "latency_s"}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return x

    data = walk(msgspec.to_builtins(record))
    data["audits"] = [{k: v for k, v in a.items() if k != "reason"} for a in data["audits"]]
    return data


def grid_plugins(*extra: object):
    """The built-ins (and this tree's new plugin modules), plus ``extra``."""
    new = tuple(m for m in NEW_MODULES if m not in DEFAULT_PLUGINS and importlib.util.find_spec(m))
    return load_plugins(builtins=DEFAULT_PLUGINS + new, entry_points=False, extra=extra)


def test_two_embedded_models_make_a_two_cell_grid(tmp_path):
    experiment = tmp_path / "experiment.toml"
    experiment.write_text(
        'limit = 3\ndirect_modes = ["generate", "logprobs"]\n\n'
        '[[solvers]]\nmodel = "smollm2-135m"\n\n[[solvers]]\nmodel = "gemma3-270m"\n\n'
        '[[generators]]\nstrategy = "per_option"\n'
    )
    out = tmp_path / "grid"
    seen: list[tuple[str, str]] = []
    summary = run_grid(
        load_experiment(experiment),
        out,
        plugins=grid_plugins(),
        on_cell=lambda cell, i, n, status: seen.append((cell.slug, status)),
    )
    slugs = ["sample__llama-smollm2-135m__template-per_option", "sample__llama-gemma3-270m__template-per_option"]
    assert summary.status == "complete" and [c.slug for c in summary.cells] == slugs
    assert seen == [(slugs[0], "running"), (slugs[0], "complete"), (slugs[1], "running"), (slugs[1], "complete")]
    grid = json.loads((out / "grid.json").read_text())
    assert grid["status"] == "complete" and grid["experiment"]["limit"] == 3
    assert [(c["dir"], c["status"], c["records"]) for c in grid["cells"]] == [
        (f"cells/{s}", "complete", 3) for s in slugs
    ]
    for slug, model in zip(slugs, ("smollm2-135m", "gemma3-270m")):
        records = read_records(out / "cells" / slug)
        assert len(records) == 3 and {r.solver for r in records} == {f"llama/{model}"}
        assert all(set(r.direct_modes) == {"logprobs"} for r in records)
        assert read_manifest(out / "cells" / slug).status == "complete"
    # every existing command works on a cell, and `cgr report` on the grid shows the matrix
    runner = CliRunner()
    cell = runner.invoke(main, ["report", str(out / "cells" / slugs[0]), "--format", "json", "--resamples", "200"])
    assert cell.exit_code == 0, cell.output
    assert json.loads(cell.output)["n_records"] == 3
    result = runner.invoke(main, ["report", str(out), "--format", "json", "--resamples", "200"])
    assert result.exit_code == 0, result.output
    m = json.loads(result.output)["matrix"]
    assert m["rows"] == ["llama/gemma3-270m", "llama/smollm2-135m"] and m["generators"] == ["template/per_option"]
    assert {c["n"] for c in m["blocks"][0]["cells"]} <= {1, 2, 3}
    text = runner.invoke(main, ["report", str(out), "--resamples", "200"]).output
    assert "matrix: direct -> assisted" in text and "llama/gemma3-270m" in text
    # a finished grid resumes to nothing new; without --resume the directory is refused
    again = run_grid(load_experiment(experiment), out, resume=True, plugins=grid_plugins())
    assert [c.status for c in again.cells] == ["complete", "complete"] and all(c.written == 0 for c in again.cells)
    try:
        run_grid(load_experiment(experiment), out, plugins=grid_plugins())
    except Exception as exc:  # noqa: BLE001
        assert "grid.json exists; pass --resume" in str(exc)
    else:
        raise AssertionError("a second grid into the same directory was not refused")


class CountingSolver:
    """TEST ONLY: a generator backend that counts its calls and writes one small program."""

    name = "counting"
    calls = 0
    reply = "```python\nsubmit(ITEM['labels'][0])\n```\nGENERATOR ANSWER: A"

    def __init__(self, config=None):
        self.config = config

    def info(self):
        return {"name": "counting", "model": "counting-v1", "model_sha256": None, "backend": "test"}

    def complete(self, prompt, *, max_tokens=256, temperature=0.0, stop=None, choices=None):
        type(self).calls += 1
        return Completion(text=choices[0] if choices else self.reply, prompt_tokens=1, completion_tokens=1)

    def label_logprobs(self, prompt, labels):
        return [0.0 for _ in labels]

    def logprobs(self, prompt, continuations):
        return [0.0 for _ in continuations]


class CountingPlugin:
    @hookimpl
    def register_solvers(self, register):
        register("counting", CountingSolver, description="TEST ONLY: counts generator calls")


def test_programs_are_generated_once_and_shared_across_solver_cells(tmp_path):
    text = (
        "limit = 3\n[[solvers]]\nplugin = 'echo'\n[[solvers]]\nplugin = 'fake'\n"
        "[[generators]]\nplugin = 'llm'\noptions = { solver = 'counting' }\n"
    )
    CountingSolver.calls = 0
    summary = run_grid(parse_experiment(text), tmp_path / "g", plugins=grid_plugins(fake_solver, CountingPlugin()))
    assert summary.status == "complete"
    assert CountingSolver.calls == 3  # one program per item, not one per (item, solver)
    first, second = (read_records(tmp_path / "g" / "cells" / c.slug) for c in summary.cells)
    assert [r.generator_side.calls for r in first] == [1, 1, 1]
    assert [r.generator_side.calls for r in second] == [0, 0, 0]  # from the program store
    assert [r.assisted.answer for r in first] == [r.assisted.answer for r in second]


def test_a_failing_solver_marks_its_cell_and_the_grid_goes_on(tmp_path):
    text = "limit = 2\n[[solvers]]\nplugin = 'llama'\nmodel = 'no-such-model'\n[[solvers]]\nplugin = 'echo'\n"
    summary = run_grid(parse_experiment(text), tmp_path / "g", plugins=grid_plugins())
    (bad, good) = summary.cells
    assert bad.status == "error" and "no-such-model" in (bad.error or "")
    assert good.status == "complete" and good.records == 2 and summary.status == "partial"
    grid = json.loads((tmp_path / "g" / "grid.json").read_text())
    assert grid["status"] == "partial" and grid["cells"][0]["error"] == bad.error
