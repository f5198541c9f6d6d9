"""``llama``: solver on llama-cpp-python (GPU-offloaded when llama.cpp has a GPU backend).

Models: an embedded model name (default ``smollm2-135m``, installed from PyPI; ``cgr models``
lists them) or any GGUF path with ``--model PATH``; see ``llama_models``. One model per process and
load settings, shared by every caller behind a lock (llama.cpp contexts are not thread-safe): the
cache is ``MODELS``, see ``llama_load.ModelCache``. Prompts for ``complete`` and
``label_logprobs`` go through the model's own chat template; ``logprobs`` scores raw text (cloze):
the prompt once, all continuations in one batched decode (``llama_score``). ``complete(choices=...)``
decodes under a GBNF grammar over the choices (``llama_grammar``).

Batched generation: with ``--solver-option batch_slots=N`` (N > 1), ``complete`` calls without
``choices`` from concurrent threads (``cgr run --workers N``) do not wait on the lock: they are decoded
together, up to N sequences per llama.cpp decode, on a context of their own (``llama_batch.BatchEngine``,
made on first use). Replies are the same as one call at a time; grammar-constrained calls
(``choices``), ``label_logprobs`` and ``logprobs`` still go one at a time.

No state crosses calls: for ``complete`` and ``label_logprobs`` a prompt is evaluated in fixed
64-token blocks and a cached prefix is reused only in whole blocks, which gives bit-for-bit the
numbers of an empty cache (see ``_eval_prefix``); ``logprobs``' context is batch- and
history-invariant by its settings (see ``llama_score``); and sampling above temperature 0 uses
the seed the caller passes (the kernel derives it from the run seed, the item and the call's
index), so an item's result does not depend on what ran before.

On CPUs with AMX the model is loaded without llama.cpp's extra buffer types, which crash there
(``--solver-option extra_buffers=auto|on|off``; see ``llama_load``); the manifest says why.

This module is the plugin: it registers the ``llama`` solver and the ``cgr models`` command.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cgr.kernel.api import Completion, Scores, SolverConfig, SolverError
from cgr.kernel.hookspecs import hookimpl
from cgr.plugins.llama_batch import PREFIX_BLOCK, BatchEngine
from cgr.plugins.llama_grammar import choices_grammar
from cgr.plugins.llama_load import (
    MODELS,
    OPTIONS,
    ModelKey,
    _load_llama,
    _usable_cpus,
    batch_slots,
    check_options,
    cpu_flags,
    extra_buffers_decision,
)
from cgr.plugins.llama_models import (
    DEFAULT_MODEL,
    EMBEDDED,
    FALLBACK_CHAT_TEMPLATES,
    EmbeddedModel,
    ModelNotFoundError,
    cache_dir,
    file_sha256,
    models,
    models_command,
    resolve_model,
)
from cgr.plugins.llama_score import BatchScorer, log_softmax

# llama.cpp's OpenMP threads spin while they wait for each other; on cores shared with anything else
# (a second run, a test server, a browser) that made decoding 2-3x slower here, and up to 100x
# under heavy load (bench/RESULTS.md, "Kernel overhead"). Passive waiting is the default unless the
# user set OMP_WAIT_POLICY; it must be set before llama_cpp (and its OpenMP runtime) is first loaded.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

if TYPE_CHECKING:
    from cgr.kernel.api import CommandGroup, SolverRegistrar

__all__ = [
    "load_solver",
    "DEFAULT_MODEL",
    "EMBEDDED",
    "FALLBACK_CHAT_TEMPLATES",
    "MODELS",
    "OPTIONS",
    "PREFIX_BLOCK",
    "EmbeddedModel",
    "LlamaSolver",
    "ModelKey",
    "ModelNotFoundError",
    "cache_dir",
    "cpu_flags",
    "extra_buffers_decision",
    "file_sha256",
    "models",
    "resolve_model",
]


def load_solver(config: SolverConfig | None = None) -> LlamaSolver:
    """The solver factory: the solver of ``config``'s model and load settings, loaded once, then
    shared through ``MODELS`` (see ``ModelCache``: what is cached, for how long and why). The same
    ``ModelKey`` gives the same object, e.g. a run's solver and its llm generator."""
    config = config or SolverConfig()
    model_name, path = resolve_model(config.model)
    check_options(config.options)
    return MODELS.get(ModelKey.of(path, config), lambda: LlamaSolver(config, model_name=model_name, path=path))


class LlamaSolver:
    """A GGUF model through llama-cpp-python, deterministic at temperature 0. Each instance loads
    its model; use ``load_solver`` (the registered factory) to share loaded models."""

    name = "llama"

    def __init__(
        self, config: SolverConfig | None = None, *, model_name: str | None = None, path: Path | None = None
    ) -> None:
        config = config or SolverConfig()
        if path is None or model_name is None:
            model_name, path = resolve_model(config.model)
            check_options(config.options)
        self._load(config, model_name, path)

    def _load(self, config: SolverConfig, model_name: str, path: Path) -> None:
        import llama_cpp

        self.config = config
        self.model_name = model_name
        self.path = path
        self.gpu_backend = bool(llama_cpp.llama_supports_gpu_offload())
        gpu_layers = config.gpu_layers
        if gpu_layers is None:
            gpu_layers = -1 if self.gpu_backend else 0
        self.n_threads = config.n_threads or max(1, min(8, _usable_cpus()))
        system_info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
        self.extra_buffers, self.extra_buffers_reason = extra_buffers_decision(
            str(config.options.get("extra_buffers", "auto")), cpu_flags(), system_info
        )
        try:
            self.llm = _load_llama(
                llama_cpp,
                self.extra_buffers,
                model_path=str(path),
                n_ctx=config.n_ctx,
                n_threads=self.n_threads,
                n_gpu_layers=gpu_layers,
                seed=config.seed,
                logits_all=False,  # logits_all costs n_ctx x vocab floats; we read last logits instead
                verbose=False,
            )
        except ValueError as exc:  # llama.cpp could not load it: not a GGUF, truncated, unknown architecture
            raise SolverError(
                f"{path}: llama.cpp cannot load this model file ({exc}); is it a complete GGUF "
                f"model that this llama-cpp-python ({llama_cpp.__version__}) supports?"
            ) from None
        self.n_layers = int(
            self.llm.metadata.get(f"{self.llm.metadata.get('general.architecture', '')}.block_count", 0) or 0
        )
        self.gpu_layers = (
            (self.n_layers if gpu_layers < 0 else min(gpu_layers, self.n_layers)) if self.gpu_backend else 0
        )
        self.lock = threading.RLock()
        self._chat = self._chat_formatter()
        self._label_token_cache: dict[str, list[int]] = {}
        self._scorer: BatchScorer | None = None  # logprobs' own context, made on first use
        self.batch_slots = batch_slots(config.options)
        self._engine: BatchEngine | None = None  # batched generation's own context, made on first use

    def _chat_formatter(self) -> Any:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            template = FALLBACK_CHAT_TEMPLATES.get(self.llm.metadata.get("general.architecture", ""))
        if not template:
            return None

        def token(i: int) -> str:
            return str(self.llm.detokenize([i], special=True).decode("utf-8", "replace"))

        return Jinja2ChatFormatter(
            template=template, eos_token=token(self.llm.token_eos()), bos_token=token(self.llm.token_bos())
        )

    # ------------------------------------------------------------------ facts -------------------
    def info(self) -> dict[str, Any]:
        """Manifest facts: model, file hash, backend and offload."""
        import llama_cpp

        return {
            "name": self.name,
            "model": self.model_name,
            "model_path": str(self.path),
            "model_sha256": file_sha256(self.path),
            "model_bytes": self.path.stat().st_size,
            "backend": "llama.cpp",
            "llama_cpp_python": llama_cpp.__version__,
            "gpu_backend": self.gpu_backend,
            "gpu_layers": self.gpu_layers,
            "n_layers": self.n_layers,
            "gpu_offload": "all"
            if self.gpu_backend and self.gpu_layers >= self.n_layers > 0
            else ("partial" if self.gpu_layers else "none"),
            "n_ctx": self.config.n_ctx,
            "n_threads": self.n_threads,
            "chat_template": self._chat is not None,
            "seed": self.config.seed,
            "extra_buffers": self.extra_buffers,
            "extra_buffers_reason": self.extra_buffers_reason,
            "batch_slots": self.batch_slots,
        }

    # ------------------------------------------------------------------ prompts -----------------
    def chat_prompt(self, prompt: str) -> str:
        """``prompt`` as one user turn in the model's chat template, ready for the reply."""
        if self._chat is None:
            return prompt
        text: str = self._chat(messages=[{"role": "user", "content": prompt}]).prompt
        return text

    def _tokens(self, text: str, *, bos: bool) -> list[int]:
        tokens: list[int] = self.llm.tokenize(text.encode("utf-8", "surrogatepass"), add_bos=bos, special=True)
        return tokens

    def _check_fits(self, n: int) -> None:
        if n >= self.config.n_ctx:
            raise ValueError(f"prompt of {n} tokens does not fit the context window ({self.config.n_ctx})")

    def _eval_prefix(self, tokens: list[int]) -> np.ndarray:
        """Evaluate ``tokens``; return the log-probs of the next token.

        All but the last token are evaluated in blocks of PREFIX_BLOCK tokens at fixed positions
        (0, 64, 128, ...), the last as a one-token step. A cached prefix is reused only in whole
        blocks, and a block's KV entries depend only on the tokens up to its end, computed in the same
        batch shape every time: so the result is bit-for-bit what evaluating from an empty cache gives,
        whatever ran before (another item, another call), while a shared prefix is still not paid twice.
        """
        import llama_cpp

        llm = self.llm
        head = tokens[:-1]
        common = 0
        for a, b in zip(llm.input_ids[: llm.n_tokens].tolist(), head):
            if a != b:
                break
            common += 1
        keep = common - common % PREFIX_BLOCK
        llm.n_tokens = keep  # eval() drops the KV cache beyond n_tokens
        for start in range(keep, len(head), PREFIX_BLOCK):
            llm.eval(head[start : start + PREFIX_BLOCK])
        llm.eval(tokens[-1:])
        # eval() keeps no logits without logits_all; read the last row from the context directly.
        ptr = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
        logits = np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).astype(np.float64)
        return log_softmax(logits)

    # ------------------------------------------------------------------ solver API --------------
    def complete(
        self,
        prompt: str,
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        choices: list[str] | None = None,
        seed: int | None = None,
    ) -> Completion:
        """Generate a reply in the chat template; with ``choices``, exactly one of them.

        ``choices`` are enforced by a GBNF grammar (``llama_grammar``): at temperature 0 the reply is
        the greedy constrained decode, above it a sample among the choices; ``stop`` is ignored and
        ``max_tokens`` raised to what the longest choice may need. Above temperature 0 the sample is
        drawn with ``seed`` (default: the solver's seed).

        With ``batch_slots`` > 1 a call without ``choices`` is decoded in a batch with the other
        threads' calls (``llama_batch``): the same greedy reply; a sample is drawn by numpy's generator
        seeded with ``seed``, not by llama.cpp's sampler, so sampled replies differ from ``batch_slots=1``.
        """
        text = self.chat_prompt(prompt)
        if not choices and self.batch_slots > 1:
            return self._complete_batched(text, max_tokens, temperature, stop, seed)
        grammar = None
        if choices:
            grammar, longest = choices_grammar(choices)
            max_tokens = max(max_tokens, longest + 1)  # any tokenization of any choice, then the end
            stop = None  # a stop string must not cut a choice short
        with self.lock:
            # The prompt through _eval_prefix (history-independent); create_completion then finds it
            # cached and evaluates only what is left of it before sampling.
            self._eval_prefix(self._tokens(text, bos=True))
            out = self.llm.create_completion(
                text,
                max_tokens=max_tokens,
                temperature=temperature,
                top_k=1 if temperature == 0 else 40,
                stop=stop or None,
                seed=self.config.seed if seed is None or temperature == 0 else seed,
                grammar=grammar,
            )
        usage = out.get("usage", {})
        reply = out["choices"][0]["text"]
        if choices and reply not in choices:  # the grammar makes this impossible; never pass it on
            raise ValueError(f"the constrained reply {reply[:80]!r} is not one of the choices")
        return Completion(
            text=reply,
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
        )

    def batch_engine(self) -> BatchEngine:
        """The batched-generation engine of this model (made on first use)."""
        with self.lock:
            if self._engine is None:
                self._engine = BatchEngine(
                    self.llm, slots=self.batch_slots, n_ctx=self.config.n_ctx, n_threads=self.n_threads
                )
            return self._engine

    def _complete_batched(
        self, text: str, max_tokens: int, temperature: float, stop: list[str] | None, seed: int | None
    ) -> Completion:
        tokens = self._tokens(text, bos=True)
        reply = self.batch_engine().generate(
            tokens,
            max_tokens=max_tokens,
            temperature=temperature,
            seed=self.config.seed if seed is None or temperature == 0 else seed,
            stop=list(stop or []),
        )
        return Completion(text=reply.text, prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens)

    def _label_tokens(self, label: str) -> list[int]:
        # A label may be one token as "A" or " A"; score every single-token spelling.
        if label not in self._label_token_cache:
            ids = []
            for spelling in (label, " " + label):
                toks = self._tokens(spelling, bos=False)
                if len(toks) == 1 and toks[0] not in ids:
                    ids.append(toks[0])
            self._label_token_cache[label] = ids
        return self._label_token_cache[label]

    def label_logprobs(self, prompt: str, labels: list[str]) -> list[float]:
        """Next-token log-probability of each label after the chat-formatted ``prompt``."""
        tokens = self._tokens(self.chat_prompt(prompt), bos=True)
        self._check_fits(len(tokens) + 1)
        with self.lock:
            lp = self._eval_prefix(tokens)
        out = []
        for label in labels:
            ids = self._label_tokens(label)
            out.append(float(np.logaddexp.reduce(lp[ids])) if ids else float("-inf"))
        return Scores(out, prompt_tokens=len(tokens))

    def logprobs(self, prompt: str, continuations: list[str]) -> list[float]:
        """Total log-likelihood of each continuation after the raw ``prompt`` (no chat template).

        The prompt is evaluated once and every continuation scored in one batched decode on a scoring
        context of its own (``llama_score.BatchScorer``): the numbers of one forward pass of prompt plus
        continuation, whether the continuations come in one call or one per call.
        """
        p_tokens = self._tokens(prompt, bos=True)
        if not p_tokens:
            raise ValueError("empty prompt")
        c_lists = [self._tokens(cont, bos=False) for cont in continuations]
        with self.lock:
            if self._scorer is None:
                self._scorer = BatchScorer(
                    self.llm._model, n_ctx=self.config.n_ctx, n_threads=self.n_threads, n_vocab=self.llm.n_vocab()
                )
            scores = self._scorer.score(p_tokens, c_lists)
        # the prompt once, then each continuation
        return Scores(scores, prompt_tokens=len(p_tokens) + sum(map(len, c_lists)))


@hookimpl
def register_solvers(register: SolverRegistrar) -> None:
    """The llama.cpp solver."""
    register("llama", load_solver, description="GGUF models via llama-cpp-python (default smollm2-135m)")


@hookimpl
def register_commands(cli: CommandGroup) -> None:
    """``cgr models [--json]``: the embedded models of the llama solver."""
    cli.add_command(models_command)
