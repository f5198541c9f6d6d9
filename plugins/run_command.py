"""The ``cgr run`` command: answer every item of a bundle and write ``run.json`` and ``records.jsonl``.

A built-in plugin like any other (``register_commands``); the console script runs it supervised
(``cgr.plugins.run_supervisor``). ``--direct-mode`` offers the registered direct modes, ``--executor`` the
registered executors. ``--config FILE`` and a repeated ``--model``/``--solver`` run a grid
(``cgr.plugins.grid_cli``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cgr.kernel.api import CommandGroup, ReportRequest
from cgr.kernel.cli import UserError
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.manager import Plugins
from cgr.kernel.records import Record, RunManifest
from cgr.plugins.run_options import key_values, limit_options
from cgr.sandbox import Limits


def run_command(plugins: Plugins) -> click.Command:
    """The ``run`` command, its ``--direct-mode`` choices those registered in ``plugins``."""
    modes = list(plugins.entries["direct_mode"])

    @click.command(
        "run",
        epilog="\b\nExamples:\n  cgr run --limit 40 --out first-run\n"
        "  cgr run --bundle items.jsonl --strategy pmi --direct-mode grammar --out runs/pmi\n"
        "  cgr run --model smollm2-135m --model gemma3-270m --limit 40 --out runs/two-models\n"
        "  cgr run --config experiment.toml --out runs/grid",
    )
    @click.option(
        "--bundle", type=click.Path(dir_okay=False, path_type=Path), help="JSONL bundle (default: shipped sample)."
    )
    @click.option("--limit", type=click.IntRange(min=1), help="Only the first N items.")
    @click.option("--task", "tasks", multiple=True, help="Only items of this task (repeatable; before --limit).")
    @click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("cgr-run"), show_default=True)
    @click.option(
        "--config",
        "config_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="An experiment file (TOML): a grid of bundles x solvers x generators into --out (see README).",
    )
    @click.option(
        "--solver",
        "solvers",
        multiple=True,
        help="Solver plugin name (see `cgr plugins`; default llama). Repeatable: a grid, one cell per solver x model.",
    )
    @click.option(
        "--model",
        "models",
        multiple=True,
        help="Embedded model name or a GGUF path (solver-specific). Repeatable: a grid, one cell per model.",
    )
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
        type=click.Choice(modes),
        multiple=True,
        help="How the direct channel answers (repeatable: the first is the primary mode, the others are recorded "
        "beside it and reported; default generate).",
    )
    @click.option("--seed", type=int, default=0, show_default=True)
    @limit_options
    @click.option(
        "--budget-baseline",
        is_flag=True,
        help="Also answer each item with the call-budget-matched baseline: as many greedy calls of each kind as the "
        "scaffold made (see README, Statistics).",
    )
    @click.option(
        "--baseline",
        "baseline",
        default=None,
        metavar="NAME",
        help="The registered baseline (register_baselines) --budget-baseline runs; implies --budget-baseline "
        "[default: budget_matched].",
    )
    @click.option(
        "--workers",
        type=click.IntRange(1, 64),
        default=1,
        show_default=True,
        help="Items processed at once (for served models; records stay in bundle order).",
    )
    @click.option(
        "--executor",
        default=None,
        help="Executor plugin that processes the items (see `cgr plugins`) [default: local; ray with --address].",
    )
    @click.option(
        "--executor-option",
        "executor_options",
        multiple=True,
        metavar="KEY=VALUE",
        help="Executor-specific option (repeatable).",
    )
    @click.option(
        "--address",
        help="The executor's cluster address (shorthand for --executor-option address=ADDR; without --executor it "
        "selects --executor ray).",
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
        config_file: Path | None,
        solvers: tuple[str, ...],
        models: tuple[str, ...],
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
        baseline: str | None,
        workers: int,
        executor: str | None,
        executor_options: tuple[str, ...],
        address: str | None,
        resume: bool,
        quiet: bool,
    ) -> None:
        """Answer every item on the direct, assisted and generator-side channels; write run.json and records.jsonl."""
        from pydantic import ValidationError

        from cgr.kernel import pipeline
        from cgr.kernel.config import RunConfig
        from cgr.kernel.store import count_records, read_records
        from cgr.plugins.run_display import RunDisplay

        if config_file is not None:  # the experiment file says everything but where, resume and quiet
            from click.core import ParameterSource

            from cgr.plugins.grid_cli import WITH_CONFIG, experiment_of, run_grid_cli

            ctx = click.get_current_context()
            given = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
            flags = [
                p.opts[0]
                for p in ctx.command.params
                if p.name and p.name not in WITH_CONFIG and ctx.get_parameter_source(p.name) in given
            ]
            run_grid_cli(experiment_of(config_file, flags), out, resume=resume, quiet=quiet, plugins=plugins)
            return
        solver, model = (solvers or ("llama",))[0], (models or (None,))[0]
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
                executor=executor or ("ray" if address is not None else "local"),
                executor_options={
                    **key_values(executor_options, "--executor-option"),
                    **({"address": address} if address is not None else {}),
                },
                limits=limits,
                budget_baseline=budget_baseline or baseline is not None,
                **({"baseline": baseline} if baseline is not None else {}),
            )
        except ValidationError as exc:
            err = exc.errors()[0]
            raise UserError(f"{'.'.join(map(str, err['loc']))}: {err['msg']}") from None

        if len(solvers) > 1 or len(models) > 1:  # the shorthand of an experiment: every solver x every model
            from cgr.plugins.grid import experiment_from_run
            from cgr.plugins.grid_cli import run_grid_cli

            for name in solvers:  # an unknown name is one line before anything runs
                plugins.solver(name)
            pairs = [(s, m) for s in solvers or ("llama",) for m in models or (None,)]
            run_grid_cli(experiment_from_run(config, pairs), out, resume=resume, quiet=quiet, plugins=plugins)
            return

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
        table = plugins.reporter("table").obj
        click.echo(table(ReportRequest(records, runs=[out], seed=seed)))
        click.echo(
            f"\n{summary.written} new record(s), {summary.skipped} already recorded, {summary.total} in "
            f"{out}/records.jsonl (manifest: {out}/run.json)"
        )
        n, m = summary.direct_errors, summary.written
        if n >= 2 and 2 * n > m:  # a broken solver is an error, not a 0% score
            item_id, error = summary.first_error or ("?", "?")
            raise UserError(f"{n} of {m} items errored: first error (item {item_id}): {error}")

    return run


@hookimpl
def register_commands(cli: CommandGroup, plugins: Plugins) -> None:
    cli.add_command(run_command(plugins))
