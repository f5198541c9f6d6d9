"""The three channels of one item (direct, assisted, generator-side), its audits and its record.

``Engine`` holds the parts of a run (solver, generator, extractor chain, auditors, sandbox) and
answers one item at a time; ``cgr.kernel.pipeline`` runs it over a bundle.
"""

from __future__ import annotations

import dataclasses
import hashlib
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from cgr.kernel import __version__, prompts
from cgr.kernel.api import (
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
from cgr.kernel.bundle import Bundle
from cgr.kernel.chain import extract_label, run_auditors
from cgr.kernel.config import RunConfig
from cgr.kernel.manager import Entry, Plugins, check_solver, load_plugins
from cgr.kernel.records import (
    AssistedChannel,
    Audit,
    BudgetChannel,
    DirectChannel,
    GeneratorChannel,
    Item,
    Record,
    RunManifest,
    SolverCall,
    TraceBound,
    valid_record,
)
from cgr.kernel.store import now_iso
from cgr.sandbox import HostError, Sandbox, SandboxResult


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"cgr": __version__, "python": sys.version.split()[0]}
    for dist in ("llama-cpp-python", "wasmtime", "componentize-py", "pluggy", "msgspec", "pydantic"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out


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
                answer=None,
                correct=False,
                calls=1,
                latency_s=time.perf_counter() - start,
                mode=mode,
                prompt_version=prompts.DIRECT_VERSION,
                error=f"{type(exc).__name__}: {exc}",
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

    def _direct_answer(self, item: Item, prompt: str, mode: str) -> tuple[str | None, str | None, str, int, int]:
        prompt_tokens = completion_tokens = 0
        if mode == "logprobs":
            scores = self.solver.label_logprobs(prompt, list(item.labels))
            prompt_tokens = scored_tokens(scores)
            best = max(range(len(scores)), key=lambda i: scores[i])
            label, method = item.labels[best], "label_logprobs"  # type: str | None, str | None
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
            answer=answer,
            correct=answer == item.answer,
            calls=calls,
            raw=" ".join(label or "?" for label in labels),
            method="self_consistency",
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency_s=time.perf_counter() - start,
            temperature=temperature,
            votes=votes,
        )

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
        view = item.guest_view()
        direct = self.direct(item)
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
            generator_side = GeneratorChannel(answer=None, correct=False, calls=0)
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
        return valid_record(
            Record(
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
            )
        )

    def manifest(self, bundle: Bundle) -> RunManifest:
        """The run manifest for this engine and bundle."""
        solver_info = dict(self.solver.info())
        solver_info.update(name=self.solver_name, mode=self.config.direct_mode, seed=self.config.seed, temperature=0.0)
        gen_info = dict(self.generator.info() if self.generator is not None else {})
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
            platform={
                "system": platform.system(),
                "machine": platform.machine(),
                "python": platform.python_implementation(),
            },
            limits=dataclasses.asdict(self.config.limits),
        )
