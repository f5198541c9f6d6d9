"""Running what plugins registered on one piece of text or one program: the extractor chain and
the auditors. Both bound what they hand to plugins and survive plugins that misbehave."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cgr.kernel.manager import Entry, Plugins
from cgr.kernel.records import AssistedChannel, Audit

#: The most text any extractor sees. Guest output is hostile and unbounded; a scaffold's final
#: answer line is at the end of its output, so longer text is cut to its last this-many characters.
MAX_EXTRACT_CHARS = 32_000


def extract_label(
    chain: Iterable[Entry], text: str, labels: list[str], choices: list[str]
) -> tuple[str | None, str | None]:
    """Run the extractor chain: ``(label, extractor_name)`` of the first hit, else ``(None, None)``.

    Text longer than ``MAX_EXTRACT_CHARS`` is cut to its last ``MAX_EXTRACT_CHARS`` characters
    before any extractor runs, which bounds the work per call even for a third-party extractor.
    """
    text = text[-MAX_EXTRACT_CHARS:]
    for entry in chain:
        label = entry.obj(text, labels, choices)
        if label is not None:
            if label not in labels:  # a buggy extractor must not invent labels
                continue
            return str(label), entry.name
    return None, None


def run_auditors(
    plugins: Plugins,
    program: str,
    item: dict[str, Any] | None,
    assisted: AssistedChannel | None = None,
    *,
    entries: Iterable[Entry] | None = None,
) -> list[Audit]:
    """Each auditor's verdict, in order: ``entries``, or every registered auditor (a crashing auditor
    is itself a flag)."""
    out = []
    for entry in plugins.auditors() if entries is None else entries:
        try:
            verdict, reason = entry.obj(program, item, assisted)
        except Exception as exc:  # noqa: BLE001 - a broken auditor is a finding, not a crash
            verdict, reason = "flag", f"auditor failed: {type(exc).__name__}: {exc}"
        out.append(Audit(auditor=entry.name, verdict=verdict, reason=reason))
    return out


def verdict_of(audits: list[Audit]) -> str:
    """``hard_coded`` when any auditor flags, else ``clean``."""
    return "hard_coded" if any(a.verdict == "flag" for a in audits) else "clean"
