"""What ``cgr run`` shows while it runs: a bar and spinners on a terminal, the plain per-item lines
elsewhere (scripts parse them), nothing with -q."""

from __future__ import annotations

import io
import re

from rich.console import Console

from cgr.plugins.run_display import RunDisplay, clock, interactive
from cgr.testing import sample_records

LINE = re.compile(
    r"^\[(\d+)/(\d+) \d+:\d\d eta \d+:\d\d\] (\S+) +"
    r"direct=[A-Z?][+-] assisted=[A-Z?][+-] \(\w+, \d+ calls\) gold=[A-Z]$"
)


def terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=160, color_system=None), out


def test_live_mode_draws_a_bar_with_rate_and_eta_and_prints_each_item_above_it():
    console, out = terminal()
    display = RunDisplay("live", console)
    records = sample_records()
    with display.phase("preparing the sandbox"):
        pass
    display.start(len(records))
    for i, record in enumerate(records, start=1):
        display.item(i, len(records), record)
    display.warn("cgr: warning: first solver error (item geo-1): boom")
    display.close()
    display.close()  # idempotent
    text = out.getvalue()
    assert "preparing the sandbox" in text  # the spinner's message
    for record in records:
        assert f"{record.item_id} " in text and f"gold={record.gold}" in text
    assert "4/4" in text and "items/s" in text and "eta" in text
    assert "direct 50% assisted 50%" in text  # running accuracies
    assert "cgr: warning: first solver error (item geo-1): boom" in text


def test_item_ids_with_brackets_are_printed_as_they_are():
    console, out = terminal()
    display = RunDisplay("live", console)
    record = sample_records()[0]
    record.item_id = "[bold]x[/bold]"
    display.start(1)
    display.item(1, 1, record)
    display.close()
    assert "[bold]x[/bold]" in out.getvalue()  # not taken as rich markup


def test_lines_mode_prints_the_parsed_per_item_lines_and_nothing_else(capsys):
    console, out = terminal()
    display = RunDisplay("lines", console)
    records = sample_records()
    with display.phase("loading the solver"):
        pass
    display.start(len(records))
    for i, record in enumerate(records, start=1):
        display.item(i, len(records), record)
    display.close()
    err = capsys.readouterr().err.splitlines()
    assert out.getvalue() == ""  # no spinner, no bar
    assert len(err) == len(records)
    for i, (line, record) in enumerate(zip(err, records), start=1):
        m = LINE.match(line)
        assert m, line
        assert (int(m[1]), int(m[2]), m[3]) == (i, len(records), record.item_id)


def test_quiet_mode_prints_nothing_but_warnings(capsys):
    console, out = terminal()
    display = RunDisplay("quiet", console)
    with display.phase("loading"):
        display.start(4)
        for i, record in enumerate(sample_records(), start=1):
            display.item(i, 4, record)
    display.warn("cgr: warning: w")
    display.close()
    assert out.getvalue() == "" and capsys.readouterr().err == "cgr: warning: w\n"


def test_mode_follows_the_stream_and_quiet():
    assert RunDisplay.for_stderr(quiet=True).mode == "quiet"
    assert RunDisplay.for_stderr(quiet=False).mode == "lines"  # pytest's stderr is not a terminal
    assert not interactive(io.StringIO())


def test_clock():
    assert (clock(5), clock(65), clock(3725)) == ("0:05", "1:05", "1:02:05")
