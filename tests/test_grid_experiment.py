"""Experiment files (cgr.plugins.grid_experiment): validation errors name file, line and key; cells and slugs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cgr.plugins.grid_experiment import (
    ExperimentError,
    key_line,
    load_experiment,
    parse_experiment,
    slugify,
    unique_slugs,
)

GOOD = """\
name = "two models"
limit = 3
direct_modes = ["generate", "logprobs"]

[[bundles]]
path = "items.jsonl"

[[solvers]]
plugin = "llama"
model = "smollm2-135m"

[[solvers]]
plugin = "llama"
model = "/models/Qwen2.5-0.5B-Instruct-Q4_K_M.gguf"
gpu_layers = -1

[[generators]]
plugin = "template"
strategy = "per_option"

[[generators]]
plugin = "llm"
options = { solver = "llama", model = "smollm2-135m" }

[limits]
timeout_s = 10
"""


def error(text: str) -> str:
    with pytest.raises(ExperimentError) as info:
        parse_experiment(text, Path("exp.toml"))
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_good_file_expands_solver_major(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text(GOOD)
    exp = load_experiment(path)
    cells = exp.cells(tmp_path / "out")
    assert [c.slug for c in cells] == [
        "items__llama-smollm2-135m__template-per_option",
        "items__llama-smollm2-135m__llm",
        "items__llama-qwen2.5-0.5b-instruct-q4_k_m__template-per_option",
        "items__llama-qwen2.5-0.5b-instruct-q4_k_m__llm",
    ]
    first, last = cells[0].config, cells[-1].config
    assert first.bundle == tmp_path / "items.jsonl"  # relative to the experiment file
    assert first.out == tmp_path / "out" / "cells" / cells[0].slug
    assert (first.model, first.strategy, first.limit, first.direct_mode, first.direct_modes) == (
        "smollm2-135m",
        "per_option",
        3,
        "generate",
        ["logprobs"],
    )
    assert last.gpu_layers == -1 and last.generator == "llm" and last.generator_options["model"] == "smollm2-135m"
    assert first.limits.timeout_s == 10
    assert exp.describe()["bundles"][0]["path"] == str((tmp_path / "items.jsonl").absolute())


def test_defaults_are_the_sample_bundle_and_the_template_generator():
    exp = parse_experiment('[[solvers]]\nplugin = "echo"\n')
    (cell,) = exp.cells(Path("o"))
    assert cell.slug == "sample__echo__template" and cell.config.bundle is None and cell.config.generator == "template"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("limit = 0\n[[solvers]]\n", r"exp\.toml:1: limit: Input should be greater than or equal to 1"),
        ("[[solvers]]\nplugin = 'echo'\n[[solvers]]\nmodel = 3\n", r"exp\.toml:4: solvers\[1\]\.model: .*string"),
        (
            "[[solvers]]\nplugin = 'a'\ncolour = 'red'\n",
            r"exp\.toml:3: solvers\[0\]\.colour: unknown key; allowed: .*model",
        ),
        (
            "seed = 1\n[limits]\nbogus = 1\n[[solvers]]\n",
            r"exp\.toml:3: limits\.bogus: unknown key; allowed: .*timeout_s",
        ),
        ("[[solvers]]\n[limits]\ntimeout_s = 99999\n", r"exp\.toml:2: limits: .*timeout_s"),
        ("limit = 3\n", r"exp\.toml: solvers: required key missing"),
        ("direct_modes = []\n[[solvers]]\n", r"exp\.toml:1: direct_modes: .*at least 1"),
        ("[[solvers]]\nplugin='x'\n[[solvers]]\nplugin='x'\n", r"exp\.toml:3: solvers\[1\]: repeats solvers\[0\]"),
        (
            "[[solvers]]\n[[generators]]\nstrategy='pmi'\n\n[[generators]]\nstrategy = 'pmi'\noptions={a='b'}\n",
            r"exp\.toml:5: generators\[1\]: repeats generators\[0\] \(the same record label",
        ),
        ("[[solvers]]\noptions = {a = 1}\n", r"exp\.toml:2: solvers\[0\]\.options\.a: .*string"),
        ("solvers = [{plugin = 'x', bad = 1}]\n", r"exp\.toml:1: solvers\[0\]\.bad: unknown key"),
        ("[[solvers]\n", r"exp\.toml: invalid TOML: .*line 1"),
        ("[[solvers]]\n[bundles]\npath='x'\n", r"exp\.toml:2: bundles: .*list"),
    ],
)
def test_errors_name_file_line_and_key(text, expected):
    assert re.match(expected, error(text)), error(text)


def test_unreadable_file_is_one_line(tmp_path):
    with pytest.raises(ExperimentError, match=r"nope\.toml: cannot read"):
        load_experiment(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(ExperimentError, match=r"bad\.toml: cannot read"):
        load_experiment(bad)


def test_key_line_scans_headers_keys_and_skips_multiline_strings():
    text = 'a = """\nb = 1\n"""\n[t]\nx.y = 2\n[[s]]\nk = 1\n[[s]]\n"k" = 2\n'
    assert key_line(text, ("b",)) is None
    assert key_line(text, ("t", "x", "y")) == 5
    assert key_line(text, ("s", 1, "k")) == 9
    assert key_line(text, ("s", 1, "missing")) == 8
    assert key_line(text, ("nowhere",)) is None


def test_slugs_are_unique_and_filesystem_safe():
    names = ["A/B", "a-b", "a_b", "../..", "", "x" * 300, "x" * 300 + "y", "CON", "é ü", "a b"]
    slugs = unique_slugs(names)
    assert len(set(slugs)) == len(slugs)
    for s in slugs:
        assert re.fullmatch(r"[a-z0-9][a-z0-9._-]*", s) and len(s) <= 96 and s not in (".", "..")
    assert slugify("llama/Qwen2.5 0.5B") == "llama-qwen2.5-0.5b"


def test_a_missing_bundle_file_is_named_with_its_line(tmp_path, plugins):
    from cgr.plugins.grid import check_plugins

    path = tmp_path / "exp.toml"
    path.write_text("[[solvers]]\nplugin = 'fake'\n\n[[bundles]]\nname = 'x'\npath = 'nowhere.jsonl'\n")
    with pytest.raises(ExperimentError, match=r"exp\.toml:6: bundles\[0\]\.path: no such file: .*nowhere\.jsonl"):
        check_plugins(load_experiment(path), plugins)
    path.write_text("[[solvers]]\nplugin = 'fake'\n[[generators]]\nplugin = 'nope'\n")
    with pytest.raises(ExperimentError, match=r"exp\.toml:4: generators\[0\]\.plugin: unknown generator 'nope'"):
        check_plugins(load_experiment(path), plugins)
    path.write_text("direct_modes = ['generate', 'psychic']\n[[solvers]]\nplugin = 'fake'\n")
    with pytest.raises(ExperimentError, match=r"exp\.toml:1: direct_modes\[1\]: unknown direct_mode 'psychic'"):
        check_plugins(load_experiment(path), plugins)
    path.write_text("budget_baseline = true\nbaseline = 'oracle'\n[[solvers]]\nplugin = 'fake'\n")
    with pytest.raises(ExperimentError, match=r"exp\.toml:2: baseline: unknown baseline 'oracle'"):
        check_plugins(load_experiment(path), plugins)
    path.write_text("baseline = 'oracle'\n[[solvers]]\nplugin = 'fake'\n")  # not run: not checked
    check_plugins(load_experiment(path), plugins)


def test_the_readme_experiment_file_is_valid(tmp_path):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("```toml\n# experiment.toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "experiment.toml"
    path.write_text(block)
    experiment = load_experiment(path)
    assert len(experiment.bundles) == 2 and len(experiment.solvers) == 3 and len(experiment.generators) == 3
    assert experiment.budget_baseline and experiment.baseline == "budget_matched"
    assert experiment.direct_modes == ["generate", "logprobs"] and experiment.limits.timeout_s == 20
