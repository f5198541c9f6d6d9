"""A crash in native code during ``cgr run`` is explained, keeps every record, and ``--resume`` continues."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cgr.plugins import run_supervisor as crash

# A TEST-ONLY solver plugin, installed for the subprocess by putting a distribution on PYTHONPATH:
# its complete() dereferences address 0 (a real SIGSEGV in C code) for the item named by CRASH_ON.
CRASHY = textwrap.dedent("""
    import ctypes, os
    from cgr.kernel.api import Completion
    from cgr.kernel.hookspecs import hookimpl

    class CrashySolver:
        name = "crashy"
        def __init__(self, config=None):
            pass
        def info(self):
            return {"name": "crashy", "model": "crash-test", "model_path": "/nowhere/crash.gguf"}
        def complete(self, prompt, *, max_tokens=256, temperature=0.0, stop=None, choices=None):
            target = os.environ.get("CRASH_ON")
            if target and target in prompt:
                ctypes.string_at(0)  # SIGSEGV inside native code
            return Completion(text="A")
        def label_logprobs(self, prompt, labels):
            return [0.0] * len(labels)
        def logprobs(self, prompt, continuations):
            return [-float(len(c)) for c in continuations]

    @hookimpl
    def register_solvers(register):
        register("crashy", CrashySolver, description="TEST ONLY: segfaults on purpose")
""")


def _install_crashy(root: Path) -> None:
    root.mkdir()
    (root / "crashy_solver.py").write_text(CRASHY)
    info = root / "crashy_solver-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: crashy-solver\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[cgr]\ncrashy = crashy_solver\n")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the crash is a Linux SIGSEGV")
@pytest.mark.parametrize("audit_ahead", ["0", "1"])
def test_native_crash_is_explained_and_resume_continues(tmp_path, toy_bundle, audit_ahead):
    """With audit_ahead=0 the first item's record is written before the second is answered; with the
    default (1) its audits may still run when the solver crashes on the second item, and then the
    first item is redone on --resume: either way the report counts what the file holds, and the
    resumed run ends with each item exactly once."""
    if shutil.which("cgr") is None:
        pytest.skip("the cgr console script is not installed")
    _install_crashy(tmp_path / "site")
    out = tmp_path / "run"
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(tmp_path / "site"), os.environ.get("PYTHONPATH", "")]),
        CRASH_ON="Which city is in France",
    )  # the second of the three items
    env.pop(crash.SUPERVISED_ENV, None)
    cmd = ["cgr", "run", "--solver", "crashy", "--bundle", str(toy_bundle), "--out", str(out), "-q"]
    cmd += ["--executor-option", f"audit_ahead={audit_ahead}"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 128 + signal.SIGSEGV, proc.stderr
    assert "Segmentation fault" in proc.stderr  # faulthandler's header, with the Python stack
    assert "crashy_solver.py" in proc.stderr  # ... which names the frame that crashed
    assert (
        "cgr: error: the run process crashed (SIGSEGV) in native code while using solver crashy, "
        "model crash-test (/nowhere/crash.gguf)" in proc.stderr
    )
    assert "CPU: " in proc.stderr and "--resume" in proc.stderr and "Troubleshooting" in proc.stderr
    kept = [json.loads(line)["item_id"] for line in (out / "records.jsonl").read_text().splitlines()]
    assert kept == ["geo-1"] if audit_ahead == "0" else kept in (["geo-1"], [])
    assert f"{len(kept)} record(s) are kept" in proc.stderr

    env.pop("CRASH_ON")
    proc = subprocess.run([*cmd, "--resume"], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    ids = [json.loads(line)["item_id"] for line in (out / "records.jsonl").read_text().splitlines()]
    assert ids == ["geo-1", "geo-2", "sci-1"]


def test_cpu_description_names_amx_or_its_absence():
    amx = "model name\t: Intel(R) Xeon(R) Platinum 8480+\nflags\t\t: fpu avx avx2 fma amx_tile amx_int8\n"
    plain = "model name\t: AMD EPYC\nflags\t\t: fpu avx avx2 fma f16c\n"
    assert crash.cpu_description(amx).endswith("'Intel(R) Xeon(R) Platinum 8480+' with avx avx2 fma amx_tile amx_int8")
    assert crash.cpu_description(plain).endswith("'AMD EPYC' with avx avx2 fma f16c (no AMX)")


def test_crash_report_without_a_manifest_still_says_what_to_do(tmp_path):
    lines = crash.crash_report(["run", "--out", str(tmp_path / "none")], signal.SIGSEGV)
    assert lines[0].startswith("cgr: error: the run process crashed (SIGSEGV) in native code while using the solver")
    assert "0 record(s) are kept" in lines[1] and "--resume" in lines[1]
