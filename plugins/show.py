"""``cgr show RUN_DIR ITEM_ID``: one item's whole story, from its record and the run's bundle.

The question, the options with their labels and the gold answer; each channel's answer, whether
it was right and its raw reply; the scaffold's source, stdout and stderr; every solver call it
made (operation, prompt, options, reply, tokens); the audits. Registered by
:mod:`cgr.plugins.export`.

Most of a record is shaped by the scaffold (hostile input): control characters are shown escaped
(``\\x1b``), never sent to the terminal, and what is printed is bounded by the record's own
bounds (the sandbox's output caps, the trace bound).
"""

from __future__ import annotations

import difflib
import json
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import msgspec

from cgr.kernel.api import Reader
from cgr.kernel.records import Channel, Item, Record, SolverCall
from cgr.kernel.store import read_records
from cgr.plugins.export import CHANNELS, run_items

INDENT = "    "


def clean(text: str) -> str:
    """``text`` with control and format characters (ANSI escapes, bidi overrides…) escaped, except
    newlines and tabs."""
    out = []
    for c in text:
        if c in "\n\t" or not unicodedata.category(c).startswith("C"):
            out.append(c)
        else:
            out.append(f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
    return "".join(out)


def _block(text: str, indent: str = INDENT) -> list[str]:
    """``text`` cleaned and indented, one list entry per line (``(empty)`` for nothing)."""
    if not text:
        return [indent + "(empty)"]
    return [indent + line for line in clean(text).splitlines()]


def find_record(records: list[Record], item_id: str, where: Path | str) -> Record:
    """The record of ``item_id``; a ClickException naming how many items the run has and close ids."""
    for record in records:
        if record.item_id == item_id:
            return record
    ids = [r.item_id for r in records]
    close = difflib.get_close_matches(item_id, ids, n=5, cutoff=0.6)
    if not close:  # a bare id without its task prefix (e.g. ``Mercury_7234185``)
        close = [i for i in ids if i.endswith(item_id) or item_id in i][:5]
    hint = f"close matches: {', '.join(close)}" if close else "no close match"
    raise click.ClickException(f"{where}: no item {item_id!r} among its {len(records)} items; {hint}")


def _channel_line(name: str, ch: Channel, record: Record) -> str:
    answer = ch.answer or "-"
    verdict = "right" if ch.correct else ("no answer" if ch.answer is None else "wrong")
    parts = [
        f"{name:<15} {answer:<3} {verdict:<9}",
        f"{ch.calls} call{'s' if ch.calls != 1 else ''}",
        f"{ch.prompt_tokens}+{ch.completion_tokens} tokens",
        f"{ch.latency_s:.2f} s",
    ]
    if name == "assisted":
        parts.append(f"status {record.assisted.status}")
    if name == "direct":
        parts.append(f"mode {record.direct.mode}")
    if ch.method:
        parts.append(f"method {clean(ch.method)}")
    return "  ".join(parts)


def _call_lines(k: int, call: SolverCall) -> list[str]:
    head = f"  {k}. {clean(call.op)}  {call.prompt_tokens}+{call.completion_tokens} tokens  {call.latency_s:.2f} s"
    lines = [head, f"{INDENT}prompt:"] + _block(call.prompt, INDENT * 2)
    if call.options:
        lines.append(f"{INDENT}options: {clean(json.dumps(call.options, ensure_ascii=False))}")
    reply = call.reply if isinstance(call.reply, str) else json.dumps(call.reply)
    lines += [f"{INDENT}reply:"] + _block(reply, INDENT * 2)
    if call.error:
        lines.append(f"{INDENT}error: {clean(call.error)}")
    if call.truncated:
        lines.append(f"{INDENT}(cut to the record's trace bound; sha256 of the whole call {call.sha256})")
    return lines


def story(record: Record, item: Item | None, run: str) -> list[str]:
    """The lines ``cgr show`` prints for one record (``item``: its bundle item, if found)."""
    r = record
    lines = [
        f"item {clean(r.item_id)}  (dataset {clean(r.dataset)}, task {clean(r.task)})  run {run}",
        f"solver {clean(r.solver)}  generator {clean(r.generator)}",
        "",
    ]
    if item is None:
        lines.append("question: (the run's bundle was not found: see the warning above; --bundle PATH)")
    else:
        if item.context:
            lines += ["context:"] + _block(item.context)
        lines += ["question:"] + _block(item.question)
        for label, text in zip(item.labels, item.choices):
            mark = "*" if label == r.gold else " "
            lines.append(f"  {mark} {clean(label)}. {clean(text)}")
    lines += [f"gold: {clean(r.gold)}", "", "channels:"]
    for name in CHANNELS:
        ch: Channel | None = getattr(r, name)
        if ch is None:
            continue
        lines.append("  " + _channel_line(name, ch, r))
        if ch.error:
            lines.append(f"{INDENT}error: {clean(ch.error)}")
        if name != "assisted" and ch.raw:  # the assisted raw is its stdout, shown below
            lines += [f"{INDENT}raw:"] + _block(ch.raw, INDENT * 2)
        if name == "budget_matched" and r.budget_matched is not None:
            lines.append(f"{INDENT}votes: {json.dumps(r.budget_matched.votes)}")
    a = r.assisted
    n_lines = len(a.program.splitlines())
    lines += ["", f"scaffold ({n_lines} lines, sha256 {a.program_sha256[:16] or '-'}):"]
    lines += [f"{INDENT}{i:>3}  {clean(text)}" for i, text in enumerate(a.program.splitlines(), 1)] or [
        INDENT + "(no program)"
    ]
    lines += ["stdout:"] + _block(a.stdout) + ["stderr:"] + _block(a.stderr)
    calls = [c for c in a.trace if c.op != "extract"]
    lines += ["", f"solver calls ({len(calls)}; extractions {len(a.trace) - len(calls)}):"]
    for k, call in enumerate(a.trace, 1):
        lines += _call_lines(k, call)
    lines += ["", "audits:"]
    for audit in r.audits:
        reason = f"  {clean(audit.reason)}" if audit.reason else ""
        lines.append(f"  {clean(audit.auditor):<16} {clean(audit.verdict)}{reason}")
    if not r.audits:
        lines.append("  (none)")
    return lines


def show_command(readers: Mapping[str, Reader] | None = None) -> click.Command:
    """The ``show`` command (``readers``: the bundle readers of the loaded plugins)."""

    @click.command(
        "show",
        epilog="\b\nExamples:\n  cgr show cgr-run arc_easy/Mercury_7234185\n"
        "  cgr show cgr-run arc_easy/Mercury_7234185 --json | jq .record.assisted.trace",
    )
    @click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
    @click.argument("item_id")
    @click.option(
        "--bundle",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="The run's bundle, if not where run.json says (its sha256 must match).",
    )
    @click.option("--json", "as_json", is_flag=True, help="The item and its record as one JSON object.")
    def show(run_dir: Path, item_id: str, bundle: Path | None, as_json: bool) -> None:
        """One item's whole story: question, options, gold, each channel's answer, the scaffold, its
        output, every solver call and the audits."""
        record = find_record(read_records(run_dir), item_id, run_dir)
        item = run_items(run_dir, bundle, readers=readers).get(record.item_id)
        if as_json:
            obj: dict[str, Any] = {
                "run": str(run_dir),
                "item": msgspec.to_builtins(item) if item else None,
                "record": msgspec.to_builtins(record),
            }
            click.echo(json.dumps(obj, ensure_ascii=True))
            return
        click.echo("\n".join(story(record, item, str(run_dir))))

    return show
