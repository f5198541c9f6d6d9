"""The host side of the sandbox: engine, linker, limits, the host-call dispatcher, results."""

from __future__ import annotations

import ctypes
import itertools
import json
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import wasmtime
from wasmtime import _ffi as ffi
from wasmtime import component as wc

from . import _cache

MiB = 1024 * 1024

STATUSES = ("ok", "no_submit", "invalid_submit", "error", "syntax", "timeout", "memory", "output_cap",
            "call_budget")

# Engine configuration. Part of the compiled artifact's cache key.
MAX_WASM_STACK = 2 * MiB  # above 2 MiB aborted the host in prototyping
EPOCH_TICK_S = 0.01  # epoch granularity: a limit breach stops the guest within about this long
MAX_PAYLOAD_BYTES = 8 * MiB  # one host-call request, as JSON
MAX_LIST_ITEMS = 64  # continuations and choices per request
MAX_SOLVER_TOKENS = 4096


@dataclass(frozen=True)
class Limits:
    """Per-scaffold resource limits."""

    timeout_s: float = 20.0
    memory_mb: int = 256
    max_output_bytes: int = 64 * 1024
    max_calls: int = 64
    max_prompt_chars: int = 32_000
    fuel: int | None = None

    def __post_init__(self):
        if not (isinstance(self.timeout_s, (int, float)) and self.timeout_s > 0 and math.isfinite(self.timeout_s)):
            raise ValueError(f"Limits.timeout_s must be a positive number, got {self.timeout_s!r}")
        for name in ("memory_mb", "max_output_bytes", "max_prompt_chars"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Limits.{name} must be a positive int, got {value!r}")
        if not isinstance(self.max_calls, int) or isinstance(self.max_calls, bool) or self.max_calls < 0:
            raise ValueError(f"Limits.max_calls must be an int >= 0, got {self.max_calls!r}")
        if self.fuel is not None and (not isinstance(self.fuel, int) or isinstance(self.fuel, bool) or self.fuel <= 0):
            raise ValueError(f"Limits.fuel must be None or a positive int, got {self.fuel!r}")


@dataclass
class SandboxResult:
    """How one scaffold run ended."""

    status: str
    answer: str | None
    solver_calls: int
    stdout: str
    stderr: str
    elapsed_s: float
    error: str | None

    def to_dict(self) -> dict:
        return asdict(self)


class HostError(Exception):
    """Raised by a host callback to send a catchable error into the guest (message is passed)."""


# --------------------------------------------------------------------------------------------
# Helpers


def _clean(text: str) -> str:
    """``text`` as valid Unicode: lone surrogates become U+FFFD (pairs are joined)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _default_labels(n: int) -> list[str]:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return [letters[i] if i < len(letters) else f"L{i + 1}" for i in range(n)]


def guest_view(item: Mapping) -> dict:
    """The only item fields a scaffold sees: id, question, choices, labels, context."""
    if not isinstance(item, Mapping):
        raise TypeError(f"item must be a mapping, got {type(item).__name__}")
    choices = item.get("choices") or []
    if isinstance(choices, (str, bytes)) or not isinstance(choices, (list, tuple)):
        raise TypeError("item['choices'] must be a list of str")
    choices = [_clean(str(c)) for c in choices]
    labels = item.get("labels")
    labels = _default_labels(len(choices)) if not labels else [_clean(str(x)) for x in labels]
    context = item.get("context")
    return {
        "id": _clean(str(item.get("id", ""))),
        "question": _clean(str(item.get("question", ""))),
        "choices": choices,
        "labels": labels,
        "context": None if context is None else _clean(str(context)),
    }


def _type_name(value) -> str:
    return "None" if value is None else type(value).__name__


class _GuestError(Exception):
    """Becomes an exception of type ``kind`` inside the guest."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message

    def payload(self) -> str:
        return json.dumps({"type": self.kind, "message": _clean(self.message)[:4000]}, ensure_ascii=True)


class _Stop(Exception):
    """Stop the guest now (a trap through the host-call import)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _trap(reason: str) -> wasmtime.WasmtimeError:
    # A WasmtimeError raised by a host function becomes a trap; wasmtime-py consumes it
    # without touching its process-global LAST_EXCEPTION (any other exception type would).
    return wasmtime.WasmtimeError(f"cgr:{reason}")


# --------------------------------------------------------------------------------------------
# Per-run state, the epoch ticker/watchdog and the C callbacks


_RUNS: dict[int, _Run] = {}
_RUN_IDS = itertools.count(1)
_TLS = threading.local()


class _Run:
    """Everything the host knows about one scaffold run."""

    def __init__(self, limits: Limits, host: Callable[[str, dict], object], labels: list[str],
                 engine: wasmtime.Engine):
        self.id = next(_RUN_IDS)
        self.limits = limits
        self.host = host
        self.labels = labels
        self.engine = engine
        self.deadline = math.inf
        self.wake = threading.Event()  # set by the watchdog at the deadline (wakes host-side sleeps)
        self.stop: str | None = None  # why the host stopped the guest: timeout / output_cap
        self.stop_detail: str | None = None
        self.calls = 0
        self.budget_breached = False
        self.answer: str | None = None
        self.invalid_submit: str | None = None
        self.notes: list[str] = []  # refused requests (recorded in SandboxResult.error)
        self.phase = "compile"
        self.out = bytearray()
        self.err = bytearray()
        self.interrupt: BaseException | None = None  # KeyboardInterrupt etc. raised by host()

    # -- limits ------------------------------------------------------------------------------

    def set_stop(self, reason: str, detail: str) -> None:
        if self.stop is None:
            self.stop, self.stop_detail = reason, detail
        self.wake.set()

    def check_alive(self) -> None:
        if self.stop is None and time.monotonic() >= self.deadline:
            self.set_stop("timeout", f"timeout: wall-clock limit of {self.limits.timeout_s:g} s exceeded")
        if self.stop is not None:
            raise _Stop(self.stop)

    def capture(self, stream: int, chunk: bytes) -> None:
        buf = self.out if stream == 0 else self.err
        cap = self.limits.max_output_bytes
        room = cap - len(buf)
        if len(chunk) <= room:
            buf += chunk
            return
        if room > 0:
            buf += chunk[:room]
        name = "stdout" if stream == 0 else "stderr"
        self.set_stop("output_cap", f"output cap: {name} exceeded {cap} bytes")

    # -- the host-call dispatcher -------------------------------------------------------------

    def dispatch(self, op: str, payload: str) -> str:
        if op == "phase":
            self.phase = "exec"
            return "null"
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise self._refuse("ValueError", f"{op}: request of {len(payload)} bytes is too large")
        try:
            args = json.loads(payload)
        except ValueError:
            raise self._refuse("ValueError", f"{op}: malformed request") from None
        if not isinstance(args, dict):
            raise self._refuse("ValueError", f"{op}: malformed request")
        if op == "solve":
            return self._solve(args)
        if op == "logprobs":
            return self._logprobs(args)
        if op == "extract":
            return self._extract(args)
        if op == "submit":
            return self._submit(args)
        if op == "sleep":
            return self._sleep(args)
        raise self._refuse("ValueError", f"unknown host operation {op[:64]!r}")

    def _refuse(self, kind: str, message: str) -> _GuestError:
        if len(self.notes) < 16:
            self.notes.append(f"{kind}: {message}")
        return _GuestError(kind, message)

    def _str(self, op: str, name: str, value, *, limit: int | None = None) -> str:
        if not isinstance(value, str):
            raise self._refuse("TypeError", f"{op}: {name} must be str, got {_type_name(value)}")
        if limit is not None and len(value) > limit:
            raise self._refuse("ValueError", f"{op}: {name} is {len(value)} chars, over max_prompt_chars={limit}")
        return _clean(value)

    def _str_list(self, op: str, name: str, value, *, limit: int) -> list[str]:
        if not isinstance(value, list) or not value:
            raise self._refuse("TypeError" if not isinstance(value, list) else "ValueError",
                               f"{op}: {name} must be a non-empty list of str, got "
                               f"{'an empty list' if isinstance(value, list) else _type_name(value)}")
        if len(value) > MAX_LIST_ITEMS:
            raise self._refuse("ValueError", f"{op}: {name} has {len(value)} items, over {MAX_LIST_ITEMS}")
        out = []
        for i, v in enumerate(value):
            if not isinstance(v, str):
                raise self._refuse("TypeError", f"{op}: {name}[{i}] must be str, got {_type_name(v)}")
            if len(v) > limit:
                raise self._refuse("ValueError", f"{op}: {name}[{i}] is {len(v)} chars, over max_prompt_chars={limit}")
            out.append(_clean(v))
        return out

    def _count_call(self, op: str) -> None:
        if self.calls >= self.limits.max_calls:
            self.budget_breached = True
            raise self._refuse("CallBudgetExceeded",
                               f"{op}: call budget exhausted (max_calls={self.limits.max_calls} solver calls)")
        self.calls += 1

    def _call_host(self, op: str, args: dict):
        try:
            reply = self.host(op, args)
            if isinstance(reply, str) and len(reply) > MAX_PAYLOAD_BYTES:
                raise _GuestError("HostError", f"{op}: the host's reply of {len(reply)} chars is too large")
            return reply
        except _GuestError:
            raise
        except HostError as exc:
            raise _GuestError("HostError", str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - any host failure becomes a guest exception
            raise _GuestError("HostError", f"{type(exc).__name__}: {exc}") from None
        except BaseException as exc:  # KeyboardInterrupt / SystemExit: stop, re-raised by run()
            self.interrupt = exc
            self.set_stop("interrupted", f"interrupted: {type(exc).__name__}")
            raise _Stop("interrupted") from None
        finally:
            self.check_alive()

    def _solve(self, args: dict) -> str:
        limit = self.limits.max_prompt_chars
        prompt = self._str("solver_call", "prompt", args.get("prompt"), limit=limit)
        max_tokens = args.get("max_tokens", 256)
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
            raise self._refuse("TypeError", f"solver_call: max_tokens must be int, got {_type_name(max_tokens)}")
        if not 1 <= max_tokens <= MAX_SOLVER_TOKENS:
            raise self._refuse("ValueError", f"solver_call: max_tokens must be in 1..{MAX_SOLVER_TOKENS}, got {max_tokens}")
        temperature = args.get("temperature", 0.0)
        if not isinstance(temperature, (int, float)) or isinstance(temperature, bool):
            raise self._refuse("TypeError", f"solver_call: temperature must be float, got {_type_name(temperature)}")
        if not (math.isfinite(temperature) and 0.0 <= temperature <= 2.0):
            raise self._refuse("ValueError", f"solver_call: temperature must be in 0..2, got {temperature}")
        stop = args.get("stop")
        if stop is not None:
            if isinstance(stop, str):
                stop = self._str("solver_call", "stop", stop, limit=limit)
            else:
                stop = self._str_list("solver_call", "stop", stop, limit=limit)
        choices = args.get("choices")
        if choices is not None:
            choices = self._str_list("solver_call", "choices", choices, limit=limit)
        self._count_call("solver_call")
        reply = self._call_host("solve", {"prompt": prompt, "max_tokens": max_tokens,
                                          "temperature": float(temperature), "stop": stop, "choices": choices})
        if not isinstance(reply, str):
            raise _GuestError("HostError", f"solver_call: the solver returned {_type_name(reply)}, not str")
        return json.dumps(_clean(reply), ensure_ascii=True)

    def _logprobs(self, args: dict) -> str:
        limit = self.limits.max_prompt_chars
        prompt = self._str("solver_logprobs", "prompt", args.get("prompt"), limit=limit)
        continuations = self._str_list("solver_logprobs", "continuations", args.get("continuations"), limit=limit)
        self._count_call("solver_logprobs")
        reply = self._call_host("logprobs", {"prompt": prompt, "continuations": continuations})
        try:
            values = [float(v) for v in reply]
            if len(values) != len(continuations) or any(isinstance(v, (bool, str, bytes)) for v in reply):
                raise ValueError
        except (TypeError, ValueError):
            raise _GuestError("HostError", "solver_logprobs: the solver did not return one float per continuation") from None
        return json.dumps(values, ensure_ascii=True)

    def _extract(self, args: dict) -> str:
        text = self._str("extract_choice", "text", args.get("text"), limit=self.limits.max_prompt_chars)
        reply = self._call_host("extract", {"text": text})
        if reply is not None and not isinstance(reply, str):
            raise _GuestError("HostError", f"extract_choice: the extractor returned {_type_name(reply)}")
        return json.dumps(None if reply is None else _clean(reply), ensure_ascii=True)

    def _submit(self, args: dict) -> str:
        label = args.get("label")
        if isinstance(label, str) and label in self.labels:
            if self.answer is None:
                self.answer = label
            return "null"
        shown = repr(label[:100]) if isinstance(label, str) else f"a {args.get('type', _type_name(label))}"
        message = f"submit(): {shown} is not one of ITEM.labels {tuple(self.labels)}"
        if self.invalid_submit is None:
            self.invalid_submit = f"ValueError: {message}"
        raise _GuestError("ValueError", message)

    def _sleep(self, args: dict) -> str:
        seconds = args.get("seconds")
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not seconds >= 0:
            raise _GuestError("ValueError", "sleep length must be a non-negative number")
        remaining = self.deadline - time.monotonic()
        if remaining > 0 and seconds > 0:
            self.wake.wait(min(seconds, remaining))
        self.check_alive()
        return "null"


class _Ticker:
    """One daemon thread for the process: increments the epochs of the engines with active runs
    (so running wasm reaches its epoch callback) and is the wall-clock watchdog: at a run's
    deadline it wakes the run's host-side waits, which do not execute wasm."""

    def __init__(self):
        self._cv = threading.Condition()
        self._active: dict[int, _Run] = {}
        self._thread: threading.Thread | None = None

    def add(self, run: _Run) -> None:
        with self._cv:
            self._active[run.id] = run
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="cgr-sandbox-ticker", daemon=True)
                self._thread.start()
            self._cv.notify()

    def remove(self, run: _Run) -> None:
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
                if now >= run.deadline and run.stop is None:
                    run.set_stop("timeout", f"timeout: wall-clock limit of {run.limits.timeout_s:g} s exceeded")


_TICKER = _Ticker()

_NO_FINALIZER = ctypes.cast(0, ctypes.CFUNCTYPE(None, ctypes.c_void_p))

_EPOCH_CALLBACK_T = ctypes.CFUNCTYPE(
    ctypes.c_size_t, ctypes.POINTER(ffi.wasmtime_context_t), ctypes.c_void_p,
    ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ffi.wasmtime_update_deadline_kind_t))

_OUTPUT_CALLBACK_T = ctypes.CFUNCTYPE(ctypes.c_ssize_t, ctypes.c_void_p, ctypes.POINTER(ctypes.c_ubyte),
                                      ctypes.c_size_t)


@_EPOCH_CALLBACK_T
def _epoch_callback(_context, data, delta, kind):
    # Runs on the guest's thread whenever the engine epoch passes this store's deadline
    # (about every EPOCH_TICK_S while wasm executes): trap if the run must stop, else go on.
    try:
        run = _RUNS.get(data or 0)
        if run is None:
            reason = "stopped"
        else:
            if run.stop is None and time.monotonic() >= run.deadline:
                run.set_stop("timeout", f"timeout: wall-clock limit of {run.limits.timeout_s:g} s exceeded")
            reason = run.stop
        if reason is not None:
            return ctypes.cast(ffi.wasmtime_error_new(f"cgr:{reason}".encode()), ctypes.c_void_p).value
    except BaseException:  # noqa: BLE001 - never let an exception cross the C boundary
        pass
    delta[0] = 1
    kind[0] = 0  # WASMTIME_UPDATE_DEADLINE_CONTINUE
    return 0


@_OUTPUT_CALLBACK_T
def _output_callback(data, ptr, size):
    # Guest stdout/stderr bytes. Called on a wasmtime (tokio) worker thread. Must return
    # exactly ``size``: a larger value panics the host, a smaller one is an I/O error.
    try:
        key = data or 0
        run = _RUNS.get(key >> 1)
        if run is not None and size:
            run.capture(key & 1, ctypes.string_at(ptr, size))
    except BaseException:  # noqa: BLE001
        pass
    return size


_MONOTONIC_BASE_NS = time.monotonic_ns() - 1_000_000_000


def _host_call(op: str, payload: str) -> tuple[bool, str]:
    """The ``host-call`` import: (is_ok, JSON text). Raises _Stop only, to trap the guest."""
    run: _Run | None = getattr(_TLS, "run", None)
    if run is None:
        return False, json.dumps({"type": "RuntimeError", "message": "no active run"})
    try:
        run.check_alive()
        return True, run.dispatch(op, payload)
    except _GuestError as exc:
        return False, exc.payload()
    except _Stop:
        raise
    except Exception as exc:  # noqa: BLE001 - a host bug must not unwind through wasmtime
        return False, json.dumps({"type": "HostError", "message": _clean(
            f"sandbox internal error: {type(exc).__name__}: {exc}")[:2000]}, ensure_ascii=True)


def _take_string(val) -> str:
    vec = val.of.string
    data = ctypes.string_at(vec.data, vec.size) if vec.size else b""
    ffi.wasm_byte_vec_delete(ctypes.byref(vec))
    return data.decode("utf-8", "replace")


@ffi.wasmtime_component_func_callback_t
def _host_call_callback(_data, _context, _ty, args, nargs, results, nresults):
    # The raw C callback for ``host-call: func(op: string, payload: string) -> result<string, string>``.
    # Hand-lowered (wasmtime-py's generic path re-reads the function type on every call) and
    # exception-proof: only a WasmtimeError-style error pointer (a trap) ever goes back.
    try:
        if nargs != 2 or nresults != 1:
            return ctypes.cast(ffi.wasmtime_error_new(b"cgr:bad-host-call-signature"), ctypes.c_void_p).value
        op = _take_string(args[0])
        payload = _take_string(args[1])
        try:
            ok, text = _host_call(op, payload)
        except _Stop as stop:
            return ctypes.cast(ffi.wasmtime_error_new(f"cgr:{stop.reason}".encode()), ctypes.c_void_p).value
        raw = ffi.wasmtime_component_val_t()
        raw.kind = ffi.WASMTIME_COMPONENT_STRING
        raw.of.string = ffi.str_to_capi(text)
        out = results.contents
        out.kind = ffi.WASMTIME_COMPONENT_RESULT
        out.of.result.is_ok = ok
        out.of.result.val = ffi.wasmtime_component_val_new(ctypes.byref(raw))
        return 0
    except BaseException:  # noqa: BLE001 - never unwind through wasmtime
        return ctypes.cast(ffi.wasmtime_error_new(b"cgr:host-call-failed"), ctypes.c_void_p).value


def _clock_wait_refused(_store, value):
    # wasi:clocks/monotonic-clock subscribe-*: the only way for a guest to block in WASI.
    # Blocking waits are not interruptible by epochs, so they are refused (a trap);
    # time.sleep inside the guest goes through the host-call "sleep" op instead.
    run = getattr(_TLS, "run", None)
    if run is not None and run.stop is None:
        run.stop_detail = "blocking clock wait (select/poll with a timeout) is not available in the sandbox; use time.sleep"
    raise _trap("clock-wait")


class _Runtime:
    """One engine + compiled component + linker (per Sandbox and fuel setting)."""

    def __init__(self, root: Path, fuel: bool):
        self.fuel = fuel
        self.knobs = {"epoch_interruption": True, "consume_fuel": fuel, "max_wasm_stack": MAX_WASM_STACK,
                      "cranelift_opt_level": "speed"}
        config = wasmtime.Config()
        config.epoch_interruption = True
        config.consume_fuel = fuel
        config.max_wasm_stack = MAX_WASM_STACK
        config.cranelift_opt_level = "speed"
        self.engine = wasmtime.Engine(config)
        self.component, self.load_info = _cache.load_component(self.engine, self.knobs, root)
        self.linker = self._make_linker()

    def _make_linker(self) -> wc.Linker:
        linker = wc.Linker(self.engine)
        linker.add_wasip2()
        clock = next((name for name in self.component.type.imports(self.engine)
                      if name.startswith("wasi:clocks/monotonic-clock@")), None)
        linker.allow_shadowing = True
        with linker.root() as root:
            name = b"host-call"
            error = ffi.wasmtime_component_linker_instance_add_func(
                root.ptr(), ctypes.create_string_buffer(name), len(name), _host_call_callback, None, _NO_FINALIZER)
            if error:
                raise wasmtime.WasmtimeError._from_ptr(error)
            if clock is not None:
                with root.add_instance(clock) as inst:
                    inst.add_func("now", lambda _store: time.monotonic_ns() - _MONOTONIC_BASE_NS)
                    inst.add_func("resolution", lambda _store: 1)
                    inst.add_func("subscribe-duration", _clock_wait_refused)
                    inst.add_func("subscribe-instant", _clock_wait_refused)
        return linker


# --------------------------------------------------------------------------------------------
# Public entry point


class Sandbox:
    """Runs scaffold programs in CPython-on-WASI under wasmtime, one fresh store per run.

    Construction is cheap; the component is built/compiled or loaded from the cache on first
    use (or by :meth:`warm`). One object may be used from several threads at once.
    """

    def __init__(self, cache_dir: str | os.PathLike | None = None):
        self._cache_dir = cache_dir
        self._lock = threading.Lock()
        self._runtimes: dict[bool, _Runtime] = {}

    @property
    def load_info(self) -> dict:
        """How each loaded runtime got its component (``how``: cached/built, ``seconds``, ...)."""
        return {("fuel" if fuel else "default"): dict(rt.load_info) for fuel, rt in self._runtimes.items()}

    def _runtime(self, fuel: bool) -> _Runtime:
        rt = self._runtimes.get(fuel)
        if rt is None:
            with self._lock:
                rt = self._runtimes.get(fuel)
                if rt is None:
                    rt = _Runtime(_cache.cache_root(self._cache_dir), fuel)
                    self._runtimes[fuel] = rt
        return rt

    def warm(self, fuel: bool = False) -> None:
        """Build/load the compiled component now (``fuel=True``: the fuel-metered variant)."""
        self._runtime(bool(fuel))

    def run(self, source: str, item: dict, host: Callable[[str, dict], object], limits: Limits = Limits(),
            seed: int = 0) -> SandboxResult:
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

        run = _Run(limits, host, view["labels"], rt.engine)
        outcome: dict | None = None
        trap: str | None = None
        exit_code: int | None = None
        start = time.perf_counter()
        run.deadline = time.monotonic() + limits.timeout_s
        previous = getattr(_TLS, "run", None)
        _RUNS[run.id] = run
        _TLS.run = run
        _TICKER.add(run)
        store = None
        try:
            store = wasmtime.Store(rt.engine)
            store.set_limits(memory_size=limits.memory_mb * MiB)
            store.set_epoch_deadline(1)
            ffi.wasmtime_store_epoch_deadline_callback(store.ptr(), _epoch_callback, run.id, _NO_FINALIZER)
            if rt.fuel:
                store.set_fuel(limits.fuel)
            wasi = wasmtime.WasiConfig()  # no args, no env, no preopens, no network, empty stdin
            ffi.wasi_config_set_stdout_custom(wasi.ptr(), _output_callback, run.id << 1, _NO_FINALIZER)
            ffi.wasi_config_set_stderr_custom(wasi.ptr(), _output_callback, (run.id << 1) | 1, _NO_FINALIZER)
            store.set_wasi(wasi)
            instance = rt.linker.instantiate(store, rt.component)
            func = instance.get_func(store, "run")
            reply = func(store, _clean(source), json.dumps(view, ensure_ascii=True), seed % (1 << 64))
            payload = reply.payload if isinstance(reply, wc.Variant) else reply
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
        except Exception as exc:  # noqa: BLE001 - e.g. a foreign exception from wasmtime-py's global slot
            trap = f"{type(exc).__name__}: {exc}"
        finally:
            _TICKER.remove(run)
            _TLS.run = previous
            if store is not None:
                store.close()
            _RUNS.pop(run.id, None)
        elapsed = time.perf_counter() - start
        if run.interrupt is not None:
            raise run.interrupt
        status, error = _classify(run, outcome, trap, exit_code)
        return SandboxResult(
            status=status,
            answer=run.answer,
            solver_calls=run.calls,
            stdout=run.out.decode("utf-8", "replace"),
            stderr=run.err.decode("utf-8", "replace"),
            elapsed_s=elapsed,
            error=error,
        )


def _trap_reason(message: str) -> str:
    """The 'Caused by' line of a wasmtime error (the trap's own message)."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    if "Caused by:" in lines:
        rest = lines[lines.index("Caused by:") + 1:]
        if rest:
            return rest[-1].lstrip("0123456789: ")
    return lines[0] if lines else message


def _classify(run: _Run, outcome: dict | None, trap: str | None, exit_code: int | None) -> tuple[str, str | None]:
    """The run's status and error message (order documented in specs/scaffold_api.md)."""
    note = run.notes[0] if run.notes else None
    reason = _trap_reason(trap) if trap is not None else ""
    # 1. limits enforced by stopping the guest
    if run.stop in ("timeout", "output_cap"):
        return run.stop, run.stop_detail
    if trap is not None and "fuel" in reason and "consumed" in reason:
        return "timeout", f"timeout: fuel limit of {run.limits.fuel} exhausted"
    if trap is not None:
        stderr_tail = run.err[-4000:].decode("utf-8", "replace")
        if "memory allocation" in stderr_tail or "out of memory" in reason:
            return "memory", f"memory: guest out of memory (limit {run.limits.memory_mb} MiB)"
        if "memory" in reason and "limit" in reason:
            return "memory", f"memory: memory_mb={run.limits.memory_mb} is too small to start the guest ({reason})"
    # 2. the call budget (the program may have caught the refusal)
    if run.budget_breached:
        return "call_budget", f"call budget: more than max_calls={run.limits.max_calls} solver calls requested"
    # 3. how the program itself ended
    stack = trap is not None and "call stack exhausted" in reason
    stack_message = "RecursionError: wasm call stack exhausted (code or data nested too deeply)"
    if stack and run.phase == "compile":
        return "syntax", stack_message
    if trap is None and exit_code is None:
        outcome = outcome or {"kind": "exception", "error": "runner: no outcome", "exc_type": None}
        if outcome.get("kind") == "syntax":
            return "syntax", outcome.get("error")
    if run.answer is not None:
        return "ok", note
    if run.invalid_submit is not None:
        error = outcome.get("error") if trap is None and exit_code is None and outcome else None
        return "invalid_submit", error or run.invalid_submit
    if exit_code is not None:
        return "no_submit", f"SystemExit: guest exited with status {exit_code}"
    if trap is not None:
        if stack:
            return "error", stack_message
        if "cgr:clock-wait" in trap:
            return "error", f"RuntimeError: {run.stop_detail or 'blocking clock wait refused'}"
        return "error", f"guest trap: {reason[4:] if reason.startswith('cgr:') else reason}"
    if outcome.get("kind") == "exception":
        error = outcome.get("error")
        if outcome.get("exc_type") == "MemoryError":
            return "memory", error
        return "error", error
    return "no_submit", note
