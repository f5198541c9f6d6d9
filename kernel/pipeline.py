"""The pipeline: for each item, the direct, assisted and generator-side channels, audits, a record.

A notebook user can call this directly::

    from cgr.kernel.pipeline import run
    summary = run(RunConfig(limit=10, out=Path("out")))
"""

from __future__ import annotations

import dataclasses
import platform
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from cgr.kernel import __version__, prompts
from cgr.kernel.api import ExecutorRequest
from cgr.kernel.bundle import Bundle, BundleError, load_bundle
from cgr.kernel.channels import Engine
from cgr.kernel.config import RunConfig
from cgr.kernel.manager import PluginError, Plugins, check_solver, load_plugins
from cgr.kernel.records import Record, RunManifest
from cgr.kernel.store import RunStore, now_iso

__all__ = ["Engine", "RunSummary", "manifest", "run", "solver_error"]


def solver_error(record: Record) -> str | None:
    """The solver's error on this item, if any: the direct channel's, or a scaffold's failed solver
    call (a scaffold's own bugs are not the solver's)."""
    if record.direct.error:
        return record.direct.error
    error = record.assisted.error or ""
    if record.assisted.status == "error" and error.startswith("HostError: solver failed"):
        return error
    return None


@dataclass
class RunSummary:
    """What ``run`` did: where, how many records were written now and in total, and how many of the
    new ones the solver failed on (so a solver that fails on everything does not pass as a 0% run)."""

    out: str
    written: int
    skipped: int
    total: int
    records: list[Record]
    direct_errors: int = 0  # new records whose direct channel has an error
    first_error: tuple[str, str] | None = None  # (item id, error) of the first solver error


def run(
    config: RunConfig,
    *,
    plugins: Plugins | None = None,
    engine: Engine | None = None,
    progress: Callable[[int, int, Record], None] | None = None,
    on_start: Callable[[RunManifest, int, int], None] | None = None,
    phase: Callable[[str], AbstractContextManager[object]] | None = None,
) -> RunSummary:
    """Run the pipeline over the bundle, appending records to ``config.out`` (resumable).

    ``progress(i, n, record)`` follows each record written; ``on_start(manifest, to_do, done)``
    comes before the first item. With ``phase`` (``phase(message)`` is a context manager, e.g. a
    spinner), the slow steps before the first item run inside it: loading the solver and
    generator, and building the sandbox, which is then built before the first item instead of
    during it."""
    step: Callable[[str], AbstractContextManager[object]] = phase or (lambda message: nullcontext())
    plugins = plugins or (engine.plugins if engine else load_plugins())
    executor = plugins.get("executor", config.executor)  # unknown names fail before anything loads
    for mode in (config.direct_mode, *config.direct_modes):
        plugins.get("direct_mode", mode)
    if config.budget_baseline:
        plugins.get("baseline", config.baseline)
    bundle = load_bundle(config.bundle, readers=plugins.readers())
    items = bundle.items
    if config.tasks:
        unknown = sorted(set(config.tasks) - {it.task for it in items})
        if unknown:
            known = sorted({it.task for it in items})
            raise BundleError(
                bundle.path,
                None,
                "task",
                f"no items of task(s) {', '.join(unknown)}; the bundle has: {', '.join(known)}",
            )
        items = [it for it in items if it.task in config.tasks]
    items = items[: config.limit] if config.limit else items
    if engine is None:
        what = config.solver + (f" ({config.model})" if config.model else "")
        with step(f"loading the solver {what} and the generator {config.generator}"):
            engine = Engine.from_config(config, plugins)
    check_solver(engine.solver, engine.solver_name)  # also a solver swapped into a given engine
    store = RunStore(config.out, manifest(engine, bundle), resume=config.resume)
    todo = [it for it in items if it.id not in store.done]
    written: list[Record] = []
    try:
        records = executor.obj(ExecutorRequest(config, todo, engine, plugins, dict(config.executor_options)))
        try:
            if phase is not None and todo:
                with phase("preparing the sandbox (the first run compiles it: 10-30 s, once; cached after)"):
                    engine.sandbox.warm(fuel=config.limits.fuel is not None)
            if on_start:
                on_start(store.manifest, len(todo), len(items) - len(todo))
            for i, record in enumerate(records, start=1):
                if i > len(todo) or record.item_id != todo[i - 1].id:
                    expected = f"item {todo[i - 1].id!r}" if i <= len(todo) else "no more records"
                    raise PluginError(
                        f"executor {executor.name!r} yielded {record.item_id!r} where {expected} was next"
                    )
                store.append(record)
                written.append(record)
                if progress:
                    progress(i, len(todo), record)
        finally:
            close = getattr(records, "close", None)
            if close is not None:
                close()  # stops or cancels the executor's remaining work
    except BaseException:
        store.close("interrupted")
        raise
    complete = all(it.id in store.done for it in items)
    store.close("complete" if complete else "partial")
    first = next(((r.item_id, e) for r in written if (e := solver_error(r))), None)
    return RunSummary(
        str(config.out),
        len(written),
        len(items) - len(todo),
        len(store.done),
        written,
        direct_errors=sum(1 for r in written if r.direct.error),
        first_error=first,
    )


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"cgr": __version__, "python": sys.version.split()[0]}
    for dist in ("llama-cpp-python", "wasmtime", "componentize-py", "pluggy", "msgspec", "pydantic"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out


def manifest(engine: Engine, bundle: Bundle) -> RunManifest:
    """The run manifest for ``engine`` and ``bundle``."""
    solver_info = dict(engine.solver.info())
    solver_info.update(
        name=engine.solver_name,
        mode=engine.config.direct_mode,
        modes=[engine.config.direct_mode, *engine.config.direct_modes],
        seed=engine.config.seed,
        temperature=0.0,
    )
    gen_info = dict(engine.generator.info() if engine.generator is not None else {})
    gen_info.update(name=engine.generator_name, prompt_version=prompts.GENERATOR_VERSION)
    return RunManifest(
        cgr_version=__version__,
        created=now_iso(),
        config=engine.config.model_dump(mode="json"),
        bundle=bundle.describe(),
        solver=solver_info,
        generator=gen_info,
        extractors=[e.name for e in engine.chain],
        auditors=[e.name for e in engine.plugins.auditors()],
        versions=_versions(),
        platform={
            "system": platform.system(),
            "machine": platform.machine(),
            "python": platform.python_implementation(),
        },
        limits=dataclasses.asdict(engine.config.limits),
    )
