"""The epoch ticker and wall-clock watchdog: one daemon thread per process."""

from __future__ import annotations

import threading
import time

from ._api import EPOCH_TICK_S
from ._bridge import Run


class Ticker:
    """Increments the epochs of the engines with active runs (so running wasm reaches its epoch
    callback about every EPOCH_TICK_S) and is the wall-clock watchdog: at a run's deadline it wakes
    the run's host-side waits, which do not execute wasm. Idle (blocked on a condition) when no run
    is active."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._active: dict[int, Run] = {}
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread unless it runs. ``Sandbox()`` calls this, so the thread is made by the
        thread that makes the first sandbox and keeps its CPU priority (threads inherit their
        creator's nice value on Linux), not that of a low-priority worker that runs first."""
        with self._cv:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="cgr-sandbox-ticker", daemon=True)
                self._thread.start()

    def add(self, run: Run) -> None:
        self.start()
        with self._cv:
            self._active[run.id] = run
            self._cv.notify()

    def remove(self, run: Run) -> None:
        with self._cv:
            self._active.pop(run.id, None)

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._active:
                    self._cv.wait()
                runs = list(self._active.values())
            time.sleep(EPOCH_TICK_S)
            for engine in {id(r.engine): r.engine for r in runs}.values():
                try:
                    engine.increment_epoch()
                except Exception:  # noqa: BLE001 - an engine closed under us
                    pass
            now = time.monotonic()
            for run in runs:
                if run.stop is None and run.past_deadline(now):
                    run.set_stop("timeout", run.timeout_detail())


TICKER = Ticker()
