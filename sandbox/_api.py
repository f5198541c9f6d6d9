"""The sandbox's public types (Limits, SandboxResult, HostError, STATUSES), its internal caps,
and the guest's view of an item."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, TypedDict, TypeGuard

MiB = 1024 * 1024

STATUSES = ("ok", "no_submit", "invalid_submit", "error", "syntax", "timeout", "memory", "output_cap", "call_budget")

# Engine configuration. Part of the compiled artifact's cache key (see _engine.Runtime.knobs).
MAX_WASM_STACK = 2 * MiB  # above 2 MiB aborted the host in prototyping
EPOCH_TICK_S = 0.01  # epoch granularity: a limit breach stops the guest within about this long

# Internal caps (not Limits fields: they bound the bridge itself, whatever the limits say).
MAX_PAYLOAD_BYTES = 8 * MiB  # one guest request, as JSON
MAX_LIST_ITEMS = 64  # continuations, choices and stop strings per request
MAX_SOLVER_TOKENS = 4096
MAX_REPLY_CHARS = 256 * 1024  # one host reply (solver text, extractor label); larger -> HostError in the guest
MAX_NOTES = 16  # refused requests / host errors remembered per run (the first is SandboxResult.error)
MAX_OP_BYTES = 32  # a host-call operation name ("solve", "extract", ...); longer ones are not even read
MAX_RUN_BYTES = 64 * MiB  # all requests and replies of one run together; past it requests are refused
MAX_ERROR_CHARS = 500  # SandboxResult.error: one line, at most this long (plus "...")


# Bounds of the Limits fields (Limits.__post_init__ enforces them; the CLI and the run config use them).
TIMEOUT_S_MAX = 3600.0
MEMORY_MB_RANGE = (16, 4096)  # wasm32 linear memory tops out at 4 GiB
MAX_CALLS_MAX = 10_000
OUTPUT_KB_RANGE = (1, 16 * 1024)  # max_output_bytes, in KiB
FUEL_MAX = 2**63 - 1  # wasmtime keeps fuel in 64 bits: set_fuel(2**64) silently becomes 0


def _is_int(value: object) -> TypeGuard[int]:
    """An int, not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Limits:
    """Per-scaffold resource limits (the one set of defaults; bounds: TIMEOUT_S_MAX, MEMORY_MB_RANGE,
    OUTPUT_KB_RANGE, MAX_CALLS_MAX)."""

    timeout_s: float = 20.0
    memory_mb: int = 256
    max_output_bytes: int = 64 * 1024
    max_calls: int = 64
    max_prompt_chars: int = 32_000
    fuel: int | None = None

    def __post_init__(self) -> None:
        timeout = self.timeout_s
        if not (isinstance(timeout, (int, float)) and 0 < timeout <= TIMEOUT_S_MAX and math.isfinite(timeout)):
            raise ValueError(f"Limits.timeout_s must be a positive number up to {TIMEOUT_S_MAX:g}, got {timeout!r}")
        low, high = MEMORY_MB_RANGE
        if not (_is_int(self.memory_mb) and low <= self.memory_mb <= high):
            raise ValueError(f"Limits.memory_mb must be an int in {low}..{high}, got {self.memory_mb!r}")
        low, high = OUTPUT_KB_RANGE[0] * 1024, OUTPUT_KB_RANGE[1] * 1024
        if not (_is_int(self.max_output_bytes) and low <= self.max_output_bytes <= high):
            raise ValueError(f"Limits.max_output_bytes must be an int in {low}..{high}, got {self.max_output_bytes!r}")
        if not (_is_int(self.max_prompt_chars) and self.max_prompt_chars > 0):
            raise ValueError(f"Limits.max_prompt_chars must be a positive int, got {self.max_prompt_chars!r}")
        if not (_is_int(self.max_calls) and 0 <= self.max_calls <= MAX_CALLS_MAX):
            raise ValueError(f"Limits.max_calls must be an int in 0..{MAX_CALLS_MAX}, got {self.max_calls!r}")
        if self.fuel is not None and not (_is_int(self.fuel) and 1 <= self.fuel <= FUEL_MAX):
            raise ValueError(f"Limits.fuel must be None or an int in 1..{FUEL_MAX}, got {self.fuel!r}")


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: The host callback a run calls: ``host(op, args)`` with op "solve", "logprobs" or "extract".
HostCallback = Callable[[str, dict[str, Any]], object]


class HostError(Exception):
    """Raised by a host callback to send a catchable error into the guest (message is passed)."""


def clean(text: str) -> str:
    """``text`` as valid Unicode: lone surrogates become U+FFFD (pairs are joined)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def type_name(value: object) -> str:
    return "None" if value is None else type(value).__name__


def _default_labels(n: int) -> list[str]:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return [letters[i] if i < len(letters) else f"L{i + 1}" for i in range(n)]


class GuestView(TypedDict):
    """The item as the guest sees it (``ITEM``), before JSON."""

    id: str
    question: str
    choices: list[str]
    labels: list[str]
    context: str | None


def guest_view(item: Mapping[str, Any]) -> GuestView:
    """The only item fields a scaffold sees: id, question, choices, labels, context."""
    if not isinstance(item, Mapping):
        raise TypeError(f"item must be a mapping, got {type(item).__name__}")
    choices = item.get("choices") or []
    if isinstance(choices, (str, bytes)) or not isinstance(choices, (list, tuple)):
        raise TypeError("item['choices'] must be a list of str")
    choices = [clean(str(c)) for c in choices]
    labels = item.get("labels")
    labels = _default_labels(len(choices)) if not labels else [clean(str(x)) for x in labels]
    context = item.get("context")
    return {
        "id": clean(str(item.get("id", ""))),
        "question": clean(str(item.get("question", ""))),
        "choices": choices,
        "labels": labels,
        "context": None if context is None else clean(str(context)),
    }
