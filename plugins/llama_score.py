"""Batched cloze scoring for the llama solver: the prompt once, then every continuation in one decode.

``BatchScorer`` owns a second llama.cpp context on the solver's model, used only by
``LlamaSolver.logprobs``. For a prompt ``p`` and continuations ``c_1..c_K`` it

1. keeps the prompt's tokens but the last in sequence 0 (a cached prefix from the previous call is
   reused, the rest evaluated);
2. shares those cells with sequences ``1..K`` (``llama_memory_seq_cp``: no copy, the cells gain
   sequence ids);
3. decodes ONE batch: the last prompt token (in all K sequences at once) and, for each k, the
   tokens of ``c_k`` but its last, in sequence k, each asking for logits;
4. reads ``log P(c_k[i] | p, c_k[:i])`` from the rows of that batch.

Why the numbers equal a single forward pass of ``p + c_k``: the context uses flash attention,
which skips masked cells (other sequences' cells add nothing, not even a rounding), and micro-batches
of at most ``UBATCH`` (32) tokens, below the size where llama.cpp's CPU attention switches to a tiled
kernel with another summation order. So a token's numbers depend on its own sequence only, not on
how the tokens were batched or what else sat in the cache: the scaffold's ``solver_logprobs`` (one
option per call) and the host's cloze mode (all options in one call) get the same floats, and so does
an item alone or after any other. (Without these settings, a quantized model turns rounding
differences into visible ones: llama.cpp's one-token decode path differs from its batched path by up
to ~1 nat on the default model; ``tests/plugins_builtin/test_llama_batched.py`` measures it.)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: Tokens per llama.cpp micro-batch (below 64: see the module docstring).
UBATCH = 32
#: Tokens per ``llama_decode`` call; more are fed in several calls (the numbers do not change).
BATCH = 512
#: Sequences per decode: sequence 0 holds the prompt, 1..SEQS-1 the continuations of one group.
SEQS = 32


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``logits`` as log-probabilities (float64)."""
    x = logits.astype(np.float64)
    m = float(x.max())
    out: np.ndarray = x - (m + math.log(float(np.exp(x - m).sum())))
    return out


class BatchScorer:
    """Scores continuations after a prompt in one batched decode, on its own llama.cpp context."""

    def __init__(self, model: Any, *, n_ctx: int, n_threads: int, n_vocab: int) -> None:
        import llama_cpp
        from llama_cpp import llama_cpp as lib

        params = lib.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = BATCH
        params.n_ubatch = UBATCH
        params.n_seq_max = SEQS
        params.kv_unified = True  # one cell pool: the prompt's cells are shared, not copied
        params.flash_attn_type = lib.LLAMA_FLASH_ATTN_TYPE_ENABLED
        params.n_threads = params.n_threads_batch = n_threads
        params.no_perf = True
        self.lib = lib
        self.ctx = llama_cpp._internals.LlamaContext(model=model, params=params, verbose=False)
        self.n_ctx = int(lib.llama_n_ctx(self.ctx.ctx))
        self.n_vocab = n_vocab
        self.cached: list[int] = []  # sequence 0's tokens in the cache, from position 0

    # ------------------------------------------------------------------ llama.cpp calls ----------
    def _decode(self, entries: list[tuple[int, int, list[int], bool]]) -> None:
        """Decode ``(token, position, sequence ids, wants logits)`` entries as one batch."""
        lib = self.lib
        batch = lib.llama_batch_init(len(entries), 0, SEQS)
        try:
            for i, (token, pos, seqs, logits) in enumerate(entries):
                batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = token, pos, len(seqs), logits
                for j, seq in enumerate(seqs):
                    batch.seq_id[i][j] = seq
            batch.n_tokens = len(entries)
            code = lib.llama_decode(self.ctx.ctx, batch)
        finally:
            lib.llama_batch_free(batch)
        if code != 0:
            self.reset()
            raise RuntimeError(f"llama_decode returned {code}")

    def _row(self, i: int) -> np.ndarray:
        ptr = self.lib.llama_get_logits_ith(self.ctx.ctx, i)
        return log_softmax(np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)))

    def reset(self) -> None:
        """Drop every cached cell."""
        self.lib.llama_memory_clear(self.lib.llama_get_memory(self.ctx.ctx), True)
        self.cached = []

    def _prefix(self, head: list[int]) -> None:
        """Sequence 0 holds exactly ``head`` (reusing the longest cached prefix); nothing else is cached."""
        memory = self.lib.llama_get_memory(self.ctx.ctx)
        common = 0
        for a, b in zip(self.cached, head):
            if a != b:
                break
            common += 1
        for seq in range(1, SEQS):
            self.lib.llama_memory_seq_rm(memory, seq, -1, -1)
        self.lib.llama_memory_seq_rm(memory, 0, common, -1)
        self.cached = head[:common]
        for start in range(common, len(head), BATCH):
            part = head[start : start + BATCH]
            self._decode([(t, start + i, [0], False) for i, t in enumerate(part)])
            self.cached = head[: start + len(part)]

    # ------------------------------------------------------------------ scoring -----------------
    def groups(self, n_prompt: int, lengths: list[int]) -> list[list[int]]:
        """Continuation indices grouped so that a group fits the cache and the sequence ids.

        A group's cells: the prompt, plus each member's tokens but its last. Raises ValueError when
        one continuation alone does not fit the context window.
        """
        out: list[list[int]] = []
        used = n_prompt
        for k, n in enumerate(lengths):
            extra = max(0, n - 1)
            if n_prompt + extra > self.n_ctx:
                raise ValueError(
                    f"prompt of {n_prompt} tokens plus a continuation of {n} does not fit the context "
                    f"window ({self.n_ctx})"
                )
            if not out or len(out[-1]) >= SEQS - 1 or used + extra > self.n_ctx:
                out.append([])
                used = n_prompt
            out[-1].append(k)
            used += extra
        return out

    def score(self, prompt: list[int], continuations: list[list[int]]) -> list[float]:
        """Total log-likelihood of each continuation after ``prompt`` (an empty continuation: 0.0)."""
        if not prompt:
            raise ValueError("empty prompt")
        scores = [0.0] * len(continuations)
        live = [k for k, c in enumerate(continuations) if c]
        if not live:
            return scores
        self._prefix(prompt[:-1])
        memory = self.lib.llama_get_memory(self.ctx.ctx)
        last, n = prompt[-1], len(prompt)
        try:
            for group in self.groups(n, [len(continuations[k]) for k in live]):
                members = [live[g] for g in group]
                seqs = list(range(1, len(members) + 1))
                for seq in seqs:
                    self.lib.llama_memory_seq_rm(memory, seq, -1, -1)
                    if n > 1:
                        self.lib.llama_memory_seq_cp(memory, 0, seq, 0, n - 1)
                # (batch row that predicts token i of member m) for every scored token
                entries: list[tuple[int, int, list[int], bool]] = [(last, n - 1, seqs, True)]
                rows: list[list[int]] = []
                for seq, k in zip(seqs, members):
                    cont = continuations[k]
                    rows.append([0] + [len(entries) + i for i in range(len(cont) - 1)])
                    entries.extend((t, n + i, [seq], True) for i, t in enumerate(cont[:-1]))
                self._score_entries(entries, rows, members, continuations, scores)
        finally:
            for seq in range(1, SEQS):
                self.lib.llama_memory_seq_rm(memory, seq, -1, -1)
        return scores

    def _score_entries(
        self,
        entries: list[tuple[int, int, list[int], bool]],
        rows: list[list[int]],
        members: list[int],
        continuations: list[list[int]],
        scores: list[float],
    ) -> None:
        """Decode ``entries`` (in BATCH-sized calls) and add each member's token log-probs."""
        wanted: dict[int, list[tuple[int, int]]] = {}  # entry index -> [(member position, token)]
        for m, (k, member_rows) in enumerate(zip(members, rows)):
            for i, row in enumerate(member_rows):
                wanted.setdefault(row, []).append((m, continuations[k][i]))
        for start in range(0, len(entries), BATCH):
            self._decode(entries[start : start + BATCH])
            for row in range(start, min(start + BATCH, len(entries))):
                if row in wanted:
                    lp = self._row(row - start)
                    for m, token in wanted[row]:
                        scores[members[m]] += float(lp[token])
