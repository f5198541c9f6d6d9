"""The pipeline: for each item, the direct, assisted and generator-side channels, audits, a record.

A notebook user can call this directly::

    from cgr.kernel.pipeline import run
    summary = run(RunConfig(limit=10, out=Path("out")))
"""

from __future__ import annotations

import hashlib
import platform
import sys
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from functools import cached_property
from itertools import islice
from importlib.metadata import PackageNotFoundError, version
from typing import Callable

import msgspec

from cgr.kernel import __version__, prompts
from cgr.kernel.api import GeneratorConfig, Scaffold, SolverConfig, SolverError, call_seed, scored_tokens, takes_seed
from cgr.kernel.audit import run_auditors
from cgr.kernel.bundle import Bundle, BundleError, load_bundle
from cgr.kernel.extract import extract_label
from cgr.kernel.config import RunConfig
from cgr.kernel.manager import Entry, Plugins, check_solver, load_plugins
from cgr.kernel.records import (
    MAX_TRACE_CHARS,
    TRACE_TEXT_CHARS,
    AssistedChannel,
    Audit,
    BudgetChannel,
    DirectChannel,
    GeneratorChannel,
    Item,
    Record,
    RunManifest,
    SolverCall,
    decode_record,
    encode_record,
)
from cgr.kernel.store import RunStore, now_iso
from cgr.sandbox import HostError, Limits, Sandbox, SandboxResult


def _versions() -> dict:
    out = {"cgr": __version__, "python": sys.version.split()[0]}
    for dist in ("llama-cpp-python", "wasmtime", "componentize-py", "pluggy", "msgspec", "pydantic"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out


class TraceBound:
    """Keeps one record's solver-call trace within the documented bound (see records.TRACE_TEXT_CHARS).

    Applied to each call as soon as it is made, so host memory stays bounded during the run, not
    only on disk: whatever the scaffold sends or the solver replies, a record's trace holds at
    most MAX_TRACE_CHARS characters of text plus a marker per call.
    """

    def __init__(self) -> None:
        self.left = MAX_TRACE_CHARS

    def keep(self, call: SolverCall) -> None:
        """Cut ``call``'s text in place where it is over the bound, marking and hashing it."""
        strings = _option_strings(call.options)
        reply = call.reply if isinstance(call.reply, str) else ""
        sizes = (len(call.prompt), len(reply), sum(map(len, strings)))
        if sum(sizes) <= self.left and max(sizes) <= TRACE_TEXT_CHARS:
            self.left -= sum(sizes)
            return
        whole = msgspec.json.encode([call.op, call.prompt, call.options, call.reply])
        call.sha256, call.truncated = hashlib.sha256(whole).hexdigest(), True
        room = min(TRACE_TEXT_CHARS, max(0, self.left) // 3)  # for each of prompt, reply, options
        call.prompt = _cut(call.prompt, room)
        if reply:
            call.reply = _cut(reply, room)
        if sizes[2] > room:  # option lists are kept whole or not at all (the hash stands for them)
            call.options = {k: v for k, v in call.options.items() if not isinstance(v, (str, list))}
        self.left -= len(call.prompt) + len(call.reply if isinstance(call.reply, str) else "") + \
            sum(map(len, _option_strings(call.options)))


def _option_strings(options: dict) -> list[str]:
    out = []
    for value in options.values():
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, list):
            out.extend(v for v in value if isinstance(v, str))
    return out


def _cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters: its head and an ASCII marker saying how long it was, or
    nothing at all when there is no room (``truncated`` and ``sha256`` still say what it was)."""
    if len(text) <= limit:
        return text
    marker = f"...[cut by cgr: {len(text)} chars]"
    return text[: limit - len(marker)] + marker if limit > len(marker) else ""


@dataclass
class Engine:
    """The parts of a run: solver, generator, extractor chain, auditors and the sandbox."""

    plugins: Plugins
    solver: object
    generator: object
    solver_name: str
    generator_name: str
    config: RunConfig
    sandbox: Sandbox = field(default_factory=Sandbox)

    @classmethod
    def from_config(cls, config: RunConfig, plugins: Plugins | None = None) -> "Engine":
        """Resolve plugin names and build the solver and generator."""
        plugins = plugins or load_plugins()
        solver_factory = plugins.solver(config.solver).obj
        generator_factory = plugins.generator(config.generator).obj
        solver = solver_factory(
            SolverConfig(
                model=config.model, gpu_layers=config.gpu_layers, n_ctx=config.n_ctx, n_threads=config.n_threads,
                seed=config.seed,
                options=config.solver_options,
            )
        )
        check_solver(solver, config.solver)
        generator = generator_factory(
            GeneratorConfig(strategy=config.strategy, model=config.generator_model, seed=config.seed)
        )
        return cls(plugins, solver, generator, config.solver, config.generator, config)

    @cached_property
    def solver_label(self) -> str:
        """The record's ``solver``: plugin and model (``llama/smollm2-135m``), so models stay apart."""
        model = self.solver.info().get("model")
        return f"{self.solver_name}/{model}" if model else self.solver_name

    @cached_property
    def generator_label(self) -> str:
        """The record's ``generator``: plugin and strategy or model (``template/per_option``)."""
        info = self.generator.info() if self.generator is not None else {}
        detail = info.get("strategy") if info.get("strategy") not in (None, "prompted") else info.get("model")
        return f"{self.generator_name}/{detail}" if detail else self.generator_name

    @cached_property
    def solver_takes_seed(self) -> bool:
        """Whether the solver's ``complete`` takes the kernel's per-call ``seed``."""
        return takes_seed(self.solver)

    def _seeded(self, options: dict, item: Item, *key) -> dict:
        """``options`` plus this call's seed (from run seed, item and call key) when it samples."""
        if self.solver_takes_seed and options.get("temperature"):
            return {**options, "seed": call_seed(self.config.seed, item.id, *key)}
        return options

    @cached_property
    def chain(self) -> list[Entry]:
        """The extractor chain in order (sorted once: it is used on every extraction)."""
        return self.plugins.extractors()

    # ------------------------------------------------------------------ channels ---------------
    def direct(self, item: Item) -> DirectChannel:
        """The solver answers from the direct prompt in the configured mode."""
        mode = self.config.direct_mode
        prompt = prompts.render_direct(item.guest_view())
        start = time.perf_counter()
        try:
            label, method, raw, prompt_tokens, completion_tokens = self._direct_answer(item, prompt, mode)
        except SolverError:
            raise  # infrastructure down: stop the run (records so far are kept; --resume continues)
        except Exception as exc:  # noqa: BLE001 - this item cannot be answered (e.g. too long)
            return DirectChannel(
                answer=None, correct=False, calls=1, latency_s=time.perf_counter() - start, mode=mode,
                prompt_version=prompts.DIRECT_VERSION, error=f"{type(exc).__name__}: {exc}",
            )
        return DirectChannel(
            answer=label,
            correct=label == item.answer,
            calls=1,
            raw=raw,
            method=method,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency_s=time.perf_counter() - start,
            mode=mode,
            prompt_version=prompts.DIRECT_VERSION,
        )

    def _direct_answer(self, item: Item, prompt: str, mode: str):
        prompt_tokens = completion_tokens = 0
        if mode == "logprobs":
            scores = self.solver.label_logprobs(prompt, list(item.labels))
            prompt_tokens = scored_tokens(scores)
            best = max(range(len(scores)), key=lambda i: scores[i])
            label, method = item.labels[best], "label_logprobs"
            raw = " ".join(f"{lab}:{s:.4f}" for lab, s in zip(item.labels, scores))
        else:
            completion = self.solver.complete(
                prompt,
                max_tokens=self.config.direct_max_tokens if mode == "generate" else 4,
                temperature=0.0,
                stop=["\n"] if mode == "generate" else None,
                choices=list(item.labels) if mode == "grammar" else None,
            )
            raw = completion.text
            prompt_tokens, completion_tokens = completion.prompt_tokens, completion.completion_tokens
            label, method = extract_label(self.chain, raw, item.labels, item.choices)
        return label, method, raw, prompt_tokens, completion_tokens

    def budget_matched(self, item: Item, calls: int) -> BudgetChannel | None:
        """Self-consistency on the direct prompt with ``calls`` samples; majority vote.

        Ties go to the label reached first; samples with no extractable label do not vote.
        """
        if calls <= 0:
            return None
        prompt = prompts.render_direct(item.guest_view())
        temperature = self.config.budget_temperature
        start = time.perf_counter()
        labels: list[str | None] = []
        prompt_tokens = completion_tokens = 0
        for i in range(calls):
            options = {"max_tokens": self.config.direct_max_tokens, "temperature": temperature, "stop": ["\n"]}
            try:
                completion = self.solver.complete(prompt, **self._seeded(options, item, "budget", i))
            except SolverError:
                raise  # the solver itself is down: stop the run
            except Exception:  # noqa: BLE001 - this request was refused: the sample does not vote
                labels.append(None)
                continue
            prompt_tokens += completion.prompt_tokens
            completion_tokens += completion.completion_tokens
            labels.append(extract_label(self.chain, completion.text, item.labels, item.choices)[0])
        votes: dict[str, int] = {}
        for label in labels:
            if label is not None:
                votes[label] = votes.get(label, 0) + 1
        answer = max(votes, key=lambda k: votes[k]) if votes else None  # dicts keep first-seen order
        return BudgetChannel(
            answer=answer, correct=answer == item.answer, calls=calls,
            raw=" ".join(label or "?" for label in labels), method="self_consistency",
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
            latency_s=time.perf_counter() - start, temperature=temperature, votes=votes,
        )

    def host_callback(
        self, item: Item, trace: list[SolverCall], failures: list[SolverError] | None = None
    ) -> Callable[[str, dict], object]:
        """The sandbox's one host callback: solver crossings and extraction, all traced.

        A ``SolverError`` (the solver itself is down) is appended to ``failures`` so the caller can
        stop the run instead of recording the item as answered wrongly.
        """

        def host(op: str, args: dict) -> object:
            start = time.perf_counter()
            call = SolverCall(op=op, prompt=args.get("prompt", args.get("text", "")))
            trace.append(call)
            try:
                if op == "solve":
                    opts = {k: args.get(k) for k in ("max_tokens", "temperature", "stop", "choices")}
                    call.options = {k: v for k, v in opts.items() if v is not None}
                    index = len(trace) - 1  # this crossing's position in the item's trace
                    completion = self.solver.complete(args["prompt"], **self._seeded(call.options, item, index))
                    call.reply = completion.text
                    call.prompt_tokens = completion.prompt_tokens
                    call.completion_tokens = completion.completion_tokens
                    return completion.text
                if op == "logprobs":
                    call.options = {"continuations": list(args["continuations"])}
                    scores = self.solver.logprobs(args["prompt"], call.options["continuations"])
                    call.reply, call.prompt_tokens = list(scores), scored_tokens(scores)
                    return call.reply
                if op == "extract":
                    call.reply, _ = extract_label(self.chain, args["text"], item.labels, item.choices)
                    return call.reply
                raise HostError(f"unknown host operation {op!r}")
            except HostError as exc:
                call.error = str(exc)
                raise
            except Exception as exc:  # noqa: BLE001 - any solver failure goes to the guest, typed
                call.error = f"{type(exc).__name__}: {exc}"
                if isinstance(exc, SolverError) and failures is not None:
                    failures.append(exc)
                raise HostError(f"solver failed: {call.error}") from exc
            finally:
                call.latency_s = time.perf_counter() - start
                bound.keep(call)

        bound = TraceBound()
        return host

    def assisted(self, item: Item, scaffold: Scaffold) -> AssistedChannel:
        """Run the scaffold in the sandbox; its submit (or its printed output) is the answer."""
        trace: list[SolverCall] = []
        failures: list[SolverError] = []
        limits = Limits(**self.config.limits.model_dump())
        result: SandboxResult = self.sandbox.run(
            scaffold.source, item.guest_view(), self.host_callback(item, trace, failures), limits,
            seed=self.config.seed,
        )
        if failures:
            raise failures[0]  # the solver is down: no record for this item; --resume retries it
        label, method = result.answer, "submit" if result.answer is not None else None
        if label is None and result.status == "no_submit" and result.stdout.strip():
            label, name = extract_label(self.chain, result.stdout, item.labels, item.choices)
            method = f"stdout:{name}" if name else None
        solver_trace = [c for c in trace if c.op != "extract"]
        status = result.status
        if status == "timeout" and (result.error or "").startswith("timeout: fuel"):
            status = "fuel"
        return AssistedChannel(
            answer=label,
            correct=label == item.answer,
            calls=result.solver_calls,
            raw=result.stdout,
            method=method,
            prompt_tokens=sum(c.prompt_tokens for c in solver_trace),
            completion_tokens=sum(c.completion_tokens for c in solver_trace),
            latency_s=result.elapsed_s,
            status=status,
            program_sha256=hashlib.sha256(scaffold.source.encode()).hexdigest(),
            program=scaffold.source,
            error=result.error,
            stdout=result.stdout,
            stderr=result.stderr,
            trace=trace,
        )

    def audit(self, program: str, item: dict, assisted: AssistedChannel | None) -> list[Audit]:
        """Every auditor's verdict on one scaffold."""
        return run_auditors(self.plugins, program, item, assisted)

    def process(self, item: Item) -> Record:
        """All three channels and the audits for one item."""
        view = item.guest_view()
        direct = self.direct(item)
        try:
            scaffold = self.generator.generate(view)
        except Exception as exc:  # noqa: BLE001 - recorded as a typed outcome
            scaffold = None
            assisted = AssistedChannel(
                answer=None, correct=False, calls=0, status="generator_error",
                error=f"{type(exc).__name__}: {exc}",
            )
            generator_side = GeneratorChannel(answer=None, correct=False, calls=0)
        else:
            if scaffold.source.strip():
                assisted = self.assisted(item, scaffold)
            else:
                assisted = AssistedChannel(
                    answer=None, correct=False, calls=0, status="generator_error", raw=scaffold.raw,
                    error="the generator produced no program",
                )
            gen_answer = scaffold.answer if scaffold.answer in item.labels else None
            generator_side = GeneratorChannel(
                answer=gen_answer,
                correct=gen_answer == item.answer,
                calls=scaffold.calls,
                raw=scaffold.raw,
                method="generator" if gen_answer else None,
                prompt_tokens=scaffold.prompt_tokens,
                completion_tokens=scaffold.completion_tokens,
            )
        return _valid(Record(
            item_id=item.id,
            dataset=item.dataset,
            task=item.task,
            solver=self.solver_label,
            generator=self.generator_label,
            gold=item.answer,
            direct=direct,
            assisted=assisted,
            generator_side=generator_side,
            audits=self.audit(scaffold.source if scaffold else "", view, assisted),
            budget_matched=self.budget_matched(item, assisted.calls) if self.config.budget_baseline else None,
        ))

    def manifest(self, bundle: Bundle) -> RunManifest:
        """The run manifest for this engine and bundle."""
        solver_info = dict(self.solver.info())
        solver_info.update(name=self.solver_name, mode=self.config.direct_mode, seed=self.config.seed,
                           temperature=0.0)
        gen_info = dict(self.generator.info())
        gen_info.update(name=self.generator_name, prompt_version=prompts.GENERATOR_VERSION)
        return RunManifest(
            cgr_version=__version__,
            created=now_iso(),
            config=self.config.model_dump(mode="json"),
            bundle=bundle.describe(),
            solver=solver_info,
            generator=gen_info,
            extractors=[e.name for e in self.chain],
            auditors=[e.name for e in self.plugins.auditors()],
            versions=_versions(),
            platform={"system": platform.system(), "machine": platform.machine(),
                      "python": platform.python_implementation()},
            limits=self.config.limits.model_dump(),
        )


def _valid(record: Record) -> Record:
    """``record`` if it reads back as a Record; else the same record with a host-made assisted error.

    Much of the assisted channel is shaped by the scaffold; whatever it managed, the record written
    must be one every reader accepts (the run directory must stay readable).
    """
    try:
        decode_record(encode_record(record))
        return record
    except Exception as exc:  # noqa: BLE001 - any encode/validation failure
        problem = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    a = record.assisted
    record.assisted = AssistedChannel(
        answer=None, correct=False, calls=a.calls if isinstance(a.calls, int) else 0, status="error",
        program_sha256=a.program_sha256 if isinstance(a.program_sha256, str) else "",
        program=a.program if isinstance(a.program, str) else "",
        error=f"cgr: the assisted outcome failed validation ({problem}) and was replaced by this error",
    )
    return record


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
) -> RunSummary:
    """Run the pipeline over the bundle, appending records to ``config.out`` (resumable)."""
    bundle = load_bundle(config.bundle)
    items = bundle.items
    if config.tasks:
        unknown = sorted(set(config.tasks) - {it.task for it in items})
        if unknown:
            known = sorted({it.task for it in items})
            raise BundleError(bundle.path, None, "task", f"no items of task(s) {', '.join(unknown)}; "
                                                         f"the bundle has: {', '.join(known)}")
        items = [it for it in items if it.task in config.tasks]
    items = items[: config.limit] if config.limit else items
    engine = engine or Engine.from_config(config, plugins)
    check_solver(engine.solver, engine.solver_name)  # also a solver swapped into a given engine
    store = RunStore(config.out, engine.manifest(bundle), resume=config.resume)
    todo = [it for it in items if it.id not in store.done]
    if on_start:
        on_start(store.manifest, len(todo), len(items) - len(todo))
    written: list[Record] = []
    try:
        with closing(_process_in_order(engine, todo, config.workers)) as records:
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
    return RunSummary(str(config.out), len(written), len(items) - len(todo), len(store.done), written,
                      direct_errors=sum(1 for r in written if r.direct.error), first_error=first)


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
