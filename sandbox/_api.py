"""The sandbox's public types (Limits, SandboxResult, HostError, STATUSES), its internal caps,
and the guest's view of an item."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

MiB = 1024 * 1024

STATUSES = ("ok", "no_submit", "invalid_submit", "error", "syntax", "timeout", "memory", "output_cap",
            "call_budget")

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


def clean(text: str) -> str:
    """``text`` as valid Unicode: lone surrogates become U+FFFD (pairs are joined)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def type_name(value) -> str:
    return "None" if value is None else type(value).__name__


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
