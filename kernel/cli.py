"""The ``cgr`` command line: the kernel's own commands (``run``, ``plugins``, ``--version``); every
other command comes from a plugin through ``register_commands`` (loaded when first needed)."""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path
from typing import Any

import click

from cgr.kernel import __version__, manager
from cgr.kernel.api import PluginConfigError, ReportRequest, SolverError
from cgr.kernel.bundle import BundleError
from cgr.kernel.manager import FAMILIES, PluginError, Plugins, UnknownPluginError
from cgr.kernel.options import key_values, limit_options
from cgr.kernel.records import Record, RunManifest
from cgr.kernel.store import StoreError
from cgr.sandbox import Limits

KERNEL_COMMANDS = ("run", "plugins")
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


# ---------------------------------------------------------------------------------- run -------
@main.command(
    epilog="\b\nExamples:\n  cgr run --limit 40 --out first-run\n"
    "  cgr run --bundle items.jsonl --strategy pmi --direct-mode grammar --out runs/pmi"
)
@click.option(
    "--bundle", type=click.Path(dir_okay=False, path_type=Path), help="JSONL bundle (default: shipped sample)."
)
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N items.")
@click.option("--task", "tasks", multiple=True, help="Only items of this task (repeatable; before --limit).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("cgr-run"), show_default=True)
@click.option("--solver", default="llama", show_default=True, help="Solver plugin name (see `cgr plugins`).")
@click.option("--model", help="Embedded model name or a GGUF path (solver-specific).")
@click.option(
    "--solver-option",
    "solver_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Solver-specific option (repeatable), e.g. base_url=http://127.0.0.1:8000/v1.",
)
@click.option("--gpu-layers", type=int, help="Layers to offload (default: all when llama.cpp has a GPU).")
@click.option(
    "--threads",
    "n_threads",
    type=click.IntRange(1, 256),
    help="Solver CPU threads (default: the CPUs this process may use, at most 8).",
)
@click.option("--generator", default="template", show_default=True, help="Generator plugin name.")
@click.option(
    "--strategy",
    help="Generator strategy (template: per_option, pmi, letter, elimination, decomposition, numeric, vote).",
)
@click.option("--generator-model", help="Model of a model-backed generator (llm): embedded name or GGUF path.")
@click.option(
    "--generator-solver",
    help="The solver plugin a model-backed generator (llm) writes programs with, e.g. openai (default: llama).",
)
@click.option(
    "--generator-option",
    "generator_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Generator-specific option (repeatable), e.g. base_url=http://host:8000/v1 or dir=PROGRAMS (files).",
)
@click.option(
    "--direct-mode",
    "direct_modes",
    type=click.Choice(["generate", "grammar", "logprobs", "cloze", "cloze_raw"]),
    multiple=True,
    help="How the direct channel answers (repeatable: the first is the primary mode, the others are recorded "
    "beside it and reported; default generate).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@limit_options
@click.option(
    "--budget-baseline",
    is_flag=True,
    help="Also answer each item by self-consistency with as many direct samples as the scaffold made solver calls.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Items processed at once (for served models; records stay in bundle order).",
)
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --out.")
@click.option(
    "--quiet", "-q", is_flag=True, help="No progress: no bar, spinner or per-item lines (warnings still shown)."
)
def run(
    bundle: Path | None,
    limit: int | None,
    tasks: tuple[str, ...],
    out: Path,
    solver: str,
    model: str | None,
    solver_options: tuple[str, ...],
    gpu_layers: int | None,
    n_threads: int | None,
    generator: str,
    strategy: str | None,
    generator_model: str | None,
    generator_solver: str | None,
    generator_options: tuple[str, ...],
    direct_modes: tuple[str, ...],
    seed: int,
    limits: Limits,
    budget_baseline: bool,
    workers: int,
    resume: bool,
    quiet: bool,
) -> None:
    """Answer every item on the direct, assisted and generator-side channels; write run.json and records.jsonl."""
    from pydantic import ValidationError

    from cgr.kernel import pipeline
    from cgr.kernel.config import RunConfig
    from cgr.kernel.progress import RunDisplay
    from cgr.kernel.store import count_records, read_records

    try:
        config = RunConfig(
            bundle=bundle,
            limit=limit,
            tasks=list(tasks) or None,
            out=out,
            solver=solver,
            model=model,
            gpu_layers=gpu_layers,
            n_threads=n_threads,
            solver_options=key_values(solver_options),
            generator=generator,
            strategy=strategy,
            generator_model=generator_model,
            generator_options={
                **key_values(generator_options, "--generator-option"),
                **({"solver": generator_solver} if generator_solver else {}),
            },
            direct_mode=(direct_modes or ("generate",))[0],
            direct_modes=list(direct_modes[1:]),
            seed=seed,
            resume=resume,
            workers=workers,
            limits=limits,
            budget_baseline=budget_baseline,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        raise UserError(f"{'.'.join(map(str, err['loc']))}: {err['msg']}") from None

    display = RunDisplay.for_stderr(quiet)
    warned: list[str] = []

    def progress(i: int, n: int, r: Record) -> None:
        error = pipeline.solver_error(r)
        if error and not warned:  # said at once, not after hours of items that all fail the same way
            warned.append(r.item_id)
            display.warn(f"cgr: warning: first solver error (item {r.item_id}): {error}")
        display.item(i, n, r)

    def on_start(manifest: RunManifest, todo: int, done: int) -> None:
        s, g, b = manifest.solver, manifest.generator, manifest.bundle
        offload = f"gpu_offload={s['gpu_offload']}" if "gpu_offload" in s else s.get("backend", "")
        click.echo(
            f"cgr {manifest.cgr_version}: solver {s['name']}"
            + (f" ({s['model']}" + (f", {offload}" if offload else "") + ")" if s.get("model") else "")
            + f", generator {g['name']}"
            + (f"/{g['strategy']}" if g.get("strategy") else "")
            + f", direct mode {s['mode']}; bundle {b['name']} ({b['count']} items); "
            f"{todo} to run, {done} already recorded -> {out}/",
            err=True,
        )
        display.start(todo)

    try:
        summary = pipeline.run(config, progress=progress, on_start=on_start, phase=display.phase)
    except KeyboardInterrupt:  # Ctrl-C: what is written stays, and --resume continues from there
        display.close()
        click.echo(
            f"\ncgr: interrupted: {count_records(out)} record(s) kept in {out}/records.jsonl; "
            "continue with the same command plus --resume",
            err=True,
        )
        sys.exit(130)
    finally:
        display.close()
    records = read_records(out)
    table = _root().load().reporter("table").obj
    click.echo(table(ReportRequest(records, runs=[out], seed=seed)))
    click.echo(
        f"\n{summary.written} new record(s), {summary.skipped} already recorded, {summary.total} in "
        f"{out}/records.jsonl (manifest: {out}/run.json)"
    )
    n, m = summary.direct_errors, summary.written
    if n >= 2 and 2 * n > m:  # a broken solver is an error, not a 0% score
        item_id, error = summary.first_error or ("?", "?")
        raise UserError(f"{n} of {m} items errored: first error (item {item_id}): {error}")


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


def entry() -> Any:
    """The ``cgr`` console script: ``cgr run`` runs supervised (a native crash is explained, see
    :mod:`cgr.kernel.crash`; ``CGR_NO_SUPERVISOR=1`` runs it in-process), every other command in-process."""
    import os

    from cgr.kernel import crash

    argv = sys.argv[1:]
    command = next((a for a in argv if not a.startswith("-")), None)  # after group flags (--debug)
    if os.environ.get(crash.SUPERVISED_ENV):
        crash.in_child()
    elif command == "run" and os.environ.get("CGR_NO_SUPERVISOR") != "1":
        return crash.supervise(argv)
    return main(args=argv, prog_name="cgr")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(entry())
