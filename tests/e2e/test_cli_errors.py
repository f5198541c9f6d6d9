"""Errors that never hide: one ``cgr: error:`` line and exit 1 for mistakes (``--debug`` shows the
traceback), a broken solver stops before the run or fails it, audits and Ctrl-C say what happened."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cgr.kernel import manager, pipeline
from cgr.kernel.api import Completion
from cgr.kernel.cli import main
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.manager import load_plugins
from tests.plugins.fake_solver import FakeSolver

HONEST = "r = solver_call('Q? ' + ITEM.question, choices=list(ITEM.labels))\nsubmit(extract_choice(r))\n"


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def error_lines(res):
    return [line for line in res.stderr.splitlines() if line.startswith("cgr: error:")]


def with_solver(monkeypatch, name, cls):
    """``cgr run`` sees the built-ins plus ``cls`` registered as solver ``name``."""

    class Plugin:
        @hookimpl
        def register_solvers(self, register):
            register(name, cls)

    monkeypatch.setattr(pipeline, "load_plugins", lambda: load_plugins(entry_points=False, extra=(Plugin(),)))


# ------------------------------------------------------------------------- one line, --debug ---
def test_unknown_strategy_is_one_line(tmp_path):
    res = cli("run", "--solver", "echo", "--strategy", "nosuch", "--out", tmp_path / "o")
    assert res.exit_code == 1
    assert res.stderr.strip().splitlines() == [
        "cgr: error: unknown template strategy 'nosuch' "
        "(known: per_option, pmi, letter, elimination, decomposition, numeric, vote)"
    ]
    assert "Traceback" not in res.output


def test_audit_of_a_directory_without_records_is_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    res = cli("audit", empty)
    assert res.exit_code == 1
    assert res.stderr.strip().splitlines() == [
        f"cgr: error: {empty}: the directory holds no records.jsonl (not a run directory; give a run's --out "
        "or script files)"
    ]


def test_unexpected_exception_is_one_line_and_debug_reraises(monkeypatch):
    def boom(*a, **k):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(manager, "load_plugins", boom)
    res = cli("plugins")
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit)
    assert res.stderr.strip().splitlines() == [
        "cgr: error: ZeroDivisionError: boom (run with --debug for the traceback)"
    ]
    res = cli("--debug", "plugins")
    assert isinstance(res.exception, ZeroDivisionError)  # re-raised: the traceback is shown
    assert "cgr: error" not in res.output


def test_debug_reraises_known_errors_too(tmp_path):
    res = cli("--debug", "run", "--solver", "echo", "--strategy", "nosuch", "--out", tmp_path / "o")
    assert type(res.exception).__name__ == "UnknownStrategyError"


def test_keyboard_interrupt_is_not_turned_into_an_error(monkeypatch):
    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(manager, "load_plugins", interrupt)
    res = cli("plugins")
    assert res.exit_code == 1 and "cgr: error" not in res.output  # click's own Abort


def test_traceback_free_in_a_real_process(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cgr.kernel.cli",
            "run",
            "--solver",
            "echo",
            "--strategy",
            "nosuch",
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "cgr: error: unknown template strategy 'nosuch' "
        "(known: per_option, pmi, letter, elimination, decomposition, numeric, vote)"
    ]


# ------------------------------------------------------------------------- broken solvers ------
class NoChoices(FakeSolver):
    def complete(self, prompt, *, max_tokens=256, temperature=0.0, stop=None):
        return Completion(text="A")


class NoLogprobs:
    name = "nolp"

    def __init__(self, config=None):
        pass

    def info(self):
        return {"name": "nolp"}

    def complete(self, prompt, *, max_tokens=256, temperature=0.0, stop=None, choices=None):
        return Completion(text="A")

    def label_logprobs(self, prompt, labels):
        return [0.0] * len(labels)


@pytest.mark.parametrize(
    "cls, problem",
    [
        (NoChoices, "solver 'broken': complete() lacks keyword 'choices'"),
        (NoLogprobs, "solver 'broken': has no logprobs() method"),
    ],
)
def test_a_solver_with_a_wrong_signature_stops_before_the_run(monkeypatch, tmp_path, cls, problem):
    with_solver(monkeypatch, "broken", cls)
    res = cli("run", "--solver", "broken", "--limit", "3", "--out", tmp_path / "o", "-q")
    assert res.exit_code == 1
    assert res.stderr.strip().splitlines() == [f"cgr: error: {problem}"]
    assert not (tmp_path / "o" / "records.jsonl").exists()


class Failing(FakeSolver):
    """Fails every request (as a solver with a bug would)."""

    def complete(self, prompt, **kw):
        raise RuntimeError("no model here")

    def logprobs(self, prompt, continuations):
        raise RuntimeError("no model here")


def test_a_run_where_most_items_error_fails_after_writing_every_record(monkeypatch, tmp_path):
    with_solver(monkeypatch, "failing", Failing)
    out = tmp_path / "o"
    res = cli("run", "--solver", "failing", "--limit", "4", "--out", out, "-q")
    assert res.exit_code == 1
    first = json.loads((out / "records.jsonl").read_text().splitlines()[0])["item_id"]
    assert len((out / "records.jsonl").read_text().splitlines()) == 4  # records stay
    assert "records.jsonl" in res.stdout and "macro direct" in res.stdout  # the summary still prints
    warnings = [line for line in res.stderr.splitlines() if line.startswith("cgr: warning:")]
    assert warnings == [f"cgr: warning: first solver error (item {first}): RuntimeError: no model here"]
    assert error_lines(res) == [
        f"cgr: error: 4 of 4 items errored: first error (item {first}): RuntimeError: no model here"
    ]


def test_a_few_refused_items_warn_once_and_the_run_succeeds(monkeypatch, tmp_path, toy_bundle):
    class RefusesOne(FakeSolver):
        def complete(self, prompt, **kw):
            if "Water boils" in prompt:
                raise ValueError("Requested tokens (5000) exceed context window of 2048")
            return super().complete(prompt, **kw)

    with_solver(monkeypatch, "refuses", RefusesOne)
    res = cli("run", "--solver", "refuses", "--bundle", toy_bundle, "--out", tmp_path / "o", "-q")
    assert res.exit_code == 0, res.output
    assert res.stderr.count("cgr: warning: first solver error (item sci-1): ValueError: Requested tokens") == 1
    assert not error_lines(res)


def test_echo_refuses_unknown_solver_options(tmp_path):
    res = cli("run", "--solver", "echo", "--solver-option", "nosuch=1", "--limit", "1", "--out", tmp_path / "o")
    assert res.exit_code == 1
    assert res.stderr.strip().splitlines() == [
        "cgr: error: echo solver: unknown --solver-option nosuch (it takes none)"
    ]


# ------------------------------------------------------------------------- audit ---------------
def test_audit_scripts_summary_exit_status_and_syntax_error(tmp_path):
    good, hard, broken = tmp_path / "good.py", tmp_path / "hard.py", tmp_path / "broken.py"
    good.write_text(HONEST)
    hard.write_text("submit('A')\n")
    broken.write_text("submit(\n")
    res = cli("audit", good, hard, broken)
    assert res.exit_code == 1
    assert res.stdout.splitlines()[0] == f"{good}: clean"
    assert f"{broken}: syntax_error ('(' was never closed (line 1))" in res.stdout
    assert res.stdout.strip().splitlines()[-1] == "3 scripts: 1 clean, 1 hard_coded, 1 unparsable"

    res = cli("audit", good, broken, "--json")
    out = [json.loads(x) for x in res.stdout.strip().splitlines()]
    assert res.exit_code == 1 and len(out) == 2  # JSON: one object per script, no summary line
    assert [o["verdict"] for o in out] == ["clean", "syntax_error"]
    assert set(out[1]) == {"script", "verdict", "findings", "syntax_error"}
    assert out[1]["syntax_error"] == "'(' was never closed (line 1)"

    res = cli("audit", good)
    assert (
        res.exit_code == 0 and res.stdout.strip().splitlines()[-1] == "1 scripts: 1 clean, 0 hard_coded, 0 unparsable"
    )


# ------------------------------------------------------------------------- Ctrl-C --------------
def test_ctrl_c_keeps_the_records_and_says_how_to_resume(tmp_path):
    out = tmp_path / "run"
    records = out / "records.jsonl"
    cgr = Path(sys.executable).parent / "cgr"  # the console script: the run is a supervised child
    cmd = [str(cgr), "run", "--solver", "echo", "--out", str(out), "-q"]
    # A background shell starts its jobs with SIGINT ignored; a terminal's Ctrl-C is not ignored.
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if records.exists() and records.read_bytes().count(b"\n") >= 3:
                break
            time.sleep(0.005)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground process group
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    kept = records.read_bytes().count(b"\n")
    assert proc.returncode == 130, err[-2000:]
    assert 3 <= kept < 250
    assert err.strip().splitlines()[-1] == (
        f"cgr: interrupted: {kept} record(s) kept in {out}/records.jsonl; continue with the same command plus --resume"
    )
    assert "Aborted!" not in err and "Traceback" not in err
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
