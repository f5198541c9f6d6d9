"""Scoring raw text with an OpenAI-compatible server's echoed prompt log-probabilities.

``/completions`` with ``echo=True, max_tokens=1, logprobs=k`` returns the prompt's tokens, their
text offsets and log-probabilities; a continuation scores the sum over the tokens that overlap it
by text offset (a straddling token counts). llama-cpp-python's server echoes log-probabilities one
position late for models without a BOS token (SmolLM2): ``echo_alignment=auto`` detects that once
with a probe, then reads each token from the previous position's top-M list, where a token outside
it counts as the M-th best value (an upper bound, so options outside it can tie). A server that
does not echo prompt log-probabilities (llama.cpp's llama-server) gets ``EchoUnsupportedError``.

Whose failure: the server's (``OpenAIError``) when its echo does not work at all, or the fixed
probe fails; this request's (``OpenAIRequestError``) when the echo of this one prompt cannot be
used on a server whose echo works for the probe prompt.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cgr.plugins.openai_choice import LOGPROB_FLOOR
from cgr.plugins.openai_http import OpenAIError, OpenAIRequestError

PROBE_PROMPT = "The capital of France is"
# llama.cpp's logits for one position differ by up to ~0.7 between a batched and a one-token step.
ALIGN_TOLERANCE = 1.0

#: ``post(path, body) -> (first choice, usage)``: one request with the solver's model, seed, temperature.
Post = Callable[[str, dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]]


class EchoUnsupportedError(OpenAIError):
    """The server does not return log-probabilities for the prompt's own tokens (``echo``)."""


@dataclass(frozen=True)
class Scored:
    """A continuation's log-likelihood, the prompt tokens before it and its own token count."""

    logprob: float
    prompt_tokens: int
    tokens: int


def top_lookup(top: dict[str, Any] | None, token: str, n: int) -> float | None:
    """The log-probability of ``token`` in one position's top-N list; outside it, the N-th best value."""
    if top is None:
        return None
    if token in top:
        return float(top[token])
    values = sorted((float(v) for v in top.values()), reverse=True)
    return values[min(n, len(values)) - 1] if values else LOGPROB_FLOOR


class EchoScorer:
    """Scores continuations through echoed log-probabilities; learns the server's alignment once.

    ``alignment`` is ``"aligned"`` (position i scores token i, as vLLM), ``"shifted"`` (position i
    holds the distribution of token i + 1) or None until the first score probes it.
    """

    def __init__(self, post: Post, url: str, *, alignment: str | None, top_m: int):
        self._post = post
        self.url = url  # the public URL of /completions, for messages
        self.alignment = alignment
        self.top_m = top_m
        self._echo_works: bool | None = None  # None: not known yet (see _echo_failed)
        self._lock = threading.Lock()

    def score(self, prompt: str, continuation: str) -> Scored:
        """The log-likelihood of ``continuation`` after the raw ``prompt`` (one echo request)."""
        alignment = self._alignment()
        n = self.top_m
        full = prompt + continuation
        echo = self._echo(full, 1 if alignment == "aligned" else n)
        tokens, offsets = echo["tokens"], echo["offsets"]
        start, end = len(prompt), len(full)
        picked = []
        for i, off in enumerate(offsets):
            stop = offsets[i + 1] if i + 1 < len(offsets) else off + len(tokens[i])
            if stop > start and off < end:
                picked.append(i)
        url = self.url
        if not picked:
            if continuation:  # this prompt's echo, not the server: the item's error
                raise OpenAIRequestError(
                    f"POST {url}: no echoed token covers the continuation {continuation!r}", url=url
                )
            return Scored(0.0, len([o for o in offsets if o < start]), 0)
        total = 0.0
        for i in picked:
            if alignment == "aligned":
                value = echo["logprobs"][i]
            else:
                value = top_lookup(echo["tops"][i - 1], tokens[i], n) if i > 0 else None
            if value is None and i <= (0 if alignment == "aligned" else 1):
                # the continuation's token starts the text (no position before it): this prompt's problem
                raise OpenAIRequestError(
                    f"POST {url}: the server gave no log-probability for the "
                    f"continuation's token {tokens[i]!r} (it starts the text)",
                    url=url,
                )
            if value is None:
                raise OpenAIError(
                    f"POST {url}: the server gave no log-probability for the echoed token {tokens[i]!r}", url=url
                )
            total += float(value)
        return Scored(total, picked[0], len(picked))

    def _echo(self, text: str, k: int) -> dict[str, Any]:
        """``/completions`` with ``echo``: the prompt's tokens, offsets and log-probabilities."""
        url = self.url
        where = f"POST {url}"
        choice, _ = self._post("/completions", {"prompt": text, "echo": True, "max_tokens": 1, "logprobs": k})
        lp = choice.get("logprobs")
        if not isinstance(lp, dict) or not all(
            isinstance(lp.get(key), list) for key in ("tokens", "text_offset", "token_logprobs")
        ):
            self._echo_failed(
                text, f"{where}: the reply has no echoed token log-probabilities (echo=True, logprobs={k})"
            )
            raise EchoUnsupportedError(
                f"{where}: the reply has no echoed token log-probabilities (echo=True, logprobs={k}); "
                "logprobs() needs a server that supports them (vLLM, llama-cpp-python's server; "
                "llama.cpp's llama-server does not)",
                url=url,
            )
        if not str(choice.get("text", "")).startswith(text) or len(lp["tokens"]) != len(lp["text_offset"]):
            self._echo_failed(
                text,
                f"{where}: the server's echo (echo=True) does not reproduce this "
                "prompt, so its log-probabilities cannot be placed",
            )
            raise EchoUnsupportedError(
                f"{where}: the server did not echo the prompt with its log-probabilities (echo=True)", url=url
            )
        self._echo_works = True
        tops = lp.get("top_logprobs") or [None] * len(lp["tokens"])
        return {
            "tokens": lp["tokens"],
            "offsets": [int(o) for o in lp["text_offset"]],
            "logprobs": lp["token_logprobs"],
            "tops": tops,
        }

    def _echo_failed(self, text: str, message: str) -> None:
        """An echo of ``text`` came back unusable: raise OpenAIRequestError if the server's echo works
        (seen before, or for the probe prompt now), so that only this prompt fails; else return."""
        if text == PROBE_PROMPT:
            return
        if self._echo_works is None:
            try:
                self._echo(PROBE_PROMPT, 1)
            except (EchoUnsupportedError, OpenAIRequestError):
                self._echo_works = False
        if self._echo_works:
            raise OpenAIRequestError(message, url=self.url)

    def _alignment(self) -> str:
        with self._lock:
            if self.alignment is None:
                try:
                    self.alignment = self._probe_alignment()
                except OpenAIRequestError as exc:  # its prompt is fixed: the server's doing, not an item's
                    raise EchoUnsupportedError(
                        f"{exc} (the fixed echo-alignment probe)", url=exc.url, status=exc.status
                    ) from None
            return self.alignment

    def _probe_alignment(self) -> str:
        """Which position an echoed log-probability belongs to, from one known next token."""
        choice, _ = self._post("/completions", {"prompt": PROBE_PROMPT, "max_tokens": 1, "logprobs": 1})
        try:
            token = str(choice["logprobs"]["tokens"][0])
            expected = float(choice["logprobs"]["token_logprobs"][0])
        except (KeyError, IndexError, TypeError, ValueError):
            raise EchoUnsupportedError(
                f"POST {self.url}: no log-probability for the generated token (logprobs=1)"
            ) from None
        echo = self._echo(PROBE_PROMPT + token, 1)  # the greedy token is its position's top 1
        hits = [
            j
            for j, (t, o) in enumerate(zip(echo["tokens"], echo["offsets"], strict=True))
            if o == len(PROBE_PROMPT) and t == token
        ]
        if not hits or hits[0] == 0:
            raise OpenAIError(
                "openai solver: cannot check how the server aligns echoed log-probabilities "
                "(the probe's tokens do not line up); set the echo_alignment option"
            )
        j = hits[0]
        aligned = echo["logprobs"][j]
        shifted = (echo["tops"][j - 1] or {}).get(token)
        da = abs(float(aligned) - expected) if aligned is not None else math.inf
        ds = abs(float(shifted) - expected) if shifted is not None else math.inf
        if min(da, ds) > ALIGN_TOLERANCE:
            raise OpenAIError(
                f"openai solver: echoed log-probabilities match neither alignment (next "
                f"token {token!r}: {expected:.3f}; echoed {aligned}, previous top {shifted}); "
                "set the echo_alignment option"
            )
        return "aligned" if da <= ds else "shifted"
