"""The ``ray`` executor: a run's items processed by Ray actors, on this machine or a Ray cluster.

``cgr run --executor ray`` starts a local Ray instance (``ray.init``, ``num_cpus`` from the option of
that name or Ray's default); ``--address ADDR`` (the option ``address``; ``auto`` = the cluster this
node belongs to) connects to a running cluster instead. ``actors`` actors (default: ``--workers``)
each build ``Engine.from_config(config)`` once, so each loads its model once, and then process the
items sent to them (a worker whose model file differs from the driver's, by sha256, is refused).
The driver keeps at most ``window`` items in flight (default 2 x actors), sends each to the least
busy actor and yields the records in bundle order (waiting on the head of the queue), so the run's
store sees them exactly as from the local executor; a record equals the local executor's for the
same seed apart from timing fields (every call's seed derives from the run seed and the item,
never from the worker). Closing the iterator (an error, Ctrl-C) kills the actors: the items in
flight are not recorded and ``--resume`` redoes them. A ``SolverError`` on a worker (e.g. a model
missing on that node) is raised as itself, naming the node.

Options (``--executor-option KEY=VALUE``): ``address``, ``actors``, ``num_cpus`` (local start only),
``cpus_per_actor`` (default 1; also the solver's threads unless ``--threads`` is given),
``gpus_per_actor`` (default 0; 1 gives each actor its own GPU via ``CUDA_VISIBLE_DEVICES``),
``window``. Workers need the same cgr and plugin modules installed (the cgr version is checked;
plugins registered as objects rather than modules stay on the driver) and every model reachable on
their node: an embedded model's package installed there, a GGUF file at the same path.
"""

from __future__ import annotations

import contextlib
import sys
import types
from collections import deque
from collections.abc import Iterator
from typing import Any

from cgr.kernel import __version__
from cgr.kernel.api import ExecutorRequest, PluginConfigError, SolverError
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.records import Record, decode_record, encode_record

OPTIONS = ("address", "actors", "num_cpus", "cpus_per_actor", "gpus_per_actor", "window")


def _number(options: dict[str, str], key: str, default: float, *, integer: bool = True, low: float = 1) -> Any:
    raw = options.get(key)
    if raw is None:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        value = None
    if value is None or value < low:
        kind = "an integer" if integer else "a number"
        raise PluginConfigError(f"executor 'ray': option {key}={raw!r} must be {kind} >= {low:g}")
    return value


class Settings:
    """The validated ``--executor-option`` values."""

    def __init__(self, options: dict[str, str], workers: int):
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise PluginConfigError(
                f"executor 'ray': unknown option(s) {', '.join(unknown)} (known: {', '.join(OPTIONS)})"
            )
        self.address = options.get("address") or None
        self.actors: int = _number(options, "actors", workers)
        self.num_cpus: int | None = _number(options, "num_cpus", 0) or None
        self.cpus_per_actor: float = _number(options, "cpus_per_actor", 1.0, integer=False, low=0)
        self.gpus_per_actor: float = _number(options, "gpus_per_actor", 0.0, integer=False, low=0)
        self.window: int = _number(options, "window", 2 * self.actors)
        if self.address and self.num_cpus:
            raise PluginConfigError("executor 'ray': num_cpus is for a local start; a cluster has its own")


class Worker:
    """One actor: builds the run's Engine once (its model loads once) and processes items."""

    def __init__(self, config_json: str, modules: list[str], version: str, model_sha256: str | None):
        self.config_json, self.modules, self.version, self.sha = config_json, modules, version, model_sha256
        self.engine: Any = None

    def setup(self) -> str:
        """Build the Engine (a ``SolverError`` names this node); returns this node's name."""
        import platform

        from cgr.kernel import __version__ as here
        from cgr.kernel.channels import Engine
        from cgr.kernel.config import RunConfig
        from cgr.kernel.manager import load_plugins

        node = platform.node()
        if here != self.version:
            raise SolverError(f"ray worker on {node}: cgr {here}, the driver runs cgr {self.version}")
        plugins = load_plugins(builtins=tuple(self.modules), entry_points=False)
        try:
            self.engine = Engine.from_config(RunConfig.model_validate_json(self.config_json), plugins)
        except SolverError as exc:
            raise SolverError(f"ray worker on {node}: {exc}") from None
        sha = self.engine.solver.info().get("model_sha256")
        if self.sha and sha != self.sha:  # another file at the same path: its records would not be this run's
            raise SolverError(f"ray worker on {node}: model sha256 {sha}, the driver's is {self.sha}")
        self.engine.sandbox.warm(fuel=self.engine.config.limits.fuel is not None)
        return node

    def process(self, item: bytes) -> bytes:
        """The record of one item (msgspec-encoded both ways)."""
        import msgspec

        from cgr.kernel.records import Item

        return encode_record(self.engine.process(msgspec.json.decode(item, type=Item)))


def _modules(plugins: Any) -> list[str]:
    """The plugin modules the driver loaded, for the workers to load the same (importable by name)."""
    names = [p.__name__ for p in plugins.pm.get_plugins() if isinstance(p, types.ModuleType)]
    return sorted(set(names), key=names.index)


def _unwrap(exc: BaseException) -> BaseException:
    """A worker's own exception out of Ray's wrapper (a SolverError stays a SolverError)."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, Exception) else exc


#: The signals wasmtime turns into wasm traps (a scaffold's stack overflow, ``unreachable``, …).
TRAP_SIGNALS = ("SIGSEGV", "SIGILL", "SIGFPE", "SIGBUS")


def init_ray(**kwargs: Any) -> None:
    """``ray.init(**kwargs)``, keeping this process's native handlers of the trap signals.

    Ray's core worker installs crash-report handlers for SIGSEGV, SIGILL, SIGFPE and SIGBUS, over
    wasmtime's: a scaffold that then traps in this process's sandbox (a deep recursion, say) would
    kill the process with "Illegal instruction" instead of being recorded. The handlers in place
    before ``ray.init`` (wasmtime's, which pass any fault that is not a wasm trap on to the handler
    before them) are put back afterwards. Linux and macOS (libc ``sigaction``); elsewhere a no-op.
    """
    import ray

    with keep_trap_handlers():
        ray.init(**kwargs)


@contextlib.contextmanager
def keep_trap_handlers() -> Iterator[None]:
    """The trap signals' native handlers as they were before the body (``ray.init`` and
    ``ray.shutdown`` both replace them: wrap either in this)."""
    saved = _save_handlers()
    try:
        yield
    finally:
        _restore_handlers(saved)


def _libc() -> Any:
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name, use_errno=True) if name else None


def _save_handlers() -> list[tuple[int, Any]]:
    """Each trap signal's ``struct sigaction``, as opaque bytes (256 is more than any libc's)."""
    import ctypes
    import signal

    libc = _libc() if sys.platform.startswith(("linux", "darwin")) else None
    if libc is None:
        return []
    saved = []
    for name in TRAP_SIGNALS:
        buf = ctypes.create_string_buffer(256)
        if libc.sigaction(int(getattr(signal, name)), None, buf) == 0:
            saved.append((int(getattr(signal, name)), buf))
    return saved


def _restore_handlers(saved: list[tuple[int, Any]]) -> None:
    if not saved:
        return
    libc = _libc()
    for signum, buf in saved:
        libc.sigaction(signum, buf, None)


def ray_executor(request: ExecutorRequest) -> Iterator[Record]:
    """See the module doc."""
    import msgspec

    settings = Settings(dict(request.options), request.config.workers)
    if not request.items:
        return
    try:
        import ray
    except ImportError:
        raise PluginConfigError("executor 'ray' needs Ray: pip install 'cgr[ray]'") from None
    if not ray.is_initialized():
        if settings.address:
            init_ray(address=settings.address, log_to_driver=False)
        else:
            init_ray(num_cpus=settings.num_cpus, include_dashboard=False, log_to_driver=False)
    remote: Any = ray.remote(num_cpus=settings.cpus_per_actor, num_gpus=settings.gpus_per_actor)(Worker)
    count = min(settings.actors, len(request.items))
    config = request.config
    if config.n_threads is None and settings.cpus_per_actor >= 1:  # an actor's threads are the CPUs Ray gave it
        config = config.model_copy(update={"n_threads": int(settings.cpus_per_actor)})
    config_json = config.model_dump_json()
    engine = request.engine
    sha = engine.solver.info().get("model_sha256") if engine is not None else None
    modules = _modules(request.plugins)
    actors: list[Any] = [remote.remote(config_json, modules, __version__, sha) for _ in range(count)]
    try:
        try:
            ray.get([a.setup.remote() for a in actors])
        except ray.exceptions.RayError as exc:
            raise _unwrap(exc) from None
        busy = [0] * count
        pending: deque[tuple[Any, int]] = deque()
        queue = iter(request.items)

        def submit() -> bool:
            item = next(queue, None)
            if item is None:
                return False
            k = min(range(count), key=lambda j: busy[j])
            busy[k] += 1
            pending.append((actors[k].process.remote(msgspec.json.encode(item)), k))
            return True

        while len(pending) < settings.window and submit():
            pass
        while pending:
            ref, k = pending.popleft()
            try:
                data = ray.get(ref)
            except ray.exceptions.RayError as exc:
                raise _unwrap(exc) from None
            busy[k] -= 1
            submit()
            yield decode_record(data)
    finally:
        for actor in actors:  # stops the work in flight; its items stay unrecorded (--resume redoes them)
            ray.kill(actor)


@hookimpl
def register_executors(register: Any) -> None:
    """Ray actors, local or on a cluster."""
    register(
        "ray",
        ray_executor,
        description="Ray actors on this machine or a cluster (--address; options actors=, gpus_per_actor=, …)",
    )
