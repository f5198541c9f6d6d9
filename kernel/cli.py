"""The ``cgr`` command line: a thin layer over the Python API (pipeline, stats, sandbox, audit)."""

from __future__ import annotations

import errno
import json
import math
import sys
import time
from pathlib import Path

import click

from cgr.kernel import __version__
from cgr.kernel.adapters import ADAPTERS
from cgr.kernel.api import PluginConfigError, SolverError
from cgr.kernel.bundle import BundleError
from cgr.kernel.config import MAX_CALLS_MAX, MEMORY_MB_RANGE, OUTPUT_KB_RANGE, TIMEOUT_S_MAX
from cgr.kernel.manager import PluginError, UnknownPluginError
from cgr.kernel.store import StoreError


class CgrGroup(click.Group):
    """Turns the kernel's named errors into one clear line and exit status 1, and any other
    exception into one line naming its type (``cgr --debug`` shows the traceback instead)."""

    def invoke(self, ctx):  # noqa: D401 - click API
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise  # click's own: usage errors (exit 2), ctx.exit, Abort
        except (BundleError, PluginError, UnknownPluginError, SolverError, PluginConfigError, StoreError,
                _UserError) as exc:
            if ctx.params.get("debug"):
                raise
            click.echo(f"cgr: error: {exc}", err=True)
            ctx.exit(1)
        except Exception as exc:  # noqa: BLE001 - nothing unexpected ends in a bare traceback
            if ctx.params.get("debug") or isinstance(exc, OSError) and exc.errno == errno.EPIPE:
                raise  # click reports a closed pipe itself
            click.echo(f"cgr: error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", err=True)
            ctx.exit(1)


class _UserError(Exception):
    pass


class _FiniteSeconds(click.FloatRange):
    """A positive, finite number of seconds up to TIMEOUT_S_MAX (NaN and inf are usage errors)."""

    def convert(self, value, param, ctx):
        value = super().convert(value, param, ctx)
        if not math.isfinite(value) or value <= 0:
            self.fail(f"{value} is not a positive, finite number of seconds", param, ctx)
        return value


_TIMEOUT = _FiniteSeconds(0, TIMEOUT_S_MAX)


@click.group(cls=CgrGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cgr")
@click.option("--debug", is_flag=True, help="Show the traceback of an error instead of one line.")
def main(debug: bool) -> None:
    """cgr: code-guided reasoning for small language models on multiple-choice QA."""


# ---------------------------------------------------------------------------------- run -------
@main.command()
@click.option("--bundle", type=click.Path(dir_okay=False, path_type=Path), help="JSONL bundle (default: shipped sample).")
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N items.")
@click.option("--task", "tasks", multiple=True, help="Only items of this task (repeatable; before --limit).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("cgr-run"), show_default=True)
@click.option("--solver", default="llama", show_default=True, help="Solver plugin name (see `cgr plugins`).")
@click.option("--model", help="Embedded model name or a GGUF path (solver-specific).")
@click.option("--solver-option", "solver_options", multiple=True, metavar="KEY=VALUE",
              help="Solver-specific option (repeatable), e.g. base_url=http://127.0.0.1:8000/v1.")
@click.option("--gpu-layers", type=int, help="Layers to offload (default: all when llama.cpp has a GPU).")
@click.option("--threads", "n_threads", type=click.IntRange(1, 256),
              help="Solver CPU threads (default: the CPUs this process may use, at most 8).")
@click.option("--generator", default="template", show_default=True, help="Generator plugin name.")
@click.option("--strategy", help="Generator strategy (template: per_option, pmi, letter).")
@click.option("--generator-model", help="Model of a model-backed generator (llm): embedded name or GGUF path.")
@click.option("--direct-mode", type=click.Choice(["generate", "grammar", "logprobs"]), default="generate", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--timeout", "timeout_s", type=_TIMEOUT, default=30.0, show_default=True,
              help="Per-scaffold wall clock in seconds (time inside solver calls not counted).")
@click.option("--max-calls", type=click.IntRange(0, MAX_CALLS_MAX), default=64, show_default=True,
              help="Per-scaffold solver-call budget.")
@click.option("--memory-mb", type=click.IntRange(*MEMORY_MB_RANGE), default=256, show_default=True,
              help="Per-scaffold linear-memory cap.")
@click.option("--max-output-kb", type=click.IntRange(*OUTPUT_KB_RANGE), default=64, show_default=True,
              help="Per-scaffold cap on stdout and on stderr, each.")
@click.option("--fuel", type=click.IntRange(min=1), help="Per-scaffold CPU fuel (off by default; exhaustion is status fuel).")
@click.option("--budget-baseline", is_flag=True,
              help="Also answer each item by self-consistency with as many direct samples as the scaffold made solver calls.")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Items processed at once (for served models; records stay in bundle order).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --out.")
@click.option("--quiet", "-q", is_flag=True, help="No per-item progress lines.")
def run(bundle, limit, tasks, out, solver, model, solver_options, gpu_layers, n_threads, generator, strategy, generator_model, direct_mode, seed,
        timeout_s, max_calls, memory_mb, max_output_kb, fuel, budget_baseline, workers, resume, quiet):
    """Answer every item on the direct, assisted and generator-side channels; write run.json and records.jsonl."""
    from pydantic import ValidationError

    from cgr.kernel import pipeline, stats
    from cgr.kernel.config import RunConfig, SandboxLimits
    from cgr.kernel.store import count_records, read_records

    try:
        config = RunConfig(
            bundle=bundle, limit=limit, tasks=list(tasks) or None, out=out, solver=solver, model=model, gpu_layers=gpu_layers, n_threads=n_threads,
            solver_options=_options(solver_options),
            generator=generator, strategy=strategy, generator_model=generator_model, direct_mode=direct_mode, seed=seed, resume=resume,
            workers=workers,
            limits=SandboxLimits(timeout_s=timeout_s, max_calls=max_calls, memory_mb=memory_mb,
                                 max_output_bytes=max_output_kb * 1024, fuel=fuel),
            budget_baseline=budget_baseline,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        raise _UserError(f"{'.'.join(map(str, err['loc']))}: {err['msg']}") from None

    started = time.monotonic()
    warned = []

    def progress(i: int, n: int, r) -> None:
        error = pipeline.solver_error(r)
        if error and not warned:  # said at once, not after hours of items that all fail the same way
            warned.append(r.item_id)
            click.echo(f"cgr: warning: first solver error (item {r.item_id}): {error}", err=True)
        if quiet:
            return
        mark = lambda ok: "+" if ok else "-"  # noqa: E731
        elapsed = time.monotonic() - started
        eta = elapsed / i * (n - i)
        click.echo(
            f"[{i}/{n} {_clock(elapsed)} eta {_clock(eta)}] {r.item_id:<40.40} "
            f"direct={r.direct.answer or '?'}{mark(r.direct.correct)} "
            f"assisted={r.assisted.answer or '?'}{mark(r.assisted.correct)} "
            f"({r.assisted.status}, {r.assisted.calls} calls) gold={r.gold}",
            err=True,
        )

    def on_start(manifest, todo: int, done: int) -> None:
        s, g, b = manifest.solver, manifest.generator, manifest.bundle
        offload = f"gpu_offload={s['gpu_offload']}" if "gpu_offload" in s else s.get("backend", "")
        click.echo(
            f"cgr {manifest.cgr_version}: solver {s['name']}"
            + (f" ({s['model']}" + (f", {offload}" if offload else "") + ")" if s.get("model") else "")
            + f", generator {g['name']}" + (f"/{g['strategy']}" if g.get("strategy") else "")
            + f", direct mode {s['mode']}; bundle {b['name']} ({b['count']} items); "
            f"{todo} to run, {done} already recorded -> {out}/",
            err=True,
        )

    try:
        summary = pipeline.run(config, progress=progress, on_start=on_start)
    except KeyboardInterrupt:  # Ctrl-C: what is written stays, and --resume continues from there
        click.echo(f"\ncgr: interrupted: {count_records(out)} record(s) kept in {out}/records.jsonl; "
                   "continue with the same command plus --resume", err=True)
        sys.exit(130)
    records = read_records(out)
    click.echo(stats.format_table(stats.report(records, seed=seed)))
    click.echo(
        f"\n{summary.written} new record(s), {summary.skipped} already recorded, {summary.total} in "
        f"{out}/records.jsonl (manifest: {out}/run.json)"
    )
    n, m = summary.direct_errors, summary.written
    if n >= 2 and 2 * n > m:  # a broken solver is an error, not a 0% score
        item_id, error = summary.first_error or ("?", "?")
        raise _UserError(f"{n} of {m} items errored: first error (item {item_id}): {error}")


def _clock(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) for progress lines."""
    m, sec = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def _options(pairs: tuple[str, ...]) -> dict:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r}: expected KEY=VALUE", param_hint="--solver-option")
        out[key.strip()] = value
    return out


# ---------------------------------------------------------------------------------- report ----
@main.command()
@click.argument("dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table", show_default=True)
@click.option("--tau", type=float, default=0.30, show_default=True, help="Direct-signal gate A_b > tau.")
@click.option("--resamples", type=click.IntRange(min=100), default=2000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def report(dirs, fmt, tau, resamples, seed):
    """Per-cell direct vs assisted accuracy, macro partitions with paired-bootstrap 95% intervals."""
    from cgr.kernel import stats
    from cgr.kernel.store import StoreError, read_records

    records = []
    try:
        for d in dirs:
            records.extend(read_records(d))
    except StoreError as exc:
        raise _UserError(str(exc)) from None
    rep = stats.report(records, tau=tau, resamples=resamples, seed=seed)
    if fmt == "json":
        click.echo(json.dumps(rep, indent=2))
    elif fmt == "markdown":
        click.echo(stats.format_markdown(rep))
    else:
        click.echo(stats.format_table(rep))


@main.command()
@click.argument("run_a", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("run_b", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--channel", type=click.Choice(["assisted", "direct", "generator_side"]), default="assisted",
              show_default=True, help="Which channel of the two runs to compare.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--resamples", type=click.IntRange(min=100), default=2000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def compare(run_a, run_b, channel, fmt, resamples, seed):
    """Run B against run A (e.g. two generators or two models) on the items both answered:
    macro accuracy difference B - A with a paired-bootstrap 95% interval."""
    from cgr.kernel import stats
    from cgr.kernel.store import StoreError, read_records

    try:
        cmp = stats.compare(read_records(run_a), read_records(run_b), channel=channel, resamples=resamples, seed=seed)
    except (StoreError, ValueError) as exc:
        raise _UserError(str(exc)) from None
    if fmt == "json":
        click.echo(json.dumps(cmp, indent=2))
    else:
        click.echo(stats.format_comparison(cmp, str(run_a), str(run_b)))


# ---------------------------------------------------------------------------------- plugins ---
@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(as_json):
    """List installed plugins (built-in and third-party alike) and what they register."""
    from cgr.kernel.manager import FAMILIES, load_plugins

    loaded = load_plugins()
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
                click.echo(f"    {fam:<9} {name:<14} {entry.description}")


# ---------------------------------------------------------------------------------- models ----
@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def models(as_json):
    """List the embedded models of the llama solver (name, package, size, license, installed?)."""
    from cgr.plugins.llama_solver import models as embedded

    rows = embedded()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = [("name", "kind", "size", "license", "package", "state")] + [
        (r["name"] + (" (default)" if r["default"] else ""), r["kind"],
         f"{r['bytes'] / 1e6:.0f} MB" if r["bytes"] else "-", r["license"], r["package"],
         "installed" if r["installed"] else f"not installed ({r['install']})") for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    for row in table:
        click.echo("  ".join(v.rjust(w) if i == 2 else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths)))
                   + "  " + row[-1])


# ---------------------------------------------------------------------------------- audit -----
@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--item", "item_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per script/record.")
def audit(paths, item_path, as_json):
    """Audit scaffolds for hard-coding: script files, or run directories (re-audits their records)."""
    from cgr.kernel.audit import audit_paths

    item = _load_item(item_path) if item_path else None
    counts = {kind: {"clean": 0, "hard_coded": 0, "syntax_error": 0} for kind in ("scripts", "records")}
    for result in audit_paths(paths, item):
        counts["scripts" if "script" in result else "records"][result["verdict"]] += 1
        if as_json:
            click.echo(json.dumps(result))
            continue
        where = result.get("script") or result.get("item_id")
        click.echo(f"{where}: {result['verdict']}" + (f" ({result['syntax_error']})" if "syntax_error" in result
                                                       else ""))
        for f in result["findings"]:
            if f["verdict"] == "flag" and "syntax_error" not in result:
                click.echo(f"    {f['auditor']}: {f['reason']}")
    if not as_json:
        for kind, c in counts.items():
            if sum(c.values()):
                click.echo(f"{sum(c.values())} {kind}: {c['clean']} clean, {c['hard_coded']} hard_coded, "
                           f"{c['syntax_error']} unparsable")
    scripts = counts["scripts"]
    if scripts["hard_coded"] or scripts["syntax_error"]:  # a flagged script fails the command (for CI)
        sys.exit(1)


# ---------------------------------------------------------------------------------- replay ----
@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The run's bundle, if not where run.json says (its sha256 must match).")
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N records.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per record.")
def replay(run_dir, bundle, limit, as_json):
    """Re-run a run's scaffolds with their recorded solver replies (no model); exit 1 if any differs."""
    from cgr.kernel.replay import replay as replay_run
    from cgr.kernel.store import StoreError

    n = same = bare = 0
    try:
        for r in replay_run(run_dir, bundle=bundle, limit=limit):
            if r.replayed is None:  # no program (the generator failed): nothing to replay
                bare += 1
            else:
                n += 1
                same += r.match
            if as_json:
                click.echo(json.dumps(r.to_dict()))
            elif not r.match:
                click.echo(f"{r.item_id}: recorded {r.recorded}, replayed {r.replayed}"
                           + (f"; {r.divergence}" if r.divergence else ""))
    except StoreError as exc:
        raise _UserError(str(exc)) from None
    if not as_json:
        click.echo(f"{n} record(s) replayed without a model: {same} reproduced, {n - same} differ"
                   + (f"; {bare} without a program" if bare else ""))
    if same != n:
        sys.exit(1)


def _load_item(path: Path) -> dict:
    """An item file for a single scaffold: a bundle line, or just question/choices (no gold needed)."""
    from cgr.kernel.bundle import DEFAULT_LABELS, parse_item

    try:
        obj = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise BundleError(path, exc.lineno, None, f"invalid JSON: {exc.msg}") from None
    if isinstance(obj, dict):
        # The scaffold never sees the gold answer, so an item file may omit it (and id, dataset).
        obj = {"id": path.stem, "dataset": "cli", **obj}
        if "answer" not in obj and isinstance(obj.get("choices"), list) and obj["choices"]:
            labels = obj.get("labels") or list(DEFAULT_LABELS[: len(obj["choices"])])
            obj["answer"] = labels[0] if isinstance(labels, list) and labels else "A"
    return parse_item(obj, path, 1).guest_view()


# ---------------------------------------------------------------------------------- bundle ----
@main.group()
def bundle():
    """Check bundles and convert known formats into bundles."""


@bundle.command("check")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def bundle_check(path, as_json):
    """Validate a bundle (JSONL or msgpack) and summarize it; a bad item is one error line, exit 1."""
    from cgr.kernel.bundle import load_bundle

    b = load_bundle(path)
    summary = b.summary()
    if as_json:
        click.echo(json.dumps(summary))
        return
    click.echo(f"{path}: {summary['count']} valid items, sha256 {summary['sha256'][:16]}…, "
               f"manifest: {'yes' if b.manifest else 'none'}")
    for name in ("tasks", "options", "gold_position"):
        click.echo(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in summary[name].items()))
    click.echo(f"  with context: {summary['with_context']}")


@bundle.command("convert", epilog="\b\nFormats:\n" + "\n".join(
    f"  {a.name:<11} {a.description}" for a in ADAPTERS.values()))
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--from", "fmt", required=True, type=click.Choice(list(ADAPTERS)),
              help="Source format (listed below).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Bundle to write: .msgpack/.mpk for msgpack, else JSONL; manifest.json is written beside it.")
@click.option("--dataset", help="Dataset name of the items (default: the format's).")
@click.option("--task", help="Task of every item (default: per row where the format has one, else the dataset).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of per-item option shuffles (sciq).")
@click.option("--skip-invalid", is_flag=True, help="Skip rows that cannot be converted (each is listed) instead of stopping.")
@click.option("--name", help="Bundle name for the manifest (default: the output's stem).")
@click.option("--bundle-version", default="1", show_default=True, help="Bundle version for the manifest.")
@click.option("--license", "license_", help="License of the source data, for the manifest.")
@click.option("--force", is_flag=True, help="Overwrite an existing output and manifest.json.")
def bundle_convert(source, fmt, out, dataset, task, seed, skip_invalid, name, bundle_version, license_, force):
    """Convert SOURCE (JSONL, JSON array, msgpack, Parquet; CSV for mmlu-csv) into a cgr bundle."""
    from cgr.kernel.adapters import convert, write_bundle

    result = convert(source, fmt, dataset=dataset, task=task, seed=seed, skip_invalid=skip_invalid)
    for err in result.skipped:
        click.echo(f"skipped: {err}", err=True)
    manifest = {"name": name or out.stem, "version": bundle_version, "source": str(source), "format": fmt,
                "license": license_, "converted_by": f"cgr {__version__}", "seed": seed,
                "rows": result.rows, "skipped": len(result.skipped)}
    try:
        manifest_path = write_bundle(result.items, out, manifest, force=force)
    except FileExistsError as exc:
        raise _UserError(str(exc)) from None
    click.echo(f"{out}: {len(result.items)} items from {result.rows} rows ({len(result.skipped)} skipped); "
               f"manifest: {manifest_path}")


# ---------------------------------------------------------------------------------- sandbox ---
@main.group()
def sandbox():
    """Run scaffolds in the WebAssembly sandbox."""


@sandbox.command("run")
@click.argument("script", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--item", "item_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Item JSON (default: a built-in sample item).")
@click.option("--solver", default="llama", show_default=True, help="Solver plugin; `echo` needs no model.")
@click.option("--model", help="Model for the solver.")
@click.option("--timeout", "timeout_s", type=_TIMEOUT, default=30.0, show_default=True,
              help="Scaffold wall clock in seconds (time inside solver calls not counted).")
@click.option("--memory-mb", type=click.IntRange(*MEMORY_MB_RANGE), default=256, show_default=True)
@click.option("--max-calls", type=click.IntRange(0, MAX_CALLS_MAX), default=64, show_default=True)
@click.option("--max-output-kb", type=click.IntRange(*OUTPUT_KB_RANGE), default=64, show_default=True)
@click.option("--fuel", type=click.IntRange(min=1),
              help="CPU fuel (off by default); exhaustion is status timeout, error 'timeout: fuel limit of N exhausted'.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object.")
def sandbox_run(script, item_path, solver, model, timeout_s, memory_mb, max_calls, max_output_kb, fuel, seed, as_json):
    """Run SCRIPT as a scaffold; exit 0 whenever it ran, whatever it did."""
    from cgr.kernel.scaffold_run import run_script

    try:
        item = _load_item(item_path) if item_path else None
    except BundleError as exc:  # a bad --item is a usage error of this command (exit 2)
        raise click.BadParameter(str(exc), param_hint="--item") from None
    result = run_script(
        script.read_text(errors="surrogateescape"), item=item, solver=solver, model=model,
        timeout_s=timeout_s, memory_mb=memory_mb, max_calls=max_calls,
        max_output_bytes=max_output_kb * 1024, fuel=fuel, seed=seed,
    )
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(f"status: {result['status']}  answer: {result['answer']}  solver calls: {result['solver_calls']}"
               f"  elapsed: {result['elapsed_s']:.3f}s")
    if result["error"]:
        click.echo(f"error: {result['error']}")
    if result["stdout"]:
        click.echo("--- stdout ---\n" + result["stdout"].rstrip())
    if result["stderr"]:
        click.echo("--- stderr ---\n" + result["stderr"].rstrip())


def entry():
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
