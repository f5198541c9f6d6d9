"""``cgr audit``: audit scaffold scripts, or re-audit every record of a run without a model."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path

import click

from cgr.kernel.chain import run_auditors, verdict_of
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.manager import Plugins, load_plugins
from cgr.kernel.records import Audit
from cgr.kernel.store import RECORDS, StoreError, read_records


def _as_dicts(audits: list[Audit]) -> list[dict]:
    return [{"auditor": a.auditor, "verdict": a.verdict, "reason": a.reason} for a in audits]


def audit_paths(paths: list[Path], item: dict | None = None, plugins: Plugins | None = None) -> Iterator[dict]:
    """One result per script file, or per record for a run directory.

    A script that does not parse gets the verdict ``syntax_error`` (its ``syntax_error`` field says
    where): it cannot hard-code anything, it cannot run at all.
    """
    plugins = plugins or load_plugins()
    for path in map(Path, paths):
        if path.is_dir() and not (path / RECORDS).exists():
            raise StoreError(
                f"{path}: the directory holds no {RECORDS} (not a run directory; give a run's --out or script files)"
            )
        if path.is_dir():
            for record in read_records(path):
                audits = run_auditors(plugins, record.assisted.program, item, record.assisted)
                yield {
                    "run": str(path),
                    "item_id": record.item_id,
                    "program_sha256": record.assisted.program_sha256,
                    "verdict": verdict_of(audits),
                    "findings": _as_dicts(audits),
                }
        else:
            program = path.read_text(errors="replace")
            audits = run_auditors(plugins, program, item, None)
            result = {"script": str(path), "verdict": verdict_of(audits), "findings": _as_dicts(audits)}
            try:
                ast.parse(program)
            except SyntaxError as exc:
                result.update(verdict="syntax_error", syntax_error=f"{exc.msg} (line {exc.lineno})")
            yield result


@hookimpl
def register_commands(cli):
    @cli.command(epilog="\b\nExamples:\n  cgr audit scaffold.py --item item.json --json\n  cgr audit cgr-run")
    @click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
    @click.option("--item", "item_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--json", "as_json", is_flag=True, help="One JSON object per script/record.")
    def audit(paths, item_path, as_json):
        """Audit scaffolds for hard-coding: script files, or run directories (re-audits their records).

        Exit status 1 when a script file is flagged or does not parse (for CI); re-audited records of
        a run directory are reported and counted but do not change the exit status."""
        from cgr.plugins.sandbox_command import load_item

        item = load_item(item_path) if item_path else None
        counts = {kind: {"clean": 0, "hard_coded": 0, "syntax_error": 0} for kind in ("scripts", "records")}
        for result in audit_paths(paths, item):
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
