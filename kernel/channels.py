"""The three channels of one item (direct, assisted, generator-side), its audits and its record.

``Engine`` holds the parts of a run (solver, generator, extractor chain, auditors, sandbox) and
answers one item at a time; ``cgr.kernel.pipeline`` runs it over a bundle.
"""

from __future__ import annotations

import hashlib
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from cgr.kernel import prompts
from cgr.kernel.api import (
    BaselineRequest,
    DirectAnswer,
    Generator,
    GeneratorConfig,
    Scaffold,
    Solver,
    SolverConfig,
    SolverError,
    call_seed,
    scored_tokens,
    takes_seed,
)
from cgr.kernel.chain import extract_label, run_auditors
from cgr.kernel.config import RunConfig
from cgr.kernel.manager import Entry, PluginError, Plugins, check_solver, load_plugins
from cgr.kernel.records import (
    AssistedChannel,
    Audit,
    BudgetChannel,
    DirectChannel,
    GeneratorChannel,
    Item,
    Record,
    SolverCall,
    TraceBound,
    valid_record,
)
from cgr.sandbox import HostError, Sandbox, SandboxResult


@dataclass(frozen=True)
class Answered:
    """One item's channels before its audits (``Engine.answer``; ``Engine.finish`` makes the record)."""

    item: Item
    direct: DirectChannel
    direct_modes: dict[str, DirectChannel]
    assisted: AssistedChannel
    generator_side: GeneratorChannel
    scaffold: Scaffold | None
    budget: BudgetChannel | None
    budget_reason: str | None
    solver: str  # the record's labels, decided on the solver's thread
    generator: str


@dataclass
class Engine:
    """The parts of a run: solver, generator, extractor chain, auditors and the sandbox."""

    plugins: Plugins
    solver: Solver
    generator: Generator | None
    solver_name: str
    generator_name: str
    config: RunConfig
    sandbox: Sandbox = field(default_factory=Sandbox)

    @classmethod
    def from_config(cls, config: RunConfig, plugins: Plugins | None = None) -> Engine:
        """Resolve plugin names and build the solver and generator."""
        plugins = plugins or load_plugins()
        solver_factory = plugins.solver(config.solver).obj
        generator_factory = plugins.generator(config.generator).obj
        solver = solver_factory(
            SolverConfig(
                model=config.model,
                gpu_layers=config.gpu_layers,
                n_ctx=config.n_ctx,
                n_threads=config.n_threads,
                seed=config.seed,
                options=config.solver_options,
            )
        )
        check_solver(solver, config.solver)
        gen_config = GeneratorConfig(
            strategy=config.strategy, model=config.generator_model, seed=config.seed, options=config.generator_options
        )
        # a factory that takes ``plugins`` gets this run's (e.g. the llm generator, to build its solver)
        takes_plugins = "plugins" in inspect.signature(generator_factory).parameters
        generator = generator_factory(gen_config, plugins=plugins) if takes_plugins else generator_factory(gen_config)
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

    def _seeded(self, options: dict[str, Any], item: Item, *key: object) -> dict[str, Any]:
        """``options`` plus this call's seed (from run seed, item and call key) when it samples."""
        if self.solver_takes_seed and options.get("temperature"):
            return {**options, "seed": call_seed(self.config.seed, item.id, *key)}
        return options

    @cached_property
    def chain(self) -> list[Entry]:
        """The extractor chain in order (sorted once: it is used on every extraction)."""
        return self.plugins.extractors()

    # ------------------------------------------------------------------ channels ---------------
    def direct(self, item: Item, mode: str | None = None, cache: dict[str, Any] | None = None) -> DirectChannel:
        """The solver answers the item in ``mode`` (default: the run's primary ``direct_mode``);
        ``cache`` is shared by the modes of one item."""
        mode = mode or self.config.direct_mode
        entry = self.plugins.get("direct_mode", mode)
        start, error, cache = time.perf_counter(), None, {} if cache is None else cache
        try:
            got = entry.obj(self.solver, self.chain, item, max_tokens=self.config.direct_max_tokens, cache=cache)
        except SolverError:
            raise  # infrastructure down: stop the run (records so far are kept; --resume continues)
        except Exception as exc:  # noqa: BLE001 - this item cannot be answered (e.g. too long)
            got = DirectAnswer(None, None, "", prompt_version=entry.extra.get("prompt_version", prompts.DIRECT_VERSION))
            error = f"{type(exc).__name__}: {exc}"
        return DirectChannel(
            answer=got.label,
            correct=got.label == item.answer,
            calls=1,
            raw=got.raw,
            method=got.method,
            prompt_tokens=got.prompt_tokens,
            completion_tokens=got.completion_tokens,
            latency_s=time.perf_counter() - start,
            mode=mode,
            prompt_version=got.prompt_version,
            scores=got.scores,
            text_answer=got.text_answer,
            disagreement=got.label is not None and got.text_answer is not None and got.text_answer != got.label,
            error=error,
        )

    def all_direct(self, item: Item) -> tuple[DirectChannel, dict[str, DirectChannel]]:
        """The primary direct mode's channel and the extra modes' channels (keyed by mode).

        ``cloze`` and ``cloze_raw`` share one scoring call; each channel still says ``calls=1``, the
        cost of that mode run alone.
        """
        cache: dict[str, Any] = {}
        primary = self.direct(item, self.config.direct_mode, cache)
        return primary, {mode: self.direct(item, mode, cache) for mode in self.config.direct_modes}

    def budget_matched(self, item: Item, assisted: AssistedChannel) -> tuple[BudgetChannel | None, str | None]:
        """The run's baseline (``config.baseline``) on one item: its channel, or None and why. A
        ``SolverError`` stops the run as it is; any other failure or a wrong reply is a ``PluginError``."""
        c, name = self.config, self.config.baseline
        baseline = self.plugins.get("baseline", name).obj
        request = BaselineRequest(
            self.solver,
            self.chain,
            item,
            assisted,
            seed=c.seed,
            max_tokens=c.direct_max_tokens,
            temperature=c.budget_temperature,
        )
        try:
            channel, reason = baseline(request)
        except SolverError:
            raise
        except Exception as exc:  # noqa: BLE001 - a broken baseline names itself and the item
            raise PluginError(f"baseline {name!r} failed on item {item.id!r}: {type(exc).__name__}: {exc}") from exc
        if not (isinstance(channel, BudgetChannel) or channel is None and isinstance(reason, str)):
            raise PluginError(f"baseline {name!r} on item {item.id!r}: not (BudgetChannel, …) nor (None, reason)")
        return channel, reason

    def host_callback(
        self, item: Item, trace: list[SolverCall], failures: list[SolverError] | None = None
    ) -> Callable[[str, dict[str, Any]], object]:
        """The sandbox's one host callback: solver crossings and extraction, all traced.

        A ``SolverError`` (the solver itself is down) is appended to ``failures`` so the caller can
        stop the run instead of recording the item as answered wrongly.
        """

        def host(op: str, args: dict[str, Any]) -> object:
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
        limits = self.config.limits
        result: SandboxResult = self.sandbox.run(
            scaffold.source,
            item.guest_view(),
            self.host_callback(item, trace, failures),
            limits,
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

    def audit(self, program: str, item: dict[str, Any], assisted: AssistedChannel | None) -> list[Audit]:
        """Every auditor's verdict on one scaffold."""
        return run_auditors(self.plugins, program, item, assisted)

    def process(self, item: Item) -> Record:
        """All three channels and the audits for one item."""
        return self.finish(self.answer(item))

    def answer(self, item: Item) -> Answered:
        """The three channels (and the budget baseline) of one item: everything that uses the solver.

        ``finish`` adds the audits (no solver) and makes the record, so an executor may audit one
        item while the solver answers the next."""
        view = item.guest_view()
        direct_channel, extra_modes = self.all_direct(item)
        if self.generator is None:
            raise ValueError("Engine.process needs a generator")
        scaffold: Scaffold | None
        try:
            scaffold = self.generator.generate(view)
        except Exception as exc:  # noqa: BLE001 - recorded as a typed outcome
            scaffold = None
            assisted = AssistedChannel(
                answer=None,
                correct=False,
                calls=0,
                status="generator_error",
                error=f"{type(exc).__name__}: {exc}",
            )
            generator_side = GeneratorChannel(answer=None, correct=False, calls=0, outcome="error")
        else:
            assert scaffold is not None
            if scaffold.source.strip():
                assisted = self.assisted(item, scaffold)
            else:
                assisted = AssistedChannel(
                    answer=None,
                    correct=False,
                    calls=0,
                    status="generator_error",
                    raw=scaffold.raw,
                    error=f"the generator produced no program ({scaffold.outcome})",
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
                outcome=scaffold.outcome,
                retries=scaffold.retries,
            )
        budget, budget_reason = self.budget_matched(item, assisted) if self.config.budget_baseline else (None, None)
        return Answered(
            item,
            direct_channel,
            extra_modes,
            assisted,
            generator_side,
            scaffold,
            budget,
            budget_reason,
            self.solver_label,
            self.generator_label,
        )

    def finish(self, done: Answered) -> Record:
        """The audits of one answered item and its validated record (thread-safe: no solver call)."""
        item, view, generator_side = done.item, done.item.guest_view(), done.generator_side
        # the dynamic auditors compare the submit with the generator's own stated answer (host side only)
        audit_item = {**view, "generator_answer": generator_side.answer} if generator_side.answer else view
        program = done.scaffold.source if done.scaffold else ""
        return valid_record(
            Record(
                item_id=item.id,
                dataset=item.dataset,
                task=item.task,
                solver=done.solver,
                generator=done.generator,
                gold=item.answer,
                direct=done.direct,
                direct_modes=done.direct_modes,
                assisted=done.assisted,
                generator_side=generator_side,
                audits=self.audit(program, audit_item, done.assisted),
                budget_matched=done.budget,
                budget_matched_reason=done.budget_reason,
            )
        )
