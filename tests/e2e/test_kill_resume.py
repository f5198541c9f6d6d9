"""A run killed with SIGKILL resumes where it stopped: nothing lost, nothing duplicated."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest


@pytest.mark.parametrize("workers", [1, 3])
def test_sigkill_then_resume(tmp_path, workers):
    out = tmp_path / "run"
    records = out / "records.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "cgr.kernel.cli",
        "run",
        "--solver",
        "echo",
        "--out",
        str(out),
        "-q",
        "--workers",
        str(workers),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if records.exists() and records.read_bytes().count(b"\n") >= 3:
                break
            time.sleep(0.005)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    before = records.read_bytes()
    done_before = before.count(b"\n")
    assert 3 <= done_before < 250
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["status"] == "running"  # it never got to say otherwise

    res = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    after = records.read_bytes()
    complete_before = before[: before.rfind(b"\n") + 1]
    assert after.startswith(complete_before)  # what was recorded is kept byte for byte
    ids = [json.loads(line)["item_id"] for line in after.splitlines()]
    assert len(ids) == len(set(ids)) == 250
    from cgr.kernel.bundle import load_bundle

    assert ids == [it.id for it in load_bundle().items]  # bundle order, whatever the workers
    assert f"{250 - done_before} new record(s), {done_before} already recorded" in res.stdout
    assert json.loads((out / "run.json").read_text())["status"] == "complete"

    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "--resume" in again.stderr  # never silently overwritten
