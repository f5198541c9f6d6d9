"""``cgr audit``: audit scaffold scripts, or re-audit every record of a run without a model.

Every registered auditor runs by default: the static ones (``hardcode``, ``solver_use``) and the
dynamic ones, which run the scaffold in the sandbox with stand-in solvers (they register with
``sandbox=True``; ``--static-only`` leaves them out). A script is audited on ``--item`` (default:
the first sample item); a run directory's records are audited on their own items, read from the
run's bundle (``--bundle`` if it moved), with the generator's stated answer given to auditors as
the host-side ``item["generator_answer"]``.
"""

from __future__ import annotations

import ast
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from cgr.kernel.chain import run_auditors, verdict_of
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.manager import Entry, Plugins, load_plugins
from cgr.kernel.records import Audit, Record
from cgr.kernel.store import RECORDS, StoreError, read_records
from cgr.plugins.run_bundle import load_run_bundle


def _as_dicts(audits: list[Audit]) -> list[dict]:
    return [{"auditor": a.auditor, "verdict": a.verdict, "reason": a.reason} for a in audits]


def needs_sandbox(entry: Entry) -> bool:
    """Whether an auditor runs the scaffold (registered with ``sandbox=True``)."""
    return bool(entry.extra.get("sandbox"))


def auditors(plugins: Plugins, *, static_only: bool = False) -> list[Entry]:
    """The auditors to run: all registered ones, or those that need no sandbox."""
    return [e for e in plugins.auditors() if not (static_only and needs_sandbox(e))]


def _record_items(path: Path, bundle: Path | None, plugins: Plugins) -> dict[str, dict[str, Any]]:
    """Guest views of the run's items by id; empty (with a warning) when the bundle cannot be found."""
    try:
        loaded = load_run_bundle(path, bundle, readers=plugins.readers())
    except StoreError as exc:
        print(f"cgr: warning: {exc}; the dynamic auditors are not run on these records", file=sys.stderr)
        return {}
    return {it.id: it.guest_view() for it in loaded.items}


def _with_generator(view: dict[str, Any] | None, record: Record) -> dict[str, Any] | None:
    if view is None:
        return None
    answer = record.generator_side.answer
    return {**view, "generator_answer": answer} if answer else view


def audit_paths(
    paths: list[Path],
    item: dict | None = None,
    plugins: Plugins | None = None,
    *,
    static_only: bool = False,
    bundle: Path | None = None,
    generator_answer: str | None = None,
) -> Iterator[dict]:
    """One result per script file, or per record for a run directory.

    A script that does not parse gets the verdict ``syntax_error`` (its ``syntax_error`` field says
    where): it cannot hard-code anything, it cannot run at all.
    """
    plugins = plugins or load_plugins()
    entries = auditors(plugins, static_only=static_only)
    dynamic = any(needs_sandbox(e) for e in entries)
    for path in map(Path, paths):
        if path.is_dir() and not (path / RECORDS).exists():
            raise StoreError(
                f"{path}: the directory holds no {RECORDS} (not a run directory; give a run's --out or script files)"
            )
        if path.is_dir():
            items = _record_items(path, bundle, plugins) if dynamic else {}
            for record in read_records(path):
                view = _with_generator(items.get(record.item_id), record)
                audits = run_auditors(plugins, record.assisted.program, view, record.assisted, entries=entries)
                yield {
                    "run": str(path),
                    "item_id": record.item_id,
                    "program_sha256": record.assisted.program_sha256,
                    "verdict": verdict_of(audits),
                    "findings": _as_dicts(audits),
                }
        else:
            program = path.read_text(errors="replace")
            view = item
            if view is None and dynamic:
                from cgr.plugins.sandbox_command import sample_item

                view = sample_item().guest_view()
            if view is not None and generator_answer:
                view = {**view, "generator_answer": generator_answer}
            audits = run_auditors(plugins, program, view, None, entries=entries)
            result = {"script": str(path), "verdict": verdict_of(audits), "findings": _as_dicts(audits)}
            try:
                ast.parse(program)
            except SyntaxError as exc:
                result.update(verdict="syntax_error", syntax_error=f"{exc.msg} (line {exc.lineno})")
            except (ValueError, RecursionError, MemoryError) as exc:
                result.update(verdict="syntax_error", syntax_error=type(exc).__name__)
            yield result


EPILOG = (
    "\b\nExamples:\n  cgr audit scaffold.py --item item.json --json\n"
    "  cgr audit scaffold.py --static-only\n  cgr audit cgr-run"
)


@hookimpl
def register_commands(cli):
    @cli.command(epilog=EPILOG)
    @click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
    @click.option(
        "--item",
        "item_path",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Item JSON for script files (default: the first sample item).",
    )
    @click.option("--static-only", is_flag=True, help="Only the auditors that do not run the scaffold.")
    @click.option(
        "--generator-answer",
        metavar="LABEL",
        help="For script files: the answer the generator stated (checked by generator_agreement).",
    )
    @click.option(
        "--bundle",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="For run directories: the run's bundle, if not where run.json says.",
    )
    @click.option("--json", "as_json", is_flag=True, help="One JSON object per script/record.")
    def audit(paths, item_path, static_only, generator_answer, bundle, as_json):
        """Audit scaffolds for hard-coding: script files, or run directories (re-audits their records).

        Runs the static auditors and the dynamic ones (the scaffold re-run in the sandbox with
        stand-in solvers, no model); --static-only skips the dynamic ones. Exit status 1 when a
        script file is flagged or does not parse (for CI); re-audited records of a run directory are
        reported and counted but do not change the exit status."""
        from cgr.plugins.sandbox_command import load_item

        item = load_item(item_path) if item_path else None
        counts = {kind: {"clean": 0, "hard_coded": 0, "syntax_error": 0} for kind in ("scripts", "records")}
        results = audit_paths(paths, item, static_only=static_only, bundle=bundle, generator_answer=generator_answer)
        for result in results:
            counts["scripts" if "script" in result else "records"][result["verdict"]] += 1
            if as_json:
                click.echo(json.dumps(result))
                continue
            where = result.get("script") or result.get("item_id")
            click.echo(
                f"{where}: {result['verdict']}" + (f" ({result['syntax_error']})" if "syntax_error" in result else "")
            )
            for f in result["findings"]:
                if f["verdict"] == "flag" and "syntax_error" not in result:
                    click.echo(f"    {f['auditor']}: {f['reason']}")
        if not as_json:
            for kind, c in counts.items():
                if sum(c.values()):
                    click.echo(
                        f"{sum(c.values())} {kind}: {c['clean']} clean, {c['hard_coded']} hard_coded, "
                        f"{c['syntax_error']} unparsable"
                    )
        scripts = counts["scripts"]
        if scripts["hard_coded"] or scripts["syntax_error"]:  # a flagged script fails the command (for CI)
            raise SystemExit(1)
