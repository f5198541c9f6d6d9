"""TEST HELPER: a scripted OpenAI-compatible server (stdlib http.server, 127.0.0.1, ephemeral port).

Its "model" is a fixed table: every token has one log-probability whatever the context, so the
tests can compute exactly what a solver should report. ``alignment`` picks how echoed prompt
log-probabilities come back: ``aligned`` (vLLM: position i scores token i), ``shifted``
(llama-cpp-python's server with a model without BOS: position i holds the distribution that
predicts token i + 1) or ``none`` (llama.cpp's llama-server: no echo).

``rejects`` refuses chosen requests every time they come (a prompt over the context, say), and
``unechoable`` makes the echo of chosen prompts differ from them (a tokenizer that does not round-trip).

Also the helpers the ``openai`` solver's test files share: ``make`` (a solver on a stub),
``clear_env`` (no ``CGR_OPENAI_*``/``OPENAI_API_KEY`` from the caller's environment), ``free_port``.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cgr.kernel.api import SolverConfig
from cgr.plugins.openai_solver import OpenAISolver

#: token -> log-probability (any context); the order is the ranking.
VOCAB = {" Paris": -0.2, " is": -1.0, " Berlin": -2.5, " the": -3.0, ".": -3.5, " Rome": -4.0, " Madrid": -6.0}
OTHER = -9.0  # any token not in VOCAB
SHIFTED_VALUE = -7.0  # what a shifted server reports for a prompt token itself
#: The chat "model"'s first-token distribution.
CHAT_TOP = [("B", -0.4), ("A", -1.5), (" B", -2.0), ("The", -2.5)]
MODEL_ID = "stub-model"
#: The environment the solver reads; tests start without any of it.
ENV_NAMES = (
    "CGR_OPENAI_BASE_URL",
    "CGR_OPENAI_MODE",
    "CGR_OPENAI_TIMEOUT",
    "CGR_OPENAI_MAX_RETRIES",
    "CGR_OPENAI_API_KEY",
    "OPENAI_API_KEY",
)
CLOZE = "Question: What is the capital of France?\nAnswer:"


def clear_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset every variable of ``ENV_NAMES`` for the test."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def make(stub: Stub, model: str | None = MODEL_ID, seed: int = 0, **options) -> OpenAISolver:
    """An ``openai`` solver on ``stub`` (fast backoff), with extra ``options``."""
    options = {"base_url": stub.url, "backoff_s": 0.01, **options}
    return OpenAISolver(SolverConfig(model=model, seed=seed, options=options))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tokenize(text: str) -> list[str]:
    """Words and punctuation, each with its leading whitespace; concatenation gives ``text`` back."""
    return re.findall(r"\s*(?:\w+|[^\w\s])|\s+", text)


def prompt_text(body: dict) -> str:
    """A request's prompt: ``prompt`` (completions) or the last message's content (chat)."""
    if "messages" in body:
        return str(body["messages"][-1]["content"])
    return str(body.get("prompt", ""))


def logprob(token: str) -> float:
    """The stub model's log-probability of ``token``."""
    return VOCAB.get(token, OTHER)


def top(n: int) -> dict[str, float]:
    """The ``n`` most likely tokens."""
    return dict(list(VOCAB.items())[:n])


class Stub:
    """The server's script and what it saw; ``url`` is its ``/v1`` base URL."""

    def __init__(self) -> None:
        self.failures: list[tuple[int, dict, object]] = []  # served, in order, before normal replies
        self.delay_s = 0.0
        self.alignment = "aligned"
        self.chat_reply = "B"
        self.requests: list[dict] = []
        #: (prompt substring or predicate on the JSON body, status, payload): refused whenever matched
        self.rejects: list[tuple[str | Callable[[dict], bool], int, object]] = []
        self.unechoable: list[str] = []  # echoed with each of these replaced by U+FFFD
        self.release = threading.Event()  # ends any delay at teardown
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                stub._handle(self, None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                stub._handle(self, json.loads(self.rfile.read(length) or b"null"))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop serving and free the port."""
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> Stub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def posts(self, path: str = "") -> list[dict]:
        """The POST requests seen (to paths ending with ``path``)."""
        return [r for r in self.requests if r["method"] == "POST" and r["path"].endswith(path)]

    # ------------------------------------------------------------------ serving ----------------
    def _handle(self, h: BaseHTTPRequestHandler, body) -> None:
        self.requests.append({"method": h.command, "path": h.path, "headers": dict(h.headers), "body": body})
        if self.delay_s:
            self.release.wait(self.delay_s)
        if self.failures:
            status, headers, payload = self.failures.pop(0)
            return self._send(h, status, payload, headers)
        for match, status, payload in self.rejects:
            if body is not None and (match(body) if callable(match) else match in prompt_text(body)):
                return self._send(h, status, payload)
        if h.command == "GET" and h.path == "/v1/models":
            return self._send(h, 200, {"object": "list", "data": [{"id": MODEL_ID, "object": "model"}]})
        if h.command == "POST" and h.path == "/v1/completions":
            return self._send(h, 200, self._completions(body))
        if h.command == "POST" and h.path == "/v1/chat/completions":
            return self._send(h, 200, self._chat(body))
        self._send(h, 404, {"error": {"message": f"no route {h.path}"}})

    def _send(self, h: BaseHTTPRequestHandler, status: int, payload, headers: dict | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def _completions(self, body: dict) -> dict:
        prompt, n = body["prompt"], body.get("logprobs")
        gen = next(iter(VOCAB))
        echo = bool(body.get("echo")) and self.alignment != "none"
        if echo:
            for needle in self.unechoable:
                prompt = prompt.replace(needle, "\ufffd")
        choice = {"index": 0, "text": prompt + gen if echo else gen, "finish_reason": "length", "logprobs": None}
        tokens = tokenize(prompt) if echo else []
        if n is not None:
            offsets = [sum(map(len, tokens[:i])) for i in range(len(tokens))]
            shifted = self.alignment == "shifted" and echo
            lps = [SHIFTED_VALUE if shifted else logprob(t) for t in tokens]
            tops = [{**top(n), t: lp} for t, lp in zip(tokens, lps)]
            if tokens:  # the first prompt token has no log-probability (OpenAI's convention)
                lps[0] = tops[0] = None
            if not echo or self.alignment == "aligned":  # the generated token (vLLM echoes it too)
                tokens, offsets = tokens + [gen], offsets + [len(prompt)]
                lps, tops = lps + [logprob(gen)], tops + [{**top(n), gen: logprob(gen)}]
            choice["logprobs"] = {"tokens": tokens, "text_offset": offsets, "token_logprobs": lps, "top_logprobs": tops}
        usage = {"prompt_tokens": len(tokenize(prompt)), "completion_tokens": 1}
        return {"object": "text_completion", "model": body.get("model"), "choices": [choice], "usage": usage}

    def _chat(self, body: dict) -> dict:
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": self.chat_reply},
            "finish_reason": "stop",
            "logprobs": None,
        }
        if body.get("logprobs"):
            n = int(body.get("top_logprobs") or 1)
            first = [{"token": t, "logprob": v} for t, v in CHAT_TOP[:n]]
            choice["logprobs"] = {"content": [{**first[0], "top_logprobs": first}]}
        prompt_tokens = len(tokenize(body["messages"][-1]["content"]))
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(tokenize(self.chat_reply))}
        return {"object": "chat.completion", "model": body.get("model"), "choices": [choice], "usage": usage}
