"""The raw C callbacks wasmtime calls during a run, and the registry they find their run in.

All of them are hand-lowered ctypes callbacks rather than wasmtime-py's generic host functions:
the generic path re-reads function types on every call and parks any Python exception in one
process-global slot (``LAST_EXCEPTION``) that another thread's run could pick up. These never
raise into wasmtime: they return a value or an error pointer (a trap), nothing else.

* ``host_call_callback`` - the guest's one ``host-call`` import (the bridge, see _bridge.Run);
* ``clock_*`` - ``wasi:clocks/monotonic-clock`` (``now``, ``resolution``; blocking waits refused);
* ``output_callback`` - the guest's stdout/stderr bytes (capture with a cap);
* ``epoch_callback`` - reached about every EPOCH_TICK_S while wasm runs: stop or continue.
"""

from __future__ import annotations

import ctypes
import itertools
import json
import threading
import time

from wasmtime import _ffi as ffi

from ._api import MAX_OP_BYTES, MAX_PAYLOAD_BYTES, clean
from ._bridge import GuestError, Run, Stop

RUNS: dict[int, Run] = {}  # run id -> run, for the callbacks that get only an integer
RUN_IDS = itertools.count(1)
TLS = threading.local()  # TLS.run: the run executing on this thread (host-call and clock imports)

NO_FINALIZER = ctypes.cast(0, ctypes.CFUNCTYPE(None, ctypes.c_void_p))

EPOCH_CALLBACK_T = ctypes.CFUNCTYPE(
    ctypes.c_size_t,
    ctypes.POINTER(ffi.wasmtime_context_t),
    ctypes.c_void_p,
    ctypes.POINTER(ctypes.c_uint64),
    ctypes.POINTER(ffi.wasmtime_update_deadline_kind_t),
)

OUTPUT_CALLBACK_T = ctypes.CFUNCTYPE(ctypes.c_ssize_t, ctypes.c_void_p, ctypes.POINTER(ctypes.c_ubyte), ctypes.c_size_t)


def error_ptr(reason: str) -> int:
    """A new wasmtime error (a trap when returned from a callback) as an address."""
    # (never NULL: 0 would mean no error)
    return ctypes.cast(ffi.wasmtime_error_new(f"cgr:{reason}".encode()), ctypes.c_void_p).value or 0


def _epoch_callback(
    _context: object,
    data: int | None,
    delta: ctypes._Pointer[ctypes.c_uint64],
    kind: ctypes._Pointer[ctypes.c_uint8],
) -> int:
    # Runs on the guest's thread whenever the engine epoch passes this store's deadline
    # (about every EPOCH_TICK_S while wasm executes): trap if the run must stop, else go on.
    try:
        run = RUNS.get(data or 0)
        reason: str | None
        if run is None:
            reason = "stopped"
        else:
            run.poll_output()
            if run.stop is None and run.past_deadline(time.monotonic()):
                run.set_stop("timeout", run.timeout_detail())
            reason = run.stop
        if reason is not None:
            return error_ptr(reason)
    except BaseException:  # noqa: BLE001 - never let an exception cross the C boundary
        pass
    delta[0] = 1
    kind[0] = 0  # WASMTIME_UPDATE_DEADLINE_CONTINUE
    return 0


epoch_callback = EPOCH_CALLBACK_T(_epoch_callback)


def _output_callback(data: int | None, ptr: ctypes._Pointer[ctypes.c_ubyte], size: int) -> int:
    # Guest stdout/stderr bytes (data = run id << 1 | stream). Must return exactly ``size``:
    # a larger value panics the host, a smaller one is an I/O error in the guest.
    try:
        key = data or 0
        run = RUNS.get(key >> 1)
        if run is not None and size:
            run.capture(key & 1, ctypes.string_at(ptr, size))
    except BaseException:  # noqa: BLE001
        pass
    return size


output_callback = OUTPUT_CALLBACK_T(_output_callback)


def _dispatch(op: str, payload: str) -> tuple[bool, str]:
    """One host call: (is_ok, JSON text). Raises Stop only, to trap the guest."""
    run: Run | None = getattr(TLS, "run", None)
    if run is None:
        return False, json.dumps({"type": "RuntimeError", "message": "no active run"})
    try:
        run.check_alive()
        return True, run.dispatch(op, payload)
    except GuestError as exc:
        return False, exc.payload()
    except Stop:
        raise
    except Exception as exc:  # noqa: BLE001 - a host bug must not unwind through wasmtime
        try:
            text = f"sandbox internal error: {type(exc).__name__}: {exc}"
        except Exception:  # noqa: BLE001
            text = f"sandbox internal error: {type(exc).__name__}"
        return False, json.dumps({"type": "HostError", "message": clean(text)[:2000]}, ensure_ascii=True)


def _take_string(val: ffi.wasmtime_component_val_t, limit: int) -> str | None:
    """The string argument, or None (not copied) when it is over ``limit`` bytes; freed either way."""
    vec = val.of.string
    try:
        if vec.size > limit:
            return None
        return (ctypes.string_at(vec.data, vec.size) if vec.size else b"").decode("utf-8", "replace")
    finally:
        ffi.wasm_byte_vec_delete(ctypes.byref(vec))


def _refused(message: str) -> tuple[bool, str]:
    run: Run | None = getattr(TLS, "run", None)
    if run is not None:
        run.check_alive()
        return False, run.note("ValueError", message).payload()
    return False, json.dumps({"type": "ValueError", "message": message})


def _host_call_callback(
    _data: int | None,
    _context: object,
    _ty: object,
    args: ctypes._Pointer[ffi.wasmtime_component_val_t],
    nargs: int,
    results: ctypes._Pointer[ffi.wasmtime_component_val_t],
    nresults: int,
) -> int:
    # ``host-call: func(op: string, payload: string) -> result<string, string>``, lowered by hand.
    try:
        if nargs != 2 or nresults != 1:
            return error_ptr("bad-host-call-signature")
        op = _take_string(args[0], MAX_OP_BYTES)
        payload = _take_string(args[1], MAX_PAYLOAD_BYTES)
        try:
            if op is None:
                ok, text = _refused(f"host operation name over {MAX_OP_BYTES} bytes")
            elif payload is None:
                ok, text = _refused(f"{op}: request over {MAX_PAYLOAD_BYTES} bytes")
            else:
                ok, text = _dispatch(op, payload)
        except Stop as stop:
            return error_ptr(stop.reason)
        raw = ffi.wasmtime_component_val_t()
        raw.kind = ffi.WASMTIME_COMPONENT_STRING
        raw.of.string = ffi.str_to_capi(text)
        out = results.contents
        out.kind = ffi.WASMTIME_COMPONENT_RESULT
        out.of.result.is_ok = ok
        out.of.result.val = ffi.wasmtime_component_val_new(ctypes.byref(raw))
        return 0
    except BaseException:  # noqa: BLE001 - never unwind through wasmtime
        return error_ptr("host-call-failed")


host_call_callback = ffi.wasmtime_component_func_callback_t(_host_call_callback)

# Guest monotonic time starts near 1 s (not at the host's uptime), the same for every run.
_MONOTONIC_BASE_NS = time.monotonic_ns() - 1_000_000_000


def _u64_result(results: ctypes._Pointer[ffi.wasmtime_component_val_t], nresults: int, value: int) -> int:
    if nresults != 1:
        return error_ptr("bad-clock-signature")
    out = results.contents
    out.kind = ffi.WASMTIME_COMPONENT_U64
    out.of.u64 = value
    return 0


def _clock_now_callback(
    _data: int | None,
    _context: object,
    _ty: object,
    _args: object,
    _nargs: int,
    results: ctypes._Pointer[ffi.wasmtime_component_val_t],
    nresults: int,
) -> int:
    try:
        return _u64_result(results, nresults, max(0, time.monotonic_ns() - _MONOTONIC_BASE_NS))
    except BaseException:  # noqa: BLE001
        return error_ptr("clock-failed")


clock_now_callback = ffi.wasmtime_component_func_callback_t(_clock_now_callback)


def _clock_resolution_callback(
    _data: int | None,
    _context: object,
    _ty: object,
    _args: object,
    _nargs: int,
    results: ctypes._Pointer[ffi.wasmtime_component_val_t],
    nresults: int,
) -> int:
    try:
        return _u64_result(results, nresults, 1)
    except BaseException:  # noqa: BLE001
        return error_ptr("clock-failed")


clock_resolution_callback = ffi.wasmtime_component_func_callback_t(_clock_resolution_callback)


def _clock_wait_refused_callback(
    _data: int | None,
    _context: object,
    _ty: object,
    _args: object,
    _nargs: int,
    _results: object,
    _nresults: int,
) -> int:
    # wasi:clocks/monotonic-clock subscribe-*: the only way for a guest to block in WASI.
    # Blocking waits are not interruptible by epochs, so they are refused (a trap);
    # time.sleep inside the guest goes through the host-call "sleep" op instead.
    try:
        run: Run | None = getattr(TLS, "run", None)
        if run is not None and run.stop is None:
            run.stop_detail = (
                "blocking clock wait (select/poll with a timeout) is not available in the sandbox; use time.sleep"
            )
    except BaseException:  # noqa: BLE001
        pass
    return error_ptr("clock-wait")


clock_wait_refused_callback = ffi.wasmtime_component_func_callback_t(_clock_wait_refused_callback)

CLOCK_FUNCS = {
    "now": clock_now_callback,
    "resolution": clock_resolution_callback,
    "subscribe-duration": clock_wait_refused_callback,
    "subscribe-instant": clock_wait_refused_callback,
}
