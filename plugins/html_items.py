"""The item table of the ``html`` reporter: one ``<tbody class="item">`` per record, with a second row
holding a ``<details>`` (scaffold source, stdout/stderr, the solver-call trace) for the first rows.

Everything taken from a record or a bundle is hostile text (a scaffold wrote it, or echoed it): each
field is cut to a bound with a visible marker, stripped of control characters and HTML-escaped, and
the number of rows, of rows with details and of detail bytes is bounded, so the page stays bounded
whatever a run holds.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cgr.kernel.records import ASSISTED_STATUSES, Channel, Item, Record, SolverCall

FIELD_CHARS = 20_000  # one shown field (program, stdout, stderr, a reply…)
ROW_QUESTION_CHARS = 1_000  # the question in the table row (the details hold up to FIELD_CHARS)
ROW_OPTION_CHARS = 200  # one option in the table row
ROW_OPTIONS = 12  # options listed in the table row
ROW_REASON_CHARS = 500  # one audit reason in the table row
TRACE_TEXT_CHARS = 4_000  # one prompt / reply / option list of a traced solver call
TRACE_CALLS = 50  # traced calls shown per record
DETAIL_ROWS = 2_000  # rows that get details
DETAIL_CHARS = 40_000_000  # all details together
MAX_ROWS = 20_000  # rows listed at all

_CONTROL = {c: "\ufffd" for c in (*range(9), 11, *range(14, 32), 127)}


def clip(value: object, limit: int = FIELD_CHARS) -> str:
    """``value`` as text of at most ``limit`` characters plus a "…cut, N chars" marker, without control
    characters (tab, newline, form feed and carriage return stay) or unencodable surrogates."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        text = f"{text[:limit]}…cut, {len(text):,} chars"
    return text.translate(_CONTROL).encode("utf-8", "replace").decode("utf-8")


def esc(value: object, limit: int = FIELD_CHARS) -> str:
    """``value`` clipped and HTML-escaped (safe in text and in double- or single-quoted attributes)."""
    return html.escape(clip(value, limit), quote=True)


def _pre(label: str, value: object, limit: int = FIELD_CHARS, cls: str = "") -> str:
    text = value if isinstance(value, str) else str(value)
    if not text:
        return f'<div class="fld"><h4>{label}</h4><p class="empty">(empty)</p></div>'
    extra = f' class="{cls}"' if cls else ""
    head = f"<h4>{label} <small>{len(text):,} chars</small></h4>"
    return f'<div class="fld">{head}<pre{extra}>{esc(text, limit)}</pre></div>'


def generator_outcome(record: Record) -> str:
    """What the generator itself said about the item: right, wrong, no answer, or error."""
    g = record.generator_side
    if g.error:
        return "error"
    if g.answer is None:
        return "no answer"
    return "right" if g.correct else "wrong"


GENERATOR_OUTCOMES = ("right", "wrong", "no answer", "error")


def status_of(record: Record) -> str:
    """The assisted status as shown (statuses outside the known list are shown as themselves, cut)."""
    return clip(record.assisted.status, 40)


def flagged(record: Record) -> bool:
    return any(a.verdict == "flag" for a in record.audits)


def _answer_cell(channel: Channel | None) -> str:
    if channel is None:
        return '<td class="ans na">·</td>'
    if channel.answer is None:
        why = channel.error or "no answer"
        return f'<td class="ans none" title="{esc(why, 300)}">— ✗</td>'
    mark, cls = ("✓", "ok") if channel.correct else ("✗", "bad")
    return f'<td class="ans {cls}">{esc(channel.answer, 40)} {mark}</td>'


def _options(item: Item | None, gold: str) -> str:
    if item is None:
        return '<td class="opts na">·</td>'
    lis = []
    for label, choice in list(zip(item.labels, item.choices))[:ROW_OPTIONS]:
        cls = ' class="gold"' if label == gold else ""
        lis.append(f"<li{cls}><b>{esc(label, 20)}</b> {esc(choice, ROW_OPTION_CHARS)}</li>")
    more = len(item.choices) - ROW_OPTIONS
    if more > 0:
        lis.append(f"<li>… {more} more</li>")
    return f'<td class="opts"><ul>{"".join(lis)}</ul></td>'


def _audits(record: Record) -> str:
    lis = []
    for a in record.audits[:20]:
        cls = "flag" if a.verdict == "flag" else "pass"
        reason = f" — {esc(a.reason, ROW_REASON_CHARS)}" if a.reason else ""
        lis.append(f'<li class="{cls}">{esc(a.auditor, 60)}: {esc(a.verdict, 20)}{reason}</li>')
    if len(record.audits) > 20:
        lis.append(f"<li>… {len(record.audits) - 20} more</li>")
    return f'<td class="audits"><ul>{"".join(lis)}</ul></td>' if lis else '<td class="audits na">·</td>'


def _reply(reply: object) -> str:
    if isinstance(reply, list):
        return "[" + ", ".join(f"{x:.4g}" if isinstance(x, float) else str(x) for x in reply[:200]) + "]"
    return "" if reply is None else str(reply)


def _call(call: SolverCall) -> str:
    head = f"<b>{esc(call.op, 40)}</b> <small>{call.prompt_tokens} prompt + {call.completion_tokens} tokens"
    if call.truncated:
        head += f", cut to the trace bound (sha256 {esc(call.sha256 or '', 64)})"
    parts = [_pre("prompt", call.prompt, TRACE_TEXT_CHARS)]
    if call.options:
        parts.append(_pre("options", json.dumps(call.options, ensure_ascii=False, default=str), TRACE_TEXT_CHARS))
    parts.append(_pre("reply", _reply(call.reply), TRACE_TEXT_CHARS))
    if call.error:
        parts.append(_pre("error", call.error, TRACE_TEXT_CHARS, "err"))
    return f'<li>{head}</small><div class="call">{"".join(parts)}</div></li>'


def _channel_raw(name: str, ch: Channel | None) -> str:
    if ch is None or not (ch.raw or ch.error):
        return ""
    how = f" <small>(answer by {esc(ch.method, 60)})</small>" if ch.method else ""
    out = _pre(f"{name} raw reply{how}", ch.raw)
    if ch.error:
        out += _pre(f"{name} error", ch.error, cls="err")
    return out


def details(record: Record, item: Item | None) -> str:
    """The expandable part of a row: question in full when long, scaffold, output, trace."""
    a = record.assisted
    parts = []
    if item is not None and len(item.question) > ROW_QUESTION_CHARS:
        parts.append(_pre("question", item.question))
    if item is not None and item.context:
        parts.append(_pre("context", item.context))
    parts.append(_pre(f"scaffold program <small>sha256 {esc(a.program_sha256, 64)}</small>", a.program, cls="code"))
    parts.append(f'<div class="pair">{_pre("stdout", a.stdout)}{_pre("stderr", a.stderr)}</div>')
    if a.error:
        parts.append(_pre("assisted error", a.error, cls="err"))
    parts.append(_channel_raw("direct", record.direct))
    parts.append(_channel_raw("generator", record.generator_side))
    b = record.budget_matched
    if b is not None:
        votes = ", ".join(f"{esc(k, 40)}: {v}" for k, v in list(b.votes.items())[:50])
        parts.append(f"<h4>budget-matched votes</h4><p>{votes or '(none)'} <small>T={b.temperature}</small></p>")
    calls = [_call(c) for c in a.trace[:TRACE_CALLS]]
    more = len(a.trace) - TRACE_CALLS
    if more > 0:
        calls.append(f"<li>… {more:,} more calls not shown</li>")
    parts.append(f"<h4>solver calls ({len(a.trace)})</h4>")
    parts.append(f'<ol class="trace">{"".join(calls)}</ol>' if calls else '<p class="empty">(none)</p>')
    summary = f"scaffold, output and {len(a.trace)} solver call(s)"
    return f'<details><summary>{summary}</summary><div class="det">{"".join(parts)}</div></details>'


@dataclass
class Table:
    """The rendered item table and what was left out of it."""

    html: str
    rows: int
    total: int
    detailed: int
    tasks: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)


def item_table(records: list[Record], items: Mapping[str, Item], missing: str) -> Table:
    """The item table of ``records``; ``items`` joins questions by item id, ``missing`` is what the
    question column says where an item is not found."""
    budget = any(r.budget_matched is not None for r in records)
    runs = len({(r.solver, r.generator) for r in records}) > 1
    head = [
        "item",
        *(["solver · generator"] if runs else []),
        "task",
        "question",
        "options",
        "gold",
        "direct",
        "assisted",
        "generator",
    ]
    head += ["budget"] if budget else []
    head += ["status", "calls d/a", "audits"]
    ncol = len(head)
    out = [f"<thead><tr>{''.join(f'<th>{h}</th>' for h in head)}</tr></thead>"]
    absent = f'<i class="na">{esc(missing, 500)}</i>'
    detailed, detail_chars = 0, 0
    shown = records[:MAX_ROWS]
    for record in shown:
        item = items.get(record.item_id)
        gain = int(record.assisted.correct) - int(record.direct.correct)
        attrs = (
            f'data-id="{esc(record.item_id, 200)}" data-solver="{esc(record.solver, 200)}" '
            f'data-task="{esc(record.task, 200)}" data-status="{esc(status_of(record))}" '
            f'data-flag="{int(flagged(record))}" data-gain="{gain}"'
        )
        question = esc(item.question, ROW_QUESTION_CHARS) if item is not None else absent
        cells = [
            f'<td class="id">{esc(record.item_id, 200)}</td>',
            *([f'<td class="run">{esc(record.solver, 200)} · {esc(record.generator, 200)}</td>'] if runs else []),
            f"<td>{esc(record.task, 200)}</td>",
            f'<td class="q">{question}</td>',
            _options(item, record.gold),
            f'<td class="gold">{esc(record.gold, 20)}</td>',
            _answer_cell(record.direct),
            _answer_cell(record.assisted),
            _answer_cell(record.generator_side) if record.generator_side.answer is not None else _gen_none(record),
        ]
        if budget:
            cells.append(_answer_cell(record.budget_matched))
        st = status_of(record)
        st_cls = f"st-{st}" if st in ASSISTED_STATUSES else "st-other"
        cells += [
            f'<td><span class="st {st_cls}">{esc(st)}</span></td>',
            f'<td class="num">{record.direct.calls}/{record.assisted.calls}</td>',
            _audits(record),
        ]
        body = f"<tr>{''.join(cells)}</tr>"
        if detailed < DETAIL_ROWS and detail_chars < DETAIL_CHARS:
            more = details(record, item)
            detail_chars += len(more)
            detailed += 1
            body += f'<tr class="more"><td colspan="{ncol}">{more}</td></tr>'
        out.append(f'<tbody class="item" {attrs}>{body}</tbody>')
    return Table(
        html=f'<table id="items-table">{"".join(out)}</table>',
        rows=len(shown),
        total=len(records),
        detailed=detailed,
        tasks=sorted({clip(r.task, 200) for r in shown}),
        statuses=sorted({status_of(r) for r in shown}),
    )


def _gen_none(record: Record) -> str:
    """The generator column where the generator gave no answer (the common case: nothing to mark)."""
    g = record.generator_side
    if g.error:
        return f'<td class="ans none" title="{esc(g.error, 300)}">error</td>'
    return '<td class="ans na" title="the generator gave no answer">·</td>'


def select(name: str, label: str, values: Iterable[str], choices: Iterable[tuple[str, str]] = ()) -> str:
    """A filter ``<select>``: "all", the fixed ``choices`` (value, text), then ``values``."""
    opts = ['<option value="">all</option>']
    opts += [f'<option value="{esc(v)}">{esc(t)}</option>' for v, t in choices]
    opts += [f'<option value="{esc(v)}">{esc(v)}</option>' for v in values]
    return f'<label>{label} <select id="f-{name}" data-param="{name}">{"".join(opts)}</select></label>'
