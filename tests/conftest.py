"""Shared fixtures: a fresh plugin manager per test (with the test-only fake solver), tiny bundles."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cgr.kernel.manager import load_plugins
from tests.plugins import fake_solver

ITEMS = [
    {
        "id": "geo-1",
        "dataset": "toy",
        "task": "geo",
        "question": "What is the capital of France?",
        "choices": ["Berlin", "Paris", "Rome", "Madrid"],
        "answer": "B",
    },
    {
        "id": "geo-2",
        "dataset": "toy",
        "task": "geo",
        "question": "Which city is in France?",
        "choices": ["Paris", "Lima", "Oslo"],
        "answer": "A",
    },
    {
        "id": "sci-1",
        "dataset": "toy",
        "task": "sci",
        "question": "Water boils at sea level at?",
        "choices": ["50 C", "100 C", "Paris"],
        "answer": "B",
    },
]


# ---------------------------------------------------------------- the fast marker ---------------
#: Test files that build the sandbox, load a model, start servers or install packages. Every other
#: test is marked ``fast`` (``pytest -m fast``: the unit tests, no model, no sandbox), and the guard
#: below fails a fast test that touches either, so the marker cannot quietly rot.
HEAVY = (
    "tests/sandbox/",
    "tests/e2e/",
    "tests/plugins_builtin/",
    "tests/test_packaging.py",
    "tests/test_readme.py",
    "tests/test_specs.py::test_scaffold_api_spec_matches_the_guest",
)
ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config, items):
    for item in items:
        where = f"{Path(item.fspath).resolve().relative_to(ROOT)}::{item.name}"
        if not item.get_closest_marker("slow") and not where.startswith(HEAVY):
            item.add_marker(pytest.mark.fast)


@pytest.fixture(autouse=True)
def _fast_tests_stay_fast(request, monkeypatch):
    if request.node.get_closest_marker("fast") is None or os.environ.get("CGR_TEST_NO_FAST_GUARD"):
        return

    def refuse(what):
        def fail(*args, **kwargs):
            raise AssertionError(f"a test marked fast used {what}: list its file in tests/conftest.py HEAVY")

        return fail

    import cgr.sandbox

    monkeypatch.setattr(cgr.sandbox.Sandbox, "__init__", refuse("the sandbox"))
    try:
        import llama_cpp
    except ImportError:  # pragma: no cover
        return
    monkeypatch.setattr(llama_cpp.Llama, "__init__", refuse("a llama.cpp model"))


@pytest.fixture(autouse=True)
def _own_program_store(tmp_path_factory, monkeypatch):
    """Generated programs are cached (cgr.plugins.programs); each test gets its own store, so no
    test sees another's programs and none writes to ~/.cache."""
    monkeypatch.setenv("CGR_PROGRAM_STORE", str(tmp_path_factory.mktemp("programs")))


@pytest.fixture
def plugins():
    """A fresh plugin manager: built-ins plus the fake solver, no third-party entry points."""
    return load_plugins(entry_points=False, extra=(fake_solver,))


@pytest.fixture
def toy_bundle(tmp_path: Path) -> Path:
    """A three-item bundle on disk."""
    path = tmp_path / "toy.jsonl"
    path.write_text("".join(json.dumps(it) + "\n" for it in ITEMS))
    return path
