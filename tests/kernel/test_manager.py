import pytest

from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.manager import DEFAULT_PLUGINS, PluginError, UnknownPluginError, load_plugins


def test_builtins_register_everything(plugins):
    assert set(DEFAULT_PLUGINS) <= set(plugins.plugin_names())
    assert plugins.solver("llama").plugin == "cgr.plugins.llama_solver"
    assert plugins.solver("echo") and plugins.solver("fake")
    assert plugins.generator("template")
    assert {a.name for a in plugins.auditors()} == {"hardcode", "solver_use"}


def test_unknown_name_is_a_named_error(plugins):
    with pytest.raises(UnknownPluginError, match=r"unknown solver 'nope' \(known: echo, fake, llama, openai\)"):
        plugins.solver("nope")


def test_typo_hook_fails_loudly():
    class Typo:
        @hookimpl
        def register_solver(self, register):  # missing "s"
            pass

    with pytest.raises(PluginError, match="register_solver"):
        load_plugins(entry_points=False, extra=(Typo(),))


def test_duplicate_name_names_both_plugins():
    class Dup:
        @hookimpl
        def register_solvers(self, register):
            register("echo", lambda config: None)

    with pytest.raises(PluginError, match=r"solver 'echo' registered twice: by 'cgr.plugins.echo_solver'"):
        load_plugins(entry_points=False, extra=(Dup(),))


def test_disable_env_blocks_a_plugin(monkeypatch):
    monkeypatch.setenv("CGR_DISABLE_PLUGINS", "cgr.plugins.echo_solver")
    loaded = load_plugins(entry_points=False)
    with pytest.raises(UnknownPluginError):
        loaded.solver("echo")
    assert "cgr.plugins.echo_solver" not in loaded.plugin_names()


def test_describe_lists_builtins(plugins):
    rows = {r["name"]: r for r in plugins.describe()}
    assert rows["cgr.plugins.extractors"]["builtin"] is True
    assert "exact_label" in rows["cgr.plugins.extractors"]["extractors"]
