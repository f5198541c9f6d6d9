"""``openai``: solver for any OpenAI-compatible HTTP endpoint (vLLM, llama-server, llama_cpp.server).

Settings: ``SolverConfig.options``, else the environment, else the default. ``base_url``
(``CGR_OPENAI_BASE_URL``, ``http://127.0.0.1:8000/v1``); ``mode`` (``CGR_OPENAI_MODE``: ``chat``,
the default, where the server applies the model's chat template, or ``completions``, raw text);
``timeout_s`` (``CGR_OPENAI_TIMEOUT``, 60); ``max_retries`` (``CGR_OPENAI_MAX_RETRIES``, 3);
``backoff_s`` (0.5); ``top_logprobs`` (N, 20); ``echo_top_logprobs`` (M, 100); ``choice_method``
(auto | score | generate); ``echo_alignment`` (auto | aligned | shifted). The model is
``SolverConfig.model`` (``--model``), else the first one the server lists at ``/models``. The API key
comes only from ``CGR_OPENAI_API_KEY`` or ``OPENAI_API_KEY``; ``info()`` says ``"set"``/``"unset"``.
Requests carry ``seed`` and, unless the caller asks otherwise, temperature 0.

What each method does, and where it is approximate:
- ``complete``: one generation. With ``choices``: ``score`` ranks them by ``logprobs(prompt,
  [choice])`` (raw text, no chat template); ``generate`` asks once and matches the reply (exact,
  prefix, first mention, then the first token's top-N log-probabilities), else takes the first
  choice: this API cannot force a grammar portably. ``auto`` = ``score`` in completions mode
  (``generate`` when the server cannot echo), ``generate`` in chat mode.
- ``label_logprobs``: top-N log-probabilities of the first generated token (per ``mode``); a label
  scores the log-sum-exp of the top tokens equal to it once spaces are stripped ("A", " A"). A label
  outside the top N gets ``LOGPROB_FLOOR``, meaning "not in the top N", not a measured value.
- ``logprobs``: raw text through ``/completions`` with ``echo=True, max_tokens=1, logprobs=k``,
  summing the tokens that overlap the continuation by text offset (a straddling token counts).
  llama-cpp-python's server echoes log-probabilities one position late for models without a BOS
  token (SmolLM2): ``echo_alignment=auto`` detects that once with a probe, then reads each token
  from the previous position's top-M list, where a token outside it counts as the M-th best value
  (an upper bound, so options outside it can tie). A server that does not echo prompt
  log-probabilities (llama.cpp's llama-server) gets ``EchoUnsupportedError``.

Whose failure it is (the pipeline stops the run on a ``SolverError`` and records anything else as
the item's error; scaffolds choose prompts, so nothing a prompt can provoke may stop the run):
``OpenAIError`` (a ``SolverError``) when the server or the setup is unusable: unreachable, timing
out, 401/403/404/405…, 408/429/5xx after the retries, a reply without the expected shape, a server
that cannot echo, the fixed alignment probe failing. ``OpenAIRequestError`` (a
``SolverRequestError``) when it refused or could not serve this one request: any other 4xx (400,
413, 422…: e.g. a prompt over the context), or an echo that does not reproduce this prompt (or
leaves a continuation without a log-probability) on a server whose echo works for the probe prompt.
See ``openai_http`` for the HTTP statuses.
"""

from __future__ import annotations

import math
import os
import re
import threading
from dataclasses import dataclass
from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cgr.kernel.api import Completion, Scores, SolverConfig
from cgr.kernel.hookspecs import hookimpl
from cgr.plugins.openai_http import HttpClient, OpenAIError, OpenAIRequestError, public_url

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
#: Setting -> environment variable (options win over the environment).
ENV = {"base_url": "CGR_OPENAI_BASE_URL", "mode": "CGR_OPENAI_MODE",
       "timeout_s": "CGR_OPENAI_TIMEOUT", "max_retries": "CGR_OPENAI_MAX_RETRIES"}
API_KEY_ENV = ("CGR_OPENAI_API_KEY", "OPENAI_API_KEY")
#: Score of a label that is not among the top-N next tokens ("-inf-like", finite for JSON records).
LOGPROB_FLOOR = -1e4
PROBE_PROMPT = "The capital of France is"
# llama.cpp's logits for one position differ by up to ~0.7 between a batched and a one-token step.
ALIGN_TOLERANCE = 1.0

__all__ = ["EchoUnsupportedError", "NoLogprobsError", "OpenAIError", "OpenAIRequestError", "OpenAISettings",
           "OpenAISolver", "match_choice"]


class EchoUnsupportedError(OpenAIError):
    """The server does not return log-probabilities for the prompt's own tokens (``echo``)."""


class NoLogprobsError(OpenAIError):
    """The server's reply has no top log-probabilities for the next token."""


class OpenAISettings(BaseModel):
    """The ``openai`` solver's settings (unknown option names are an error, not ignored)."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = DEFAULT_BASE_URL
    mode: Literal["chat", "completions"] = "chat"
    timeout_s: float = Field(60.0, gt=0, le=3600)
    max_retries: int = Field(3, ge=0, le=20)
    backoff_s: float = Field(0.5, ge=0, le=60)
    top_logprobs: int = Field(20, ge=1, le=1000)
    echo_top_logprobs: int = Field(100, ge=1, le=100_000)
    choice_method: Literal["auto", "score", "generate"] = "auto"
    echo_alignment: Literal["auto", "aligned", "shifted"] = "auto"

    @classmethod
    def resolve(cls, options: dict) -> "OpenAISettings":
        """Options over environment over defaults; a bad value is one clear OpenAIError."""
        if "api_key" in options:
            raise OpenAIError("openai solver: the API key is read from CGR_OPENAI_API_KEY or "
                              "OPENAI_API_KEY only, never from options (options are recorded)")
        values = {k: os.environ[v] for k, v in ENV.items() if os.environ.get(v)}
        values.update(options)
        try:
            return cls(**values)
        except ValidationError as exc:
            err = exc.errors()[0]
            name = ".".join(map(str, err["loc"]))
            source = f" (from {ENV[name]})" if name in ENV and name not in options else ""
            raise OpenAIError(f"openai solver: {name}{source}: {err['msg']}") from None


@dataclass(frozen=True)
class _Scored:
    logprob: float
    prompt_tokens: int
    tokens: int


def _api_key() -> tuple[str | None, str | None]:
    for name in API_KEY_ENV:
        if os.environ.get(name):
            return name, os.environ[name]
    return None, None


def _completion(text: str, usage: dict) -> Completion:
    return Completion(text=text, prompt_tokens=_usage(usage, "prompt_tokens"),
                      completion_tokens=_usage(usage, "completion_tokens"))


def _usage(usage: dict, key: str) -> int:
    """A token count from a reply's ``usage`` (0 where the server gives none or nonsense)."""
    try:
        return max(0, int(usage.get(key) or 0))
    except (TypeError, ValueError):
        return 0


def _logsumexp(values: list[float]) -> float:
    m = max(values)
    return m + math.log(sum(math.exp(v - m) for v in values))


def _norm(text: str, fold: bool = True) -> str:
    text = text.strip().strip("()[]*.:,;!?\"'`").strip()
    return text.casefold() if fold else text


def match_choice(reply: str, choices: list[str]) -> int | None:
    """Index of the choice a free-text ``reply`` names, or None (exact, prefix, first mention)."""
    r = _norm(reply)
    normed = [_norm(c) for c in choices]
    for i, c in enumerate(normed):
        if c and r == c:
            return i
    # Beyond an exact reply, one-character choices match case-sensitively: "a" is a word, "A" a label.
    cased = _norm(reply, fold=False)
    for i in sorted(range(len(choices)), key=lambda i: -len(normed[i])):  # "AB" before "A"
        c, hay = (choices[i].strip(), cased) if len(choices[i].strip()) == 1 else (normed[i], r)
        if c and hay.startswith(c) and not hay[len(c)].isalnum():
            return i
    first: tuple[int, int] | None = None
    for i, choice in enumerate(choices):
        short = len(choice.strip()) == 1
        needle, hay = (choice.strip(), reply) if short else (normed[i], reply.casefold())
        m = re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", hay) if needle else None
        if m and (first is None or m.start() < first[0]):
            first = (m.start(), i)
    return first[1] if first else None


def _top_lookup(top: dict | None, token: str, n: int) -> float | None:
    # The log-probability of ``token`` in one position's top-N list; outside it, the N-th best value.
    if top is None:
        return None
    if token in top:
        return float(top[token])
    values = sorted((float(v) for v in top.values()), reverse=True)
    return values[min(n, len(values)) - 1] if values else LOGPROB_FLOOR


class OpenAISolver:
    """A model behind an OpenAI-compatible HTTP API; temperature 0 and a fixed seed by default."""

    name = "openai"

    def __init__(self, config: SolverConfig | None = None):
        self.config = config or SolverConfig()
        self.settings = OpenAISettings.resolve(dict(self.config.options))
        self.api_key_env, api_key = _api_key()
        s = self.settings
        self.http = HttpClient(s.base_url, api_key, timeout_s=s.timeout_s, max_retries=s.max_retries,
                               backoff_s=s.backoff_s)
        self._model = self.config.model
        self._alignment = None if s.echo_alignment == "auto" else s.echo_alignment
        self._echo_ok = True
        self._echo_works: bool | None = None  # None: not known yet (see _echo_failed)
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.http.close()

    # ------------------------------------------------------------------ facts -------------------
    def model(self) -> str:
        """The model name sent to the server: ``--model``, else the first one it lists."""
        if self._model is None:
            data = self.http.get("/models").get("data")
            if not data or not isinstance(data[0], dict) or not data[0].get("id"):
                raise OpenAIError(f"GET {public_url(self.http.url('/models'))}: the server lists no "
                                  "model; pass one with --model")
            self._model = str(data[0]["id"])
        return self._model

    def info(self) -> dict:
        """Manifest facts: endpoint, model, mode, decoding settings; whether a key is set, never it."""
        s = self.settings
        return {
            "name": self.name, "backend": "openai-compatible", "base_url": public_url(s.base_url),
            "model": self.model(), "model_sha256": None, "mode": s.mode,
            "api_key": "set" if self.api_key_env else "unset", "api_key_env": self.api_key_env,
            "timeout_s": s.timeout_s, "max_retries": s.max_retries, "backoff_s": s.backoff_s,
            "temperature": 0.0, "seed": self.config.seed,
            "top_logprobs": s.top_logprobs, "echo_top_logprobs": s.echo_top_logprobs,
            "choice_method": s.choice_method, "echo_alignment": self._alignment or s.echo_alignment,
            "logprob_floor": LOGPROB_FLOOR, "httpx": httpx.__version__,
        }

    # ------------------------------------------------------------------ requests ----------------
    def _post(self, path: str, body: dict) -> tuple[dict, dict]:
        data = self.http.post(path, {"model": self.model(), "temperature": 0.0, "seed": self.config.seed,
                                     **body})
        choices = data.get("choices")
        if not choices or not isinstance(choices[0], dict):
            raise OpenAIError(f"POST {public_url(self.http.url(path))}: the reply has no choices")
        return choices[0], data.get("usage") or {}

    def _generate(self, prompt: str, **params) -> tuple[str, dict]:
        params = {k: v for k, v in params.items() if v is not None}
        if self.settings.mode == "chat":
            choice, usage = self._post("/chat/completions",
                                       {"messages": [{"role": "user", "content": prompt}], **params})
            return (choice.get("message") or {}).get("content") or "", usage
        choice, usage = self._post("/completions", {"prompt": prompt, **params})
        return choice.get("text") or "", usage

    def _top_tokens(self, prompt: str) -> tuple[list[tuple[str, float]], int]:
        """The top-N (token, log-probability) pairs of the first generated token, and the prompt's tokens."""
        n = self.settings.top_logprobs
        if self.settings.mode == "chat":
            path = "/chat/completions"
            choice, usage = self._post(path, {"messages": [{"role": "user", "content": prompt}],
                                              "max_tokens": 1, "logprobs": True, "top_logprobs": n})
            try:
                top = choice["logprobs"]["content"][0]["top_logprobs"]
                return [(str(e["token"]), float(e["logprob"])) for e in top], _usage(usage, "prompt_tokens")
            except (KeyError, IndexError, TypeError, ValueError):
                pass
        else:
            path = "/completions"
            choice, usage = self._post(path, {"prompt": prompt, "max_tokens": 1, "logprobs": n})
            try:
                top = choice["logprobs"]["top_logprobs"][0].items()
                return [(str(t), float(v)) for t, v in top], _usage(usage, "prompt_tokens")
            except (KeyError, IndexError, TypeError, ValueError, AttributeError):
                pass
        raise NoLogprobsError(f"POST {public_url(self.http.url(path))}: the reply has no top "
                              "log-probabilities of the next token (does the server support logprobs?)")

    # ------------------------------------------------------------------ solver API --------------
    def complete(self, prompt, *, max_tokens=256, temperature=0.0, stop=None, choices=None,
                 seed: int | None = None) -> Completion:
        """Generate a reply; with ``choices``, exactly one of them (see the module doc for how).

        Above temperature 0 the request carries ``seed`` (the kernel's per-call seed) when given.
        """
        if choices:
            return self._complete_choice(prompt, list(choices), max_tokens, temperature)
        text, usage = self._generate(prompt, max_tokens=max_tokens, temperature=temperature,
                                     stop=list(stop) if stop else None,
                                     seed=seed if temperature and seed is not None else None)
        return _completion(text, usage)

    def _complete_choice(self, prompt: str, choices: list[str], max_tokens: int,
                         temperature: float) -> Completion:
        method = self.settings.choice_method
        if method == "auto":
            method = "score" if self.settings.mode == "completions" and self._echo_ok else "generate"
        if method == "score":
            try:
                scored = [self._score(prompt, c) for c in choices]
            except EchoUnsupportedError:
                if self.settings.choice_method == "score":
                    raise
                self._echo_ok = False
                return self._complete_choice(prompt, choices, max_tokens, temperature)
            best = max(range(len(choices)), key=lambda i: scored[i].logprob)  # ties: the first
            return Completion(text=choices[best], prompt_tokens=scored[best].prompt_tokens,
                              completion_tokens=scored[best].tokens)
        text, usage = self._generate(prompt, max_tokens=max_tokens, temperature=temperature)
        best = match_choice(text, choices)
        if best is None:
            best = self._first_token_choice(prompt, choices)
        return _completion(choices[best or 0], usage)

    def _first_token_choice(self, prompt: str, choices: list[str]) -> int | None:
        try:
            top, _ = self._top_tokens(prompt)
        except (NoLogprobsError, OpenAIRequestError):
            return None  # no logprobs for this prompt: the first choice
        except OpenAIError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                return None  # the server rejects logprobs requests
            raise
        normed = [_norm(c) for c in choices]
        for token, _ in sorted(top, key=lambda t: -t[1]):
            t = _norm(token)
            for i, c in enumerate(normed):
                if t and c.startswith(t):
                    return i
        return None

    def label_logprobs(self, prompt: str, labels: list[str]) -> list[float]:
        """Next-token log-probability of each label (top-N; ``LOGPROB_FLOOR`` when not in it)."""
        top, read = self._top_tokens(prompt)
        out = []
        for label in labels:
            values = [lp for tok, lp in top if tok.strip() == label.strip()]
            out.append(_logsumexp(values) if values else LOGPROB_FLOOR)
        return Scores(out, prompt_tokens=read)

    def logprobs(self, prompt: str, continuations: list[str]) -> list[float]:
        """Total log-likelihood of each continuation after the raw ``prompt`` (echoed logprobs)."""
        if not prompt:
            raise ValueError("empty prompt")
        scored = [self._score(prompt, c) for c in continuations]  # one echo request each
        return Scores([x.logprob for x in scored], prompt_tokens=sum(x.prompt_tokens + x.tokens for x in scored))

    # ------------------------------------------------------------------ echo scoring ------------
    def _echo(self, text: str, k: int) -> dict:
        """``/completions`` with ``echo``: the prompt's tokens, offsets and log-probabilities."""
        url = public_url(self.http.url('/completions'))
        where = f"POST {url}"
        choice, _ = self._post("/completions",
                               {"prompt": text, "echo": True, "max_tokens": 1, "logprobs": k})
        lp = choice.get("logprobs")
        if not isinstance(lp, dict) or not all(
                isinstance(lp.get(key), list) for key in ("tokens", "text_offset", "token_logprobs")):
            self._echo_failed(text, f"{where}: the reply has no echoed token log-probabilities "
                                    f"(echo=True, logprobs={k})")
            raise EchoUnsupportedError(
                f"{where}: the reply has no echoed token log-probabilities (echo=True, logprobs={k}); "
                "logprobs() needs a server that supports them (vLLM, llama-cpp-python's server; "
                "llama.cpp's llama-server does not)", url=url)
        if not str(choice.get("text", "")).startswith(text) or len(lp["tokens"]) != len(lp["text_offset"]):
            self._echo_failed(text, f"{where}: the server's echo (echo=True) does not reproduce this "
                                    "prompt, so its log-probabilities cannot be placed")
            raise EchoUnsupportedError(f"{where}: the server did not echo the prompt with its "
                                       "log-probabilities (echo=True)", url=url)
        self._echo_works = True
        tops = lp.get("top_logprobs") or [None] * len(lp["tokens"])
        return {"tokens": lp["tokens"], "offsets": [int(o) for o in lp["text_offset"]],
                "logprobs": lp["token_logprobs"], "tops": tops}

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
            raise OpenAIRequestError(message, url=public_url(self.http.url("/completions")))

    def _echo_alignment(self) -> str:
        with self._lock:
            if self._alignment is None:
                try:
                    self._alignment = self._probe_alignment()
                except OpenAIRequestError as exc:  # its prompt is fixed: the server's doing, not an item's
                    raise EchoUnsupportedError(f"{exc} (the fixed echo-alignment probe)", url=exc.url,
                                               status=exc.status) from None
            return self._alignment

    def _probe_alignment(self) -> str:
        """Which position an echoed log-probability belongs to, from one known next token."""
        choice, _ = self._post("/completions", {"prompt": PROBE_PROMPT, "max_tokens": 1, "logprobs": 1})
        try:
            token = str(choice["logprobs"]["tokens"][0])
            expected = float(choice["logprobs"]["token_logprobs"][0])
        except (KeyError, IndexError, TypeError, ValueError):
            raise EchoUnsupportedError(f"POST {public_url(self.http.url('/completions'))}: no "
                                       "log-probability for the generated token (logprobs=1)") from None
        echo = self._echo(PROBE_PROMPT + token, 1)  # the greedy token is its position's top 1
        hits = [j for j, (t, o) in enumerate(zip(echo["tokens"], echo["offsets"], strict=True))
                if o == len(PROBE_PROMPT) and t == token]
        if not hits or hits[0] == 0:
            raise OpenAIError("openai solver: cannot check how the server aligns echoed log-probabilities "
                              "(the probe's tokens do not line up); set the echo_alignment option")
        j = hits[0]
        aligned = echo["logprobs"][j]
        shifted = (echo["tops"][j - 1] or {}).get(token)
        da = abs(float(aligned) - expected) if aligned is not None else math.inf
        ds = abs(float(shifted) - expected) if shifted is not None else math.inf
        if min(da, ds) > ALIGN_TOLERANCE:
            raise OpenAIError(f"openai solver: echoed log-probabilities match neither alignment (next "
                              f"token {token!r}: {expected:.3f}; echoed {aligned}, previous top {shifted}); "
                              "set the echo_alignment option")
        return "aligned" if da <= ds else "shifted"

    def _score(self, prompt: str, continuation: str) -> _Scored:
        alignment = self._echo_alignment()
        n = self.settings.echo_top_logprobs
        full = prompt + continuation
        echo = self._echo(full, 1 if alignment == "aligned" else n)
        tokens, offsets = echo["tokens"], echo["offsets"]
        start, end = len(prompt), len(full)
        picked = []
        for i, off in enumerate(offsets):
            stop = offsets[i + 1] if i + 1 < len(offsets) else off + len(tokens[i])
            if stop > start and off < end:
                picked.append(i)
        url = public_url(self.http.url("/completions"))
        if not picked:
            if continuation:  # this prompt's echo, not the server: the item's error
                raise OpenAIRequestError(f"POST {url}: no echoed token covers the continuation "
                                         f"{continuation!r}", url=url)
            return _Scored(0.0, len([o for o in offsets if o < start]), 0)
        total = 0.0
        for i in picked:
            if alignment == "aligned":
                value = echo["logprobs"][i]
            else:
                value = _top_lookup(echo["tops"][i - 1], tokens[i], n) if i > 0 else None
            if value is None and i <= (0 if alignment == "aligned" else 1):
                # the continuation's token starts the text (no position before it): this prompt's problem
                raise OpenAIRequestError(f"POST {url}: the server gave no log-probability for the "
                                         f"continuation's token {tokens[i]!r} (it starts the text)",
                                         url=url)
            if value is None:
                raise OpenAIError(f"POST {url}: the server gave no log-probability for the echoed "
                                  f"token {tokens[i]!r}", url=url)
            total += float(value)
        return _Scored(total, picked[0], len(picked))


@hookimpl
def register_solvers(register) -> None:
    """The OpenAI-compatible HTTP solver."""
    register("openai", OpenAISolver,
             description="any OpenAI-compatible endpoint over HTTP (vLLM, llama-server, llama_cpp.server)")
