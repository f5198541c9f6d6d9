"""The executor and direct-mode hook families: registration, clashes, replacement, the run's checks (fast)."""

from __future__ import annotations

import pytest

from cgr.kernel.api import DirectAnswer
from cgr.kernel.config import RunConfig
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.manager import DEFAULT_PLUGINS, PluginError, UnknownPluginError, load_plugins
from cgr.kernel.pipeline import run

BUILTINS = DEFAULT_PLUGINS + tuple(
    m for m in ("cgr.plugins.executor_local", "cgr.plugins.direct_modes") if m not in DEFAULT_PLUGINS
)


def first_label(solver, chain, item, *, max_tokens, cache):
    """Always the first option."""
    return DirectAnswer(item.labels[0], "first", item.labels[0])


def no_records(request):
    """Yields nothing."""
    return iter(())


class Clash:
    @hookimpl
    def register_executors(self, register):
        register("local", no_records)

    @hookimpl
    def register_direct_modes(self, register):
        register("generate", first_label)


class Replace:
    @hookimpl
    def register_executors(self, register):
        register("local", no_records, replace=True)

    @hookimpl
    def register_direct_modes(self, register):
        register("generate", first_label, replace=True, prompt_version="first-v1")


def load(*extra):
    return load_plugins(builtins=BUILTINS, entry_points=False, extra=extra)


def test_the_builtins_are_registered_in_their_families():
    loaded = load()
    assert list(loaded.entries["direct_mode"]) == ["generate", "grammar", "logprobs", "cloze", "cloze_raw"]
    assert loaded.get("executor", "local").plugin == "cgr.plugins.executor_local"
    assert loaded.get("direct_mode", "cloze").extra["prompt_version"] == "cloze-v1"
    assert loaded.get("direct_mode", "generate").extra["prompt_version"] == "direct-v1"


def test_a_clash_without_replace_is_a_plugin_error_naming_both():
    class OnlyExecutor:
        @hookimpl
        def register_executors(self, register):
            register("local", no_records)

    with pytest.raises(PluginError, match=r"executor 'local' registered twice: .*executor_local.*OnlyExecutor"):
        load(OnlyExecutor())
    with pytest.raises(PluginError, match=r"registered twice: .*neither with replace=True"):
        load(Clash())

    class OnlyMode:
        @hookimpl
        def register_direct_modes(self, register):
            register("cloze", first_label)

    with pytest.raises(PluginError, match=r"direct_mode 'cloze' registered twice: .*direct_modes.*OnlyMode"):
        load(OnlyMode())


def test_replace_true_wins_and_is_shown():
    loaded = load(Replace())
    assert loaded.get("executor", "local").obj is no_records
    assert loaded.get("executor", "local").replaces == "cgr.plugins.executor_local"
    mode = loaded.get("direct_mode", "generate")
    assert mode.obj is first_label and mode.extra["prompt_version"] == "first-v1"
    row = next(r for r in loaded.describe() if r["name"] == "Replace")
    assert row["executors"] == ["local"] and row["direct_modes"] == ["generate"]


def test_unknown_executor_or_mode_fails_before_anything_is_loaded_or_written(toy_bundle, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(UnknownPluginError, match=r"^unknown executor 'nope' \(known: (.*, )?local(, .*)?\)$"):
        run(RunConfig(bundle=toy_bundle, out=out, solver="fake", executor="nope"), plugins=load())
    known = "cloze, cloze_raw, generate, grammar, logprobs"
    with pytest.raises(UnknownPluginError, match=rf"^unknown direct_mode 'nope' \(known: (.*, )?{known}(, .*)?\)$"):
        run(RunConfig(bundle=toy_bundle, out=out, solver="fake", direct_modes=["nope"]), plugins=load())
    assert not out.exists()


def test_executor_options_are_config_but_not_part_of_a_runs_identity():
    cfg = RunConfig(executor="ray", executor_options={"address": "head:6379"})
    assert cfg.model_dump()["executor_options"] == {"address": "head:6379"}
    from cgr.kernel.store import _identity

    assert "executor" not in _identity("config", cfg.model_dump()) and "executor_options" not in _identity(
        "config", cfg.model_dump()
    )
