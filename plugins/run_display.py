"""What ``cgr run`` shows on stderr while it runs (rich draws the terminal parts).

Three modes, chosen by :meth:`RunDisplay.for_stderr`:

- ``live`` (stderr is a terminal): a spinner with a message while the solver's model loads and
  while the sandbox is built (the first run compiles it: 10-30 s, once), then a progress bar with
  the rate, elapsed time, ETA and running accuracies; each item's line is printed above the bar.
- ``lines`` (not a terminal: CI, pipes, files): one plain line per item, ``[i/n elapsed eta] ID
  direct=B+ assisted=C- (ok, 4 calls) gold=B``, the format scripts parse, and nothing else.
- ``quiet`` (``-q``): nothing per item (warnings and errors are still printed).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Literal

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from cgr.kernel.records import Record

Mode = Literal["live", "lines", "quiet"]


def interactive(stream: IO[str]) -> bool:
    """Whether ``stream`` is a terminal a bar may be drawn on (not a pipe, a file or ``TERM=dumb``)."""
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):  # closed or not a real stream
        return False


def clock(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) for progress lines."""
    m, sec = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def outcome(record: Record) -> str:
    """One item's outcome: ``ID direct=B+ assisted=C- (ok, 4 calls) gold=B`` (``+`` right, ``-`` wrong,
    ``?`` no answer)."""
    r = record
    return (
        f"{r.item_id:<40.40} "
        f"direct={r.direct.answer or '?'}{'+' if r.direct.correct else '-'} "
        f"assisted={r.assisted.answer or '?'}{'+' if r.assisted.correct else '-'} "
        f"({r.assisted.status}, {r.assisted.calls} calls) gold={r.gold}"
    )


class _Rate(ProgressColumn):
    """Items per second, or seconds per item when slower than one a second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed:
            return Text("-.-- items/s", style="progress.data.speed")
        text = f"{speed:.2f} items/s" if speed >= 1 else f"{1 / speed:.1f} s/item"
        return Text(text, style="progress.data.speed")


class RunDisplay:
    """Progress of one ``cgr run`` on stderr (see the module's docstring for the three modes)."""

    def __init__(self, mode: Mode, console: Console | None = None) -> None:
        self.mode: Mode = mode
        self.console = console or Console(stderr=True, highlight=False)
        self.started = time.monotonic()
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._right = [0, 0]  # direct, assisted

    @classmethod
    def for_stderr(cls, quiet: bool) -> RunDisplay:
        """``quiet`` with ``-q``, else ``live`` on a terminal and ``lines`` anywhere else."""
        if quiet:
            return cls("quiet")
        return cls("live" if interactive(sys.stderr) else "lines")

    @contextmanager
    def phase(self, message: str) -> Iterator[None]:
        """A spinner with ``message`` while the body runs (live mode only; gone when it is done)."""
        if self.mode != "live" or self._progress is not None:
            yield
            return
        with self.console.status(Text(message), spinner="dots"):
            yield

    def warn(self, line: str) -> None:
        """A line on stderr in every mode (above the bar when there is one)."""
        if self._progress is not None:
            self.console.print(Text(line), soft_wrap=True)
        else:
            click.echo(line, err=True)

    def start(self, total: int) -> None:
        """Items are about to run (``total`` of them): the clock starts, and the bar in live mode."""
        self.started = time.monotonic()
        if self.mode != "live" or total <= 0:
            return
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("items"),
            BarColumn(),
            MofNCompleteColumn(),
            _Rate(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.description}"),
            console=self.console,
            speed_estimate_period=300,
        )
        self._progress.start()
        self._task = self._progress.add_task("", total=total)

    def item(self, i: int, n: int, record: Record) -> None:
        """Item ``i`` of ``n`` is recorded."""
        self._right[0] += record.direct.correct
        self._right[1] += record.assisted.correct
        if self.mode == "lines":
            elapsed = time.monotonic() - self.started
            eta = elapsed / i * (n - i)
            click.echo(f"[{i}/{n} {clock(elapsed)} eta {clock(eta)}] {outcome(record)}", err=True)
        elif self._progress is not None and self._task is not None:
            self.console.print(Text(outcome(record)), soft_wrap=True)
            d, a = (100 * k / i for k in self._right)
            self._progress.update(self._task, completed=i, description=f"direct {d:.0f}% assisted {a:.0f}%")

    def close(self) -> None:
        """Stop the bar (it stays on screen as the last state); safe to call more than once."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
