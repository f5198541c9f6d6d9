"""cgr.sandbox: run untrusted scaffold programs in CPython-on-WASI under wasmtime.

Knows nothing of the kernel: it takes a program, an item view, limits and one host callback,
and returns a typed :class:`SandboxResult`. See ``specs/scaffold_api.md`` for the contract and
the README's sandbox section for the guarantees and what they do not cover.

Layout: ``_api`` (public types, caps, the item view), ``_runner`` (Sandbox, outcome
classification), ``_engine`` (engine, pooling allocator, linker, the call into the guest),
``_bridge`` (per-run state and the host-call dispatcher), ``_callbacks`` (the raw C callbacks:
host-call, clock, output capture, epoch), ``_ticker`` (epoch ticker and wall-clock watchdog),
``_cache`` (building, verifying and caching the compiled component), ``_sink`` (the opt-in output
capture through files), ``guest/`` (the in-guest runner).
"""

from ._api import (
    FUEL_MAX,
    MAX_CALLS_MAX,
    MEMORY_MB_RANGE,
    OUTPUT_KB_RANGE,
    STATUSES,
    TIMEOUT_S_MAX,
    HostError,
    Limits,
    SandboxResult,
)
from ._cache import cache_root
from ._runner import Sandbox

__all__ = [
    "Sandbox",
    "Limits",
    "SandboxResult",
    "HostError",
    "STATUSES",
    "cache_root",
    "TIMEOUT_S_MAX",
    "MEMORY_MB_RANGE",
    "MAX_CALLS_MAX",
    "OUTPUT_KB_RANGE",
    "FUEL_MAX",
]
