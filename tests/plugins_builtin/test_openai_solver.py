"""The ``openai`` solver against a scripted stub server: settings, the API key, the Solver methods.

Retries and whose failure an error is: ``test_openai_errors``; runs: ``test_openai_runs``; a real
llama_cpp.server: ``test_openai_real_server``.
"""

from __future__ import annotations

import json
import math

import pytest

from cgr.kernel.api import Completion, SolverConfig
from cgr.kernel.manager import DEFAULT_PLUGINS, load_plugins
from cgr.plugins import openai_solver
from cgr.plugins.openai_solver import LOGPROB_FLOOR, EchoUnsupportedError, OpenAIError, OpenAISolver, match_choice
from tests.plugins_builtin import openai_stub
from tests.plugins_builtin.openai_stub import CLOZE, MODEL_ID, Stub, clear_env, logprob, make


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    clear_env(monkeypatch)


@pytest.fixture
def stub():
    with Stub() as server:
        yield server


# ---------------------------------------------------------------- registration, settings -------
def test_registered_as_a_solver_named_openai():
    extra = () if openai_solver.__name__ in DEFAULT_PLUGINS else (openai_solver,)
    entry = load_plugins(entry_points=False, extra=extra).solver("openai")
    assert entry.obj is OpenAISolver and entry.plugin == openai_solver.__name__


def test_settings_come_from_options_then_environment(stub, monkeypatch):
    monkeypatch.setenv("CGR_OPENAI_BASE_URL", stub.url)
    monkeypatch.setenv("CGR_OPENAI_MODE", "completions")
    monkeypatch.setenv("CGR_OPENAI_TIMEOUT", "5")
    info = OpenAISolver(SolverConfig(seed=7)).info()
    assert (info["base_url"], info["mode"], info["timeout_s"]) == (stub.url, "completions", 5.0)
    assert info["model"] == MODEL_ID  # from GET /models
    assert (info["temperature"], info["seed"], info["api_key"]) == (0.0, 7, "unset")
    assert OpenAISolver(SolverConfig(options={"mode": "chat"})).info()["mode"] == "chat"
    monkeypatch.setenv("CGR_OPENAI_MODE", "chatty")
    with pytest.raises(OpenAIError, match=r"mode \(from CGR_OPENAI_MODE\)"):
        OpenAISolver(SolverConfig())
    with pytest.raises(OpenAIError, match="top_logprob"):
        OpenAISolver(SolverConfig(options={"mode": "chat", "top_logprob": 5}))  # a typo is an error


def test_requests_are_deterministic_and_name_the_model(stub):
    solver = make(stub, model=None, seed=7)
    solver.complete("Hi", max_tokens=3)
    body = stub.posts("/chat/completions")[0]["body"]
    assert body["model"] == MODEL_ID and body["seed"] == 7 and body["temperature"] == 0.0
    assert body["messages"] == [{"role": "user", "content": "Hi"}] and body["max_tokens"] == 3


# ---------------------------------------------------------------- the API key ------------------
def test_api_key_is_sent_but_never_recorded(stub, monkeypatch):
    secret = "sk-test-TOPSECRET-123"
    monkeypatch.setenv("CGR_OPENAI_API_KEY", secret)
    solver = make(stub)
    solver.complete("Hi")
    assert stub.requests[-1]["headers"]["Authorization"] == f"Bearer {secret}"
    info = solver.info()
    assert info["api_key"] == "set" and info["api_key_env"] == "CGR_OPENAI_API_KEY"
    assert secret not in json.dumps(info) and secret not in repr(solver.http)
    stub.failures = [(401, {}, {"error": {"message": f"invalid key {secret}"}})]
    with pytest.raises(OpenAIError) as err:
        solver.complete("Hi")
    assert secret not in str(err.value) and "invalid key ***" in str(err.value)
    assert "CGR_OPENAI_API_KEY or OPENAI_API_KEY" in str(err.value)


def test_api_key_falls_back_to_openai_api_key_and_never_comes_from_options(stub, monkeypatch):
    make(stub).complete("Hi")
    assert "Authorization" not in stub.requests[-1]["headers"]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-other")
    solver = make(stub)
    solver.complete("Hi")
    assert solver.info()["api_key_env"] == "OPENAI_API_KEY"
    assert stub.requests[-1]["headers"]["Authorization"] == "Bearer sk-other"
    with pytest.raises(OpenAIError, match="never from options"):
        make(stub, api_key="sk-x")


def test_credentials_in_the_base_url_stay_out_of_info(stub):
    url = stub.url.replace("http://", "http://user:pw-secret@")
    assert "pw-secret" not in json.dumps(make(stub, base_url=url).info())


# ---------------------------------------------------------------- the Solver methods -----------
def test_complete_in_chat_and_completions_mode(stub):
    out = make(stub).complete("Hi")
    assert out == Completion(text="B", prompt_tokens=1, completion_tokens=1)
    out = make(stub, mode="completions").complete("Hi there", max_tokens=5, stop=["\n"])
    assert out.text == " Paris" and out.prompt_tokens == 2
    body = stub.posts("/completions")[-1]["body"]
    assert body["prompt"] == "Hi there" and body["stop"] == ["\n"] and body["max_tokens"] == 5


def test_label_logprobs_sum_spellings_and_floor_missing_labels(stub):
    got = make(stub).label_logprobs("Which?", ["A", "B", "Z"])
    b = math.log(math.exp(-0.4) + math.exp(-2.0))  # "B" and " B"
    assert got == pytest.approx([-1.5, b, LOGPROB_FLOOR])
    assert stub.posts()[-1]["body"]["top_logprobs"] == 20 and stub.posts()[-1]["body"]["max_tokens"] == 1
    got = make(stub, mode="completions").label_logprobs("Which?", [" Paris", "Berlin", "Q"])
    assert got == pytest.approx([-0.2, -2.5, LOGPROB_FLOOR])
    assert got.prompt_tokens == len(openai_stub.tokenize("Which?"))  # from the reply's usage


@pytest.mark.parametrize("alignment", ["aligned", "shifted"])
def test_logprobs_sum_the_continuation_tokens(stub, alignment):
    stub.alignment = alignment
    solver = make(stub)
    got = solver.logprobs(CLOZE, [" Paris", " Paris is", " Berlin", ""])
    assert got == pytest.approx([-0.2, -1.2, -2.5, 0.0])
    assert solver.info()["echo_alignment"] == alignment
    assert len(stub.posts()) == 2 + 4  # the alignment probe once, then one echo per continuation
    # tokens read: each echo request's prompt and continuation (the stub's tokenizer)
    assert got.prompt_tokens == sum(
        len(openai_stub.tokenize(CLOZE + c)) for c in [" Paris", " Paris is", " Berlin"]
    ) + len(openai_stub.tokenize(CLOZE))
    assert make(stub).logprobs("Answer: Par", ["is"]) == pytest.approx([-0.2])  # a straddling token


def test_shifted_lookup_outside_the_top_m_is_an_upper_bound(stub):
    stub.alignment = "shifted"
    got = make(stub, echo_top_logprobs=3).logprobs(CLOZE, [" Madrid", " Rome"])
    third_best = sorted(openai_stub.VOCAB.values(), reverse=True)[2]
    assert got == [third_best, third_best] and logprob(" Madrid") < third_best


def test_logprobs_need_a_server_that_echoes(stub):
    stub.alignment = "none"
    with pytest.raises(EchoUnsupportedError, match=rf"POST {stub.url}/completions: .*echo"):
        make(stub).logprobs(CLOZE, [" Paris"])
    with pytest.raises(ValueError, match="empty prompt"):
        make(stub).logprobs("", [" Paris"])


def test_choices_by_scoring_in_completions_mode(stub):
    out = make(stub, mode="completions").complete(CLOZE, choices=[" Berlin", " Paris", " Rome"])
    assert out.text == " Paris" and out.completion_tokens == 1
    stub.alignment = "none"  # no echo: auto falls back to generating and matching
    assert make(stub, mode="completions").complete(CLOZE, choices=[" Rome", " Paris"]).text == " Paris"
    with pytest.raises(EchoUnsupportedError):
        make(stub, mode="completions", choice_method="score").complete(CLOZE, choices=[" Rome", " Paris"])


def test_choices_by_generating_and_matching_in_chat_mode(stub):
    solver = make(stub)
    stub.chat_reply = "The answer is C."
    assert solver.complete("Which?", choices=["A", "B", "C"]).text == "C"
    stub.chat_reply = "I cannot tell."  # no match: the first token's top log-probabilities decide
    assert solver.complete("Which?", choices=["A", "B", "C"]).text == "B"
    assert solver.complete("Which?", choices=["X", "Y"]).text == "X"  # nothing at all: the first


@pytest.mark.parametrize(
    "reply, choices, expected",
    [
        ("B", ["A", "B"], 1),
        (" b) ", ["A", "B"], 1),
        ("B. Paris", ["A", "B"], 1),
        ("Answer: (C)", ["A", "B", "C"], 2),
        ("a cat sat", ["A", "B"], None),  # "a" is a word, not label A
        ("Apple", ["A", "B"], None),
        ("paris, of course", ["Berlin", "Paris"], 1),
        ("It is Rome, not Paris", ["Paris", "Rome"], 1),
        ("", ["A"], None),
    ],
)
def test_match_choice(reply, choices, expected):
    assert match_choice(reply, choices) == expected


def test_conforms_to_the_solver_protocol(stub, cgr_check_solver):
    for mode in ("chat", "completions"):
        said = cgr_check_solver(make(stub, mode=mode))
        assert said["info"]["name"] == "openai"
