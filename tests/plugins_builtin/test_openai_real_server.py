"""The ``openai`` solver against a real llama_cpp.server serving the default embedded model."""

from __future__ import annotations

import pytest

from cgr.kernel.api import SolverConfig
from cgr.plugins.openai_solver import LOGPROB_FLOOR, OpenAISolver
from tests.plugins_builtin.llama_server import llama_server as serve
from tests.plugins_builtin.openai_stub import CLOZE, clear_env


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    clear_env(monkeypatch)


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    with serve(tmp_path_factory.mktemp("llama-server")) as (url, _port):
        yield url


def real(url: str, **options) -> OpenAISolver:
    return OpenAISolver(SolverConfig(options={"base_url": url, "timeout_s": 120, **options}))


@pytest.mark.slow
def test_real_server_logprobs_rank_paris_and_match_the_llama_solver(llama_server):
    from cgr.plugins.llama_solver import load_solver

    solver = real(llama_server)
    paris, berlin = solver.logprobs(CLOZE, [" Paris", " Berlin"])
    assert berlin < paris < 0
    # llama-cpp-python's server echoes one position late for SmolLM2 (no BOS): detected, corrected.
    assert solver.info()["echo_alignment"] == "shifted"
    local = load_solver(SolverConfig(n_threads=1)).logprobs(CLOZE, [" Paris"])[0]
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
