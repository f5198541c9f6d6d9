"""A third-party-style baseline replaces the built-in ``budget_matched`` in a real run (the sandbox runs
the scaffolds, the test-only fake solver answers): its channel is what every record gets."""

from __future__ import annotations

from cgr.kernel.api import BaselineRequest
from cgr.kernel.config import RunConfig
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.manager import load_plugins
from cgr.kernel.pipeline import run
from cgr.kernel.records import BudgetChannel
from cgr.kernel.store import read_records
from tests.plugins import fake_solver


class FirstOptionBaseline:
    """A plugin object, as a third party would ship one: answers the first option, spends no call."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int, str]] = []

    def first_option(self, request: BaselineRequest) -> tuple[BudgetChannel | None, str | None]:
        item, assisted = request.item, request.assisted
        self.seen.append((item.id, assisted.calls, assisted.status))
        label = item.labels[0]
        return BudgetChannel(answer=label, correct=label == item.answer, calls=0, method="first_option"), None

    @hookimpl
    def register_baselines(self, register):
        register("budget_matched", self.first_option, replace=True, description="the first option")


def test_a_replacing_baseline_is_what_the_records_get(toy_bundle, tmp_path):
    plugin = FirstOptionBaseline()
    plugins = load_plugins(entry_points=False, extra=(fake_solver, plugin))
    assert plugins.get("baseline", "budget_matched").replaces == "cgr.plugins.budget_baseline"
    out = tmp_path / "run"
    run(RunConfig(bundle=toy_bundle, out=out, solver="fake", budget_baseline=True), plugins=plugins)
    records = read_records(out)
    assert [r.item_id for r in records] == ["geo-1", "geo-2", "sci-1"]
    # the plugin was handed each item's own assisted channel, after the scaffold ran
    assert plugin.seen == [(r.item_id, r.assisted.calls, r.assisted.status) for r in records]
    assert all(r.assisted.calls > 0 for r in records)
    for r in records:
        assert r.budget_matched is not None and r.budget_matched_reason is None
        assert (r.budget_matched.method, r.budget_matched.answer, r.budget_matched.calls) == ("first_option", "A", 0)
        assert r.budget_matched.correct == (r.gold == "A")


class SecondOptionBaseline(FirstOptionBaseline):
    @hookimpl
    def register_baselines(self, register):
        register("second", self.second_option, description="the second option")

    def second_option(self, request: BaselineRequest) -> tuple[BudgetChannel | None, str | None]:
        label = request.item.labels[1]
        return BudgetChannel(answer=label, correct=label == request.item.answer, calls=0, method="second"), None


def test_cgr_run_baseline_names_the_baseline_and_turns_it_on(toy_bundle, tmp_path, monkeypatch):
    import functools

    from click.testing import CliRunner

    from cgr.kernel import manager, pipeline
    from cgr.kernel.cli import main

    loader = functools.partial(load_plugins, entry_points=False, extra=(fake_solver, SecondOptionBaseline()))
    monkeypatch.setattr(manager, "load_plugins", loader)
    monkeypatch.setattr(pipeline, "load_plugins", loader)
    args = ["run", "--bundle", str(toy_bundle), "--solver", "fake", "-q"]
    res = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "a"), "--baseline", "second"])
    assert res.exit_code == 0, res.output
    records = read_records(tmp_path / "a")
    assert [(r.budget_matched.method, r.budget_matched.answer) for r in records] == [("second", "B")] * 3
    res = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "b"), "--baseline", "oracle"])
    assert res.exit_code == 1
    assert (
        res.output.strip().splitlines()[-1] == "cgr: error: unknown baseline 'oracle' (known: budget_matched, second)"
    )
    assert not (tmp_path / "b" / "records.jsonl").exists()
