"""The built-in executor ``local``: the items in this process, one at a time or ``--workers`` at once."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice

from cgr.kernel.api import ExecutorRegistrar, ExecutorRequest, PluginConfigError
from cgr.kernel.channels import Engine
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.records import Item, Record


def local(request: ExecutorRequest) -> Iterator[Record]:
    """In this process: one item at a time, or --workers threads at once (records in bundle order)."""
    if request.options:
        raise PluginConfigError(f"executor 'local' takes no options (got: {', '.join(sorted(request.options))})")
    return process_in_order(request.engine, request.items, request.config.workers)


def process_in_order(engine: Engine, items: list[Item], workers: int) -> Iterator[Record]:
    """Each item's record, in the items' order; with ``workers`` > 1, up to that many items are
    processed at once (threads: the solvers and the sandbox are thread-safe), at most
    2 x ``workers`` ahead of the last record yielded. On an error (or when the iterator is closed)
    the items not yet started are cancelled and the ones in flight finish unrecorded (``--resume``
    redoes them)."""
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


@hookimpl
def register_executors(register: ExecutorRegistrar) -> None:
    register("local", local)
