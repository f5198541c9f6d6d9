"""``cgr new plugin``: the package it writes pip-installs, cgr finds it through its entry point, and
its own tests (written with the cgr.testing fixtures) pass.

The packages are pip-installed into a private ``--target`` directory that only the subprocesses here
put on their path (as ``test_third_party_plugin.py`` does), never into the shared environment.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from cgr.kernel import manager
from cgr.kernel.cli import main

NEW_BUILTINS = ("cgr.plugins.new_plugin",)  # until pyproject.toml declares it
KINDS = ("solver", "reporter", "command")


def _patched_load():
    missing = tuple(m for m in NEW_BUILTINS if m not in manager.DEFAULT_PLUGINS)
    return functools.partial(manager.load_plugins, builtins=manager.DEFAULT_PLUGINS + missing) if missing else None


def cli(*args):
    with pytest.MonkeyPatch.context() as mp:
        load = _patched_load()
        if load:
            mp.setattr(manager, "load_plugins", load)
        return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def packages(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """One generated package per kind, pip-installed into ``site``; (root, PYTHONPATH environment)."""
    root = tmp_path_factory.mktemp("new-plugin")
    for kind in KINDS:
        res = cli("new", "plugin", f"my-{kind}", "--kind", kind, "--dir", root)
        assert res.exit_code == 0, res.output
        assert res.output.startswith(f"created {root / f'cgr-my-{kind}'}/ ({kind} plugin 'my-{kind}'):")
    site = root / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps"]
        + ["--no-build-isolation", "--target", str(site)]
        + [str(root / f"cgr-my-{kind}") for kind in KINDS],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    return root, env


def test_the_package_has_the_entry_point_module_readme_and_tests(tmp_path):
    res = cli("new", "plugin", "my-solver", "--dir", tmp_path)
    assert res.exit_code == 0, res.output
    pkg = tmp_path / "cgr-my-solver"
    assert sorted(str(p.relative_to(pkg)) for p in pkg.rglob("*") if p.is_file()) == [
        "README.md",
        "cgr_my_solver.py",
        "pyproject.toml",
        "tests/test_cgr_my_solver.py",
    ]
    assert f"next: pip install -e {pkg}" in res.output
    meta = tomllib.loads((pkg / "pyproject.toml").read_text())
    assert meta["project"]["name"] == "cgr-my-solver" and meta["project"]["dependencies"] == ["cgr"]
    assert meta["project"]["entry-points"]["cgr"] == {"my-solver": "cgr_my_solver"}
    assert "class MySolver:" in (pkg / "cgr_my_solver.py").read_text()


def test_installed_packages_are_found_by_cgr(packages):
    root, env = packages
    proc = subprocess.run(
        [sys.executable, "-m", "cgr.kernel.cli", "plugins", "--json"], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert rows["my-solver"]["solvers"] == ["my-solver"] and rows["my-solver"]["distribution"] == "cgr-my-solver 0.1.0"
    assert rows["my-reporter"]["reporters"] == ["my-reporter"]
    assert rows["my-command"]["commands"] == ["my-command"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_generated_tests_pass(packages, kind):
    root, env = packages
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root / f"cgr-my-{kind}",
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout and "skipped" not in proc.stdout


def test_the_generated_solver_runs_a_bundle(packages, tmp_path):
    root, env = packages
    proc = subprocess.run(
        [sys.executable, "-m", "cgr.kernel.cli", "run", "--solver", "my-solver", "--limit", "2"]
        + ["--out", str(tmp_path / "run"), "-q"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len((tmp_path / "run" / "records.jsonl").read_text().splitlines()) == 2
    proc = subprocess.run(
        [sys.executable, "-m", "cgr.kernel.cli", "run", "--solver", "my-solver", "--solver-option", "x=1"]
        + ["--out", str(tmp_path / "run2"), "-q"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 1 and proc.stderr.strip().splitlines() == [
        "cgr: error: solver my-solver: unknown --solver-option x"
    ]


def test_a_bad_name_or_an_existing_directory_is_one_line(tmp_path):
    res = cli("new", "plugin", "My_Solver", "--dir", tmp_path)
    assert res.exit_code == 2 and "lower-case letters, digits and single hyphens" in res.output
    assert cli("new", "plugin", "cgr-ok", "--dir", tmp_path).exit_code == 0  # the cgr- prefix is not doubled
    assert (tmp_path / "cgr-ok" / "cgr_ok.py").is_file()
    res = cli("new", "plugin", "ok", "--dir", tmp_path)
    assert res.exit_code == 1
    assert res.stderr.strip().splitlines() == [
        f"cgr: error: {tmp_path / 'cgr-ok'} already exists; choose another NAME or --dir"
    ]
