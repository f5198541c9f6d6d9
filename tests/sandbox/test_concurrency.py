"""Several scaffolds at once in threads (wasmtime releases the GIL while the guest runs)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from wasmtime.component import _enter

from cgr.sandbox import HostError, Limits

THREADS = 4
RUNS_PER_THREAD = 12

SCAFFOLD = """
tag = ITEM.id
try:
    print('reply', solver_call('tag ' + tag))
except RuntimeError as e:
    print(type(e).__name__, e)
scores = solver_logprobs('tag ' + tag, list(ITEM.choices))
submit(ITEM.labels[max(range(len(scores)), key=scores.__getitem__)])
"""


class SharedHost:
    """One callback shared by all threads: thread-safe, and raising for some runs (by tag)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.calls: dict[str, list[str]] = {}
        self.threads: dict[str, set[int]] = {}

    def __call__(self, op, args):
        tag = args["prompt"].split()[-1]
        with self._lock:
            self.calls.setdefault(tag, []).append(op)
            self.threads.setdefault(tag, set()).add(threading.get_ident())
        n = int(tag.rsplit("-", 1)[1])
        if op == "solve":
            if n % 3 == 0:
                raise HostError(f"model down for {tag}")
            if n % 5 == 0:
                raise KeyError(tag)
            return f"answer for {tag}"
        # logprobs: the run's own best choice is index n % 3
        return [0.0 if i == n % 3 else -5.0 for i in range(len(args["continuations"]))]


def test_threads_each_get_their_own_result(sandbox):
    host = SharedHost()
    _enter.LAST_EXCEPTION = None

    def worker(t):
        out = []
        for i in range(RUNS_PER_THREAD):
            n = t * RUNS_PER_THREAD + i
            tag = f"t{t}-{n}"
            item = {"id": tag, "question": "q", "choices": ["x", "y", "z"]}
            if i % 4 == 3:  # a hostile run in the mix: it must not disturb its neighbours
                hostile = sandbox.run("while True:\n    pass\n", item, host, Limits(timeout_s=0.2))
                out.append((tag, n, None, hostile))
            result = sandbox.run(SCAFFOLD, item, host, Limits(timeout_s=20))
            out.append((tag, n, threading.get_ident(), result))
        return out

    with ThreadPoolExecutor(THREADS) as pool:
        results = [r for chunk in pool.map(worker, range(THREADS)) for r in chunk]

    assert len([r for r in results if r[2] is not None]) == THREADS * RUNS_PER_THREAD
    for tag, n, ident, result in results:
        if ident is None:
            assert result.status == "timeout", result
            continue
        assert result.status == "ok", (tag, result)
        assert result.answer == "ABC"[n % 3], (tag, result)
        assert result.solver_calls == 2
        if n % 3 == 0:
            expected = f"HostError model down for {tag}\n"
        elif n % 5 == 0:
            expected = f"HostError KeyError: '{tag}'\n"
        else:
            expected = f"reply answer for {tag}\n"
        assert result.stdout == expected, (tag, result)
        if n % 3 == 0 or n % 5 == 0:
            assert result.error is not None and tag in result.error  # recorded, for this run only
        else:
            assert result.error is None, (tag, result)
        assert host.calls[tag] == ["solve", "logprobs"]
        assert host.threads[tag] == {ident}  # the callback ran on the run's own thread
    assert _enter.LAST_EXCEPTION is None  # nothing parked in wasmtime-py's global exception slot


def test_more_threads_than_pool_slots(sandbox):
    # Beyond the pool's concurrent-instance count, runs wait for a slot rather than fail.
    item = {"id": "x", "question": "q", "choices": ["a", "b"]}
    with ThreadPoolExecutor(24) as pool:
        results = list(pool.map(lambda i: sandbox.run(f"print({i})\nsubmit('B')\n", item, lambda o, a: ""), range(48)))
    assert [r.status for r in results] == ["ok"] * 48
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(48)]
