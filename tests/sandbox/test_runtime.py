"""One Sandbox in a process: shared by threads, interrupted by Ctrl-C, on the pooling allocator or not."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from cgr.sandbox import MAX_CALLS_MAX, Limits, Sandbox

from .conftest import EchoHost


def test_many_threads_share_one_sandbox(sandbox, item):
    def host(op, args):
        return args["prompt"]

    source = "import sys\nprint(getattr(sys, 'seen', None))\nsys.seen = 1\nsubmit(solver_call(ITEM.id))\n"

    def one(i):
        view = dict(item, id=f"{'ABC'[i % 3]}")
        result = sandbox.run(source, view, host)
        return i, result

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, range(24)))
    for i, result in results:
        assert result.status == "ok", result
        assert result.answer == "ABC"[i % 3]
        assert result.stdout == "None\n"
    assert threading.active_count() < 20


def test_keyboard_interrupt_in_host_propagates(sandbox, item):
    def host(op, args):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sandbox.run("solver_call('x')", item, host)
    assert sandbox.run("submit('A')", item, EchoHost()).status == "ok"


# The second loop keeps crossing into the host after max_calls is spent (refused calls are caught).
BUSY = [
    "while True:\n    pass\n",
    "while True:\n    try:\n        solver_call('x')\n    except RuntimeError:\n        pass\n",
]


@pytest.mark.parametrize("source", BUSY)
def test_ctrl_c_while_wasm_runs_is_a_keyboard_interrupt_not_a_crash(sandbox, item, source):
    # A KeyboardInterrupt raised at a host callback's entry would unwind through wasmtime (SIGSEGV);
    # the run stops instead and sandbox.run raises it once wasmtime has returned.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # a background job ignores SIGINT
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    try:
        for _ in range(3):
            start = time.monotonic()
            timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
            timer.start()
            with pytest.raises(KeyboardInterrupt):
                sandbox.run(source, item, EchoHost(), Limits(timeout_s=60, max_calls=MAX_CALLS_MAX))
            assert time.monotonic() - start < 30
            assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert sandbox.run("submit('A')", item, EchoHost()).status == "ok"


def test_pooling_allocator_and_on_demand_fallback(sandbox, item, host, monkeypatch):
    from cgr.sandbox import _engine

    assert sandbox.load_info["default"]["allocator"] == "pooling"
    monkeypatch.setenv("CGR_SANDBOX_POOLING", "0")
    off = Sandbox()
    assert off.run("submit('B')", item, host).answer == "B"
    assert off.load_info["default"]["allocator"] == "on-demand"
    # a pool the component does not fit in (here: no core-instance slots) falls back, too
    monkeypatch.delenv("CGR_SANDBOX_POOLING")
    real = _engine._pooling_config

    def tiny():
        pc = real()
        _engine.ffi.wasmtime_pooling_allocation_config_total_core_instances_set(pc, 1)
        return pc

    monkeypatch.setattr(_engine, "_pooling_config", tiny)
    fallback = Sandbox()
    assert fallback.run("submit('C')", item, host).answer == "C"
    assert fallback.load_info["default"]["allocator"] == "on-demand"
