"""Shared fixtures: a fresh plugin manager per test (with the test-only fake solver), tiny bundles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cgr.kernel.manager import load_plugins
from tests.plugins import fake_solver

ITEMS = [
    {"id": "geo-1", "dataset": "toy", "task": "geo", "question": "What is the capital of France?",
     "choices": ["Berlin", "Paris", "Rome", "Madrid"], "answer": "B"},
    {"id": "geo-2", "dataset": "toy", "task": "geo", "question": "Which city is in France?",
     "choices": ["Paris", "Lima", "Oslo"], "answer": "A"},
    {"id": "sci-1", "dataset": "toy", "task": "sci", "question": "Water boils at sea level at?",
     "choices": ["50 C", "100 C", "Paris"], "answer": "B"},
]


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
