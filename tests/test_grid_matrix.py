"""The solver x dataset matrix (cgr.plugins.report_matrix) and `cgr report` on a grid directory."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from cgr.kernel.api import ReportRequest
from cgr.kernel.cli import main
from cgr.kernel.records import AssistedChannel, DirectChannel, GeneratorChannel, Record, encode_record
from cgr.plugins import reports
from cgr.plugins.report_matrix import matrix
from cgr.plugins.stats_interval import paired_difference

CONTRACT = ["n_records", "tau", "bootstrap", "cells", "partitions", "regressions", "warnings"]


def rec(solver, dataset, task, i, d, a, generator="template/per_option"):
    return Record(
        item_id=f"{dataset}-{task}-{i}",
        dataset=dataset,
        task=task,
        solver=solver,
        generator=generator,
        gold="A",
        direct=DirectChannel(answer="A" if d else "B", correct=bool(d), calls=1),
        assisted=AssistedChannel(answer="A" if a else "B", correct=bool(a), calls=2),
        generator_side=GeneratorChannel(answer=None, correct=False, calls=0),
    )


def grid_records(generator="template/per_option"):
    out = []
    for s, shift in (("llama/a", 0), ("llama/b", 1)):
        for ds, tasks in (("arc", ("easy", "challenge")), ("sciq", ("sciq",))):
            for t in tasks:
                for i in range(6):
                    out.append(rec(s, ds, t, i, d=(i + shift) % 2, a=(i + shift) % 3 != 0, generator=generator))
    return out


def test_matrix_cells_are_the_paired_task_stratified_comparison():
    records = grid_records()
    m = matrix(records, resamples=300, seed=1)
    assert m["rows"] == ["llama/a", "llama/b"] and m["columns"] == ["arc", "sciq"]
    assert m["generators"] == ["template/per_option"] and len(m["blocks"]) == 1
    cells = {(c["solver"], c["dataset"]): c for c in m["blocks"][0]["cells"]}
    arc = cells[("llama/a", "arc")]
    assert arc["n"] == 12 and arc["tasks"] == 2
    pairs = []
    for task in ("challenge", "easy"):
        rs = [r for r in records if r.solver == "llama/a" and r.task == task]
        pairs.append(
            (np.array([r.direct.correct for r in rs], float), np.array([r.assisted.correct for r in rs], float))
        )
    expected = paired_difference(pairs, resamples=300, seed=1)
    assert arc["delta"] == pytest.approx(expected["delta"])
    assert (arc["ci_low"], arc["ci_high"]) == pytest.approx((expected["ci_low"], expected["ci_high"]))
    assert arc["assisted_acc"] - arc["direct_acc"] == pytest.approx(arc["delta"])
    assert arc["ci_low"] <= arc["delta"] <= arc["ci_high"]


def test_json_only_adds_the_matrix_key_and_text_shows_it_when_there_is_a_choice():
    records = grid_records() + grid_records("llm/smollm2")
    request = ReportRequest(records, resamples=200)
    data = json.loads(reports.as_json(request))
    assert list(data) == [*CONTRACT, "matrix"]
    assert [b["generator"] for b in data["matrix"]["blocks"]] == ["llm/smollm2", "template/per_option"]
    text = reports.table(request)
    assert "matrix: direct -> assisted" in text and text.count("solver \\ dataset") == 2
    assert "generator llm/smollm2 (one of several)" in text
    md = reports.markdown(request)
    assert "| solver \\ dataset | arc | sciq |" in md
    single = [r for r in grid_records() if r.solver == "llama/a" and r.dataset == "arc"]
    assert "matrix:" not in reports.table(ReportRequest(single, resamples=200))
    assert json.loads(reports.as_json(ReportRequest(single, resamples=200)))["matrix"]["rows"] == ["llama/a"]


def test_a_missing_cell_is_a_dash():
    records = [r for r in grid_records() if not (r.solver == "llama/b" and r.dataset == "sciq")]
    text = reports.table(ReportRequest(records, resamples=200))
    row = [line for line in text.splitlines() if line.startswith("llama/b ")][-1]  # the matrix's row
    assert row.rstrip().endswith("-")


def test_pooled_runs_with_one_label_are_warned_about():
    records = grid_records() + grid_records()  # the same labels twice: two runs that differ only in options
    data = json.loads(reports.as_json(ReportRequest(records, resamples=200)))
    assert any("more than once" in w for w in data["warnings"])


def write_run(directory, records):
    directory.mkdir(parents=True)
    (directory / "records.jsonl").write_bytes(b"".join(encode_record(r) + b"\n" for r in records))


def test_report_reads_every_cell_of_a_grid_directory(tmp_path):
    records = grid_records()
    cells = []
    for solver in ("llama/a", "llama/b"):
        slug = "sample__" + solver.replace("/", "-") + "__template"
        write_run(tmp_path / "cells" / slug, [r for r in records if r.solver == solver])
        cells.append({"slug": slug, "dir": f"cells/{slug}", "status": "complete"})
    cells.append({"slug": "never-started", "dir": "cells/never-started", "status": "pending"})
    (tmp_path / "grid.json").write_text(json.dumps({"grid_version": 1, "experiment": {}, "cells": cells}))
    result = CliRunner().invoke(main, ["report", str(tmp_path), "--format", "json", "--resamples", "200"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["n_records"] == len(records) and data["matrix"]["rows"] == ["llama/a", "llama/b"]
    result = CliRunner().invoke(main, ["report", str(tmp_path), "--resamples", "200"])
    assert result.exit_code == 0 and "matrix: direct -> assisted" in result.output
    (tmp_path / "grid.json").write_text("{not json")
    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 1 and "grid.json: not a readable grid file" in result.output


def test_a_grid_file_cannot_point_outside_its_directory(tmp_path):
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "grid.json").write_text(json.dumps({"cells": [{"dir": "../elsewhere"}]}))
    write_run(tmp_path / "elsewhere", grid_records()[:2])
    result = CliRunner().invoke(main, ["report", str(tmp_path / "g")])
    assert result.exit_code == 1 and "is outside the grid directory" in result.output
