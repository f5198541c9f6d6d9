"""Hostile scaffolds at the run level, records side: scaffolds that forge the guest runner's
outcome still give a host-made, one-line record, and the run directory stays usable by ``cgr
report / audit / replay`` and ``--resume``; a hand-corrupted line in records.jsonl is skipped with a
warning, and a resume counts it done. (The rest of the boundary: ``test_hostile_run.py``.)
"""

from __future__ import annotations

import json
import re

import pytest

from cgr.kernel.api import Scaffold
from cgr.kernel.config import RunConfig
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.manager import load_plugins
from cgr.kernel.pipeline import run
from cgr.kernel.store import RunStore, read_manifest, read_records
from cgr.sandbox._api import MAX_ERROR_CHARS

# the run-level helpers are the ones of the other half of these tests
from tests.e2e.test_hostile_run import cli, write_bundle
from tests.plugins import fake_solver

# --------------------------------------------------------------- 1. cgr run, hostile stdout ---


# ------------------------------------------- 3. forged outcomes: records and the run directory ---

FORGE = "import sys\nsys.modules['guest_app']._dumps = lambda outcome: {}\n"

HOSTILE = {
    "error-object": FORGE.format('\'{"kind": "done", "error": {"x": 1}, "exc_type": null}\''),
    "kind-bogus": FORGE.format('\'{"kind": "memory", "error": "memory: fake", "exc_type": null}\''),
    "huge-error": FORGE.format(
        '\'{"kind": "exception", "error": "\' + \'E\' * (8 << 20) + \'\\\\nsecond", "exc_type": "RuntimeError"}\''
    ),
    "fake-syntax": "solver_call(ITEM.question)\n"
    + FORGE.format('\'{"kind": "syntax", "error": "SyntaxError: fake (line 1)", "exc_type": "SyntaxError"}\''),
    "oom-stderr": "import sys\nsys.stderr.write('MemoryError: memory allocation failed\\nout of memory\\n')\n"
    "raise RuntimeError('boom')\n",
    "honest": "r = solver_call('Q? ' + ITEM.question, choices=list(ITEM.labels))\nsubmit(extract_choice(r))\n",
}

EXPECTED = {
    "error-object": ("error", "runner: malformed outcome from the guest"),
    "kind-bogus": ("error", "runner: malformed outcome from the guest"),
    "huge-error": ("error", "E" * MAX_ERROR_CHARS + "..."),
    "fake-syntax": ("error", "SyntaxError: fake (line 1)"),
    "oom-stderr": ("error", "RuntimeError: boom"),
    "honest": ("ok", None),
}


class HostileGenerator:
    name = "forger"

    def __init__(self, config=None):
        pass

    def info(self):
        return {"name": self.name}

    def generate(self, item):
        return Scaffold(source=HOSTILE[item["id"]])


class ForgerPlugin:
    """TEST ONLY: registers the ``forger`` generator."""

    @hookimpl
    def register_generators(self, register):
        register("forger", HostileGenerator, description="TEST ONLY: scaffolds that forge their outcome")


@pytest.fixture
def forger_plugins():
    return load_plugins(entry_points=False, extra=(fake_solver, ForgerPlugin()))


def test_forged_outcomes_are_recorded_and_the_run_directory_stays_usable(tmp_path, forger_plugins, capsys):
    bundle = write_bundle(tmp_path / "hostile.jsonl", list(HOSTILE))
    out = tmp_path / "run"
    config = RunConfig(bundle=bundle, out=out, solver="fake", generator="forger")
    summary = run(config, plugins=forger_plugins)
    assert summary.written == len(HOSTILE)
    records = {r.item_id: r for r in read_records(out)}
    assert "cgr: warning" not in capsys.readouterr().err  # every record written is valid
    assert {i: (r.assisted.status, r.assisted.error) for i, r in records.items()} == EXPECTED
    assert records["honest"].assisted.answer == "C"  # the fake solver picks the last choice
    assert records["fake-syntax"].assisted.calls == 1
    for r in records.values():
        error = r.assisted.error or ""
        assert "\n" not in error and len(error) <= MAX_ERROR_CHARS + 3

    res = cli("report", out, "--format", "json", "--resamples", "200")
    assert res.exit_code == 0, res.output
    assert sum(c["n"] for c in json.loads(res.stdout)["cells"]) == len(HOSTILE)

    res = cli("audit", out, "--json")
    assert res.exit_code == 0, res.output
    assert sorted(json.loads(line)["item_id"] for line in res.stdout.strip().splitlines()) == sorted(HOSTILE)

    res = cli("replay", out)
    assert res.exit_code == 0, res.output
    assert f"{len(HOSTILE)} record(s) replayed without a model: {len(HOSTILE)} reproduced, 0 differ" in res.output

    before = (out / "records.jsonl").read_bytes()
    again = run(config.model_copy(update={"resume": True}), plugins=forger_plugins)
    assert (again.written, again.skipped, again.total) == (0, len(HOSTILE), len(HOSTILE))
    assert (out / "records.jsonl").read_bytes() == before


# ----------------------------------------------------- 4. a hand-corrupted records.jsonl line ---


def test_a_corrupted_record_line_is_skipped_and_counted_done(tmp_path, toy_bundle, capsys):
    plugins = load_plugins(entry_points=False, extra=(fake_solver,))
    out = tmp_path / "run"
    config = RunConfig(bundle=toy_bundle, out=out, solver="fake")
    run(config, plugins=plugins)
    path = out / "records.jsonl"
    lines = path.read_text().splitlines()
    bad = json.loads(lines[1])
    assert bad["item_id"] == "geo-2"
    bad["assisted"]["error"] = {"x": 1}
    lines[1] = json.dumps(bad)
    path.write_text("\n".join(lines) + "\n")
    corrupted = path.read_bytes()
    capsys.readouterr()

    assert [r.item_id for r in read_records(out)] == ["geo-1", "sci-1"]
    err = capsys.readouterr().err
    assert re.fullmatch(rf"cgr: warning: {re.escape(str(path))}:2: invalid record \(.+\), skipped\n", err), err

    res = cli("report", out, "--format", "json", "--resamples", "200")
    assert res.exit_code == 0, res.output
    assert sum(c["n"] for c in json.loads(res.stdout)["cells"]) == 2
    assert "cgr: warning: " in res.stderr and ":2: invalid record (" in res.stderr

    store = RunStore(out, read_manifest(out), resume=True)
    store.close()
    assert store.done == {"geo-1", "geo-2", "sci-1"}

    again = run(config.model_copy(update={"resume": True}), plugins=plugins)
    assert (again.written, again.skipped) == (0, 3)  # geo-2 is not redone (and not looped on)
    assert path.read_bytes() == corrupted
