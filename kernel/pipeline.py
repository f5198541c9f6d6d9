"""The pipeline: for each item, the direct, assisted and generator-side channels, audits, a record.

A notebook user can call this directly::

    from cgr.kernel.pipeline import run
    summary = run(RunConfig(limit=10, out=Path("out")))
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, closing, nullcontext
from dataclasses import dataclass
from itertools import islice

from cgr.kernel.bundle import BundleError, load_bundle
from cgr.kernel.channels import Engine
from cgr.kernel.config import RunConfig
from cgr.kernel.manager import Plugins, check_solver, load_plugins
from cgr.kernel.records import Item, Record, RunManifest
from cgr.kernel.store import RunStore

__all__ = ["Engine", "RunSummary", "run", "solver_error"]


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
    store = RunStore(config.out, engine.manifest(bundle), resume=config.resume)
    todo = [it for it in items if it.id not in store.done]
    written: list[Record] = []
    try:
        if phase is not None and todo:
            with phase("preparing the sandbox (the first run compiles it: 10-30 s, once; cached after)"):
                engine.sandbox.warm(fuel=config.limits.fuel is not None)
        if on_start:
            on_start(store.manifest, len(todo), len(items) - len(todo))
        with closing(_process_in_order(engine, todo, config.workers)) as records:  # type: ignore[type-var]
            for i, record in enumerate(records, start=1):
                store.append(record)
                written.append(record)
                if progress:
                    progress(i, len(todo), record)
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


def _process_in_order(engine: Engine, items: list[Item], workers: int) -> Iterator[Record]:
    """Each item's record, in the items' order; with ``workers`` > 1, up to that many items are
    processed at once (threads: the solvers and the sandbox are thread-safe), at most
    2 x ``workers`` ahead of the last record yielded. On an error the items not yet started are
    cancelled and the ones in flight finish unrecorded (``--resume`` redoes them)."""
    if workers <= 1:
        for item in items:
            yield engine.process(item)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cgr-item")
    try:
        queue = iter(items)
        pending = deque(pool.submit(engine.process, item) for item in islice(queue, 2 * workers))
        while pending:
            record = pending.popleft().result()
            for item in queue:  # keep the window full: at most one new item per record
                pending.append(pool.submit(engine.process, item))
                break
            yield record
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
