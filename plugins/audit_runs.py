"""Sandbox runs for the dynamic auditors: one shared sandbox, bounded work, runs shared between auditors.

A :class:`Session` belongs to one (program, item) pair. It runs the program in the real sandbox
with :class:`~cgr.plugins.audit_standin.StandIn` solvers — the item's options in their own order
or rotated (relabelled), the stand-in favouring each option in turn, under each profile — and keeps
each run's small summary (answer, status, what the stand-in endorsed, mention counts), so the four
dynamic auditors of one record share their runs. Work is capped: at most ``MAX_OPTIONS`` favoured
options, ``RUN_LIMITS`` and ``RUN_HOST_SECONDS`` of stand-in time per run, ``AUDIT_SECONDS`` of run
time per session (checked before each run), and a program that cannot be run (syntax, timeout,
memory, output cap) stops the session after its first run.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cgr.plugins import extractors
from cgr.plugins.audit_prompts import ItemFacts, norm
from cgr.plugins.audit_standin import Profile, StandIn
from cgr.sandbox import Limits, Sandbox

#: Per stand-in run: far below a real run's limits (no model time here), enough for any honest scaffold.
RUN_LIMITS = Limits(timeout_s=1.0, max_calls=128, memory_mb=128, max_output_bytes=16384)
#: At most this many options are favoured in turn (evenly spread over longer option lists).
MAX_OPTIONS = 8
#: Seconds one (program, item) may spend on stand-in runs, all auditors together (checked before each run).
AUDIT_SECONDS = 4.0
#: Host seconds the stand-in may spend answering one run (the sandbox's timeout excludes host calls);
#: past it every call raises in the guest.
RUN_HOST_SECONDS = 1.0
#: Statuses after which running the program again with other stand-ins is pointless.
HOPELESS = frozenset({"syntax", "timeout", "memory", "output_cap"})
#: The built-in extractor chain (``extract_choice`` inside audit runs), in its defined order.
CHAIN = (extractors.exact_label, extractors.answer_is, extractors.leading_label, extractors.option_text)
MAX_EXTRACT_CHARS = 32_000

_sandbox: Sandbox | None = None
_sandbox_lock = threading.Lock()


def shared_sandbox() -> Sandbox:
    """The process's one sandbox for audit runs (thread-safe; built or loaded on first use)."""
    global _sandbox
    with _sandbox_lock:
        if _sandbox is None:
            _sandbox = Sandbox(output_files=True)  # no thread hand-off per print (the runs' output is not kept)
        return _sandbox


def extract(text: str, labels: list[str], choices: list[str]) -> str | None:
    """The built-in extractor chain on ``text`` (its last 32,000 characters)."""
    text = text[-MAX_EXTRACT_CHARS:]
    for fn in CHAIN:
        label = fn(text, labels, choices)
        if label is not None and label in labels:
            return label
    return None


@dataclass
class Run:
    """What one stand-in run left behind (small: no prompts are kept)."""

    status: str
    answer: str | None  # the label submitted
    content: int | None  # the original index of the option submitted
    favour: int  # the original index of the option the stand-in believed
    endorsed: set[int]  # original indices the stand-in answered for
    counts: dict[int, int]  # option mentions (original indices) over all prompts
    hints: set[str]  # labels the program's prompts state as "the answer is X"
    calls: int
    seconds: float
    note: str | None = None  # the sandbox's error line or first note (e.g. a refused or failed call)


@dataclass
class Session:
    """All stand-in runs of one program on one item (see the module docstring)."""

    program: str
    view: dict[str, Any]
    runs: dict[tuple[str, int, int], Run] = field(default_factory=dict)
    spent: float = 0.0
    stopped: str | None = None  # why no further runs are made
    lock: threading.Lock = field(default_factory=threading.Lock)
    _facts: ItemFacts | None = None
    _shown: dict[int, tuple[dict[str, Any], ItemFacts]] = field(default_factory=dict)  # by shift: view, facts

    @property
    def n(self) -> int:
        return len(self.view["choices"])

    def favoured(self) -> list[int]:
        """The original option indices favoured in turn (all, or MAX_OPTIONS spread evenly)."""
        n = self.n
        if n <= MAX_OPTIONS:
            return list(range(n))
        return sorted({round(i * (n - 1) / (MAX_OPTIONS - 1)) for i in range(MAX_OPTIONS)})

    def order(self, shift: int) -> list[int]:
        """Original indices in the order a run shows them: rotated left by ``shift``."""
        n = self.n
        return [(i + shift) % n for i in range(n)]

    def run(self, profile: Profile, favour: int, shift: int = 0) -> Run | None:
        """The run with the options rotated by ``shift`` and the stand-in believing original option
        ``favour``; None once the session is stopped (budget spent or the program cannot run)."""
        key = (profile.name, favour, shift % self.n)
        with self.lock:
            if key in self.runs:
                return self.runs[key]
            if self.stopped:
                return None
            if self.spent >= AUDIT_SECONDS:
                self.stopped = f"audit budget of {AUDIT_SECONDS:g} s of sandbox time spent"
                return None
            run = self._run(profile, favour, key[2])
            self.runs[key] = run
            self.spent += run.seconds
            if run.status in HOPELESS:
                self.stopped = f"the program does not run under the stand-in solver (status {run.status})"
            return run

    def shown(self, shift: int) -> tuple[dict[str, Any], ItemFacts]:
        """The view a run with the options rotated by ``shift`` gets, and its facts (made once per
        shift: the runs of a session share them, and so the stand-in's readings of their prompts)."""
        got = self._shown.get(shift)
        if got is None:
            order = self.order(shift)
            labels = [str(x) for x in self.view["labels"]]
            view = {**self.view, "choices": [str(self.view["choices"][i]) for i in order], "labels": labels}
            got = self._shown[shift] = (view, ItemFacts(view))
        return got

    def _run(self, profile: Profile, favour: int, shift: int) -> Run:
        order = self.order(shift)
        view, facts = self.shown(shift)
        labels, choices = view["labels"], view["choices"]
        solver = StandIn(facts, order.index(favour), profile)
        start = time.perf_counter()

        def host(op: str, args: dict[str, Any]) -> object:
            if time.perf_counter() - start > RUN_HOST_SECONDS:
                raise RuntimeError(f"audit: the stand-in solver's {RUN_HOST_SECONDS:g} s for this run are spent")
            if op == "extract":
                return extract(str(args.get("text", "")), labels, choices)
            return solver.host(op, args)

        result = shared_sandbox().run(self.program, view, host, RUN_LIMITS, seed=0)
        seconds = time.perf_counter() - start
        answer = result.answer if result.answer in labels else None
        return Run(
            status=result.status,
            answer=answer,
            content=order[labels.index(answer)] if answer is not None else None,
            favour=favour,
            endorsed={order[i] for i in solver.endorsed},
            counts={order[i]: c for i, c in solver.counts.items()},
            hints=set(solver.hints),
            calls=result.solver_calls,
            seconds=seconds,
            note=result.error,
        )

    def sweep(self, profile: Profile, shift: int = 0) -> Iterator[Run]:
        """The runs favouring each option in turn (stops early when the session stops)."""
        for k in self.favoured():
            run = self.run(profile, k, shift)
            if run is None:
                return
            yield run

    def nameable(self, original: int) -> bool:
        """Whether option ``original`` can be told apart in prompts (see ``ItemFacts.nameable``)."""
        return self.facts.nameable(original)

    @property
    def facts(self) -> ItemFacts:
        if self._facts is None:
            self._facts = ItemFacts(self.view)
        return self._facts

    def label(self, original: int) -> str:
        """The label of original option ``original`` in the item's own order."""
        return str(self.view["labels"][original])

    def text(self, original: int, width: int = 40) -> str:
        t = norm(str(self.view["choices"][original]))
        return repr(t if len(t) <= width else t[: width - 1] + "…")


_sessions: OrderedDict[str, Session] = OrderedDict()
_sessions_lock = threading.Lock()
MAX_SESSIONS = 32  # sessions kept (LRU): one per record being audited, across worker threads


def session(program: str, item: dict[str, Any]) -> Session:
    """The session of ``program`` on ``item`` (its guest view), shared by the auditors of one record."""
    view = view_of(item)
    key = hashlib.sha256(json.dumps([program, view], sort_keys=True, default=str).encode()).hexdigest()
    with _sessions_lock:
        s = _sessions.get(key)
        if s is None:
            s = _sessions[key] = Session(program, view)
            while len(_sessions) > MAX_SESSIONS:
                _sessions.popitem(last=False)
        else:
            _sessions.move_to_end(key)
        return s


def view_of(item: dict[str, Any]) -> dict[str, Any]:
    """The guest view of ``item`` (labels defaulted to ``A, B, …``); host-only keys dropped."""
    choices = [str(c) for c in item.get("choices") or []]
    labels = [str(x) for x in (item.get("labels") or [chr(65 + i) for i in range(len(choices))])]
    return {
        "id": item.get("id"),
        "question": item.get("question"),
        "choices": choices,
        "labels": labels,
        "context": item.get("context"),
    }


def usable(item: dict[str, Any] | None) -> str | None:
    """Why the item cannot be used for stand-in runs, or None."""
    if not item or not isinstance(item.get("choices"), (list, tuple)) or len(item["choices"]) < 2:
        return "no item with at least two options to run the program on"
    labels = item.get("labels")
    if labels is not None and len(labels) != len(item["choices"]):
        return "the item's labels and choices differ in length"
    return None


def skip_reason(program: str, item: dict[str, Any] | None, assisted: Any) -> str | None:
    """Why a dynamic audit cannot run (the verdict is then ``pass`` with this reason), or None."""
    if assisted is not None and getattr(assisted, "status", None) == "generator_error":
        return "not run: no program was produced"
    if not program.strip():
        return "not run: empty program"
    problem = usable(item)
    if problem:
        return f"not run: {problem}"
    if not _parses(program):
        return "not run: the program does not parse"
    return None


@functools.lru_cache(maxsize=MAX_SESSIONS)
def _parses(program: str) -> bool:
    """Whether ``program`` parses (asked by each dynamic auditor of a record: parsed once)."""
    try:
        ast.parse(program)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True
