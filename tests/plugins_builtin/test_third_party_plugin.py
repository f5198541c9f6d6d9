"""Third-party plugins for real: pip-installed packages found through the entry-point group ``cgr``.

The example plugin (``examples/cgr-example-solver``) is pip-installed into this environment for the
module and uninstalled afterwards. The broken plugins are pip-installed into a private ``--target``
directory that only the subprocesses here put on their path: a broken plugin in the shared
environment would break every other ``cgr`` started meanwhile, and one left behind by a killed run
would break all of them.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cgr.kernel.api import SolverConfig

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cgr-example-solver"
CLI = [sys.executable, "-m", "cgr.kernel.cli"]

BROKEN = {  # distribution -> (entry-point name, module name, module source)
    "cgr-broken-import": (
        "broken-import",
        "cgr_broken_import",
        "import cgr_no_such_dependency  # noqa: F401  (a missing dependency)\n",
    ),
    "cgr-broken-typo": (
        "broken-typo",
        "cgr_broken_typo",
        "from cgr.kernel.hookspecs import hookimpl\n\n\n@hookimpl\n"
        "def register_solver(register):  # typo: the hook is register_solvers\n"
        "    register('typo', object)\n",
    ),
}


def pip(*args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", *args, "-q", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"pip {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"


def cgr(*args, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The example plugin, pip-installed (from a copy, so no build files land in the tree)."""
    src = tmp_path_factory.mktemp("example") / "cgr-example-solver"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".pytest_cache"))
    try:
        pip("install", "--no-deps", "--no-build-isolation", str(src))
        importlib.invalidate_caches()
        yield src
    finally:
        pip("uninstall", "-y", "cgr-example-solver")
        sys.modules.pop("cgr_example_solver", None)


@pytest.fixture(scope="module")
def broken_env(tmp_path_factory):
    """Environment variables that make the two broken plugins visible to a subprocess."""
    root = tmp_path_factory.mktemp("broken")
    for dist, (ep, module, source) in BROKEN.items():
        pkg = root / dist
        pkg.mkdir()
        (pkg / f"{module}.py").write_text(source)
        (pkg / "pyproject.toml").write_text(
            f'[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
            f'[project]\nname = "{dist}"\nversion = "0.0.1"\n\n'
            f'[project.entry-points.cgr]\n"{ep}" = "{module}"\n\n'
            f'[tool.setuptools]\npy-modules = ["{module}"]\n'
        )
    site = root / "site"
    try:
        pip("install", "--no-deps", "--no-build-isolation", "--target", str(site), *(str(root / d) for d in BROKEN))
        yield {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    finally:
        shutil.rmtree(site, ignore_errors=True)


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cgr: error: plugin "), proc.stderr
    return lines[0]


# ---------------------------------------------------------------- the example plugin ----------
def test_cgr_plugins_lists_the_example_with_its_distribution(example):
    proc = cgr("plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert rows["example"] == {
        "name": "example",
        "builtin": False,
        "distribution": "cgr-example-solver 0.1.0",
        "solvers": ["example-keyword"],
    }
    assert rows["cgr.plugins.echo_solver"]["builtin"] is True


def test_cgr_run_with_the_example_solver(example, tmp_path):
    out = tmp_path / "run"
    proc = cgr("run", "--solver", "example-keyword", "--limit", "3", "--out", out, "-q")
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert len(records) == 3 and {r["solver"] for r in records} == {"example-keyword"}
    assert all(r["direct"]["answer"] in {"A", "B", "C", "D", "E"} for r in records)
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["solver"]["backend"] == "keyword-overlap (example; no model)"


def test_the_cgr_testing_fixtures_see_the_installed_plugin(example, cgr_plugins, cgr_check_solver):
    entry = cgr_plugins.solver("example-keyword")
    assert entry.plugin == "example" and cgr_plugins.dists["example"] == "cgr-example-solver 0.1.0"
    said = cgr_check_solver(entry.obj(SolverConfig()))
    assert said["info"]["name"] == "example-keyword"


def test_the_example_passes_its_own_tests(example):
    # Its tests use the cgr.testing fixtures, which reach them through the pytest11 entry point.
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=example,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout


# ---------------------------------------------------------------- broken plugins --------------
def test_a_plugin_that_fails_to_import_is_named(broken_env):
    line = one_error_line(cgr("plugins", env={**broken_env, "CGR_DISABLE_PLUGINS": "broken-typo"}))
    assert line == (
        "cgr: error: plugin 'broken-import' (cgr_broken_import) failed to load: "
        "ModuleNotFoundError: No module named 'cgr_no_such_dependency' "
        "(set CGR_DISABLE_PLUGINS=broken-import to skip it)"
    )


def test_a_misspelt_hook_is_named(broken_env):
    line = one_error_line(cgr("plugins", env={**broken_env, "CGR_DISABLE_PLUGINS": "broken-import"}))
    assert line.startswith("cgr: error: plugin 'broken-typo': ") and "register_solver" in line


def test_disabling_the_broken_plugins_makes_the_run_work_again(broken_env, tmp_path):
    line = one_error_line(cgr("run", "--solver", "echo", "--limit", "1", "--out", tmp_path / "a", "-q", env=broken_env))
    assert "'broken-import'" in line or "'broken-typo'" in line
    env = {**broken_env, "CGR_DISABLE_PLUGINS": "broken-import,broken-typo"}
    proc = cgr("run", "--solver", "echo", "--limit", "1", "--out", tmp_path / "b", "-q", env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len((tmp_path / "b" / "records.jsonl").read_text().splitlines()) == 1
    names = {r["name"] for r in json.loads(cgr("plugins", "--json", env=env).stdout)}
    assert not names & {"broken-import", "broken-typo"}
