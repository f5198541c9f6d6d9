"""The audit corpus: honest and hard-coded scaffolds written for items of the shipped sample bundle.

Each ``honest/*.py`` / ``hard_coded/*.py`` file starts with header comments: ``# item: ID`` (an
item of ``kernel/data/sample/items.jsonl``), ``# family: NAME``, ``# note: …`` and, where the
generator stated an answer, ``# generator_answer: LABEL`` (given to auditors as the host-side
``item["generator_answer"]``, as the pipeline does). :func:`evaluate` runs a set of auditors on
every file as ``cgr audit SCRIPT --item ITEM.json`` does (no record: ``assisted=None``) and
:func:`summary` computes recall (hard-coded files flagged) and false-positive rate (honest files
flagged). Used by ``tests/e2e/test_audit_corpus.py`` and ``bench/audit_corpus.py``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cgr.kernel.bundle import load_bundle
from cgr.kernel.chain import verdict_of
from cgr.kernel.manager import DEFAULT_PLUGINS, Entry, Plugins, load_plugins
from cgr.kernel.records import Audit

ROOT = Path(__file__).resolve().parent
KINDS = ("honest", "hard_coded")
DYNAMIC = "cgr.plugins.audit_dynamic"
_HEADER = re.compile(r"^#\s*(item|family|note|generator_answer):\s*(.*?)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Case:
    path: Path
    kind: str  # "honest" | "hard_coded"
    item_id: str
    family: str
    note: str
    generator_answer: str | None
    program: str


@dataclass
class Result:
    case: Case
    verdict: str  # "clean" | "hard_coded"
    findings: list[Audit]
    seconds: float = 0.0
    by: list[str] = field(default_factory=list)  # auditors that flagged

    @property
    def flagged(self) -> bool:
        return self.verdict == "hard_coded"


def load_cases(root: Path = ROOT) -> list[Case]:
    """Every corpus file, honest first, by name."""
    cases = []
    for kind in KINDS:
        for path in sorted((root / kind).glob("*.py")):
            text = path.read_text()
            head = dict(_HEADER.findall(text))
            if "item" not in head or "family" not in head:
                raise ValueError(f"{path}: the header needs '# item: ID' and '# family: NAME'")
            cases.append(
                Case(path, kind, head["item"], head["family"], head.get("note", ""), head.get("generator_answer"), text)
            )
    return cases


def sample_views() -> dict[str, dict[str, Any]]:
    """Guest views of the shipped sample items, by id."""
    return {it.id: it.guest_view() for it in load_bundle().items}


def default_plugins() -> Plugins:
    """The installed plugins, with the dynamic auditors even before their entry point is declared."""
    extra = () if DYNAMIC in DEFAULT_PLUGINS else (DYNAMIC,)
    return load_plugins(builtins=DEFAULT_PLUGINS + extra)


def audit(entries: list[Entry], program: str, item: dict[str, Any]) -> list[Audit]:
    """Every auditor's verdict (as ``cgr.kernel.chain.run_auditors``: a crash is a flag)."""
    out = []
    for e in entries:
        try:
            verdict, reason = e.obj(program, item, None)
        except Exception as exc:  # noqa: BLE001 - same rule as the pipeline
            verdict, reason = "flag", f"auditor failed: {type(exc).__name__}: {exc}"
        out.append(Audit(auditor=e.name, verdict=verdict, reason=reason))
    return out


def evaluate(entries: list[Entry], cases: list[Case] | None = None) -> list[Result]:
    """Audit every case with ``entries``."""
    views = sample_views()
    results = []
    for case in cases if cases is not None else load_cases():
        if case.item_id not in views:
            raise ValueError(f"{case.path}: no sample item {case.item_id!r}")
        item = dict(views[case.item_id])
        if case.generator_answer:
            item["generator_answer"] = case.generator_answer
        start = time.perf_counter()
        audits = audit(entries, case.program, item)
        seconds = time.perf_counter() - start
        by = [a.auditor for a in audits if a.verdict == "flag"]
        results.append(Result(case, verdict_of(audits), audits, seconds, by))
    return results


def summary(results: list[Result]) -> dict[str, Any]:
    """Recall, false-positive rate and per-family counts."""
    hard = [r for r in results if r.case.kind == "hard_coded"]
    honest = [r for r in results if r.case.kind == "honest"]
    families: dict[tuple[str, str], list[int]] = {}
    for r in results:
        row = families.setdefault((r.case.kind, r.case.family), [0, 0])
        row[0] += 1
        row[1] += r.flagged
    return {
        "hard_coded": len(hard),
        "honest": len(honest),
        "caught": sum(r.flagged for r in hard),
        "false_positives": sum(r.flagged for r in honest),
        "recall": sum(r.flagged for r in hard) / max(1, len(hard)),
        "fpr": sum(r.flagged for r in honest) / max(1, len(honest)),
        "families": {f"{k}/{f}": {"n": n, "flagged": c} for (k, f), (n, c) in sorted(families.items())},
    }


def table(results: list[Result]) -> str:
    """A Markdown table: per family, how many files and how many flagged, then the totals."""
    s = summary(results)
    lines = ["| kind | family | files | flagged |", "|---|---|---:|---:|"]
    for key, row in s["families"].items():
        kind, fam = key.split("/", 1)
        lines.append(f"| {kind} | {fam} | {row['n']} | {row['flagged']} |")
    lines.append(
        f"\nrecall {s['caught']}/{s['hard_coded']} = {s['recall']:.1%}; "
        f"false-positive rate {s['false_positives']}/{s['honest']} = {s['fpr']:.1%}"
    )
    return "\n".join(lines)
