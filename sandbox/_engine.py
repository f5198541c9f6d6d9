"""The wasmtime engine, the compiled component (from the cache) and the linker; one fresh Store and
instance per run, entered through a hand-lowered call of the ``run`` export.

Instances come from wasmtime's pooling allocator: linear-memory slots stay mapped between runs and
are reset to the snapshot image (the first ``KEEP_RESIDENT_BYTES`` by copy, the rest by
``madvise``), which costs less than mapping a fresh copy-on-write image and taking a page fault on
every page the run touches. The isolation is the same: every run starts from the image. If the
pool cannot be created (e.g. a tight ``ulimit -v``) or ``CGR_SANDBOX_POOLING=0`` is set, instances
are allocated on demand instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import wasmtime
from wasmtime import _ffi as ffi
from wasmtime import component as wc

from . import _cache
from ._api import MAX_WASM_STACK, MiB
from ._callbacks import CLOCK_FUNCS, NO_FINALIZER, epoch_callback, host_call_callback, output_callback
from ._sink import OutputFiles

if TYPE_CHECKING:
    from _ctypes import CFuncPtr

POOL_INSTANCES = 16  # concurrent runs per engine; more wait for a slot
KEEP_RESIDENT_BYTES = 16 * MiB  # covers the ~14.4 MiB snapshot image
MAX_UNUSED_WARM_SLOTS = 4  # idle slots that keep their image (and up to KEEP_RESIDENT_BYTES resident)


def pooling_wanted() -> bool:
    return os.environ.get("CGR_SANDBOX_POOLING", "1").strip().lower() not in ("0", "false", "no", "off")


def _pooling_config() -> ctypes._Pointer[ffi.wasmtime_pooling_allocation_config_t]:
    n = POOL_INSTANCES
    pc = ffi.wasmtime_pooling_allocation_config_new()
    ffi.wasmtime_pooling_allocation_config_total_component_instances_set(pc, n)
    ffi.wasmtime_pooling_allocation_config_max_core_instances_per_component_set(pc, 32)
    ffi.wasmtime_pooling_allocation_config_total_core_instances_set(pc, n * 32)
    ffi.wasmtime_pooling_allocation_config_max_memories_per_component_set(pc, 2)
    ffi.wasmtime_pooling_allocation_config_total_memories_set(pc, n * 2)
    ffi.wasmtime_pooling_allocation_config_max_tables_per_component_set(pc, 8)
    ffi.wasmtime_pooling_allocation_config_total_tables_set(pc, n * 8)
    ffi.wasmtime_pooling_allocation_config_total_gc_heaps_set(pc, 0)
    ffi.wasmtime_pooling_allocation_config_table_elements_set(pc, 32768)
    ffi.wasmtime_pooling_allocation_config_max_memory_size_set(pc, 1 << 32)  # Limits.memory_mb caps it
    ffi.wasmtime_pooling_allocation_config_max_core_instance_size_set(pc, 1 * MiB)
    ffi.wasmtime_pooling_allocation_config_max_component_instance_size_set(pc, 1 * MiB)
    ffi.wasmtime_pooling_allocation_config_linear_memory_keep_resident_set(pc, KEEP_RESIDENT_BYTES)
    ffi.wasmtime_pooling_allocation_config_table_keep_resident_set(pc, 256 * 1024)
    ffi.wasmtime_pooling_allocation_config_max_unused_warm_slots_set(pc, MAX_UNUSED_WARM_SLOTS)
    return pc


class Runtime:
    """One engine + compiled component + linker (per Sandbox and fuel setting)."""

    def __init__(self, root: Path, fuel: bool):
        self.fuel = fuel
        # Everything here that changes the compiled code is a knob (the cache key); the allocator
        # does not (the artifact is byte-identical), so it is not one.
        self.knobs = {
            "epoch_interruption": True,
            "consume_fuel": fuel,
            "max_wasm_stack": MAX_WASM_STACK,
            "cranelift_opt_level": "speed",
        }
        self._slots: threading.BoundedSemaphore | None = None
        self.allocator = "on-demand"
        if pooling_wanted():
            try:
                self._load(root, pooling=True)
                self._probe()
                self.allocator = "pooling"
                self._slots = threading.BoundedSemaphore(POOL_INSTANCES)
            except wasmtime.WasmtimeError:
                self.allocator = "on-demand"
        if self.allocator == "on-demand":
            self._load(root, pooling=False)
        self.load_info["allocator"] = self.allocator

    def _config(self, pooling: bool) -> wasmtime.Config:
        config = wasmtime.Config()
        config.epoch_interruption = True
        config.consume_fuel = self.fuel
        config.max_wasm_stack = MAX_WASM_STACK
        config.cranelift_opt_level = "speed"
        if pooling:
            ffi.wasmtime_pooling_allocation_strategy_set(config.ptr(), _pooling_config())
        return config

    def _load(self, root: Path, pooling: bool) -> None:
        self.engine = wasmtime.Engine(self._config(pooling))
        self.component, self.load_info = _cache.load_component(self.engine, self.knobs, root)
        self.linker = self._make_linker()
        index = self.component.get_export_index("run")
        if index is None:
            raise _cache.BuildError("the sandbox component has no 'run' export")
        self._run_index = index

    def _probe(self) -> None:
        """One throwaway instance: the component fits the pool's per-component limits."""
        store = wasmtime.Store(self.engine)
        try:
            store.set_epoch_deadline(1 << 62)
            if self.fuel:
                store.set_fuel(1 << 62)
            store.set_wasi(wasmtime.WasiConfig())
            self.instantiate(store)
        finally:
            store.close()

    def _make_linker(self) -> wc.Linker:
        linker = wc.Linker(self.engine)
        linker.add_wasip2()
        clock = next(
            (
                name
                for name in self.component.type.imports(self.engine)
                if name.startswith("wasi:clocks/monotonic-clock@")
            ),
            None,
        )
        linker.allow_shadowing = True
        with linker.root() as root:
            _add_raw_func(root, "host-call", host_call_callback)
            if clock is not None:
                with root.add_instance(clock) as inst:
                    for name, callback in CLOCK_FUNCS.items():
                        _add_raw_func(inst, name, callback)
        return linker

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Held for a run's store lifetime: at most POOL_INSTANCES runs per pooled engine at once."""
        if self._slots is None:
            yield
            return
        with self._slots:
            yield

    def new_store(
        self, run_id: int, memory_bytes: int, fuel: int | None, files: OutputFiles | None = None
    ) -> wasmtime.Store:
        """A fresh store for one run: memory cap, epoch callback, fuel, WASI with captured output only
        (through the output callback, or into ``files``)."""
        store = wasmtime.Store(self.engine)
        try:
            store.set_limits(memory_size=memory_bytes)
            store.set_epoch_deadline(1)
            ffi.wasmtime_store_epoch_deadline_callback(store.ptr(), epoch_callback, run_id, NO_FINALIZER)
            if self.fuel:
                if fuel is None:
                    raise ValueError("a fuel-metered runtime needs a fuel limit")
                store.set_fuel(fuel)
            wasi = wasmtime.WasiConfig()  # no args, no env, no preopens, no network, empty stdin
            if files is None:
                ffi.wasi_config_set_stdout_custom(wasi.ptr(), output_callback, run_id << 1, NO_FINALIZER)
                ffi.wasi_config_set_stderr_custom(wasi.ptr(), output_callback, (run_id << 1) | 1, NO_FINALIZER)
            else:
                wasi.stdout_file, wasi.stderr_file = files.paths  # opened (truncated) here, by wasmtime
                files.unlink()
            store.set_wasi(wasi)
        except BaseException:
            store.close()
            raise
        return store

    def instantiate(self, store: wasmtime.Store) -> ffi.wasmtime_component_instance_t:
        instance = ffi.wasmtime_component_instance_t()
        error = ffi.wasmtime_component_linker_instantiate(
            self.linker.ptr(), store._context(), self.component.ptr(), ctypes.byref(instance)
        )
        if error:
            raise wasmtime.WasmtimeError._from_ptr(error)
        return instance

    def call_run(
        self, store: wasmtime.Store, instance: ffi.wasmtime_component_instance_t, code: str, item_json: str, seed: int
    ) -> tuple[bool, str]:
        """``run(code, item, seed) -> result<string, string>``, lowered by hand (no per-call type
        introspection, no wasmtime-py global exception slot). Raises WasmtimeError (ExitTrap) on a trap."""
        context = store._context()
        func = ffi.wasmtime_component_func_t()
        if not ffi.wasmtime_component_instance_get_func(
            ctypes.byref(instance), context, self._run_index.ptr(), ctypes.byref(func)
        ):
            raise wasmtime.WasmtimeError("cgr:no-run-export")
        params = (ffi.wasmtime_component_val_t * 3)()
        params[0].kind = ffi.WASMTIME_COMPONENT_STRING
        params[0].of.string = ffi.str_to_capi(code)
        params[1].kind = ffi.WASMTIME_COMPONENT_STRING
        params[1].of.string = ffi.str_to_capi(item_json)
        params[2].kind = ffi.WASMTIME_COMPONENT_U64
        params[2].of.u64 = seed
        result = ffi.wasmtime_component_val_t()
        try:
            error = ffi.wasmtime_component_func_call(ctypes.byref(func), context, params, 3, ctypes.byref(result), 1)
            if error:
                raise wasmtime.WasmtimeError._from_ptr(error)
            try:
                if result.kind != ffi.WASMTIME_COMPONENT_RESULT.value:
                    return False, ""
                ok = bool(result.of.result.is_ok)
                payload = result.of.result.val
                if not payload or payload.contents.kind != ffi.WASMTIME_COMPONENT_STRING.value:
                    return ok, ""
                vec = payload.contents.of.string
                data = ctypes.string_at(vec.data, vec.size) if vec.size else b""
                return ok, data.decode("utf-8", "replace")
            finally:
                ffi.wasmtime_component_val_delete(ctypes.byref(result))
        finally:
            for i in range(3):
                ffi.wasmtime_component_val_delete(ctypes.byref(params[i]))


def _add_raw_func(linker_instance: wc.LinkerInstance, name: str, callback: CFuncPtr) -> None:
    raw = name.encode()
    error = ffi.wasmtime_component_linker_instance_add_func(
        linker_instance.ptr(), ctypes.create_string_buffer(raw), len(raw), callback, None, NO_FINALIZER
    )
    if error:
        raise wasmtime.WasmtimeError._from_ptr(error)
