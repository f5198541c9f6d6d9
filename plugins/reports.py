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
from cgr.plugins import report_matrix, stats


def _report(request: ReportRequest) -> dict[str, Any]:
    rep = stats.report(request.records, tau=request.tau, resamples=request.resamples, seed=request.seed)
    rep["matrix"] = report_matrix.matrix(request.records, resamples=request.resamples, seed=request.seed)
    return rep


def table(request: ReportRequest) -> str:
    """Plain text: assisted - best direct first, then per cell, then the macro partitions with 95% intervals;
    with several solvers, datasets or generators, the solver x dataset matrix after them."""
    rep = _report(request)
    text = format_table(rep)
    return (
        text + "\n\n" + report_matrix.format_matrix(rep["matrix"])
        if report_matrix.worth_showing(rep["matrix"])
        else text
    )


def markdown(request: ReportRequest) -> str:
    """The same tables in Markdown (e.g. for a paper's appendix)."""
    rep = _report(request)
    text = format_markdown(rep)
    if report_matrix.worth_showing(rep["matrix"]):
        text += "\n\n" + report_matrix.format_matrix_markdown(rep["matrix"])
    return text


def as_json(request: ReportRequest) -> str:
    """The report object of the DESIGN.md contract (cells, partitions, regressions) as JSON, plus the
    solver x dataset ``matrix`` (:mod:`cgr.plugins.report_matrix`)."""
    return json.dumps(_report(request), indent=2)


@hookimpl
def register_reporters(register):
    register("table", table)
    register("markdown", markdown)
    register("json", as_json)


LABELS = stats.LABELS


def _delta(r: dict) -> str:
    return f"{r['delta']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]"


def _items(n: int, what: str = "") -> str:
    return f"{n} {what + ' ' if what else ''}item{'' if n == 1 else 's'}"


def _p(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _comparisons(p: dict) -> list[tuple[str, dict]]:
    """A partition's comparisons, best direct first, labelled; the best-direct ones are left out where
    the best direct mode is the primary one (the same numbers)."""
    best, primary = p["best_direct"]["mode"], p["direct_mode"]
    out = []
    for key, label in LABELS.items():
        if key not in p["comparisons"] or (best == primary and "best_direct" in key):
            continue
        r = p["comparisons"][key]
        if key.endswith("_vs_best_direct"):
            label += f" ({best})"
        elif key.endswith("_vs_direct"):
            label += f" ({primary}{', the best direct mode' if best == primary else ''})"
        else:
            label += (
                f" ({p['macro_budget']:.3f} on {_items(p['budget_items'])}, its one-call greedy "
                f"{p['macro_budget_greedy']:.3f}, {_items(p['budget_zero_call_items'], 'zero-call')} left out)"
            )
        out.append((label, r))
    return out


def _headline(rep: dict) -> list[str]:
    """The lead lines: assisted and assisted_clean minus the best direct mode, over all cells."""
    p = rep["partitions"]["all"]
    if not p["n_cells"]:
        return ["no records"]
    best, primary, modes = p["best_direct"]["mode"], p["direct_mode"], p["direct_modes"]
    key = "_vs_best_direct" if best not in (None, primary) else "_vs_direct"
    lines = []
    for channel in ("assisted", "assisted_clean"):
        r = p["comparisons"][channel + key]
        lines.append(
            f"{channel + (' - best direct:' if best else ' - direct:'):<29} {_delta(r)}  "
            f"sign-flip p={_p(r['exact_p'])}  McNemar p={_p(r['mcnemar_p'])}"
        )
    if len(modes) > 1:
        which = ", ".join(f"{m} {v:.3f}" + (" primary" if m == primary else "") for m, v in modes.items())
        chosen = f"best direct mode: {best} (macro {which}), chosen on these data: optimistic for direct"
    elif best is None:
        chosen = f"direct modes {primary} differ between items: no best direct mode"
    else:
        chosen = f"direct mode: {best}, the only one run"
    cells = f"{p['n_cells']} cell{'' if p['n_cells'] == 1 else 's'}"
    lines.append(f"  (all {cells}, {_items(p['n_items'])}, flagged {p['flag_rate']:.1%}; {chosen})")
    return lines


def _mode_columns(rep: dict) -> list[str]:
    """Direct modes shown beside the primary ``direct`` column: those not primary in every cell."""
    return sorted({m for c in rep["cells"] for m in c["direct_modes"] if m != c["direct_mode"]})


def _cell_rows(rep: dict) -> tuple[list[tuple[str, ...]], int]:
    """The per-cell table (header first) shared by the text and Markdown formats, and how many
    leading columns are text (left-aligned)."""
    budget = any(c["budget_acc"] is not None for c in rep["cells"])
    modes = _mode_columns(rep)
    # the generator column only where there is a choice to tell apart
    gens = len({c["generator"] for c in rep["cells"]}) > 1
    header = (
        ("solver",)
        + (("generator",) if gens else ())
        + ("task", "n", "direct", *modes, "assisted", "clean", "gen")
        + (("budget",) if budget else ())
        + ("calls d/a", "tokens d/a", "no-ans d/a", "flagged")
    )
    n_text = 3 if gens else 2  # left-aligned text columns
    rows = [header]
    for c in rep["cells"]:
        mode_acc = [c["direct_modes"].get(m) for m in modes]
        rows.append(
            (
                c["solver"],
                *((c["generator"],) if gens else ()),
                c["task"],
                str(c["n"]),
                f"{c['direct_acc']:.2f}",
                *(f"{m['acc']:.2f}" + ("" if m["n"] == c["n"] else f" ({m['n']})") if m else "-" for m in mode_acc),
                f"{c['assisted_acc']:.2f}",
                f"{c['assisted_clean_acc']:.2f}",
                f"{c['generator_acc']:.2f}" if c["generator_answered"] else "-",
                *((f"{c['budget_acc']:.2f}" if c["budget_acc"] is not None else "-",) if budget else ()),
                f"{c['direct_calls']:.1f}/{c['assisted_calls']:.1f}",
                f"{c['direct_tokens']:.0f}/{c['assisted_tokens']:.0f}",
                f"{c['direct_extract_fail']}/{c['assisted_no_answer']}",
                str(c["flagged"]),
            )
        )
    return rows, n_text


def _notes(rep: dict) -> list[str]:
    return [f"interval: {rep['bootstrap']['interval']}"] + [f"warning: {w}" for w in rep.get("warnings", [])]


def format_table(rep: dict) -> str:
    """Plain text: the lead (assisted - best direct), the per-cell table, then per partition the macro
    accuracies and every comparison with its interval and p-values, regressions and warnings."""
    rows, n_text = _cell_rows(rep)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    table = [
        "  ".join(v.ljust(w) if i < n_text else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths))) for r in rows
    ]
    table.insert(1, "  ".join("-" * w for w in widths))
    lines = _headline(rep) + [""] + table + [""]
    for name, p in rep["partitions"].items():
        if not p["n_cells"]:
            lines.append(f"{name:<17} no cells")
            continue
        small = f" ({p['cells_under_30']} with < 30)" if p["cells_under_30"] else ""
        lines.append(
            f"{name:<17} cells={p['n_cells']}{small} items={p['n_items']} macro direct={p['macro_direct']:.3f} "
            f"assisted={p['macro_assisted']:.3f} clean={p['macro_assisted_clean']:.3f} "
            f"flagged={p['flag_rate']:.1%}"
        )
        for label, r in _comparisons(p):
            lines.append(
                f"  {label}: delta={_delta(r)}  sign-flip p={_p(r['exact_p'])}  McNemar p={_p(r['mcnemar_p'])}"
            )
    if rep["regressions"]:
        lines.append("regressions (assisted < direct): " + ", ".join(r["task"] for r in rep["regressions"]))
    return "\n".join(lines + _notes(rep))


def _md_line(cells: list | tuple) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def format_markdown(rep: dict) -> str:
    """The same report in Markdown (lead, cells, partitions, comparisons), e.g. for a paper's appendix."""
    rows, n_text = _cell_rows(rep)
    out = [*_headline(rep), ""]
    out += [_md_line(rows[0]), "|" + "|".join("---" if i < n_text else "---:" for i in range(len(rows[0]))) + "|"]
    out += [_md_line(r) for r in rows[1:]]
    head = ["partition", "cells", "items", "cells < 30", "macro direct", "best direct", "macro assisted"]
    out += ["", _md_line(head + ["macro assisted_clean", "flag rate"]), "|---|" + "---:|" * 8]
    for name, p in rep["partitions"].items():
        if not p["n_cells"]:
            out.append(_md_line([name, 0, 0, 0] + ["-"] * 5))
            continue
        best = p["best_direct"]
        out.append(
            _md_line(
                [name, p["n_cells"], p["n_items"], p["cells_under_30"], f"{p['macro_direct']:.3f}"]
                + [f"{best['macro']:.3f} ({best['mode']})" if best["mode"] else "-", f"{p['macro_assisted']:.3f}"]
                + [f"{p['macro_assisted_clean']:.3f}", f"{p['flag_rate']:.1%}"]
            )
        )
    out += ["", _md_line(["partition", "comparison", "delta [95% CI]", "sign-flip p", "McNemar p"])]
    out.append("|---|---|---|---:|---:|")
    for name, p in rep["partitions"].items():
        for label, r in _comparisons(p) if p["n_cells"] else []:
            out.append(_md_line([name, label, _delta(r), _p(r["exact_p"]), _p(r["mcnemar_p"])]))
    if rep["regressions"]:
        out += ["", "Regressions (assisted < direct): " + ", ".join(r["task"] for r in rep["regressions"])]
    return "\n".join(out + [""] + [f"- {n}" for n in _notes(rep)])


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
    if not cmp["n_cells"]:
        return "\n".join(lines + ["", "no items in both runs"])
    lines += [
        "",
        f"macro A={cmp['macro_a']:.3f} B={cmp['macro_b']:.3f} delta B-A={_delta(cmp)}  "
        f"sign-flip p={_p(cmp['exact_p'])}  McNemar p={_p(cmp['mcnemar_p'])}",
        f"interval: {cmp['bootstrap']['interval']}",
    ]
    return "\n".join(lines + [f"warning: {w}" for w in cmp["warnings"]])


def run_dirs(dirs: tuple[Path, ...] | list[Path]) -> list[Path]:
    """The run directories to read: a grid's output directory (``grid.json``) stands for its cells."""
    from cgr.plugins.grid import grid_cells, is_grid

    out: list[Path] = []
    try:
        for d in dirs:
            out.extend(grid_cells(d) if is_grid(d) and not (Path(d) / "records.jsonl").exists() else [Path(d)])
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    return out


def _records(dirs: tuple[Path, ...] | list[Path]) -> list:
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
        """Assisted (and assisted_clean: flagged scaffolds count as wrong) against the best direct mode of
        the run and the primary one, per cell and as macro partitions, with paired 95% intervals; a grid
        directory (grid.json) reads all its cells, and several solvers or datasets add their matrix."""
        runs = run_dirs(dirs)
        text = reporters[fmt](ReportRequest(_records(runs), runs=runs, tau=tau, resamples=resamples, seed=seed))
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
        macro accuracy difference B - A with the report's paired 95% interval and exact p-values."""
        try:
            cmp = stats.compare(_records((run_a,)), _records((run_b,)), channel=channel, resamples=resamples, seed=seed)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        if fmt == "json":
            click.echo(json.dumps(cmp, indent=2))
        else:
            click.echo(format_comparison(cmp, str(run_a), str(run_b)))
