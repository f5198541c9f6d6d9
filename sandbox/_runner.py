"""The public entry point (:class:`Sandbox`) and the classification of how a run ended."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any

import wasmtime

from . import _cache
from ._api import MAX_ERROR_CHARS, HostCallback, Limits, MiB, SandboxResult, clean, guest_view
from ._bridge import Run
from ._callbacks import RUN_IDS, RUNS, TLS
from ._engine import Runtime
from ._sink import OutputFiles
from ._ticker import TICKER


class Sandbox:
    """Runs scaffold programs in CPython-on-WASI under wasmtime, one fresh store per run.

    Construction is cheap; the component is built/compiled or loaded from the cache on first
    use (or by :meth:`warm`). One object may be used from several threads at once.
    """

    def __init__(self, cache_dir: str | os.PathLike[str] | None = None, *, output_files: bool = False) -> None:
        """``output_files=True``: capture stdout/stderr through files, which a guest writes without a
        thread hand-off per write (see ``_sink``); same results, faster for programs that print."""
        self._cache_dir = cache_dir
        self._lock = threading.Lock()
        self._runtimes: dict[bool, Runtime] = {}
        self.output_files = output_files
        self._out_dir: str | None = None
        TICKER.start()

    def _output_dir(self) -> str:
        """The private directory of this sandbox's output files (made on first use, removed with it)."""
        if self._out_dir is None:
            with self._lock:
                if self._out_dir is None:
                    shm = "/dev/shm"  # memory: a disk file system's writes were slower than the hand-off
                    base = shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None
                    path = tempfile.mkdtemp(prefix="cgr-sandbox-out-", dir=base)
                    weakref.finalize(self, shutil.rmtree, path, ignore_errors=True)
                    self._out_dir = path
        return self._out_dir

    @property
    def load_info(self) -> dict[str, dict[str, Any]]:
        """How each loaded runtime got its component (``how``: cached/built, ``seconds``, ``allocator``, ...)."""
        return {("fuel" if fuel else "default"): dict(rt.load_info) for fuel, rt in self._runtimes.items()}

    def _runtime(self, fuel: bool) -> Runtime:
        rt = self._runtimes.get(fuel)
        if rt is None:
            with self._lock:
                rt = self._runtimes.get(fuel)
                if rt is None:
                    rt = Runtime(_cache.cache_root(self._cache_dir), fuel)
                    self._runtimes[fuel] = rt
        return rt

    def warm(self, fuel: bool = False) -> None:
        """Build/load the compiled component now (``fuel=True``: the fuel-metered variant)."""
        self._runtime(bool(fuel))

    def run(
        self, source: str, item: dict[str, Any], host: HostCallback, limits: Limits = Limits(), seed: int = 0
    ) -> SandboxResult:
        """Run ``source`` as a scaffold for ``item``; never raises for anything the scaffold does."""
        if not isinstance(source, str):
            raise TypeError(f"source must be str, got {type(source).__name__}")
        if not callable(host):
            raise TypeError("host must be callable")
        if not isinstance(limits, Limits):
            raise TypeError(f"limits must be a Limits, got {type(limits).__name__}")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise TypeError(f"seed must be int, got {type(seed).__name__}")
        view = guest_view(item)
        rt = self._runtime(limits.fuel is not None)
        with rt.slot():
            return self._run(
                rt, clean(source), json.dumps(view, ensure_ascii=True), view["labels"], host, limits, seed % (1 << 64)
            )

    def _run(
        self, rt: Runtime, source: str, item_json: str, labels: list[str], host: HostCallback, limits: Limits, seed: int
    ) -> SandboxResult:
        run = Run(next(RUN_IDS), limits, host, labels, rt.engine)
        files = OutputFiles(self._output_dir(), limits.max_output_bytes) if self.output_files else None
        run.files = files
        outcome: dict[str, Any] | None = None
        trap: str | None = None
        exit_code: int | None = None
        start = time.perf_counter()
        run.deadline = time.monotonic() + limits.timeout_s
        previous = getattr(TLS, "run", None)
        RUNS[run.id] = run
        TLS.run = run
        TICKER.add(run)
        store = None
        previous_sigint = _defer_sigint(run)
        try:
            store = rt.new_store(run.id, limits.memory_mb * MiB, limits.fuel, files)
            instance = rt.instantiate(store)
            _ok, payload = rt.call_run(store, instance, source, item_json, seed)
            try:
                outcome = json.loads(payload)
                if not isinstance(outcome, dict):
                    raise ValueError
            except (TypeError, ValueError):
                outcome = {"kind": "exception", "error": "runner: malformed outcome", "exc_type": None}
        except wasmtime.ExitTrap as exc:
            exit_code = exc.code
        except wasmtime.WasmtimeError as exc:
            trap = str(exc)
        except Exception as exc:  # noqa: BLE001 - anything else wasmtime-py raises is still an outcome
            trap = f"{type(exc).__name__}: {exc}"
        finally:
            TICKER.remove(run)
            TLS.run = previous
            if store is not None:
                store.close()
            if files is not None:
                _take_output(run, files)
            RUNS.pop(run.id, None)
            # Last: a Ctrl-C from here on raises at once, and finds the store already closed (one
            # left open, held by the KeyboardInterrupt's traceback, crashed the process at exit).
            if previous_sigint is not None:
                signal.signal(signal.SIGINT, previous_sigint)
        elapsed = time.perf_counter() - start
        if run.interrupt is not None:
            raise run.interrupt
        status, error = classify(run, guest_outcome(outcome), trap, exit_code)
        return SandboxResult(
            status=status,
            answer=run.answer,
            solver_calls=run.calls,
            stdout=run.out.decode("utf-8", "replace"),
            stderr=run.err.decode("utf-8", "replace"),
            elapsed_s=elapsed,
            error=one_line(error),
        )


def _take_output(run: Run, files: OutputFiles) -> None:
    """The run's output from its files (the store is closed: all of it written) into ``run.out`` /
    ``run.err``; a stream past the cap stops the run as ``capture`` would have. Closes the files."""
    try:
        run.poll_output()
        run.out[:], run.err[:] = files.read()
    finally:
        run.files = None
        files.close()


def _defer_sigint(run: Run) -> Callable[[int, FrameType | None], Any] | int | signal.Handlers | None:
    """Ctrl-C while wasm runs on the main thread stops the run and is raised once wasmtime returns.

    Python raises KeyboardInterrupt at the next bytecode, which is often the first line of a host
    callback, before its ``try``: unwinding through wasmtime there crashes the process (SIGSEGV).
    So, only where SIGINT has Python's default handler, the handler only marks the run interrupted
    (the guest stops at its next epoch or host call) and ``_run`` raises the KeyboardInterrupt.
    Returns the handler to restore, or None where nothing was changed (other threads, own handlers).
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        return None

    def interrupted(_signum: int, _frame: FrameType | None) -> None:
        if run.interrupt is None:
            run.interrupt = KeyboardInterrupt()
        run.set_stop("interrupted", "interrupted: KeyboardInterrupt")

    return signal.signal(signal.SIGINT, interrupted)


_OUTCOME_KINDS = ("done", "exception", "syntax")


def guest_outcome(outcome: dict[str, Any] | None) -> dict[str, Any] | None:
    """The guest's report of how its program ended, validated: the guest controls it entirely.

    ``kind`` must be one of done/exception/syntax and ``error``/``exc_type`` strings or null;
    anything else becomes a host-made "malformed outcome" exception. Strings are cut to one line.
    """
    if outcome is None:
        return None
    kind, error, exc_type = outcome.get("kind"), outcome.get("error"), outcome.get("exc_type")
    if (
        kind not in _OUTCOME_KINDS
        or not isinstance(error, (str, type(None)))
        or not isinstance(exc_type, (str, type(None)))
    ):
        return {"kind": "exception", "error": "runner: malformed outcome from the guest", "exc_type": None}
    return {"kind": kind, "error": one_line(error), "exc_type": one_line(exc_type, 200)}


def one_line(text: str | None, limit: int = MAX_ERROR_CHARS) -> str | None:
    """``text`` as valid Unicode, its first non-empty line only, at most ``limit`` characters (+ "...")."""
    if text is None:
        return None
    text = clean(text[: 4 * limit])
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[:limit] + "..."


def _trap_reason(message: str) -> str:
    """The 'Caused by' line of a wasmtime error (the trap's own message)."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    if "Caused by:" in lines:
        rest = lines[lines.index("Caused by:") + 1 :]
        if rest:
            return rest[-1].lstrip("0123456789: ")
    return lines[0] if lines else message


def classify(
    run: Run, outcome: dict[str, Any] | None, trap: str | None, exit_code: int | None
) -> tuple[str, str | None]:
    """The run's status and error message (order documented in specs/scaffold_api.md)."""
    note = run.notes[0] if run.notes else None
    reason = _trap_reason(trap) if trap is not None else ""
    # 1. limits enforced by stopping the guest
    if run.stop in ("timeout", "output_cap"):
        return run.stop, run.stop_detail
    if trap is not None and "fuel" in reason and "consumed" in reason:
        return "timeout", f"timeout: fuel limit of {run.limits.fuel} exhausted"
    if trap is not None:
        if "out of memory" in reason:
            return "memory", f"memory: guest out of memory (limit {run.limits.memory_mb} MiB)"
        if "memory" in reason and "limit" in reason:
            return "memory", f"memory: memory_mb={run.limits.memory_mb} is too small to start the guest ({reason})"
    # 2. the call budget (the program may have caught the refusal)
    if run.budget_breached:
        return "call_budget", run.budget_error
    # 3. how the program itself ended
    stack = trap is not None and "call stack exhausted" in reason
    stack_message = "RecursionError: wasm call stack exhausted (code or data nested too deeply)"
    if stack and run.phase == "compile":
        return "syntax", stack_message
    reported: dict[str, Any] | None = None  # how the program ended, if the guest returned
    if trap is None and exit_code is None:
        reported = outcome or {"kind": "exception", "error": "runner: no outcome", "exc_type": None}
        # A syntax error only while the host saw no request at all (any request means it compiled).
        if reported.get("kind") == "syntax" and run.phase == "compile":
            return "syntax", reported.get("error")
    if run.answer is not None:
        return "ok", note
    if run.invalid_submit is not None:
        error = reported.get("error") if reported else None
        return "invalid_submit", error or run.invalid_submit
    if exit_code is not None:
        return "no_submit", f"SystemExit: guest exited with status {exit_code}"
    if trap is not None:
        if stack:
            return "error", stack_message
        if "cgr:clock-wait" in trap:
            return "error", f"RuntimeError: {run.stop_detail or 'blocking clock wait refused'}"
        return "error", f"guest trap: {reason[4:] if reason.startswith('cgr:') else reason}"
    # Here the guest returned (no trap, no exit), so ``reported`` is set.
    if reported is not None and reported.get("kind") in ("exception", "syntax"):  # "syntax": claimed after it ran
        error = reported.get("error")
        if reported.get("exc_type") == "MemoryError":
            return "memory", error
        return "error", error
    return "no_submit", note
