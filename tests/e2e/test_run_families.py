"""A third-party executor and direct mode, used by ``cgr run`` and ``pipeline.run`` (real sandbox, fake solver)."""

from __future__ import annotations

import functools
import json

import pytest
from click.testing import CliRunner

from cgr.kernel import manager, pipeline
from cgr.kernel.api import DirectAnswer, SolverError
from cgr.kernel.bundle import load_bundle
from cgr.kernel.cli import main
from cgr.kernel.config import RunConfig
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.manager import DEFAULT_PLUGINS, PluginError, load_plugins
from cgr.kernel.pipeline import run
from cgr.kernel.store import read_records
from tests.plugins import fake_solver

NEW = ("cgr.plugins.run_command", "cgr.plugins.executor_local", "cgr.plugins.direct_modes")
BUILTINS = DEFAULT_PLUGINS + tuple(m for m in NEW if m not in DEFAULT_PLUGINS)


class ThirdParty:
    """A plugin as a third party writes it: an executor that runs items last-to-first (and yields
    them in order), and a direct mode that always answers the last option."""

    def __init__(self):
        self.requests = []
        self.closed = False

    @hookimpl
    def register_executors(self, register):
        register("backwards", self.backwards, description="Items last to first.")

    @hookimpl
    def register_direct_modes(self, register):
        register("last", self.last, prompt_version="last-v1")

    def backwards(self, request):
        self.requests.append(request)
        records = {it.id: request.engine.process(it) for it in reversed(request.items)}
        try:
            for item in request.items:
                yield records[item.id]
        finally:
            self.closed = True

    def last(self, solver, chain, item, *, max_tokens, cache):
        """Always the last option."""
        cache["seen"] = cache.get("seen", 0) + 1
        return DirectAnswer(item.labels[-1], "last", item.labels[-1])


@pytest.fixture
def third(monkeypatch):
    plugin = ThirdParty()
    loader = functools.partial(load_plugins, builtins=BUILTINS, extra=(fake_solver, plugin))
    monkeypatch.setattr(manager, "load_plugins", loader)  # the command line's plugins
    monkeypatch.setattr(pipeline, "load_plugins", loader)  # the run's
    return plugin


def test_cgr_run_uses_a_third_party_executor_and_direct_mode(third, toy_bundle, tmp_path):
    out = tmp_path / "run"
    args = ["run", "--bundle", toy_bundle, "--solver", "fake", "--out", out, "-q", "--direct-mode", "last"]
    args += ["--direct-mode", "generate", "--executor", "backwards", "--executor-option", "k=v", "--address", "h:1"]
    res = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "3 new record(s)" in res.output
    (request,) = third.requests
    assert request.options == {"k": "v", "address": "h:1"} and request.config.executor == "backwards"
    assert [it.id for it in request.items] == ["geo-1", "geo-2", "sci-1"] and third.closed
    records = read_records(out)
    assert [r.item_id for r in records] == ["geo-1", "geo-2", "sci-1"]
    for r in records:
        assert r.direct.mode == "last" and r.direct.answer == r.direct.raw and r.direct.method == "last"
        assert r.direct.prompt_version == "direct-v1" and "generate" in r.direct_modes
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["config"]["executor"] == "backwards" and manifest["solver"]["modes"] == ["last", "generate"]


def test_resume_with_another_executor_continues_the_same_run(third, toy_bundle, plugins, tmp_path):
    out = tmp_path / "run"
    run(RunConfig(bundle=toy_bundle, out=out, solver="fake", limit=1), plugins=plugins)
    res = CliRunner().invoke(
        main,
        ["run", "--bundle", str(toy_bundle), "--solver", "fake", "--out", str(out), "-q", "--resume"]
        + ["--executor", "backwards"],
    )
    assert res.exit_code == 0, res.output
    assert [it.id for it in third.requests[0].items] == ["geo-2", "sci-1"]
    assert [r.item_id for r in read_records(out)] == ["geo-1", "geo-2", "sci-1"]


def test_address_without_executor_selects_ray(toy_bundle, tmp_path, monkeypatch):
    class FakeRay:
        """Stands in for the built-in ray executor (replace=True): records what it was asked."""

        def __init__(self):
            self.requests = []

        @hookimpl
        def register_executors(self, register):
            register("ray", self.execute, replace=True)

        def execute(self, request):
            self.requests.append(request)
            return (request.engine.process(it) for it in request.items)

    plugin = FakeRay()
    loader = functools.partial(load_plugins, builtins=BUILTINS, extra=(fake_solver, plugin))
    monkeypatch.setattr(manager, "load_plugins", loader)
    monkeypatch.setattr(pipeline, "load_plugins", loader)
    args = ["run", "--bundle", toy_bundle, "--solver", "fake", "--out", tmp_path / "o", "-q", "--address", "h:1"]
    res = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    (request,) = plugin.requests
    assert request.config.executor == "ray" and request.options == {"address": "h:1"}
    assert len(read_records(tmp_path / "o")) == 3


def test_local_executor_refuses_options_in_one_line(third, toy_bundle, tmp_path):
    args = ["run", "--bundle", toy_bundle, "--solver", "fake", "--out", tmp_path / "o", "-q", "--address", "h:1"]
    args += ["--executor", "local"]
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert res.exit_code == 1
    last = res.output.strip().splitlines()[-1]
    assert last == "cgr: error: executor 'local' takes only the option audit_ahead (got: address)"


def test_unknown_executor_is_one_line(third, toy_bundle, tmp_path):
    res = CliRunner().invoke(main, ["run", "--bundle", str(toy_bundle), "--solver", "fake", "--executor", "nope"])
    assert res.exit_code == 1
    assert res.output.strip().startswith("cgr: error: unknown executor 'nope' (known: backwards, local")
    assert len(res.output.strip().splitlines()) == 1


def test_a_mode_that_fails_is_the_items_error_with_its_prompt_version(toy_bundle, tmp_path):
    class Broken:
        @hookimpl
        def register_direct_modes(self, register):
            register("broken", lambda solver, chain, item, *, max_tokens, cache: 1 / 0, prompt_version="b-v1")

    plugins = load_plugins(builtins=BUILTINS, entry_points=False, extra=(fake_solver, Broken()))
    out = tmp_path / "run"
    run(RunConfig(bundle=toy_bundle, out=out, solver="fake", direct_mode="broken", limit=1), plugins=plugins)
    (record,) = read_records(out)
    assert record.direct.error == "ZeroDivisionError: division by zero" and record.direct.prompt_version == "b-v1"


class Misordered:
    def __init__(self, how):
        self.how, self.closed = how, False

    @hookimpl
    def register_executors(self, register):
        register("misordered", self.execute)

    def execute(self, request):
        try:
            records = [request.engine.process(it) for it in request.items[:2]]
            if self.how == "swap":
                records.reverse()
            elif self.how == "solver-down":
                raise SolverError("the server is down")
            yield from records
            if self.how == "extra":
                yield records[0]
        finally:
            self.closed = True


@pytest.mark.parametrize(
    ("how", "error", "kept"),
    [
        ("swap", r"executor 'misordered' yielded 'geo-2' where item 'geo-1' was next", 0),
        ("extra", r"yielded 'geo-1' where no more records was next", 2),
        ("solver-down", r"the server is down", 0),
    ],
)
def test_an_executor_that_misbehaves_stops_the_run_and_is_closed(how, error, kept, toy_bundle, tmp_path):
    plugin = Misordered(how)
    plugins = load_plugins(builtins=BUILTINS, entry_points=False, extra=(fake_solver, plugin))
    out = tmp_path / "run"
    limit = 2 if how == "extra" else None
    with pytest.raises((PluginError, SolverError), match=error):
        run(RunConfig(bundle=toy_bundle, out=out, solver="fake", executor="misordered", limit=limit), plugins=plugins)
    assert plugin.closed and len(read_records(out)) == kept
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"


def test_closing_the_local_executor_cancels_items_not_started(plugins, toy_bundle, tmp_path):
    from cgr.kernel.api import ExecutorRequest
    from cgr.kernel.channels import Engine
    from cgr.plugins.executor_local import local

    cfg = RunConfig(bundle=toy_bundle, out=tmp_path / "o", solver="fake", workers=2)
    engine = Engine.from_config(cfg, plugins)
    started = []
    process = engine.process
    engine.process = lambda item: started.append(item.id) or process(item)
    items = load_bundle(toy_bundle).items * 4
    records = local(ExecutorRequest(cfg, items, engine, plugins))
    first = next(records)
    records.close()
    assert first.item_id == "geo-1" and len(started) <= 2 * 2 + 1 < len(items)
