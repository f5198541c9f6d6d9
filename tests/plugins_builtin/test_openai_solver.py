"""The ``openai`` solver: against a scripted stub server, then against a real llama_cpp.server."""

from __future__ import annotations

import importlib.util
import json
import math
import socket
import subprocess
import sys
import time

import httpx
import pytest

from cgr.kernel.api import Completion, SolverConfig, SolverError, SolverRequestError
from cgr.kernel.manager import DEFAULT_PLUGINS, load_plugins
from cgr.plugins import openai_solver
from cgr.plugins.openai_http import retry_after_s
from cgr.plugins.openai_solver import (
    LOGPROB_FLOOR,
    EchoUnsupportedError,
    OpenAIError,
    OpenAIRequestError,
    OpenAISolver,
    match_choice,
)
from tests.plugins_builtin import openai_stub
from tests.plugins_builtin.openai_stub import MODEL_ID, Stub, logprob
from tests.records import records_without_timings

ENV_NAMES = ("CGR_OPENAI_BASE_URL", "CGR_OPENAI_MODE", "CGR_OPENAI_TIMEOUT", "CGR_OPENAI_MAX_RETRIES",
             "CGR_OPENAI_API_KEY", "OPENAI_API_KEY")
CLOZE = "Question: What is the capital of France?\nAnswer:"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def stub():
    server = Stub()
    yield server
    server.close()


def make(stub: Stub, model: str | None = MODEL_ID, seed: int = 0, **options) -> OpenAISolver:
    options = {"base_url": stub.url, "backoff_s": 0.01, **options}
    return OpenAISolver(SolverConfig(model=model, seed=seed, options=options))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    assert str(err.value) == (f"POST {stub.url}/chat/completions: HTTP 500 Internal Server Error: boom "
                              "(after 3 attempts)")
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
    assert got.prompt_tokens == sum(len(openai_stub.tokenize(CLOZE + c)) for c in [" Paris", " Paris is", " Berlin"]) \
        + len(openai_stub.tokenize(CLOZE))
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


@pytest.mark.parametrize("reply, choices, expected", [
    ("B", ["A", "B"], 1),
    (" b) ", ["A", "B"], 1),
    ("B. Paris", ["A", "B"], 1),
    ("Answer: (C)", ["A", "B", "C"], 2),
    ("a cat sat", ["A", "B"], None),  # "a" is a word, not label A
    ("Apple", ["A", "B"], None),
    ("paris, of course", ["Berlin", "Paris"], 1),
    ("It is Rome, not Paris", ["Paris", "Rome"], 1),
    ("", ["A"], None),
])
def test_match_choice(reply, choices, expected):
    assert match_choice(reply, choices) == expected


def test_conforms_to_the_solver_protocol(stub, cgr_check_solver):
    for mode in ("chat", "completions"):
        said = cgr_check_solver(make(stub, mode=mode))
        assert said["info"]["name"] == "openai"


# ---------------------------------------------------------------- a real server ----------------
SERVER_MODULES = ("fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings", "yaml")


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    missing = [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"llama_cpp.server needs the [server] extra (missing: {', '.join(missing)})")
    from cgr.plugins.llama_solver import resolve_model

    model = resolve_model(None)[1]
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "2048", "--n_threads", "1"],  # 1: robust on a busy machine
            stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server not ready in 90 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def real(url: str, **options) -> OpenAISolver:
    return OpenAISolver(SolverConfig(options={"base_url": url, "timeout_s": 120, **options}))


@pytest.mark.slow
def test_real_server_logprobs_rank_paris_and_match_the_llama_solver(llama_server):
    from cgr.plugins.llama_solver import LlamaSolver

    solver = real(llama_server)
    paris, berlin = solver.logprobs(CLOZE, [" Paris", " Berlin"])
    assert berlin < paris < 0
    # llama-cpp-python's server echoes one position late for SmolLM2 (no BOS): detected, corrected.
    assert solver.info()["echo_alignment"] == "shifted"
    local = LlamaSolver(SolverConfig(n_threads=1)).logprobs(CLOZE, [" Paris"])[0]
    assert paris == pytest.approx(local, abs=0.75)  # batched vs one-token logits differ a little


@pytest.mark.slow
def test_real_server_complete_choices_and_labels(llama_server):
    chat = real(llama_server)
    assert "Paris" in chat.complete(CLOZE, max_tokens=16, stop=["\n"]).text
    prompt = "Question: What is the capital of France?\nA. Berlin\nB. Paris\nAnswer with the letter only."
    assert chat.complete(prompt, max_tokens=2, choices=["A", "B"]).text in {"A", "B"}
    lps = chat.label_logprobs(prompt, ["A", "B"])
    assert len(lps) == 2 and all(LOGPROB_FLOOR < lp <= 0 for lp in lps)
    raw = real(llama_server, mode="completions")
    assert raw.complete(CLOZE, choices=[" Berlin", " Paris"]).text == " Paris"
    assert raw.info()["model"].endswith(".gguf")  # the server's only model, from /models


@pytest.mark.slow
def test_real_server_conforms_to_the_solver_protocol(llama_server, cgr_check_solver):
    said = cgr_check_solver(real(llama_server))
    assert said["info"]["backend"] == "openai-compatible"


def test_a_run_with_workers_against_the_server_matches_a_sequential_one(stub, toy_bundle, tmp_path):
    from cgr.kernel.config import RunConfig
    from cgr.kernel.pipeline import run

    def records(out, workers):
        cfg = RunConfig(bundle=toy_bundle, out=out, solver="openai", model=MODEL_ID, workers=workers,
                        solver_options={"base_url": stub.url, "backoff_s": "0.01"})
        run(cfg, plugins=load_plugins(entry_points=False))
        return records_without_timings(out)

    one, three = records(tmp_path / "one", 1), records(tmp_path / "three", 3)
    assert three == one and [r["item_id"] for r in three] == ["geo-1", "geo-2", "sci-1"]
    assert all(r["assisted"]["status"] == "ok" and r["assisted"]["prompt_tokens"] > 0 for r in three)


# ---------------------------------------------------------------- whose failure: request or solver
# A scaffold chooses prompts: what a prompt can provoke is the item's error (OpenAIRequestError, a
# SolverRequestError), never a SolverError, which stops the whole run.
TOO_LONG = {"error": {"message": "the request exceeds the available context size"}}


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


def _pipeline_config(stub_url: str, bundle, out, **overrides):
    from cgr.kernel.config import RunConfig

    options = {"base_url": stub_url, "backoff_s": "0.01", "max_retries": "1"}
    return RunConfig(bundle=bundle, out=out, solver="openai", model=MODEL_ID, strategy="letter",
                     solver_options=options, **overrides)


# The toy bundle's direct prompt for sci-1 and the letter scaffold's prompt for geo-2 (only those).
SCI1_DIRECT = "C. Paris\nAnswer with the letter of the correct option only."
GEO2_SCAFFOLD = "C. Oslo\nAnswer with the letter only."


def test_a_rejected_prompt_is_recorded_and_the_run_goes_on_and_resume_adds_nothing(stub, toy_bundle, tmp_path):
    from cgr.kernel.pipeline import run
    from cgr.kernel.store import read_manifest

    stub.rejects = [(SCI1_DIRECT, 400, TOO_LONG), (GEO2_SCAFFOLD, 400, TOO_LONG)]
    out = tmp_path / "run"
    summary = run(_pipeline_config(stub.url, toy_bundle, out), plugins=load_plugins(entry_points=False))
    assert (summary.written, summary.total) == (3, 3) and read_manifest(out).status == "complete"
    recs = {r["item_id"]: r for r in records_without_timings(out)}
    assert list(recs) == ["geo-1", "geo-2", "sci-1"]
    refused = f"OpenAIRequestError: POST {stub.url}/chat/completions: HTTP 400 Bad Request: " \
              "the request exceeds the available context size"
    sci, geo2, geo1 = recs["sci-1"]["direct"], recs["geo-2"]["assisted"], recs["geo-1"]
    assert sci["error"] == refused and sci["answer"] is None and not sci["correct"]
    assert recs["sci-1"]["assisted"]["status"] == "ok"  # its scaffold's own prompt was fine
    assert geo2["status"] == "error" and geo2["answer"] is None and refused in geo2["error"]
    assert [c["error"] for c in geo2["trace"]] == [refused]
    assert recs["geo-2"]["direct"]["error"] is None and recs["geo-2"]["direct"]["answer"] is not None
    assert geo1["direct"]["error"] is None and geo1["assisted"]["status"] == "ok"
    seen, lines = len(stub.requests), (out / "records.jsonl").read_bytes()
    again = run(_pipeline_config(stub.url, toy_bundle, out, resume=True), plugins=load_plugins(entry_points=False))
    assert (again.written, again.skipped, again.total) == (0, 3, 3)
    assert (out / "records.jsonl").read_bytes() == lines and len(stub.requests) == seen  # no retry, no loop
    assert read_manifest(out).status == "complete"


@pytest.mark.parametrize("where", ["direct", "scaffold"])
def test_a_refused_key_still_stops_the_run(stub, toy_bundle, tmp_path, where):
    from cgr.kernel.pipeline import run
    from cgr.kernel.store import read_manifest

    needle = "C. Oslo\nAnswer with the letter" + (" of the correct option only." if where == "direct" else " only.")
    stub.rejects = [(needle, 401, {"error": {"message": "invalid api key"}})]
    out = tmp_path / "run"
    with pytest.raises(SolverError, match=r"HTTP 401 .*invalid api key"):
        run(_pipeline_config(stub.url, toy_bundle, out), plugins=load_plugins(entry_points=False))
    assert [r["item_id"] for r in records_without_timings(out)] == ["geo-1"]  # geo-2 is not recorded
    assert read_manifest(out).status == "interrupted"
    stub.rejects = []  # the key is fixed: --resume redoes geo-2 and finishes
    again = run(_pipeline_config(stub.url, toy_bundle, out, resume=True), plugins=load_plugins(entry_points=False))
    assert (again.written, again.skipped) == (2, 1) and read_manifest(out).status == "complete"


def test_connection_refused_still_stops_the_run(toy_bundle, tmp_path):
    from cgr.kernel.pipeline import run

    url = f"http://127.0.0.1:{free_port()}/v1"
    out = tmp_path / "run"
    with pytest.raises(SolverError, match=r"cannot connect"):
        run(_pipeline_config(url, toy_bundle, out), plugins=load_plugins(entry_points=False))
    assert not (out / "records.jsonl").read_text()
