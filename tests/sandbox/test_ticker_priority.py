"""The epoch ticker keeps the priority of the thread that made the first sandbox, not a low-priority
worker's (the local executor audits on a nice-19 thread; the scaffold's timeouts must not wait on it)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import os, threading
from cgr.sandbox import Sandbox
from cgr.sandbox._ticker import TICKER

box = Sandbox()  # made on the main thread, as the engine's is
item = {"id": "x", "question": "q", "choices": ["a", "b"], "labels": ["A", "B"], "context": None}
result = {}

def low():
    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    result["status"] = box.run("submit('A')", item, lambda op, args: None).status  # the process's first run

t = threading.Thread(target=low)
t.start(); t.join()
print(result["status"], os.getpriority(os.PRIO_PROCESS, TICKER._thread.native_id))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_the_ticker_keeps_the_priority_of_the_thread_that_made_the_first_sandbox():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600, check=True)
    status, nice = out.stdout.split()
    assert status == "ok"
    assert int(nice) == os.getpriority(os.PRIO_PROCESS, 0) < 19
