"""The host-call bridge: per-run state and the dispatcher behind the guest's one ``host-call`` import.

Every request from the guest is JSON; it is validated here (types, sizes, the call budget, the
submitted label) before the host callback sees it, and every host reply is checked (type, size)
before the guest sees it. Nothing the guest sends is trusted: the in-guest runner only shapes the
API, it is not a security boundary.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn

import wasmtime

from ._api import (
    MAX_LIST_ITEMS,
    MAX_NOTES,
    MAX_REPLY_CHARS,
    MAX_RUN_BYTES,
    MAX_SOLVER_TOKENS,
    HostCallback,
    HostError,
    Limits,
    clean,
    type_name,
)
from ._sink import OutputFiles


class GuestError(Exception):
    """Becomes an exception of type ``kind`` inside the guest."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message

    def payload(self) -> str:
        return json.dumps({"type": self.kind, "message": clean(self.message)[:4000]}, ensure_ascii=True)


class Stop(Exception):
    """Stop the guest now (a trap through the host-call import)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def trap(reason: str) -> wasmtime.WasmtimeError:
    # A WasmtimeError raised by a host function becomes a trap; wasmtime-py consumes it
    # without touching its process-global LAST_EXCEPTION (any other exception type would).
    return wasmtime.WasmtimeError(f"cgr:{reason}")


def describe(exc: BaseException) -> str:
    """``Type: message`` for an exception whose ``str()`` may itself fail."""
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001
        text = "<unprintable>"
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


class Run:
    """Everything the host knows about one scaffold run.

    Used by the thread that called ``Sandbox.run`` (the dispatcher, the host callback), by the
    ticker thread (``set_stop`` at the deadline) and by wasmtime's output callback (``capture``).
    """

    def __init__(self, run_id: int, limits: Limits, host: HostCallback, labels: list[str], engine: wasmtime.Engine):
        self.id = run_id
        self.limits = limits
        self.host = host
        self.labels = labels
        self.engine = engine
        self.deadline = math.inf
        # Set while the host callback (the solver) runs: that time does not count against
        # timeout_s (solver work is bounded by max_calls and the solver's own timeouts).
        self.host_since: float | None = None
        self.wake = threading.Event()  # set by the watchdog at the deadline (wakes host-side sleeps)
        self.stop: str | None = None  # why the host stopped the guest: timeout / output_cap / interrupted
        self.stop_detail: str | None = None
        self.calls = 0  # solver calls (solver_call, solver_logprobs)
        self.extract_calls = 0  # extract_choice calls: they share the max_calls budget
        self.bytes = 0  # request and reply bytes that crossed so far (capped by MAX_RUN_BYTES)
        self.budget_breached = False
        self.budget_error: str | None = None  # the first budget refusal (the call_budget status's error)
        self.answer: str | None = None
        self.invalid_submit: str | None = None
        self.notes: list[str] = []  # refused requests and host failures (the first is SandboxResult.error)
        self.phase = "compile"
        self.out = bytearray()
        self.err = bytearray()
        self.files: OutputFiles | None = None  # output capture through files (Sandbox(output_files=True))
        self.interrupt: BaseException | None = None  # KeyboardInterrupt etc. raised by host()

    # -- limits ------------------------------------------------------------------------------

    def set_stop(self, reason: str, detail: str) -> None:
        if self.stop is None:
            self.stop, self.stop_detail = reason, detail
        self.wake.set()

    def timeout_detail(self) -> str:
        return f"timeout: wall-clock limit of {self.limits.timeout_s:g} s exceeded"

    def past_deadline(self, now: float) -> bool:
        """True once the scaffold's own time (host-callback time excluded) exceeds timeout_s."""
        return self.host_since is None and now >= self.deadline

    def poll_output(self) -> None:
        """With output files: a stream past ``max_output_bytes`` stops the run (as ``capture`` does otherwise)."""
        if self.files is not None and self.stop is None:
            name = self.files.over_cap()
            if name is not None:
                self.set_stop("output_cap", f"output cap: {name} exceeded {self.limits.max_output_bytes} bytes")

    def check_alive(self) -> None:
        self.poll_output()  # first: that output was written before now
        if self.stop is None and self.past_deadline(time.monotonic()):
            self.set_stop("timeout", self.timeout_detail())
        if self.stop is not None:
            raise Stop(self.stop)

    def capture(self, stream: int, chunk: bytes) -> None:
        """Guest output (stream 0: stdout, 1: stderr), kept up to ``max_output_bytes`` each."""
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

    def note(self, kind: str, message: str) -> GuestError:
        """Record a refused request or a host failure and return the guest exception for it."""
        if len(self.notes) < MAX_NOTES:
            self.notes.append(f"{kind}: {message}")
        return GuestError(kind, message)

    # -- the dispatcher -------------------------------------------------------------------------

    def dispatch(self, op: str, payload: str) -> str:
        """One request; its size was checked before it was copied (_callbacks: MAX_OP_BYTES, MAX_PAYLOAD_BYTES)."""
        if op == "phase":
            self.phase = "exec"
            return "null"
        self.phase = "exec"  # any real request means the program is running (it compiled)
        self._count_bytes(op, len(payload))
        try:
            args = json.loads(payload)
        except (ValueError, RecursionError):
            raise self.note("ValueError", f"{op[:64]}: malformed request") from None
        if not isinstance(args, dict):
            raise self.note("ValueError", f"{op[:64]}: malformed request")
        handler = _HANDLERS.get(op)
        if handler is None:
            raise self.note("ValueError", f"unknown host operation {op[:64]!r}")
        return handler(self, args)

    def _str(self, op: str, name: str, value: object, *, limit: int | None = None) -> str:
        if not isinstance(value, str):
            raise self.note("TypeError", f"{op}: {name} must be str, got {type_name(value)}")
        if limit is not None and len(value) > limit:
            raise self.note("ValueError", f"{op}: {name} is {len(value)} chars, over max_prompt_chars={limit}")
        return clean(value)

    def _str_list(self, op: str, name: str, value: object, *, limit: int) -> list[str]:
        if not isinstance(value, list) or not value:
            raise self.note(
                "TypeError" if not isinstance(value, list) else "ValueError",
                f"{op}: {name} must be a non-empty list of str, got "
                f"{'an empty list' if isinstance(value, list) else type_name(value)}",
            )
        if len(value) > MAX_LIST_ITEMS:
            raise self.note("ValueError", f"{op}: {name} has {len(value)} items, over {MAX_LIST_ITEMS}")
        out = []
        total = 0
        for i, v in enumerate(value):
            if not isinstance(v, str):
                raise self.note("TypeError", f"{op}: {name}[{i}] must be str, got {type_name(v)}")
            total += len(v)
            if total > limit:
                raise self.note("ValueError", f"{op}: the strings of {name} are over max_prompt_chars={limit} together")
            out.append(clean(v))
        return out

    def _breach(self, message: str) -> NoReturn:
        """Refuse a request over a budget; the first such refusal is the run's call_budget error."""
        if not self.budget_breached:
            self.budget_breached, self.budget_error = True, f"call budget: {message}"
        raise self.note("CallBudgetExceeded", message)

    def _count_bytes(self, op: str, n: int) -> None:
        """Add ``n`` bytes to the run's traffic; refuse the request once MAX_RUN_BYTES is spent."""
        if self.bytes + n > MAX_RUN_BYTES:
            self._breach(
                f"{op[:64]}: byte budget exhausted (requests and replies of one run are capped at "
                f"{MAX_RUN_BYTES} bytes)"
            )
        self.bytes += n

    def _count_call(self, op: str, *, extract: bool = False) -> None:
        """One crossing against max_calls (solver calls and extract_choice calls together)."""
        if self.calls + self.extract_calls >= self.limits.max_calls:
            self._breach(
                f"{op}: call budget exhausted (max_calls={self.limits.max_calls} calls of "
                f"solver_call, solver_logprobs and extract_choice)"
            )
        if extract:
            self.extract_calls += 1
        else:
            self.calls += 1

    def _call_host(self, op: str, args: dict[str, Any], *, counted: bool = False) -> Any:
        """The host callback's reply (any value: each caller checks it), called on this thread. Its
        failures become HostError in the guest (and a note).

        Solver time does not count against timeout_s (it is bounded by max_calls and the solver's
        own limits); ``counted`` host work (extraction) does.
        """
        self.host_since = None if counted else time.monotonic()
        started = time.monotonic()
        try:
            return self.host(op, args)
        except HostError as exc:
            try:
                message = str(exc)
            except Exception:  # noqa: BLE001
                message = "<unprintable>"
            raise self.note("HostError", message) from None
        except Exception as exc:  # noqa: BLE001 - any host failure becomes a guest exception
            raise self.note("HostError", describe(exc)) from None
        except BaseException as exc:  # KeyboardInterrupt / SystemExit: stop, re-raised by run()
            self.interrupt = exc
            self.set_stop("interrupted", f"interrupted: {type(exc).__name__}")
            raise Stop("interrupted") from None
        finally:
            if not counted:
                self.deadline += time.monotonic() - started
            self.host_since = None
            self.check_alive()

    def _text_reply(self, api: str, who: str, reply: object) -> str:
        if not isinstance(reply, str):
            raise self.note("HostError", f"{api}: the {who} returned {type_name(reply)}, not str")
        if len(reply) > MAX_REPLY_CHARS:
            raise self.note(
                "HostError",
                f"{api}: the {who}'s reply of {len(reply)} chars is over the sandbox's cap of {MAX_REPLY_CHARS} chars",
            )
        self._count_bytes(api, len(reply))
        return clean(reply)

    def _solve(self, args: dict[str, Any]) -> str:
        limit = self.limits.max_prompt_chars
        prompt = self._str("solver_call", "prompt", args.get("prompt"), limit=limit)
        max_tokens = args.get("max_tokens", 256)
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
            raise self.note("TypeError", f"solver_call: max_tokens must be int, got {type_name(max_tokens)}")
        if not 1 <= max_tokens <= MAX_SOLVER_TOKENS:
            shown = max_tokens if abs(max_tokens) < 10**12 else f"an int of {len(str(abs(max_tokens)))} digits"
            raise self.note("ValueError", f"solver_call: max_tokens must be in 1..{MAX_SOLVER_TOKENS}, got {shown}")
        temperature = args.get("temperature", 0.0)
        if not isinstance(temperature, (int, float)) or isinstance(temperature, bool):
            raise self.note("TypeError", f"solver_call: temperature must be float, got {type_name(temperature)}")
        try:
            temperature = float(temperature)
        except OverflowError:
            temperature = math.inf
        if not (math.isfinite(temperature) and 0.0 <= temperature <= 2.0):
            raise self.note("ValueError", f"solver_call: temperature must be in 0..2, got {temperature}")
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
        reply = self._call_host(
            "solve",
            {"prompt": prompt, "max_tokens": max_tokens, "temperature": temperature, "stop": stop, "choices": choices},
        )
        return json.dumps(self._text_reply("solver_call", "solver", reply), ensure_ascii=True)

    def _logprobs(self, args: dict[str, Any]) -> str:
        limit = self.limits.max_prompt_chars
        prompt = self._str("solver_logprobs", "prompt", args.get("prompt"), limit=limit)
        continuations = self._str_list("solver_logprobs", "continuations", args.get("continuations"), limit=limit)
        self._count_call("solver_logprobs")
        reply = self._call_host("logprobs", {"prompt": prompt, "continuations": continuations})
        try:
            if isinstance(reply, (str, bytes, dict)) or len(reply) != len(continuations):
                raise ValueError
            if any(isinstance(v, (bool, str, bytes)) for v in reply):
                raise ValueError
            values = [float(v) for v in reply]
        except (TypeError, ValueError, OverflowError):
            raise self.note(
                "HostError", "solver_logprobs: the solver did not return one float per continuation"
            ) from None
        text = json.dumps(values, ensure_ascii=True)
        self._count_bytes("solver_logprobs", len(text))
        return text

    def _extract(self, args: dict[str, Any]) -> str:
        text = self._str("extract_choice", "text", args.get("text"), limit=self.limits.max_prompt_chars)
        self._count_call("extract_choice", extract=True)
        reply = self._call_host("extract", {"text": text}, counted=True)
        if reply is None:
            return "null"
        return json.dumps(self._text_reply("extract_choice", "extractor", reply), ensure_ascii=True)

    def _submit(self, args: dict[str, Any]) -> str:
        label = args.get("label")
        if isinstance(label, str) and label in self.labels:
            if self.answer is None:
                self.answer = label
            elif len(self.notes) < MAX_NOTES:
                self.notes.append(f"submit(): called again with {label!r}; the first submit {self.answer!r} stands")
            return "null"
        shown = repr(label[:100]) if isinstance(label, str) else f"a {str(args.get('type', type_name(label)))[:100]}"
        message = f"submit(): {shown} is not one of ITEM.labels {tuple(self.labels)}"
        if self.invalid_submit is None:
            self.invalid_submit = f"ValueError: {message}"
        raise self.note("ValueError", message)

    def _sleep(self, args: dict[str, Any]) -> str:
        seconds = args.get("seconds")
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not seconds >= 0:
            raise GuestError("ValueError", "sleep length must be a non-negative number")
        remaining = self.deadline - time.monotonic()
        if remaining > 0 and seconds > 0:
            self.wake.wait(min(seconds, remaining))
        self.check_alive()
        return "null"


_HANDLERS: dict[str, Callable[[Run, dict[str, Any]], str]] = {
    "solve": Run._solve,
    "logprobs": Run._logprobs,
    "extract": Run._extract,
    "submit": Run._submit,
    "sleep": Run._sleep,
}
