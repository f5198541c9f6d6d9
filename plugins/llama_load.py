"""Loading llama.cpp models for the llama solver: options, the AMX workaround, and the model cache.

On CPUs with AMX, llama.cpp's AMX "extra buffer type" crashes (ggml-org/llama.cpp#20824): there
the model is loaded without extra buffer types (``--solver-option extra_buffers=auto``, the
default; ``on``/``off`` force it) and the manifest records the choice and why.

``MODELS`` (a ``ModelCache``) holds every loaded model of the process; see its class for what is
cached, for how long and why.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from cgr.kernel.api import SolverConfig, SolverError

#: Solver options (``--solver-option KEY=VALUE``) this solver understands, with their allowed values.
OPTIONS = {"extra_buffers": ("auto", "on", "off")}
#: Integer solver options, with their (lowest, highest) values. ``batch_slots=N``: with N > 1,
#: ``complete`` calls without choices are batched, up to N sequences per decode (``llama_batch``);
#: 1 (the default) keeps one call at a time behind the solver's lock.
INT_OPTIONS = {"batch_slots": (1, 64)}


def batch_slots(options: dict[str, Any]) -> int:
    """The ``batch_slots`` option as an int (1 when absent); SolverError when not an allowed integer."""
    low, high = INT_OPTIONS["batch_slots"]
    raw = options.get("batch_slots", 1)
    try:
        value = int(str(raw).strip())
    except ValueError:
        value = low - 1
    if isinstance(raw, bool) or not low <= value <= high:
        raise SolverError(f"llama solver: --solver-option batch_slots={raw}: expected an integer {low}..{high}")
    return value


def check_options(options: dict[str, Any]) -> None:
    """SolverError for an unknown option name or a value outside its allowed ones."""
    unknown = sorted(set(options) - set(OPTIONS) - set(INT_OPTIONS))
    if unknown:
        known = ", ".join(k + "=" + "|".join(v) for k, v in OPTIONS.items())
        ints = ", ".join(f"{k}={lo}..{hi}" for k, (lo, hi) in INT_OPTIONS.items())
        raise SolverError(f"llama solver: unknown --solver-option {', '.join(unknown)} (known: {known}) and {ints}")
    for key, allowed in OPTIONS.items():
        if str(options.get(key, allowed[0])) not in allowed:
            raise SolverError(
                f"llama solver: --solver-option {key}={options[key]}: expected one of {', '.join(allowed)}"
            )
    batch_slots(options)


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU feature flags the kernel reports (``/proc/cpuinfo``'s ``flags``/``Features`` line)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def extra_buffers_decision(option: str, flags: set[str], system_info: str) -> tuple[bool, str]:
    """Whether to load the model with llama.cpp's extra buffer types, and why.

    ``auto`` turns them off where llama.cpp would pick its AMX buffer type (the CPU has AMX, or this
    llama.cpp was built with AMX), because that buffer type segfaults (ggml-org/llama.cpp#20824);
    elsewhere they stay on (they hold the repacked weights of the fast CPU kernels).
    """
    if option == "on":
        return True, "forced on (--solver-option extra_buffers=on)"
    if option == "off":
        return False, "forced off (--solver-option extra_buffers=off)"
    amx = sorted(f for f in flags if f.startswith("amx"))
    built = "AMX_INT8 = 1" in system_info
    if amx or built:
        why = f"CPU has {' '.join(amx)}" if amx else "llama.cpp was built with AMX_INT8"
        return False, f"off: {why}; llama.cpp's AMX buffer type crashes (ggml-org/llama.cpp#20824)"
    return True, "on: no AMX on this CPU"


_LOAD_LOCK = threading.Lock()


def _load_llama(llama_cpp: Any, use_extra_bufts: bool, **kwargs: Any) -> Any:
    """``llama_cpp.Llama(**kwargs)`` with ``llama_model_params.use_extra_bufts`` set.

    ``Llama`` fills its model parameters from ``llama_model_default_params()`` and loads the model
    in its constructor, with no argument for this field: the defaults function is wrapped for the
    duration of this one construction (under a lock, so no other load sees the wrapper).
    """
    module = llama_cpp.llama_cpp
    original = module.llama_model_default_params
    if use_extra_bufts or "use_extra_bufts" not in dict(original().__class__._fields_):
        return llama_cpp.Llama(**kwargs)

    def defaults() -> Any:
        params = original()
        params.use_extra_bufts = False
        return params

    with _LOAD_LOCK:
        module.llama_model_default_params = defaults
        try:
            return llama_cpp.Llama(**kwargs)
        finally:
            module.llama_model_default_params = original


def _usable_cpus() -> int:
    """CPUs this process may run on (``taskset``/cgroup affinity), not all the machine has."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class ModelKey(NamedTuple):
    """What identifies a loaded model: the file and every setting passed to ``llama_cpp.Llama``.

    ``n_threads`` and ``gpu_layers`` are as configured (None = the solver's default), and
    ``extra_buffers`` is the option (``auto``/``on``/``off``), not the decision it leads to;
    ``batch_slots`` sizes the batched-generation context (``llama_batch``), so it is a load setting too.
    """

    path: str
    n_ctx: int
    gpu_layers: int | None
    n_threads: int | None
    seed: int
    extra_buffers: str
    batch_slots: int = 1

    @classmethod
    def of(cls, path: Path, config: SolverConfig) -> ModelKey:
        """The key of ``config`` loading the model file at ``path`` (already resolved)."""
        return cls(
            str(path),
            config.n_ctx,
            config.gpu_layers,
            config.n_threads,
            config.seed,
            str(config.options.get("extra_buffers", "auto")),
            batch_slots(config.options),
        )


T = TypeVar("T")


class ModelCache:
    """The llama.cpp models loaded in this process, one per ``ModelKey``.

    What: the object built around one loaded ``llama_cpp.Llama`` (for the llama solver, the
    ``LlamaSolver`` itself: the model, its context, the lock that serializes its use, and its
    facts), under the ``ModelKey`` of the file and load settings. Two callers that ask for the same
    key get the very same object; any difference in the key is another load.

    For how long: until ``clear()`` or the end of the process; nothing is evicted. ``clear()``
    only forgets the entries: whoever still holds a model keeps it usable, and it is freed with
    the last reference.

    Why: loading costs seconds and the model's memory, and a llama.cpp context is not thread-safe.
    One run builds its solver and the ``llm`` generator on the same model (one load, one lock for
    both), parallel workers share it, and tests reuse the models other tests loaded.

    Thread-safe: ``get`` loads under the cache's lock, so concurrent callers of one key wait for
    the one load instead of loading twice. A load that raises caches nothing.
    """

    def __init__(self) -> None:
        self._entries: dict[ModelKey, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: ModelKey, loader: Callable[[], T]) -> T:
        """The entry for ``key``; the first caller builds it with ``loader()``."""
        with self._lock:
            if key not in self._entries:
                self._entries[key] = loader()
            entry: T = self._entries[key]
            return entry

    def clear(self) -> None:
        """Forget every entry (the next ``get`` of any key loads again)."""
        with self._lock:
            self._entries.clear()

    def keys(self) -> list[ModelKey]:
        """The keys loaded so far, oldest first."""
        with self._lock:
            return list(self._entries)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._entries


#: The process-wide cache of loaded models (the registered factory ``load_solver`` goes through it).
MODELS = ModelCache()
