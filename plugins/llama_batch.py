"""Batched generation for the llama solver: concurrent ``complete`` calls share one multi-sequence decode.

With ``--solver-option batch_slots=N`` (N > 1) the llama solver sends every ``complete`` call that has
no ``choices`` to the model's ``BatchEngine`` instead of queueing on the solver's lock. The engine owns
a llama.cpp context of its own on the solver's model (``n_seq_max = N``, ``N x n_ctx`` KV cells, one
KV stream per sequence) and one decode thread (started on the first request, gone after
``IDLE_EXIT_S`` seconds without work). Calling threads submit a request and wait for its reply; the
decode thread runs continuous batching:

1. admit waiting requests into free sequence slots (first come, first served);
2. feed the next ``PREFIX_BLOCK``-token block of each new request's prompt (a decode per block),
   then ONE ``llama_decode`` with one token for every sequence whose prompt is cached but its last
   token: that last prompt token, or its last sampled token (logits for each);
3. sample each sequence's next token from its own logits row: greedy (argmax) at temperature 0, else
   llama.cpp's chain (top-k 40, top-p 0.95, min-p 0.05, temperature) drawn with a numpy generator
   seeded by the request's seed, so a sample never depends on which requests shared the batch;
4. end a sequence on an end-of-generation token, ``max_tokens`` or a stop string (the same rules and
   text as ``Llama.create_completion``), free its KV cells (``llama_memory_seq_rm``) and hand the slot
   to the next waiting request.

Why a reply does not depend on the batch: the context has one KV stream per sequence
(``kv_unified`` off), so a token attends to its own sequence's cells only, and the solver's main
context's settings (no flash attention, micro-batches of ``UBATCH`` tokens); a prompt is evaluated in
the very blocks of ``LlamaSolver._eval_prefix``. On the default model this gives bit-for-bit the
logits of the one-call-at-a-time path, alone or in a batch, hence the same greedy replies;
``tests/plugins_builtin/test_llama_batch.py`` checks both.

An error in one request (its sampling, its stop strings) fails that request only; a failed
``llama_decode`` fails the requests of that batch and clears the cache.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Tokens per ``llama_decode`` call and per micro-batch (the solver's main context's defaults).
BATCH = UBATCH = 512
#: A prompt but its last token is fed in blocks of this many tokens at fixed positions (0, 64, ...),
#: then its last token alone: the shapes ``LlamaSolver._eval_prefix`` evaluates it in.
PREFIX_BLOCK = 64
#: Seconds the decode thread waits for work before it exits (a new request starts it again).
IDLE_EXIT_S = 5.0
#: Sampling above temperature 0, as ``Llama.create_completion``'s defaults.
TOP_K, TOP_P, MIN_P = 40, 0.95, 0.05


@dataclass
class Reply:
    """A finished generation: its text, token counts and why it ended (``stop`` or ``length``)."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


@dataclass(eq=False)
class Request:
    """One generation request and, once ``done`` is set, its ``reply`` or ``error``."""

    tokens: list[int]
    max_tokens: int
    temperature: float
    seed: int
    stop: list[bytes]
    rng: np.random.Generator = field(init=False)
    done: threading.Event = field(default_factory=threading.Event)
    reply: Reply | None = None
    error: BaseException | None = None
    # decode state
    seq: int = -1
    fed: int = 0  # prompt tokens already in the cache
    out: list[int] = field(default_factory=list)
    multibyte: int = 0

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def finish(self, reply: Reply | None = None, error: BaseException | None = None) -> None:
        self.reply, self.error = reply, error
        self.done.set()


def sample(logits: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    """The next token: argmax at temperature 0, else top-k, top-p, min-p, temperature, then a draw."""
    if temperature <= 0:
        return int(np.argmax(logits))
    x = logits.astype(np.float64)
    k = min(TOP_K, x.size)
    cand = np.argpartition(-x, k - 1)[:k]
    cand = cand[np.lexsort((cand, -x[cand]))]  # by logit, descending; ties by token id
    z = x[cand]
    p = np.exp(z - z[0])
    p /= p.sum()
    keep = int(np.searchsorted(np.cumsum(p), TOP_P) + 1)  # the smallest head with mass >= top_p
    keep = max(1, min(keep, k))
    keep = max(1, int(np.count_nonzero(p[:keep] >= MIN_P * p[0])))
    z = z[:keep] / temperature
    q = np.exp(z - z[0])
    q /= q.sum()
    return int(cand[min(int(np.searchsorted(np.cumsum(q), rng.random(), side="right")), keep - 1)])


class BatchEngine:
    """Continuous batching of generation requests on a context of its own (see the module docstring)."""

    def __init__(self, llm: Any, *, slots: int, n_ctx: int, n_threads: int) -> None:
        import llama_cpp
        from llama_cpp import llama_cpp as lib

        if slots < 1:
            raise ValueError("batch slots must be at least 1")
        params = lib.llama_context_default_params()
        params.n_ctx = slots * n_ctx
        params.n_batch = BATCH
        params.n_ubatch = UBATCH
        params.n_seq_max = slots
        params.kv_unified = False  # one KV stream per sequence: attention reads its own cells only
        params.flash_attn_type = lib.LLAMA_FLASH_ATTN_TYPE_DISABLED  # as the main context: same logits
        params.n_threads = params.n_threads_batch = n_threads
        params.no_perf = True
        self.lib, self.llm, self.slots, self.n_ctx = lib, llm, slots, n_ctx
        self.ctx = llama_cpp._internals.LlamaContext(model=llm._model, params=params, verbose=False)
        self.memory = lib.llama_get_memory(self.ctx.ctx)
        self.vocab = llm._model.vocab
        self.n_vocab = int(llm.n_vocab())
        self._cond = threading.Condition()
        self._waiting: deque[Request] = deque()
        self._thread: threading.Thread | None = None
        self.decodes = 0  # llama_decode calls made (for benchmarks and tests)
        self.max_live = 0  # most sequences sampled from one decode so far

    # ------------------------------------------------------------------ callers ------------------
    def submit(
        self, tokens: list[int], *, max_tokens: int, temperature: float = 0.0, seed: int = 0, stop: Sequence[str] = ()
    ) -> Request:
        """Queue a request; its ``done`` event is set when it has a reply or an error."""
        if not tokens:
            raise ValueError("empty prompt")
        if len(tokens) >= self.n_ctx:
            raise ValueError(f"prompt of {len(tokens)} tokens does not fit the context window ({self.n_ctx})")
        if not math.isfinite(temperature) or temperature < 0:
            raise ValueError(f"temperature {temperature!r}: expected a finite number >= 0")
        if max_tokens is None or max_tokens <= 0:
            max_tokens = self.n_ctx - len(tokens)
        max_tokens = min(max_tokens, self.n_ctx - len(tokens))
        stops = [s.encode("utf-8") for s in stop]  # as create_completion: "" stops at once
        req = Request(list(tokens), max_tokens, float(temperature), int(seed) & 0xFFFFFFFF, stops)
        with self._cond:
            self._waiting.append(req)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="cgr-llama-batch", daemon=True)
                self._thread.start()
            self._cond.notify()
        return req

    def generate(
        self, tokens: list[int], *, max_tokens: int, temperature: float = 0.0, seed: int = 0, stop: Sequence[str] = ()
    ) -> Reply:
        """Submit a request and wait for its reply (its error is raised here)."""
        req = self.submit(tokens, max_tokens=max_tokens, temperature=temperature, seed=seed, stop=stop)
        req.done.wait()
        if req.error is not None:
            raise req.error
        assert req.reply is not None
        return req.reply

    # ------------------------------------------------------------------ decode thread ------------
    def _run(self) -> None:
        live: dict[int, Request] = {}
        while True:
            with self._cond:
                while not self._waiting and not live:
                    if not self._cond.wait(IDLE_EXIT_S) and not self._waiting:
                        self._thread = None
                        return
                free = [s for s in range(self.slots) if s not in live]
                while free and self._waiting:
                    req = self._waiting.popleft()
                    req.seq = free.pop(0)
                    live[req.seq] = req
            try:
                self._step(live)
            except BaseException as exc:  # a failed decode: fail this batch, start clean
                for req in live.values():
                    req.finish(error=RuntimeError(f"batched decode failed: {exc}"))
                live.clear()
                self.lib.llama_memory_clear(self.memory, True)

    def _step(self, live: dict[int, Request]) -> None:
        """Feed each new prompt's next block (a decode of its own), then ONE decode with one token per
        sequence whose prompt but its last token is cached (its last prompt token or its last sampled
        token), and pick each of those sequences' next token from its own logits row."""
        entries: list[tuple[int, int, int, bool]] = []  # (token, position, sequence, wants logits)
        rows: dict[int, int] = {}  # sequence -> logits row
        for seq, req in sorted(live.items()):
            head = len(req.tokens) - 1
            if req.fed < head:  # one block per step, so that the other sequences go on decoding
                end = min(head, req.fed - req.fed % PREFIX_BLOCK + PREFIX_BLOCK)
                self._decode([(t, req.fed + i, seq, False) for i, t in enumerate(req.tokens[req.fed : end])])
                req.fed = end
                if req.fed < head:
                    continue
            rows[seq] = len(entries)
            if req.fed == head:
                entries.append((req.tokens[head], head, seq, True))
                req.fed += 1
            else:
                entries.append((req.out[-1], len(req.tokens) + len(req.out) - 1, seq, True))
        if not entries:
            return
        self._decode(entries)
        self.max_live = max(self.max_live, len(entries))
        for seq, row in rows.items():
            req = live[seq]
            try:
                ptr = self.lib.llama_get_logits_ith(self.ctx.ctx, row)
                logits = np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))
                reply = self._advance(req, self._pick(req, logits))
            except Exception as exc:  # this request only
                reply, req.error = None, exc
            if reply is not None or req.error is not None:
                self.lib.llama_memory_seq_rm(self.memory, seq, -1, -1)
                del live[seq]
                req.finish(reply, req.error)

    def _pick(self, req: Request, logits: np.ndarray) -> int:
        return sample(logits, req.temperature, req.rng)

    def _advance(self, req: Request, token: int) -> Reply | None:
        """Append ``token``; the reply when the request is finished (``create_completion``'s rules)."""
        detok = self.llm.detokenize
        if self.lib.llama_vocab_is_eog(self.vocab, token):
            return self._reply(req, detok(req.out, prev_tokens=req.tokens), "stop")
        req.out.append(token)
        text: bytes = detok(req.out, prev_tokens=req.tokens)
        for k, char in enumerate(text[-3:]):  # an incomplete UTF-8 character: wait for its end
            k = 3 - k
            for num, pattern in ((2, 192), (3, 224), (4, 240)):
                if num > k and pattern & char == pattern:
                    req.multibyte = num - k
        if req.multibyte > 0 and len(req.tokens) + len(req.out) < self.n_ctx:  # (room for one more)
            req.multibyte -= 1
            return None
        hits = [s for s in req.stop if s in text]
        if hits:
            return self._reply(req, text[: text.index(hits[0])], "stop")
        if len(req.out) >= req.max_tokens:
            return self._reply(req, text, "length")
        return None

    @staticmethod
    def _reply(req: Request, text: bytes, reason: str) -> Reply:
        return Reply(text.decode("utf-8", errors="ignore"), len(req.tokens), len(req.out), reason)

    def _decode(self, entries: list[tuple[int, int, int, bool]]) -> None:
        lib = self.lib
        batch = lib.llama_batch_init(len(entries), 0, 1)
        try:
            for i, (token, pos, seq, logits) in enumerate(entries):
                batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = token, pos, 1, logits
                batch.seq_id[i][0] = seq
            batch.n_tokens = len(entries)
            code = lib.llama_decode(self.ctx.ctx, batch)
            self.decodes += 1
        finally:
            lib.llama_batch_free(batch)
        if code != 0:
            raise RuntimeError(f"llama_decode returned {code}")
