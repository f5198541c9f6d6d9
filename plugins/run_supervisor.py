"""``cgr run`` under a supervisor: a crash in native code ends in a clear message, not a bare
``Segmentation fault``. The launcher of ``run`` (entry-point group ``cgr.launchers``, see
``cgr.kernel.cli.entry``).

llama.cpp (and any native extension a plugin loads) can kill the process with a signal that
Python cannot catch: llama.cpp's AMX buffer type does so on many Xeons (ggml-org/llama.cpp#20824).
The console script therefore runs ``cgr run`` in a child process with :mod:`faulthandler` on (it
prints the Python stack of every thread, naming the native call that crashed) and, if the child
dies from such a signal, prints what crashed: the solver and model from the run's manifest, the
CPU and its features, how many records are kept, and how to continue (``--resume``). Records are
written one fsynced line at a time, so none is lost. The child dies with the supervisor
(``PR_SET_PDEATHSIG`` on Linux), so killing ``cgr`` never leaves a run writing on its own.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
from pathlib import Path

SUPERVISED_ENV = "CGR_SUPERVISED"  # set in the child: run in-process, faulthandler on
FATAL_SIGNALS = {
    s for s in (getattr(signal, n, None) for n in ("SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGABRT")) if s is not None
}
_FEATURES = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "avx_vnni",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
    "asimd",
    "asimddp",
    "i8mm",
    "sve",
    "sve2",
    "sme",
)


def cpu_description(cpuinfo: str | None = None) -> str:
    """``x86_64 'model name': feature flags relevant to llama.cpp``, from ``/proc/cpuinfo``."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            cpuinfo = ""
    model, flags = "", set[str]()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "Model", "CPU part") and not model:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    shown = [f for f in _FEATURES if f in flags]
    amx = "" if any(f.startswith("amx") for f in flags) or not flags else " (no AMX)"
    return f"{platform.machine()} {model!r} with {' '.join(shown) or 'no listed features'}{amx}"


def _out_dir(argv: list[str]) -> Path:
    """The ``--out`` of a ``cgr run`` command line (its default when absent)."""
    for i, arg in enumerate(argv):
        if arg == "--out" and i + 1 < len(argv):
            return Path(argv[i + 1])
        if arg.startswith("--out="):
            return Path(arg.split("=", 1)[1])
    return Path("cgr-run")


def crash_report(argv: list[str], sig: int) -> list[str]:
    """The lines printed when the run process died from ``sig``."""
    try:
        name = signal.Signals(sig).name
    except ValueError:
        name = f"signal {sig}"
    out = _out_dir(argv)
    what = "the solver"
    try:
        manifest = json.loads((out / "run.json").read_text())
        solver = manifest.get("solver", {})
        versions = manifest.get("versions", {})
        what = f"solver {solver.get('name')}"
        if solver.get("backend") == "llama.cpp":
            what += f" on llama.cpp (llama-cpp-python {versions.get('llama-cpp-python')})"
        if solver.get("model"):
            what += f", model {solver.get('model')} ({solver.get('model_path', '?')})"
        if "extra_buffers_reason" in solver:
            what += f", extra buffer types {solver['extra_buffers_reason']}"
    except (OSError, ValueError, AttributeError):
        pass
    from cgr.kernel.store import count_records  # here: the supervisor itself stays light

    kept = count_records(out)
    return [
        f"cgr: error: the run process crashed ({name}) in native code while using {what}; CPU: {cpu_description()}",
        f"cgr: {kept} record(s) are kept in {out}/records.jsonl; run the same command with --resume to continue",
        "cgr: see README, Troubleshooting: try --solver-option extra_buffers=off, --threads 1, or rebuild "
        "llama-cpp-python; the Python stack above names the native call that crashed",
    ]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - not Linux: the child's own parent watch remains
        pass


def supervise(argv: list[str]) -> int:
    """Run ``cgr <argv>`` in a child process and explain a fatal-signal death; return the exit status."""
    env = dict(os.environ, **{SUPERVISED_ENV: str(os.getpid())})
    cmd = [sys.executable, "-m", "cgr.kernel.cli", *argv]
    preexec = _die_with_parent if sys.platform.startswith("linux") else None
    proc = subprocess.Popen(cmd, env=env, preexec_fn=preexec)  # noqa: PLW1509 - single-threaded here
    # Ctrl-C reaches the child from the terminal too; it stops cleanly and says how to resume.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    forward = lambda signum, _frame: proc.send_signal(signum)  # noqa: E731
    previous_term = signal.signal(signal.SIGTERM, forward)
    try:
        rc = proc.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)
    if rc >= 0:
        return rc
    if -rc in FATAL_SIGNALS:
        sys.stdout.flush()
        for line in crash_report(argv, -rc):
            print(line, file=sys.stderr)
        if sys.stderr.isatty():  # the child's progress display hid the cursor
            sys.stderr.write("\x1b[?25h")
    return 128 - rc


def launch(argv: list[str]) -> int | None:
    """The launcher of ``cgr run``: from the console, run it in a supervised child and return its
    exit status; in that child (or with ``CGR_NO_SUPERVISOR=1``), None: run in this process."""
    if os.environ.get(SUPERVISED_ENV):
        in_child()
        return None
    if os.environ.get("CGR_NO_SUPERVISOR") == "1":
        return None
    return supervise(argv)


def in_child() -> None:
    """Set up the supervised child: faulthandler on, and exit when the supervisor is gone."""
    import faulthandler
    import threading
    import time

    faulthandler.enable(all_threads=True)
    parent = int(os.environ.get(SUPERVISED_ENV) or 0)

    def watch() -> None:  # where PR_SET_PDEATHSIG is not available
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(128 + signal.SIGKILL)

    if parent > 1 and not sys.platform.startswith("linux"):  # Linux: PR_SET_PDEATHSIG does it
        threading.Thread(target=watch, name="cgr-parent-watch", daemon=True).start()
