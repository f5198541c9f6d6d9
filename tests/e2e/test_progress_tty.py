"""``cgr run``'s progress for real: on a terminal (a pseudo-terminal here) spinners and a bar with
rate and ETA; through a pipe (CI) the plain per-item lines scripts parse; with -q neither."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time

CMD = [sys.executable, "-m", "cgr.kernel.cli", "run", "--solver", "echo", "--limit", "3"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
LINE = re.compile(r"^\[(\d)/3 \d+:\d\d eta \d+:\d\d\] \S+ +direct=\S+ assisted=\S+ \(\w+, \d+ calls\) gold=[A-Z]$")


def on_a_terminal(args: list[str], timeout: float = 300) -> tuple[int, str]:
    """Run ``args`` with stdout and stderr on a pseudo-terminal; (exit status, what it showed)."""
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160"}
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(leader)
        rc = proc.wait(timeout=60)
    return rc, ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))


def test_a_terminal_gets_a_bar_with_rate_and_eta(tmp_path):
    rc, shown = on_a_terminal([*CMD, "--out", str(tmp_path / "run")])
    assert rc == 0, shown[-3000:]
    assert "loading the solver echo and the generator template" in shown  # spinners (gone once done)
    assert "preparing the sandbox (the first run compiles it" in shown
    assert "3/3" in shown and "items/s" in shown and "eta" in shown
    assert "direct " in shown and "% assisted " in shown  # running accuracies on the bar
    assert shown.count("gold=") >= 3  # each item's line, printed above the bar
    assert not any(LINE.match(line.strip()) for line in shown.splitlines())  # not the pipe format
    assert "3 new record(s)" in shown


def test_quiet_on_a_terminal_shows_no_progress(tmp_path):
    rc, shown = on_a_terminal([*CMD, "--out", str(tmp_path / "run"), "-q"])
    assert rc == 0, shown[-3000:]
    assert "items/s" not in shown and "gold=" not in shown and "preparing the sandbox" not in shown
    assert "3 new record(s)" in shown


def test_a_pipe_gets_the_plain_per_item_lines(tmp_path):
    proc = subprocess.run([*CMD, "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("cgr 0.") and "3 to run, 0 already recorded" in lines[0]
    assert [LINE.match(line)[1] for line in lines[1:]] == ["1", "2", "3"]  # nothing else: no spinner, no bar
    assert "\x1b" not in proc.stderr
