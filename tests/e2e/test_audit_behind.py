"""The local executor audits one item while the solver answers the next (real sandbox, fake solver)."""

from __future__ import annotations

import threading

import pytest

from cgr.kernel.api import ExecutorRequest, PluginConfigError, SolverError
from cgr.kernel.bundle import load_bundle
from cgr.kernel.channels import Engine
from cgr.kernel.config import RunConfig
from cgr.kernel.records import Record
from cgr.plugins.executor_local import local


def _summary(r: Record) -> tuple[object, ...]:
    return (
        r.item_id,
        r.solver,
        r.generator,
        r.direct.answer,
        r.assisted.answer,
        r.assisted.status,
        r.assisted.program_sha256,
        [(a.auditor, a.verdict) for a in r.audits],
    )


@pytest.fixture
def setup(plugins, toy_bundle, tmp_path):
    cfg = RunConfig(bundle=toy_bundle, out=tmp_path / "o", solver="fake")
    return cfg, Engine.from_config(cfg, plugins), load_bundle(toy_bundle).items, plugins


def test_records_equal_processing_each_item_whole(setup):
    cfg, engine, items, plugins = setup
    behind = list(local(ExecutorRequest(cfg, items, engine, plugins)))
    inline = list(local(ExecutorRequest(cfg, items, engine, plugins, {"audit_ahead": "0"})))
    whole = [engine.process(it) for it in items]
    assert [_summary(r) for r in behind] == [_summary(r) for r in inline] == [_summary(r) for r in whole]
    assert [r.item_id for r in behind] == [it.id for it in items]
    assert all(r.audits for r in behind)


def test_an_items_audits_run_while_the_next_item_is_answered(setup, monkeypatch):
    cfg, engine, items, plugins = setup
    answering: dict[str, threading.Event] = {it.id: threading.Event() for it in items}
    overlapped, threads = [], []
    answer, finish = engine.answer, engine.finish

    def traced_answer(item):
        answering[item.id].set()
        return answer(item)

    def gated_finish(done):
        threads.append(threading.current_thread().name)
        following = items.index(done.item) + 1
        if following < len(items):  # waits for the next item's answer to begin: it only can if audits overlap
            overlapped.append(answering[items[following].id].wait(timeout=60))
        return finish(done)

    monkeypatch.setattr(engine, "answer", traced_answer)
    monkeypatch.setattr(engine, "finish", gated_finish)
    records = list(local(ExecutorRequest(cfg, items, engine, plugins)))
    assert [r.item_id for r in records] == [it.id for it in items]
    assert overlapped == [True] * (len(items) - 1)
    assert all(name.startswith("cgr-audit") for name in threads)


def test_audit_ahead_zero_audits_on_the_callers_thread(setup, monkeypatch):
    cfg, engine, items, plugins = setup
    threads = []
    finish = engine.finish
    monkeypatch.setattr(engine, "finish", lambda done: threads.append(threading.current_thread().name) or finish(done))
    list(local(ExecutorRequest(cfg, items, engine, plugins, {"audit_ahead": "0"})))
    assert threads == [threading.current_thread().name] * len(items)


def test_a_solver_failure_keeps_the_records_answered_before_it(setup, monkeypatch):
    cfg, engine, items, plugins = setup
    answer = engine.answer

    def failing(item):
        if item.id == items[2].id:
            raise SolverError("the server went away")
        return answer(item)

    monkeypatch.setattr(engine, "answer", failing)
    got = []
    with pytest.raises(SolverError, match="went away"):
        for record in local(ExecutorRequest(cfg, items, engine, plugins, {"audit_ahead": "2"})):
            got.append(record.item_id)
    assert got == [items[0].id, items[1].id]


@pytest.mark.parametrize("options", [{"audit_ahead": "x"}, {"audit_ahead": "-1"}, {"audit_ahead": "65"}, {"k": "v"}])
def test_bad_options_are_refused(setup, options):
    cfg, engine, items, plugins = setup
    with pytest.raises(PluginConfigError, match="executor 'local'"):
        next(local(ExecutorRequest(cfg, items, engine, plugins, options)))
