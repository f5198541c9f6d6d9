"""The hook families and their registrars: one pluggy call per hook, clashes, replacement, commands."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from cgr.kernel import hookspecs
from cgr.kernel.api import ReportRequest
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.manager import HOOKS, PluginError, load_plugins


class Replacer:
    """Replaces the built-in echo solver and the table reporter on purpose."""

    @hookimpl
    def register_solvers(self, register):
        register("echo", lambda config: "mine", replace=True)

    @hookimpl
    def register_reporters(self, register):
        register("table", lambda request: f"{len(request.records)} records", replace=True)


def test_replace_true_wins_whatever_the_order_and_is_shown():
    loaded = load_plugins(entry_points=False, extra=(Replacer(),))
    entry = loaded.solver("echo")
    assert entry.obj(None) == "mine" and entry.replaces == "cgr.plugins.echo_solver"
    assert loaded.reporter("table").obj(ReportRequest([])) == "0 records"
    row = next(r for r in loaded.describe() if r["name"] == "Replacer")
    assert row["replaces"] == ["reporter table (of cgr.plugins.reports)", "solver echo (of cgr.plugins.echo_solver)"]


def test_two_replacements_of_one_name_are_an_error_naming_both():
    class Other(Replacer):
        pass

    with pytest.raises(PluginError, match=r"solver 'echo' registered twice: .*Replacer'.*Other'.*both with replace"):
        load_plugins(entry_points=False, extra=(Replacer(), Other()))


def _register_from_a_helper(register):
    register("helper-made", lambda text, labels, choices: None, order=5)


def test_the_registering_plugin_is_found_even_through_a_helper_function():
    class Indirect:
        @hookimpl
        def register_extractors(self, register):
            _register_from_a_helper(register)

    loaded = load_plugins(entry_points=False, extra=(Indirect(),))
    assert loaded.get("extractor", "helper-made").plugin.endswith("Indirect")
    assert loaded.extractors()[0].name == "helper-made"  # order 5 runs first


def test_every_family_is_called_once_through_pluggy_so_wrappers_see_it():
    seen: list[str] = []

    class Tracer:
        pass

    for name in set(HOOKS.values()) - {"register_commands"}:

        def wrapper(self, name=name, **kwargs):
            seen.append(name)
            return (yield)

        wrapper.__name__ = name
        setattr(Tracer, name, hookimpl(wrapper=True)(wrapper))
    load_plugins(entry_points=False, extra=(Tracer(),))
    assert sorted(seen) == sorted(set(HOOKS.values()) - {"register_commands"})


def test_hookspecs_are_typed_with_the_registrar_protocols():
    from cgr.kernel import api

    for name in set(HOOKS.values()):
        fn = getattr(hookspecs, name)
        for param, annotation in fn.__annotations__.items():
            if param != "return" and annotation != "Plugins":
                assert isinstance(getattr(api, annotation), type), (name, annotation)


class Commands:
    @hookimpl
    def register_commands(self, cli, plugins):
        @cli.command()
        def hello():
            """Say hello."""
            click.echo(f"hello, {len(plugins.all('solver'))} solvers")


def test_a_plugin_command_is_added_and_attributed():
    loaded = load_plugins(entry_points=False, extra=(Commands(),))
    group = click.Group("cgr")
    loaded.add_commands(group, reserved=("plugins",))
    assert loaded.get("command", "hello").plugin == "Commands"
    assert loaded.get("command", "report").plugin == "cgr.plugins.reports"
    result = CliRunner().invoke(group, ["hello"])
    assert result.exit_code == 0 and result.output.startswith("hello, ")


def test_a_plugin_cannot_take_a_kernel_command():
    class Taker:
        @hookimpl
        def register_commands(self, cli):
            @cli.command("plugins")
            def plugins():
                pass

    loaded = load_plugins(entry_points=False, extra=(Taker(),))
    with pytest.raises(PluginError, match=r"plugin '\S*Taker' registered command 'plugins', which is the kernel's own"):
        loaded.add_commands(click.Group("cgr"), reserved=("plugins",))


def test_a_command_clash_needs_replace_command():
    class Clash:
        @hookimpl
        def register_commands(self, cli):
            @cli.command("report")
            def report():
                click.echo("mine")

    loaded = load_plugins(entry_points=False, extra=(Clash(),))
    with pytest.raises(
        PluginError, match=r"command 'report' registered twice: by 'cgr.plugins.reports' and by '\S*Clash'"
    ):
        loaded.add_commands(click.Group("cgr"))

    class Replace:
        @hookimpl
        def register_commands(self, cli):
            cli.replace_command(click.Command("report", callback=lambda: click.echo("mine")))

    loaded = load_plugins(entry_points=False, extra=(Replace(),))
    group = click.Group("cgr")
    loaded.add_commands(group)
    assert CliRunner().invoke(group, ["report"]).output == "mine\n"
    assert loaded.get("command", "report").replaces == "cgr.plugins.reports"


def test_the_real_cli_lists_plugin_commands_and_runs_them(tmp_path):
    from cgr.kernel.cli import main

    result = CliRunner().invoke(main, ["--help"])
    for name in ("run", "plugins", "report", "compare", "replay", "audit", "bundle", "models", "sandbox"):
        assert f"\n  {name} " in result.output, name
