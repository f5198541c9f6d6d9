"""The baseline hook family (``register_baselines``): the built-in, clashes, replacement, what the
kernel does with a baseline's reply, and the run's check of the name (fast: no sandbox, no model)."""

from __future__ import annotations

import pytest

from cgr.kernel.api import BaselineRequest, SolverError
from cgr.kernel.channels import Engine
from cgr.kernel.config import RunConfig
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.manager import DEFAULT_PLUGINS, PluginError, UnknownPluginError, load_plugins
from cgr.kernel.pipeline import run
from cgr.kernel.records import BudgetChannel, Item
from tests.plugins.baseline_solver import BaselineTestSolver, assisted_with

PLUGIN = "cgr.plugins.budget_baseline"
BUILTINS = DEFAULT_PLUGINS + (() if PLUGIN in DEFAULT_PLUGINS else (PLUGIN,))
ITEM = Item(
    id="b-1",
    dataset="toy",
    task="toy",
    question="Which is a gas?",
    choices=["Iron", "Helium", "Salt"],
    labels=["A", "B", "C"],
    answer="B",
)


def always_c(request: BaselineRequest) -> tuple[BudgetChannel | None, str | None]:
    """Answers C with the scaffold's number of calls (and says what it was handed in ``raw``)."""
    a, r = request.assisted, request
    raw = f"{r.item.id} calls={a.calls} seed={r.seed} max_tokens={r.max_tokens} t={r.temperature}"
    return BudgetChannel(answer="C", correct=r.item.answer == "C", calls=a.calls, raw=raw, method="always_c"), None


class ReplacesBudgetMatched:
    """A third-party-style plugin: replaces the built-in on purpose."""

    @hookimpl
    def register_baselines(self, register):
        register("budget_matched", always_c, replace=True, description="always C")


class ClashesWithBudgetMatched:
    @hookimpl
    def register_baselines(self, register):
        register("budget_matched", always_c)


def load(*extra):
    return load_plugins(builtins=BUILTINS, entry_points=False, extra=extra)


def engine(plugins, **config) -> Engine:
    """An engine for ``budget_matched`` only: no generator, no sandbox (nothing here runs a scaffold)."""
    cfg = RunConfig(solver="test", budget_baseline=True, seed=3, **config)
    return Engine(plugins, BaselineTestSolver("Helium"), None, "test", "none", cfg, sandbox=None)


def test_the_builtin_is_registered_and_listed():
    loaded = load()
    entry = loaded.get("baseline", "budget_matched")
    assert entry.plugin == PLUGIN and entry.description.startswith("As many greedy calls")
    row = next(r for r in loaded.describe() if r["name"] == PLUGIN)
    assert row["baselines"] == ["budget_matched"]
    assert RunConfig().baseline == "budget_matched"


def test_the_engine_calls_the_configured_builtin():
    channel, reason = engine(load()).budget_matched(ITEM, assisted_with("logprobs", "logprobs"))
    assert reason is None and channel.method == "cloze_ensemble" and channel.answer == "B"
    assert channel.calls == 2 and channel.calls_by_kind == {"score": 2, "choice": 0, "generate": 0}
    channel, reason = engine(load()).budget_matched(ITEM, assisted_with(status="no_submit"))
    assert channel is None and "no solver call" in reason


def test_a_clash_without_replace_is_a_plugin_error_naming_both():
    with pytest.raises(
        PluginError,
        match=rf"^baseline 'budget_matched' registered twice: by '{PLUGIN}' and by 'ClashesWithBudgetMatched' "
        r"\(neither with replace=True\)$",
    ):
        load(ClashesWithBudgetMatched())


def test_replace_true_wins_is_shown_and_is_what_the_engine_uses():
    loaded = load(ReplacesBudgetMatched())
    entry = loaded.get("baseline", "budget_matched")
    assert entry.obj is always_c and entry.replaces == PLUGIN and entry.description == "always C"
    row = next(r for r in loaded.describe() if r["name"] == "ReplacesBudgetMatched")
    assert row["baselines"] == ["budget_matched"] and row["replaces"] == [f"baseline budget_matched (of {PLUGIN})"]
    eng = engine(loaded)
    channel, reason = eng.budget_matched(ITEM, assisted_with("solve", "solve", "solve"))
    assert reason is None and channel.answer == "C" and channel.method == "always_c" and channel.calls == 3
    assert channel.raw == "b-1 calls=3 seed=3 max_tokens=8 t=0.7"  # the run's settings, as the request says
    assert eng.solver.calls == []  # the built-in did not run


def test_a_second_baseline_is_chosen_by_name():
    class Adds:
        @hookimpl
        def register_baselines(self, register):
            register("always_c", always_c)

    loaded = load(Adds())
    assert sorted(e.name for e in loaded.all("baseline")) == ["always_c", "budget_matched"]
    channel, _ = engine(loaded, baseline="always_c").budget_matched(ITEM, assisted_with("solve"))
    assert channel.method == "always_c"
    channel, _ = engine(loaded).budget_matched(ITEM, assisted_with("solve"))
    assert channel.method == "greedy"


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (ValueError("bad option"), r"^baseline 'broken' failed on item 'b-1': ValueError: bad option$"),
        ((None, None), r"^baseline 'broken' on item 'b-1': not \(BudgetChannel, …\) nor \(None, reason\)$"),
        ("C", r"^baseline 'broken' failed on item 'b-1': ValueError: "),  # cannot even be unpacked
    ],
)
def test_a_broken_baseline_stops_the_run_naming_itself_and_the_item(reply, message):
    def broken(request):
        if isinstance(reply, Exception):
            raise reply
        return reply

    class Broken:
        @hookimpl
        def register_baselines(self, register):
            register("broken", broken)

    with pytest.raises(PluginError, match=message):
        engine(load(Broken()), baseline="broken").budget_matched(ITEM, assisted_with("solve"))


def test_a_solver_that_is_down_stops_the_run_as_itself():
    class Down(BaselineTestSolver):
        def complete(self, prompt, **kw):
            raise SolverError("server down")

    eng = engine(load())
    eng.solver = Down()
    with pytest.raises(SolverError, match="server down"):
        eng.budget_matched(ITEM, assisted_with("solve"))


def test_an_unknown_baseline_fails_before_the_run_starts(toy_bundle, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(UnknownPluginError, match=r"^unknown baseline 'nope' \(known: budget_matched\)$"):
        run(RunConfig(bundle=toy_bundle, out=out, solver="fake", budget_baseline=True, baseline="nope"), plugins=load())
    assert not out.exists()
