"""Built-in reporters (``table``, ``markdown``, ``json``) and the ``report`` and ``compare`` commands.

A reporter renders a ``ReportRequest`` (records of one or more runs, statistics settings) to text;
``cgr report --format NAME`` picks one by name, so a plugin adds a format by registering a reporter.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from cgr.kernel.api import ReportRequest
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.manager import Plugins
from cgr.kernel.store import StoreError, read_records
from cgr.plugins import stats


def _report(request: ReportRequest) -> dict[str, Any]:
    return stats.report(request.records, tau=request.tau, resamples=request.resamples, seed=request.seed)


def table(request: ReportRequest) -> str:
    """Plain-text tables: per cell, then the macro partitions with 95% intervals."""
    return format_table(_report(request))


def markdown(request: ReportRequest) -> str:
    """The same tables in Markdown (e.g. for a paper's appendix)."""
    return format_markdown(_report(request))


def as_json(request: ReportRequest) -> str:
    """The report object of the DESIGN.md contract (cells, partitions, regressions) as JSON."""
    return json.dumps(_report(request), indent=2)


@hookimpl
def register_reporters(register):
    register("table", table)
    register("markdown", markdown)
    register("json", as_json)


def _cell_rows(rep: dict) -> tuple[list[tuple[str, ...]], int]:
    """The per-cell table (header first) shared by the text and Markdown formats, and how many
    leading columns are text (left-aligned)."""
    budget = any(c["budget_acc"] is not None for c in rep["cells"])
    # the generator column only where there is a choice to tell apart
    gens = len({c["generator"] for c in rep["cells"]}) > 1
    header = (
        ("solver",)
        + (("generator",) if gens else ())
        + ("task", "n", "direct", "assisted", "gen")
        + (("budget",) if budget else ())
        + ("calls d/a", "tokens d/a", "no-ans d/a", "flagged")
    )
    n_text = 3 if gens else 2  # left-aligned text columns
    rows = [header]
    for c in rep["cells"]:
        rows.append(
            (
                c["solver"],
                *((c["generator"],) if gens else ()),
                c["task"],
                str(c["n"]),
                f"{c['direct_acc']:.2f}",
                f"{c['assisted_acc']:.2f}",
                f"{c['generator_acc']:.2f}" if c["generator_answered"] else "-",
                *((f"{c['budget_acc']:.2f}" if c["budget_acc"] is not None else "-",) if budget else ()),
                f"{c['direct_calls']:.1f}/{c['assisted_calls']:.1f}",
                f"{c['direct_tokens']:.0f}/{c['assisted_tokens']:.0f}",
                f"{c['direct_extract_fail']}/{c['assisted_no_answer']}",
                str(c["flagged"]),
            )
        )
    return rows, n_text


def _partition_parts(p: dict) -> tuple[str, str, str]:
    """(delta with its interval, McNemar p, the budget-matched comparison) of one partition."""
    delta = f"{p['delta']:+.3f} [{p['ci_low']:+.3f}, {p['ci_high']:+.3f}]"
    pval = "" if p["mcnemar_p"] is None else f"{p['mcnemar_p']:.3g}"
    budget = ""
    if "macro_budget" in p:
        budget = (
            f"{p['macro_budget']:.3f}: delta={p['delta_vs_budget']:+.3f} "
            f"[{p['ci_low_vs_budget']:+.3f}, {p['ci_high_vs_budget']:+.3f}]"
        )
    return delta, pval, budget


def format_table(rep: dict) -> str:
    """A plain-text per-task table of direct vs assisted accuracy with mean solver calls and tokens."""
    rows, n_text = _cell_rows(rep)
    header = rows[0]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [
        "  ".join(v.ljust(w) if i < n_text else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths))) for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    for name, p in rep["partitions"].items():
        if not p["n_cells"]:
            lines.append(f"{name:<17} no cells")
            continue
        delta, pval, budget = _partition_parts(p)
        pval = f"  McNemar p={pval}" if pval else ""
        if budget:
            pval += f"\n{'':<17} vs budget-matched self-consistency {budget}"
        lines.append(
            f"{name:<17} cells={p['n_cells']:<3} macro direct={p['macro_direct']:.3f} "
            f"assisted={p['macro_assisted']:.3f} delta={delta}{pval}"
        )
    if rep["regressions"]:
        lines.append("regressions (assisted < direct): " + ", ".join(r["task"] for r in rep["regressions"]))
    return "\n".join(lines)


def format_markdown(rep: dict) -> str:
    """The same report as Markdown tables (cells, then partitions), e.g. for a paper's appendix."""
    rows, n_text = _cell_rows(rep)

    def line(cells) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    out = [line(rows[0]), "|" + "|".join("---" if i < n_text else "---:" for i in range(len(rows[0]))) + "|"]
    out += [line(r) for r in rows[1:]]
    budget = any("macro_budget" in p for p in rep["partitions"].values())
    head = ["partition", "cells", "macro direct", "macro assisted", "delta [95% CI]", "McNemar p"]
    out += [
        "",
        line(head + (["vs budget-matched"] if budget else [])),
        "|---|---:|---:|---:|---|---:|" + ("---|" if budget else ""),
    ]
    for name, p in rep["partitions"].items():
        if not p["n_cells"]:
            out.append(line([name, 0, "-", "-", "-", "-"] + (["-"] if budget else [])))
            continue
        delta, pval, vs_budget = _partition_parts(p)
        out.append(
            line(
                [name, p["n_cells"], f"{p['macro_direct']:.3f}", f"{p['macro_assisted']:.3f}", delta, pval or "-"]
                + ([vs_budget or "-"] if budget else [])
            )
        )
    if rep["regressions"]:
        out += ["", "Regressions (assisted < direct): " + ", ".join(r["task"] for r in rep["regressions"])]
    return "\n".join(out)


def format_comparison(cmp: dict, name_a: str = "A", name_b: str = "B") -> str:
    """The text form of :func:`compare`."""
    lines = [
        f"A = {name_a}: {'; '.join(cmp['a'])}",
        f"B = {name_b}: {'; '.join(cmp['b'])}",
        f"channel {cmp['channel']}: {cmp['n_items']} items in both runs ({cmp['only_in_a']} only in A, "
        f"{cmp['only_in_b']} only in B), {cmp['n_cells']} cells",
        "",
    ]
    rows = [("task", "n", "A", "B", "B-A")] + [
        (c["task"], str(c["n"]), f"{c['acc_a']:.2f}", f"{c['acc_b']:.2f}", f"{c['delta']:+.2f}") for c in cmp["cells"]
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines += ["  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(5, "  ".join("-" * w for w in widths))
    if cmp["n_cells"]:
        pval = "" if cmp["mcnemar_p"] is None else f"  McNemar p={cmp['mcnemar_p']:.3g}"
        lines += [
            "",
            f"macro A={cmp['macro_a']:.3f} B={cmp['macro_b']:.3f} delta B-A={cmp['delta']:+.3f} "
            f"[{cmp['ci_low']:+.3f}, {cmp['ci_high']:+.3f}]{pval}",
        ]
    else:
        lines += ["", "no items in both runs"]
    return "\n".join(lines)


def _records(dirs: tuple[Path, ...]) -> list:
    records = []
    try:
        for d in dirs:
            records.extend(read_records(d))
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    return records


@hookimpl
def register_commands(cli, plugins: Plugins):
    reporters = {e.name: e.obj for e in plugins.all("reporter")}

    @cli.command(epilog="\b\nExample:\n  cgr report cgr-run --format markdown > results.md")
    @click.argument("dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(sorted(reporters)),
        default="table",
        show_default=True,
        help="A registered reporter (see `cgr plugins`).",
    )
    @click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write the report to this file instead of standard output.",
    )
    @click.option(
        "--tau", type=float, default=stats.DEFAULT_TAU, show_default=True, help="Direct-signal gate A_b > tau."
    )
    @click.option("--resamples", type=click.IntRange(min=100), default=stats.DEFAULT_RESAMPLES, show_default=True)
    @click.option("--seed", type=int, default=0, show_default=True)
    def report(dirs, fmt, output, tau, resamples, seed):
        """Per-cell direct vs assisted accuracy, macro partitions with paired-bootstrap 95% intervals."""
        text = reporters[fmt](ReportRequest(_records(dirs), runs=list(dirs), tau=tau, resamples=resamples, seed=seed))
        if output is None:
            click.echo(text)
        else:
            output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
            click.echo(f"{output}: {fmt} report of {len(dirs)} run(s)", err=True)

    @cli.command(epilog="\b\nExample:\n  cgr compare runs/template runs/llm --channel assisted")
    @click.argument("run_a", type=click.Path(exists=True, file_okay=False, path_type=Path))
    @click.argument("run_b", type=click.Path(exists=True, file_okay=False, path_type=Path))
    @click.option(
        "--channel",
        type=click.Choice(list(stats.CHANNELS)),
        default="assisted",
        show_default=True,
        help="Which channel of the two runs to compare.",
    )
    @click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
    @click.option("--resamples", type=click.IntRange(min=100), default=stats.DEFAULT_RESAMPLES, show_default=True)
    @click.option("--seed", type=int, default=0, show_default=True)
    def compare(run_a, run_b, channel, fmt, resamples, seed):
        """Run B against run A (e.g. two generators or two models) on the items both answered:
        macro accuracy difference B - A with a paired-bootstrap 95% interval."""
        try:
            cmp = stats.compare(_records((run_a,)), _records((run_b,)), channel=channel, resamples=resamples, seed=seed)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        if fmt == "json":
            click.echo(json.dumps(cmp, indent=2))
        else:
            click.echo(format_comparison(cmp, str(run_a), str(run_b)))
