"""The ``cgr`` command line: the kernel's own command (``plugins``) and ``--version``; every other
command, ``run`` included, comes from a plugin through ``register_commands`` (loaded when first needed)."""

from __future__ import annotations

import errno
import json
import sys
from typing import Any

import click

from cgr.kernel import __version__, manager
from cgr.kernel.api import PluginConfigError, SolverError
from cgr.kernel.bundle import BundleError
from cgr.kernel.manager import FAMILIES, PluginError, Plugins, UnknownPluginError
from cgr.kernel.store import StoreError

KERNEL_COMMANDS = ("plugins",)
_NAMED_ERRORS = (BundleError, PluginError, UnknownPluginError, SolverError, PluginConfigError, StoreError)


class CgrGroup(click.Group):
    """The root group: turns the kernel's named errors into one clear line and exit status 1, and
    any other exception into one line naming its type (``cgr --debug`` shows the traceback instead).
    Plugin commands are added the first time a command outside the kernel's is looked up."""

    plugins: Plugins | None = None

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Each invocation loads the plugins afresh (``main`` may be called many times in a process)."""
        self.plugins = None
        self.commands = {name: cmd for name, cmd in self.commands.items() if name in KERNEL_COMMANDS}
        return super().main(*args, **kwargs)

    def load(self) -> Plugins:
        """The loaded plugins, with their commands added to this group (once per invocation)."""
        if self.plugins is None:
            self.plugins = manager.load_plugins()
            self.plugins.add_commands(self, reserved=KERNEL_COMMANDS)
        return self.plugins

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in KERNEL_COMMANDS:
            self.load()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        try:
            self.load()
        except PluginError as exc:  # `cgr --help` still works, and says why commands are missing
            click.echo(f"cgr: error: {exc}", err=True)
        return super().list_commands(ctx)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.UsageError, click.exceptions.Exit, click.exceptions.Abort):
            raise  # click's own: usage errors (exit 2), ctx.exit, Abort
        except click.exceptions.ClickException as exc:  # a command's own error: the same one line
            if ctx.params.get("debug"):
                raise
            click.echo(f"cgr: error: {exc.format_message()}", err=True)
            ctx.exit(exc.exit_code)
        except (*_NAMED_ERRORS, UserError) as exc:
            if ctx.params.get("debug"):
                raise
            click.echo(f"cgr: error: {exc}", err=True)
            ctx.exit(1)
        except Exception as exc:  # noqa: BLE001 - nothing unexpected ends in a bare traceback
            if ctx.params.get("debug") or isinstance(exc, OSError) and exc.errno == errno.EPIPE:
                raise  # click reports a closed pipe itself
            click.echo(f"cgr: error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", err=True)
            ctx.exit(1)


class UserError(Exception):
    """A command's own one-line error (exit 1)."""


@click.group(
    cls=CgrGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="\b\nExample:\n  cgr run --limit 10 --out first-run && cgr report first-run",
)
@click.version_option(__version__, prog_name="cgr")
@click.option("--debug", is_flag=True, help="Show the traceback of an error instead of one line.")
def main(debug: bool) -> None:
    """cgr: code-guided reasoning for small language models on multiple-choice QA."""


def _root() -> CgrGroup:
    root = click.get_current_context().find_root().command
    assert isinstance(root, CgrGroup)
    return root


# ---------------------------------------------------------------------------------- plugins ---
@main.command(epilog="\b\nExample:\n  cgr plugins --json | jq '.[] | select(.builtin | not)'")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(as_json: bool) -> None:
    """List installed plugins (built-in and third-party alike) and what they register."""
    loaded = _root().load()
    rows = loaded.describe()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        origin = "built-in" if row["builtin"] else (row["distribution"] or "third-party")
        click.echo(f"{row['name']}  ({origin})")
        for fam in FAMILIES:
            for name in row.get(fam + "s", []):
                entry = loaded.get(fam, name)
                click.echo(
                    f"    {fam:<9} {name:<14} {entry.description}"
                    + (f" (replaces {entry.replaces}'s)" if entry.replaces else "")
                )


#: Entry-point group of launchers: name = a command, value = ``fn(argv) -> int | None`` called by the
#: console script before that command runs; an int is the exit status, None runs the command here.
LAUNCHERS = "cgr.launchers"


def entry() -> Any:
    """The ``cgr`` console script. A command with a launcher goes through it first: ``cgr run`` runs
    supervised (its launcher, ``run_supervisor``: a native crash is explained; ``CGR_NO_SUPERVISOR=1``
    runs it in-process)."""
    import importlib.metadata

    argv = sys.argv[1:]
    command = next((a for a in argv if not a.startswith("-")), None)  # after group flags (--debug)
    for launcher in importlib.metadata.entry_points(group=LAUNCHERS, name=command or ""):
        status = launcher.load()(argv)
        if status is not None:
            return status
    return main(args=argv, prog_name="cgr")


if __name__ == "__main__":  # pragma: no cover - the supervised child (``python -m cgr.kernel.cli``)
    # run the imported module, not this ``__main__`` copy: plugins raise ``cgr.kernel.cli.UserError``,
    # which the copy's group would not recognise as its own one-line error
    from cgr.kernel.cli import entry as _entry

    sys.exit(_entry())
