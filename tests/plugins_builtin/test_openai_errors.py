"""The ``openai`` solver's HTTP failures: retries, and whose failure each error is.

A scaffold chooses prompts: what a prompt can provoke is the item's error (``OpenAIRequestError``, a
``SolverRequestError``), never a ``SolverError``, which stops the whole run.
"""

from __future__ import annotations

import time

import pytest

from cgr.kernel.api import SolverConfig, SolverError, SolverRequestError
from cgr.plugins.openai_http import retry_after_s
from cgr.plugins.openai_solver import EchoUnsupportedError, OpenAIError, OpenAIRequestError, OpenAISolver
from tests.plugins_builtin.openai_stub import CLOZE, Stub, clear_env, free_port, make


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    clear_env(monkeypatch)


@pytest.fixture
def stub():
    with Stub() as server:
        yield server


# ---------------------------------------------------------------- retries and errors -----------
def test_retry_after_is_honoured_on_503_then_429(stub):
    stub.failures = [(503, {"Retry-After": "1"}, {"error": {"message": "loading"}}), (429, {}, b"slow down")]
    start = time.monotonic()
    out = make(stub, max_retries=3).complete("Hi")
    elapsed = time.monotonic() - start
    assert out.text == "B" and len(stub.posts()) == 3
    assert 0.9 <= elapsed < 5.0  # waited the server's 1 s, then a 0.02 s backoff


def test_retry_after_parsing():
    assert retry_after_s("2") == 2.0 and retry_after_s(None) is None and retry_after_s("soon") is None
    assert retry_after_s("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == pytest.approx(10.0)


def test_gives_up_after_max_retries_naming_url_and_status(stub):
    stub.failures = [(500, {}, {"error": {"message": "boom"}})] * 5
    with pytest.raises(OpenAIError) as err:
        make(stub, max_retries=2).complete("Hi")
    assert str(err.value) == (
        f"POST {stub.url}/chat/completions: HTTP 500 Internal Server Error: boom (after 3 attempts)"
    )
    assert err.value.status == 500 and len(stub.posts()) == 3


def test_client_errors_are_not_retried(stub):
    stub.failures = [(400, {}, {"error": {"message": "max_tokens must be an integer"}})]
    with pytest.raises(OpenAIRequestError, match=r"HTTP 400 Bad Request: max_tokens must be an integer$"):
        make(stub, max_retries=3).complete("Hi")
    assert len(stub.posts()) == 1


def test_wrong_path_says_where_and_what_to_check(stub):
    with pytest.raises(OpenAIError, match=r"/v2/chat/completions: HTTP 404 .*CGR_OPENAI_BASE_URL"):
        make(stub, base_url=stub.url.replace("/v1", "/v2")).complete("Hi")


def test_connection_refused_names_the_url():
    url = f"http://127.0.0.1:{free_port()}/v1"
    options = {"base_url": url, "max_retries": 1, "backoff_s": 0.01}
    solver = OpenAISolver(SolverConfig(model="m", options=options))
    with pytest.raises(OpenAIError, match=rf"POST {url}/chat/completions: cannot connect .*after 2 attempts"):
        solver.complete("Hi")


def test_timeouts_are_bounded_and_retried(stub):
    stub.delay_s = 3.0
    start = time.monotonic()
    with pytest.raises(OpenAIError, match=r"timed out after 0.2 s \(ReadTimeout\) \(after 2 attempts\)"):
        make(stub, timeout_s=0.2, max_retries=1).complete("Hi")
    assert time.monotonic() - start < 2.0 and len(stub.posts()) == 2


# ---------------------------------------------------------------- whose failure: request or solver
# A scaffold chooses prompts: what a prompt can provoke is the item's error (OpenAIRequestError, a
# SolverRequestError), never a SolverError, which stops the whole run.
@pytest.mark.parametrize("status", [400, 409, 413, 422])
def test_a_rejected_prompt_is_a_request_error_not_a_solver_error(stub, status, monkeypatch):
    secret = "sk-test-TOPSECRET-123"
    monkeypatch.setenv("CGR_OPENAI_API_KEY", secret)
    solver = make(stub, max_retries=3)
    stub.rejects = [("very long", status, {"error": {"message": f"too long for key {secret}"}})]
    with pytest.raises(OpenAIRequestError) as err:
        solver.complete("a very long prompt")
    exc = err.value
    assert isinstance(exc, SolverRequestError) and not isinstance(exc, SolverError)
    assert (exc.url, exc.status) == (f"{stub.url}/chat/completions", status)
    assert str(exc).startswith(f"POST {stub.url}/chat/completions: HTTP {status} ")
    assert secret not in str(exc) and "too long for key ***" in str(exc)
    assert len(stub.posts()) == 1  # not retried: the same request fails again
    assert solver.complete("Hi").text == "B"  # the server itself is fine


@pytest.mark.parametrize("status", [401, 403, 404, 405])
def test_endpoint_and_credential_statuses_stay_solver_errors(stub, status):
    stub.failures = [(status, {}, {"error": {"message": "no"}})]
    with pytest.raises(OpenAIError) as err:
        make(stub, max_retries=3).complete("Hi")
    assert isinstance(err.value, SolverError) and err.value.status == status and len(stub.posts()) == 1


@pytest.mark.parametrize("status", [408, 429, 503])
def test_overload_after_the_retries_is_a_solver_error(stub, status):
    stub.failures = [(status, {}, {"error": {"message": "busy"}})] * 3
    with pytest.raises(OpenAIError, match=rf"HTTP {status} .*\(after 3 attempts\)") as err:
        make(stub, max_retries=2).complete("Hi")
    assert isinstance(err.value, SolverError) and len(stub.posts()) == 3


def test_a_rejected_logprobs_request_falls_back_to_the_first_choice(stub):
    stub.chat_reply = "I cannot tell."  # no match: the next-token request decides, and is refused
    stub.rejects = [(lambda body: bool(body.get("logprobs")), 400, {"error": {"message": "no logprobs"}})]
    assert make(stub).complete("Which?", choices=["X", "Y"]).text == "X"


def test_prompts_the_echo_cannot_score_are_request_errors(stub):
    solver = make(stub)
    with pytest.raises(OpenAIRequestError, match=r"no log-probability .*\(it starts the text\)"):
        solver.logprobs(" ", ["Paris"])  # the continuation merges into the first token
    stub.unechoable = ["\u0300"]  # a prompt the server's tokenizer does not reproduce
    with pytest.raises(OpenAIRequestError, match="does not reproduce this prompt") as err:
        solver.logprobs("Caf\u0300e is", [" Paris"])
    assert err.value.url == f"{stub.url}/completions" and not isinstance(err.value, SolverError)
    assert solver.logprobs(CLOZE, [" Paris"]) == pytest.approx([-0.2])  # the others still score
    fresh = make(stub, echo_alignment="aligned")  # no probe yet: it checks the echo with the probe prompt
    with pytest.raises(OpenAIRequestError, match="does not reproduce this prompt"):
        fresh.logprobs("Caf\u0300e is", [" Paris"])
    stub.alignment = "none"  # a server that never echoes: the solver's failure, as before
    with pytest.raises(EchoUnsupportedError):
        make(stub, echo_alignment="aligned").logprobs("Caf\u0300e is", [" Paris"])
