"""``cgr audit``: audit scaffold scripts, or re-audit every record of a run without a model."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator

from cgr.kernel.manager import Plugins, load_plugins
from cgr.kernel.records import Audit
from cgr.kernel.store import RECORDS, StoreError, read_records


def run_auditors(plugins: Plugins, program: str, item: dict | None, assisted=None) -> list[Audit]:
    """Every registered auditor's verdict (a crashing auditor is itself a flag)."""
    out = []
    for entry in plugins.auditors():
        try:
            verdict, reason = entry.obj(program, item, assisted)
        except Exception as exc:  # noqa: BLE001 - a broken auditor is a finding, not a crash
            verdict, reason = "flag", f"auditor failed: {type(exc).__name__}: {exc}"
        out.append(Audit(auditor=entry.name, verdict=verdict, reason=reason))
    return out


def verdict_of(audits: list[Audit]) -> str:
    """``hard_coded`` when any auditor flags, else ``clean``."""
    return "hard_coded" if any(a.verdict == "flag" for a in audits) else "clean"


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
            raise StoreError(f"{path}: the directory holds no {RECORDS} (not a run directory; give a run's --out "
                             "or script files)")
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
