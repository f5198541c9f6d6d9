"""The ``ray`` executor on a local Ray cluster (2 CPUs): the same records as the local executor."""

from __future__ import annotations

import time

import pytest

from cgr.kernel.api import ExecutorRequest, PluginConfigError, SolverError
from cgr.kernel.config import RunConfig
from cgr.kernel.pipeline import run
from cgr.kernel.records import Item
from cgr.kernel.store import read_records
from cgr.plugins.executor_ray import Settings, init_ray, keep_trap_handlers, ray_executor
from cgr.plugins.grid import parse_experiment, run_grid
from tests.plugins_builtin.test_grid_run import comparable, grid_plugins

ray = pytest.importorskip("ray", reason="ray is not installed: pip install 'cgr[ray]' (the ray extra)")


RECURSE = "import sys\nsys.setrecursionlimit(10 ** 7)\ndef f(n):\n    return f(n + 1) + 1\nf(0)\n"
ITEM = {"question": "q", "choices": ["a", "b"], "labels": ["A", "B"]}


@pytest.fixture(scope="module")
def sandbox():
    from cgr.sandbox import Sandbox

    return Sandbox()


@pytest.fixture(scope="module")
def cluster(sandbox):
    # as in `cgr run --executor ray`: the driver's sandbox (wasmtime's trap handlers) exists before Ray starts
    from cgr.sandbox import Limits

    assert sandbox.run(RECURSE, ITEM, lambda op, args: None, Limits()).status == "error"
    init_ray(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    with keep_trap_handlers():  # ray.shutdown resets them too: later tests run scaffolds in this process
        ray.shutdown()


def both(tmp_path, **config):
    """The records of the same run with the local executor and with ray (2 actors)."""
    plugins = grid_plugins()
    run(RunConfig(out=tmp_path / "local", **config), plugins=plugins)
    options = {"actors": "2"}
    run(RunConfig(out=tmp_path / "ray", executor="ray", executor_options=options, **config), plugins=plugins)
    return read_records(tmp_path / "local"), read_records(tmp_path / "ray")


def test_ray_records_equal_the_local_executors_with_the_echo_solver(cluster, tmp_path):
    local, remote = both(tmp_path, solver="echo", limit=6, direct_modes=["logprobs", "cloze"], seed=3)
    assert len(local) == 6 and [r.item_id for r in remote] == [r.item_id for r in local]
    assert [comparable(r) for r in remote] == [comparable(r) for r in local]


def test_ray_records_equal_the_local_executors_with_the_default_model(cluster, tmp_path):
    local, remote = both(tmp_path, limit=3, strategy="pmi", direct_modes=["logprobs"])
    assert len(local) == 3 and {r.solver for r in remote} == {"llama/smollm2-135m"}
    assert [comparable(r) for r in remote] == [comparable(r) for r in local]


def test_a_grid_runs_its_cells_on_ray(cluster, tmp_path):
    text = "limit = 2\nexecutor = 'ray'\nexecutor_options = { actors = '2' }\n[[solvers]]\nplugin = 'echo'\n"
    summary = run_grid(parse_experiment(text), tmp_path / "g", plugins=grid_plugins())
    assert summary.status == "complete" and summary.cells[0].records == 2


def request(tmp_path, **config) -> ExecutorRequest:
    from cgr.kernel.bundle import load_bundle

    items: list[Item] = load_bundle(None).items[:4]
    return ExecutorRequest(
        RunConfig(out=tmp_path, **config), items, engine=None, plugins=grid_plugins(), options={"actors": "2"}
    )  # type: ignore[arg-type]


def test_a_solver_error_on_a_worker_is_raised_as_itself(cluster, tmp_path):
    with pytest.raises(SolverError, match="ray worker on .*no-such-model"):
        next(ray_executor(request(tmp_path, model="no-such-model")))


def test_closing_the_iterator_stops_the_actors(cluster, tmp_path):
    records = ray_executor(request(tmp_path, solver="echo"))
    first = next(records)
    assert first.item_id == request(tmp_path, solver="echo").items[0].id
    records.close()
    deadline = time.monotonic() + 60  # the actors' CPUs come back once they are killed
    while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ray.available_resources().get("CPU", 0) == 2


def test_options_are_checked():
    with pytest.raises(PluginConfigError, match="unknown option.*colour"):
        Settings({"colour": "red"}, 1)
    with pytest.raises(PluginConfigError, match="actors='zero' must be an integer >= 1"):
        Settings({"actors": "zero"}, 1)
    with pytest.raises(PluginConfigError, match="num_cpus is for a local start"):
        Settings({"address": "auto", "num_cpus": "4"}, 1)
    s = Settings({"gpus_per_actor": "1", "actors": "8"}, 1)
    assert (s.actors, s.window, s.gpus_per_actor, s.address) == (8, 16, 1.0, None)


def test_a_trapping_scaffold_after_ray_init_is_recorded_not_a_crash(cluster, sandbox):
    """Ray's crash handlers must not replace wasmtime's: a scaffold's stack overflow in this (driver)
    process is still the sandbox's typed outcome (with a bare ``ray.init`` the process died of SIGILL)."""
    from cgr.sandbox import Limits

    result = sandbox.run(RECURSE, ITEM, lambda op, args: None, Limits())
    assert result.status == "error" and "RecursionError" in (result.error or "")
