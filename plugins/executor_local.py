"""The built-in executor ``local``: the items in this process, one at a time or ``--workers`` at once."""

from __future__ import annotations

import contextlib
import os
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice

from cgr.kernel.api import ExecutorRegistrar, ExecutorRequest, PluginConfigError
from cgr.kernel.channels import Engine
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.records import Item, Record

#: Items whose audits may still be running while the solver answers the next one (``audit_ahead``).
AUDIT_AHEAD = 1


def local(request: ExecutorRequest) -> Iterator[Record]:
    """In this process: one item at a time (its audits overlapping the next item's solver calls), or
    --workers threads at once; records in bundle order. Option ``audit_ahead=N`` (default 1; 0 =
    audit each item before answering the next)."""
    options = dict(request.options)
    ahead = options.pop("audit_ahead", str(AUDIT_AHEAD))
    if options:
        raise PluginConfigError(
            f"executor 'local' takes only the option audit_ahead (got: {', '.join(sorted(options))})"
        )
    if not ahead.isdigit() or int(ahead) > 64:
        raise PluginConfigError(f"executor 'local': audit_ahead must be an integer 0..64 (got {ahead[:40]!r})")
    if request.config.workers > 1:
        return process_in_order(request.engine, request.items, request.config.workers)
    return audit_behind(request.engine, request.items, int(ahead))


def audit_behind(engine: Engine, items: list[Item], ahead: int = AUDIT_AHEAD) -> Iterator[Record]:
    """Each item's record, in the items' order, one item at a time; the audits of the last ``ahead``
    answered items run on one background thread while the solver answers the next item.

    The audits make no solver call (stand-in solvers, their own sandbox), so on a machine whose solver
    runs on a GPU or leaves cores free they leave the item's critical path. Records are the same as
    ``engine.process``'s. If answering an item fails, the records of the items answered before it
    are still yielded first; on close the audit in flight finishes unrecorded (``--resume`` redoes it).
    """
    if ahead <= 0:
        for item in items:
            yield engine.process(item)
        return
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cgr-audit", initializer=_lowest_priority)
    pending: deque[Future[Record]] = deque()
    try:
        for item in items:
            try:
                answered = engine.answer(item)
            except Exception:
                while pending:  # the items answered so far keep their records
                    yield pending.popleft().result()
                raise
            pending.append(pool.submit(engine.finish, answered))
            while pending and (pending[0].done() or len(pending) > ahead):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


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


def _lowest_priority() -> None:
    """This thread at the lowest CPU priority (Linux: per-thread nice 19), so the audits take the
    cycles the solver leaves idle instead of slowing it; elsewhere nothing changes."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


@hookimpl
def register_executors(register: ExecutorRegistrar) -> None:
    register("local", local)
