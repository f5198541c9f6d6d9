"""The llama plugin's model cache: one load per file and load settings, shared, thread-safe."""

from __future__ import annotations

import threading
import time

import pytest

from cgr.kernel.api import SolverConfig, SolverError
from cgr.plugins import llama_load, llama_solver
from cgr.plugins.llama_load import MODELS, ModelCache, ModelKey
from cgr.plugins.llama_solver import LlamaSolver, load_solver

KEY = ModelKey("/m.gguf", 2048, None, None, 0, "auto")


def test_get_loads_once_per_key_and_clear_forgets():
    cache, loads = ModelCache(), []

    def loader(value):
        return lambda: loads.append(value) or value

    assert cache.get(KEY, loader("a")) == "a" and cache.get(KEY, loader("b")) == "a"
    other = KEY._replace(n_ctx=4096)
    assert cache.get(other, loader("c")) == "c"
    assert loads == ["a", "c"] and len(cache) == 2 and KEY in cache and cache.keys() == [KEY, other]
    cache.clear()
    assert len(cache) == 0 and KEY not in cache
    assert cache.get(KEY, loader("d")) == "d" and loads == ["a", "c", "d"]


def test_a_failed_load_caches_nothing():
    cache = ModelCache()

    def broken():
        raise SolverError("cannot load")

    with pytest.raises(SolverError, match="cannot load"):
        cache.get(KEY, broken)
    assert len(cache) == 0 and cache.get(KEY, lambda: "ok") == "ok"


def test_concurrent_callers_share_one_load():
    cache, loads, got = ModelCache(), [], []

    def slow():
        loads.append(1)
        time.sleep(0.05)
        return object()

    threads = [threading.Thread(target=lambda: got.append(cache.get(KEY, slow))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1 and len(got) == 8 and all(g is got[0] for g in got)


def test_the_key_is_the_file_and_every_load_setting(tmp_path):
    path = tmp_path / "m.gguf"
    key = ModelKey.of(path, SolverConfig(n_threads=2, gpu_layers=0, seed=5, options={"extra_buffers": "off"}))
    assert key == ModelKey(str(path), 2048, 0, 2, 5, "off")
    assert ModelKey.of(path, SolverConfig()).extra_buffers == "auto"


@pytest.fixture
def fake_loads(tmp_path, monkeypatch):
    """LlamaSolver with a fresh MODELS and a stand-in for loading (no llama.cpp): the loads made."""
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    loads = []

    def load(self, config, model_name, path):
        loads.append(config)

    monkeypatch.setattr(llama_load, "MODELS", ModelCache())
    monkeypatch.setattr(llama_solver, "MODELS", llama_load.MODELS)
    monkeypatch.setattr(LlamaSolver, "_load", load)
    return str(gguf), loads


def test_the_solver_is_shared_by_equal_settings_and_loaded_again_for_others(fake_loads):
    model, loads = fake_loads
    first = load_solver(SolverConfig(model=model))
    assert load_solver(SolverConfig(model=model)) is first  # e.g. a run's solver and its llm generator
    assert load_solver(SolverConfig(model=model, options={"extra_buffers": "auto"})) is first
    others = [
        load_solver(SolverConfig(model=model, n_ctx=4096)),
        load_solver(SolverConfig(model=model, seed=1)),
        load_solver(SolverConfig(model=model, n_threads=1)),
        load_solver(SolverConfig(model=model, gpu_layers=0)),
        load_solver(SolverConfig(model=model, options={"extra_buffers": "off"})),
    ]
    assert len({id(s) for s in [first, *others]}) == 6 and len(loads) == 6
    assert len(llama_solver.MODELS) == 6 and MODELS is not llama_solver.MODELS  # the fixture's own cache


def test_bad_options_fail_before_anything_loads(fake_loads):
    model, loads = fake_loads
    with pytest.raises(SolverError, match="unknown --solver-option nosuch"):
        load_solver(SolverConfig(model=model, options={"nosuch": "1"}))
    assert loads == [] and len(llama_solver.MODELS) == 0


def test_the_plugin_module_exports_the_process_cache():
    assert llama_solver.MODELS is llama_load.MODELS and isinstance(MODELS, ModelCache)
