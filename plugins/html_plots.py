"""The four plots of the ``html`` reporter, drawn by matplotlib as inline SVG.

matplotlib is imported only when a report is drawn (``cgr`` loads every plugin at start-up). Figures
are made with ``matplotlib.figure.Figure`` directly, never through pyplot, so no GUI backend is ever
chosen and the caller's pyplot state is left alone; the SVG is deterministic (fixed ``svg.hashsalt``,
no date), stripped of comments and metadata, and its ids are prefixed per plot so that several plots
can live in one HTML page.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cgr.kernel.records import ASSISTED_STATUSES

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.typing import RcKeyType

RC: dict[RcKeyType, Any] = {
    "svg.hashsalt": "cgr-html-report",
    "svg.fonttype": "path",  # glyphs as paths: the page needs no font
    "font.family": "DejaVu Sans",  # shipped with matplotlib: the same drawing on every machine
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
MAX_CELLS = 100  # cells drawn per plot (the page says when more exist)
LABEL_CHARS = 40
GREEN, RED, GREY, BLUE, ORANGE, PURPLE = "#2a9d4b", "#d0433a", "#8a8a8a", "#3b6fb6", "#e08a1e", "#7b4fa8"
STATUS_COLORS = dict(
    zip(
        (*ASSISTED_STATUSES, "other"),
        (
            "#2a9d4b",  # ok
            "#f2c14e",  # no_submit
            "#e08a1e",  # invalid_submit
            "#d0433a",  # error
            "#9b2d86",  # syntax
            "#3b6fb6",  # timeout
            "#6fa8dc",  # fuel
            "#5b4ba0",  # memory
            "#a0522d",  # output_cap
            "#17becf",  # call_budget
            "#555555",  # generator_error
            "#bbbbbb",  # other
        ),
    )
)
OUTCOME_COLORS = {"right": GREEN, "wrong": RED, "no answer": "#cccccc", "error": "#555555"}


def short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def svg(fig: Figure, prefix: str, title: str) -> str:
    """``fig`` as an ``<svg>`` element for inline use: ids prefixed with ``prefix``, no comments."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"<metadata>.*?</metadata>", "", text, count=1, flags=re.S)
    text = text.replace(' id="', f' id="{prefix}-').replace('href="#', f'href="#{prefix}-')
    text = text.replace("url(#", f"url(#{prefix}-")
    return text.replace("<svg ", f'<svg role="img" aria-label="{title}" ', 1)


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _empty(ax: Axes, text: str = "no records") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color=GREY, fontsize=12)
    ax.set_xticks([])
    ax.set_yticks([])


def _labelled(ax: Axes, xs: Sequence[float], ys: Sequence[float], labels: Sequence[str], right: float) -> None:
    """Label each point; points at the same place share one label (up to 3 names, then a count), and
    labels of points in the right part of the axes (x > ``right``) go to their left."""
    at: dict[tuple[float, float], list[str]] = {}
    for x, y, label in zip(xs, ys, labels):
        at.setdefault((round(x, 6), round(y, 6)), []).append(short(label))
    for (x, y), names in at.items():
        text = "\n".join(names[:3]) + (f"\n+{len(names) - 3} more" if len(names) > 3 else "")
        left = x > right
        ax.annotate(
            text,
            (x, y),
            xytext=(-5 if left else 5, 0),
            textcoords="offset points",
            ha="right" if left else "left",
            va="center",
            fontsize=6.5,
            color="#333333",
        )


def accuracy_scatter(cells: list[dict[str, Any]], labels: list[str]) -> Figure:
    """1. Per-cell assisted vs direct accuracy; above the diagonal the scaffold helped."""
    fig = _figure(5.2, 4.6)
    ax = fig.add_subplot()
    ax.set_title("Per-cell accuracy: assisted vs direct")
    if not cells:
        _empty(ax)
        return fig
    cells, labels = cells[:MAX_CELLS], labels[:MAX_CELLS]
    xs = [c["direct_acc"] for c in cells]
    ys = [c["assisted_acc"] for c in cells]
    colors = [GREEN if y > x else RED if y < x else GREY for x, y in zip(xs, ys)]
    sizes = [18 + 60 * math.sqrt(c["n"] / max(c2["n"] for c2 in cells)) for c in cells]
    ax.plot([0, 1], [0, 1], ls="--", color=GREY, lw=1)
    ax.text(0.97, 0.93, "assisted = direct", rotation=45, ha="right", va="top", fontsize=7, color=GREY)
    ax.scatter(xs, ys, s=sizes, c=colors, alpha=0.8, edgecolors="white", linewidths=0.5, zorder=3)
    _labelled(ax, xs, ys, labels, right=0.6)
    ax.set_xlim(-0.04, 1.04)
    ax.set_ylim(-0.04, 1.04)
    ax.set_aspect("equal")
    ax.set_xlabel("direct accuracy")
    ax.set_ylabel("assisted accuracy")
    return fig


#: The comparisons drawn per partition (label, keys of delta and interval in a partition, colour); the
#: first always, each other one where the report has it and it differs from the first somewhere.
COMPARISONS = (
    ("vs direct", ("delta", "ci_low", "ci_high"), BLUE),
    ("flagged counted wrong, vs direct", ("delta_clean", "ci_low_clean", "ci_high_clean"), RED),
    ("vs the best direct mode", ("delta_vs_best", "ci_low_vs_best", "ci_high_vs_best"), PURPLE),
    ("vs budget-matched", ("delta_vs_budget", "ci_low_vs_budget", "ci_high_vs_budget"), ORANGE),
)


def comparisons(partitions: dict[str, dict[str, Any]]) -> list[tuple[str, tuple[str, str, str], str]]:
    """The COMPARISONS a report's partitions have (the first, and the others where they differ from it)."""
    first = COMPARISONS[0][1]
    out = [COMPARISONS[0]]
    for text, keys, color in COMPARISONS[1:]:
        ps = [p for p in partitions.values() if p.get(keys[0]) is not None]
        if ps and any(tuple(p.get(k) for k in keys) != tuple(p.get(k) for k in first) for p in ps):
            out.append((text, keys, color))
    return out


def partition_deltas(partitions: dict[str, dict[str, Any]]) -> Figure:
    """2. Macro delta (assisted − direct) with its 95% interval per partition, and beside it the
    other comparisons the report has (flags counted wrong, best direct mode, budget-matched)."""
    fig = _figure(5.2, 4.6)
    ax = fig.add_subplot()
    ax.set_title("Macro delta assisted − direct, 95% interval")
    names = list(partitions)
    if not names or not any(p["n_cells"] for p in partitions.values()):
        _empty(ax, "no cells")
        return fig
    series = comparisons(partitions)
    step = 0.5 / len(series)
    for j, (text, (key, lo, hi), color) in enumerate(series):
        off = (j - (len(series) - 1) / 2) * step
        ys: list[float] = []
        ds: list[float] = []
        errs: list[list[float]] = [[], []]
        for i, p in enumerate(partitions.values()):
            if p["n_cells"] and p.get(key) is not None and p.get(lo) is not None and p.get(hi) is not None:
                ys.append(i + off)
                ds.append(p[key])
                errs[0].append(max(0.0, p[key] - p[lo]))
                errs[1].append(max(0.0, p[hi] - p[key]))
        ax.errorbar(ds, ys, xerr=errs, fmt="o", color=color, capsize=3, lw=1.5, label=f"assisted {text}", zorder=3)
        for d, y in zip(ds, ys):
            ax.annotate(f"{d:+.3f}", (d, y), xytext=(0, 4), textcoords="offset points", ha="center", fontsize=6.5)
    ax.axvline(0, color=GREY, lw=1, ls="--")
    ax.set_yticks(
        range(len(names)),
        [
            f"{n}\n{p['n_cells']} cells, {p['n_items']} items" if p["n_cells"] else f"{n}\nno cells"
            for n, p in partitions.items()
        ],
    )
    ax.set_ylim(len(names) - 0.5, -0.6)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("macro accuracy difference (paired, 95% interval)")
    ax.legend(loc="lower right", fontsize=6.5, frameon=False)
    return fig


def gain_vs_calls(cells: list[dict[str, Any]], labels: list[str]) -> Figure:
    """3. Per-cell gain (assisted − direct accuracy) against the scaffold's mean solver calls per item."""
    fig = _figure(5.2, 4.6)
    ax = fig.add_subplot()
    ax.set_title("Gain vs solver calls per item")
    if not cells:
        _empty(ax)
        return fig
    cells, labels = cells[:MAX_CELLS], labels[:MAX_CELLS]
    xs = [c["assisted_calls"] for c in cells]
    ys = [c["assisted_acc"] - c["direct_acc"] for c in cells]
    ax.axhline(0, color=GREY, lw=1, ls="--")
    ax.scatter(xs, ys, c=[GREEN if y > 0 else RED if y < 0 else GREY for y in ys], s=30, alpha=0.8, zorder=3)
    low, high = min(0.0, min(xs)), max(xs) * 1.1 + 0.5
    _labelled(ax, xs, ys, labels, right=low + 0.6 * (high - low))
    top = max(1.0, max(abs(y) for y in ys))
    ax.set_ylim(-top - 0.05, top + 0.05)
    ax.set_xlim(low - 0.3, high)
    ax.set_xlabel("mean solver calls per item (assisted)")
    ax.set_ylabel("gain: assisted − direct accuracy")
    return fig


def _stacked(ax: Axes, rows: list[dict[str, int]], keys: list[str], colors: dict[str, str], title: str) -> None:
    left = [0.0] * len(rows)
    for key in keys:
        widths = [r.get(key, 0) / max(1, sum(r.values())) for r in rows]
        if any(widths):
            ax.barh(range(len(rows)), widths, left=left, color=colors[key], label=key, height=0.7)
            left = [a + b for a, b in zip(left, widths)]
    ax.set_xlim(0, 1)
    ax.legend(
        title=title,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncol=4,
        fontsize=6.5,
        title_fontsize=9,
        alignment="left",
        frameon=False,
    )


def rates(cells: list[dict[str, Any]], outcomes: list[dict[str, int]], labels: list[str]) -> Figure:
    """4. Per cell: flag rate, assisted-status rates, generator-outcome rates (stacked bars)."""
    n = min(len(cells), MAX_CELLS)
    fig = _figure(11.0, max(2.8, 1.6 + 0.24 * n))
    if not cells:
        ax = fig.add_subplot()
        ax.set_title("Flag, assisted-status and generator-outcome rates per cell")
        _empty(ax)
        return fig
    cells, outcomes, labels = cells[:n], outcomes[:n], [short(x) for x in labels[:n]]
    ax_flag, ax_status, ax_gen = fig.subplots(1, 3, sharey=True, width_ratios=[1, 2, 2])
    fig.suptitle("Flag, assisted-status and generator-outcome rates per cell", fontsize=10)
    flag = [c["flagged"] / c["n"] if c["n"] else 0.0 for c in cells]
    ax_flag.barh(range(n), flag, color=RED, height=0.7)
    for i, (f, c) in enumerate(zip(flag, cells)):
        ax_flag.annotate(f"{c['flagged']}/{c['n']}", (f, i), xytext=(3, 0), textcoords="offset points", va="center")
    ax_flag.set_xlim(0, 1.3)
    ax_flag.set_title("flagged by an auditor", fontsize=9, loc="left")
    ax_flag.set_yticks(range(n), labels)
    ax_flag.invert_yaxis()
    statuses = [{(k if k in ASSISTED_STATUSES else "other"): v for k, v in c["assisted_status"].items()} for c in cells]
    _stacked(ax_status, statuses, list(STATUS_COLORS), STATUS_COLORS, "assisted status")
    _stacked(ax_gen, outcomes, list(OUTCOME_COLORS), OUTCOME_COLORS, "generator-side outcome")
    for ax in (ax_flag, ax_status, ax_gen):
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("share of the cell's items", fontsize=7)
    return fig


def draw_all(rep: dict[str, Any], outcomes: list[dict[str, int]], labels: list[str]) -> dict[str, str]:
    """The four plots of a ``stats.report`` object as inline SVG, by id."""
    import matplotlib

    cells = rep["cells"]
    with matplotlib.rc_context(RC):
        figs = {
            "plot-accuracy": (accuracy_scatter(cells, labels), "per-cell accuracy, assisted vs direct"),
            "plot-delta": (partition_deltas(rep["partitions"]), "macro delta per partition with 95% interval"),
            "plot-gain": (gain_vs_calls(cells, labels), "gain vs mean solver calls per item"),
            "plot-rates": (rates(cells, outcomes, labels), "flag, status and generator-outcome rates per cell"),
        }
        return {key: svg(fig, key, title) for key, (fig, title) in figs.items()}
