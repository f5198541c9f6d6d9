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

This module is the plugin (the solver class); the parts live in ``openai_settings`` (settings, API
key), ``openai_choice`` (choices and labels from replies), ``openai_echo`` (echo scoring) and
``openai_http`` (requests, retries, errors).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from cgr.kernel.api import Completion, Scores, SolverConfig
from cgr.kernel.hookspecs import hookimpl
from cgr.plugins.openai_choice import LOGPROB_FLOOR, first_token_choice, label_scores, match_choice
from cgr.plugins.openai_echo import PROBE_PROMPT, EchoScorer, EchoUnsupportedError
from cgr.plugins.openai_http import HttpClient, OpenAIError, OpenAIRequestError, public_url
from cgr.plugins.openai_settings import API_KEY_ENV, DEFAULT_BASE_URL, ENV, OpenAISettings, api_key

if TYPE_CHECKING:
    from cgr.kernel.api import SolverRegistrar

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_BASE_URL",
    "ENV",
    "LOGPROB_FLOOR",
    "PROBE_PROMPT",
    "EchoUnsupportedError",
    "NoLogprobsError",
    "OpenAIError",
    "OpenAIRequestError",
    "OpenAISettings",
    "OpenAISolver",
    "match_choice",
]


class NoLogprobsError(OpenAIError):
    """The server's reply has no top log-probabilities for the next token."""


def _completion(text: str, usage: dict[str, Any]) -> Completion:
    return Completion(
        text=text,
        prompt_tokens=_usage(usage, "prompt_tokens"),
        completion_tokens=_usage(usage, "completion_tokens"),
    )


def _usage(usage: dict[str, Any], key: str) -> int:
    """A token count from a reply's ``usage`` (0 where the server gives none or nonsense)."""
    try:
        return max(0, int(usage.get(key) or 0))
    except (TypeError, ValueError):
        return 0


class OpenAISolver:
    """A model behind an OpenAI-compatible HTTP API; temperature 0 and a fixed seed by default."""

    name = "openai"

    def __init__(self, config: SolverConfig | None = None):
        self.config = config or SolverConfig()
        self.settings = OpenAISettings.resolve(dict(self.config.options))
        self.api_key_env, key = api_key()
        s = self.settings
        self.http = HttpClient(s.base_url, key, timeout_s=s.timeout_s, max_retries=s.max_retries, backoff_s=s.backoff_s)
        self._model = self.config.model
        alignment = None if s.echo_alignment == "auto" else s.echo_alignment
        self.echo = EchoScorer(
            self._post, public_url(self.http.url("/completions")), alignment=alignment, top_m=s.echo_top_logprobs
        )
        self._echo_ok = True  # False once a "score" choice found that the server cannot echo

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.http.close()

    # ------------------------------------------------------------------ facts -------------------
    def model(self) -> str:
        """The model name sent to the server: ``--model``, else the first one it lists."""
        if self._model is None:
            data = self.http.get("/models").get("data")
            if not data or not isinstance(data[0], dict) or not data[0].get("id"):
                raise OpenAIError(
                    f"GET {public_url(self.http.url('/models'))}: the server lists no model; pass one with --model"
                )
            self._model = str(data[0]["id"])
        return self._model

    def info(self) -> dict[str, Any]:
        """Manifest facts: endpoint, model, mode, decoding settings; whether a key is set, never it."""
        s = self.settings
        return {
            "name": self.name,
            "backend": "openai-compatible",
            "base_url": public_url(s.base_url),
            "model": self.model(),
            "model_sha256": None,
            "mode": s.mode,
            "api_key": "set" if self.api_key_env else "unset",
            "api_key_env": self.api_key_env,
            "timeout_s": s.timeout_s,
            "max_retries": s.max_retries,
            "backoff_s": s.backoff_s,
            "temperature": 0.0,
            "seed": self.config.seed,
            "top_logprobs": s.top_logprobs,
            "echo_top_logprobs": s.echo_top_logprobs,
            "choice_method": s.choice_method,
            "echo_alignment": self.echo.alignment or s.echo_alignment,
            "logprob_floor": LOGPROB_FLOOR,
            "httpx": httpx.__version__,
        }

    # ------------------------------------------------------------------ requests ----------------
    def _post(self, path: str, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        data = self.http.post(path, {"model": self.model(), "temperature": 0.0, "seed": self.config.seed, **body})
        choices = data.get("choices")
        if not choices or not isinstance(choices[0], dict):
            raise OpenAIError(f"POST {public_url(self.http.url(path))}: the reply has no choices")
        return choices[0], data.get("usage") or {}

    def _generate(self, prompt: str, **params: Any) -> tuple[str, dict[str, Any]]:
        params = {k: v for k, v in params.items() if v is not None}
        if self.settings.mode == "chat":
            choice, usage = self._post(
                "/chat/completions", {"messages": [{"role": "user", "content": prompt}], **params}
            )
            return (choice.get("message") or {}).get("content") or "", usage
        choice, usage = self._post("/completions", {"prompt": prompt, **params})
        return choice.get("text") or "", usage

    def _top_tokens(self, prompt: str) -> tuple[list[tuple[str, float]], int]:
        """The top-N (token, log-probability) pairs of the first generated token, and the prompt's tokens."""
        n = self.settings.top_logprobs
        if self.settings.mode == "chat":
            path = "/chat/completions"
            choice, usage = self._post(
                path,
                {
                    "messages": [{"role": "user", "content": prompt}],
                    "max_tokens": 1,
                    "logprobs": True,
                    "top_logprobs": n,
                },
            )
            try:
                top = choice["logprobs"]["content"][0]["top_logprobs"]
                return [(str(e["token"]), float(e["logprob"])) for e in top], _usage(usage, "prompt_tokens")
            except (KeyError, IndexError, TypeError, ValueError):
                pass
        else:
            path = "/completions"
            choice, usage = self._post(path, {"prompt": prompt, "max_tokens": 1, "logprobs": n})
            try:
                pairs = choice["logprobs"]["top_logprobs"][0].items()
                return [(str(t), float(v)) for t, v in pairs], _usage(usage, "prompt_tokens")
            except (KeyError, IndexError, TypeError, ValueError, AttributeError):
                pass
        raise NoLogprobsError(
            f"POST {public_url(self.http.url(path))}: the reply has no top "
            "log-probabilities of the next token (does the server support logprobs?)"
        )

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
        """Generate a reply; with ``choices``, exactly one of them (see the module doc for how).

        Above temperature 0 the request carries ``seed`` (the kernel's per-call seed) when given.
        """
        if choices:
            return self._complete_choice(prompt, list(choices), max_tokens, temperature)
        text, usage = self._generate(
            prompt,
            max_tokens=max_tokens,
            temperature=temperature,
            stop=list(stop) if stop else None,
            seed=seed if temperature and seed is not None else None,
        )
        return _completion(text, usage)

    def _complete_choice(self, prompt: str, choices: list[str], max_tokens: int, temperature: float) -> Completion:
        method = self.settings.choice_method
        if method == "auto":
            method = "score" if self.settings.mode == "completions" and self._echo_ok else "generate"
        if method == "score":
            try:
                scored = [self.echo.score(prompt, c) for c in choices]
            except EchoUnsupportedError:
                if self.settings.choice_method == "score":
                    raise
                self._echo_ok = False
                return self._complete_choice(prompt, choices, max_tokens, temperature)
            best = max(range(len(choices)), key=lambda i: scored[i].logprob)  # ties: the first
            return Completion(
                text=choices[best], prompt_tokens=scored[best].prompt_tokens, completion_tokens=scored[best].tokens
            )
        text, usage = self._generate(prompt, max_tokens=max_tokens, temperature=temperature)
        named = match_choice(text, choices)
        if named is None:
            named = self._first_token_choice(prompt, choices)
        return _completion(choices[named or 0], usage)

    def _first_token_choice(self, prompt: str, choices: list[str]) -> int | None:
        try:
            top, _ = self._top_tokens(prompt)
        except (NoLogprobsError, OpenAIRequestError):
            return None  # no logprobs for this prompt: the first choice
        except OpenAIError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                return None  # the server rejects logprobs requests
            raise
        return first_token_choice(top, choices)

    def label_logprobs(self, prompt: str, labels: list[str]) -> list[float]:
        """Next-token log-probability of each label (top-N; ``LOGPROB_FLOOR`` when not in it)."""
        top, read = self._top_tokens(prompt)
        return Scores(label_scores(top, labels), prompt_tokens=read)

    def logprobs(self, prompt: str, continuations: list[str]) -> list[float]:
        """Total log-likelihood of each continuation after the raw ``prompt`` (echoed logprobs)."""
        if not prompt:
            raise ValueError("empty prompt")
        scored = [self.echo.score(prompt, c) for c in continuations]  # one echo request each
        return Scores([x.logprob for x in scored], prompt_tokens=sum(x.prompt_tokens + x.tokens for x in scored))


@hookimpl
def register_solvers(register: SolverRegistrar) -> None:
    """The OpenAI-compatible HTTP solver."""
    register(
        "openai",
        OpenAISolver,
        description="any OpenAI-compatible endpoint over HTTP (vLLM, llama-server, llama_cpp.server)",
    )
