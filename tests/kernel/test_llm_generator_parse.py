"""The ``llm`` generator without a model: reply parsing, typed outcomes, backends, retries, the store.

The backend is ``ScriptedBackend``, a TEST-ONLY solver plugin whose replies (or failures) are
scripted per call.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from cgr.kernel.api import Completion, GeneratorConfig, PluginConfigError, SolverError, SolverRequestError
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.manager import load_plugins
from cgr.kernel.prompts import GENERATOR_VERSION
from cgr.plugins.llm_generator import LLMGenerator, classify_reply, parse_reply
from cgr.plugins.programs import OUTCOMES

L = ["A", "B", "C"]
GOOD = (
    "Sure.\n```python\nr = solver_call(ITEM.question)\nsubmit(extract_choice(r) or ITEM.labels[0])\n```\n"
    "GENERATOR ANSWER: B\n"
)
ITEM = {"id": "q1", "question": "Which?", "choices": ["x", "y", "z"], "labels": L, "context": None}


def test_fenced_program_and_answer():
    text = "Here:\n```python\nr = solver_call('x')\nsubmit(extract_choice(r))\n```\nGENERATOR ANSWER: b\n"
    program, answer = parse_reply(text, L)
    assert program == "r = solver_call('x')\nsubmit(extract_choice(r))\n"
    assert answer == "B"


def test_unterminated_fence_and_no_answer():
    program, answer = parse_reply("```\nprint(1)\n", L)
    assert program == "print(1)\n" and answer is None


def test_no_program_and_answer_outside_labels():
    assert parse_reply("I think it is Z.\nGENERATOR ANSWER: Z", L) == ("", None)


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        (GOOD, "ok"),
        ("", "empty"),
        ("  \n\t", "empty"),
        ("The answer is B because reasons.", "no_code"),
        ("I'm sorry, but I can't help with writing that program.", "refusal"),
        ("```python\ndef broken(:\n    submit(\n```", "syntax_error"),
        ("```python\n" + "(" * 300 + ")" * 300 + "\n```", "syntax_error"),  # too deep for the parser: typed
        ("```python\n\n\n```", "no_code"),
    ],
)
def test_every_reply_has_a_typed_outcome(text, outcome):
    got, program, _ = classify_reply(text, L)
    assert got == outcome and got in OUTCOMES
    assert bool(program) == (outcome in ("ok", "syntax_error"))


# ---------------------------------------------------------------- a scripted backend ------------
class ScriptedBackend:
    """TEST ONLY: replies with ``script`` in turn; an exception in the script is raised instead."""

    name = "scripted"
    instances: list[ScriptedBackend] = []

    def __init__(self, config):
        self.config = config
        self.script: list = [GOOD]
        self.prompts: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        ScriptedBackend.instances.append(self)

    def info(self):
        return {"name": self.name, "model": self.config.model or "scripted-default", "model_sha256": None}

    def complete(self, prompt, *, max_tokens=256, temperature=0.0, stop=None, choices=None, seed=None):
        with self.lock:
            self.prompts.append((prompt, {"max_tokens": max_tokens, "temperature": temperature, "seed": seed}))
            step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, BaseException):
            raise step
        return Completion(text=step, prompt_tokens=7, completion_tokens=11)

    def label_logprobs(self, prompt, labels):
        return [0.0] * len(labels)

    def logprobs(self, prompt, continuations):
        return [0.0] * len(continuations)


class _Plugin:
    __name__ = "tests.scripted_backend"

    @hookimpl
    def register_solvers(self, register):
        register("scripted", ScriptedBackend, description="TEST ONLY")


@pytest.fixture
def plugins():
    ScriptedBackend.instances.clear()
    return load_plugins(entry_points=False, extra=(_Plugin(),))


def make(plugins, tmp_path, sleeps=None, **options):
    options = {"solver": "scripted", "program_store": str(tmp_path / "store"), **options}
    config = GeneratorConfig(options=options, max_tokens=300, seed=5)
    return LLMGenerator(config, plugins=plugins, sleep=(sleeps.append if sleeps is not None else lambda s: None))


def test_any_registered_solver_is_a_backend_with_its_own_options(plugins, tmp_path):
    gen = make(plugins, tmp_path, model="big-model", **{"solver_option.base_url": "http://x/v1", "mode": "chat"})
    backend = gen.model
    assert backend.config.model == "big-model" and backend.config.seed == 5
    assert backend.config.options == {"base_url": "http://x/v1", "mode": "chat"}
    scaffold = gen.generate(ITEM)
    assert (scaffold.outcome, scaffold.answer, scaffold.calls, scaffold.retries) == ("ok", "B", 1, 0)
    assert scaffold.raw == GOOD and scaffold.source.startswith("r = solver_call")
    prompt, sampling = backend.prompts[0]
    assert "Question: Which?" in prompt and sampling == {"max_tokens": 300, "temperature": 0.0, "seed": None}
    info = gen.info()
    assert info["backend"] == "scripted" and info["model"] == "big-model"
    assert info["prompt_version"] == GENERATOR_VERSION and info["temperature"] == 0.0 and info["max_tokens"] == 300
    assert info["program_store"] == str(tmp_path / "store") and len(info["identity"]) == 64


def test_generator_model_is_the_default_model_and_sampling_is_seeded(plugins, tmp_path):
    config = GeneratorConfig(
        model="from-flag", options={"solver": "scripted", "program_store": "off", "temperature": "0.7"}
    )
    gen = LLMGenerator(config, plugins=plugins)
    gen.generate(ITEM)
    gen.generate(ITEM)  # no store: asked again, with the same per-item seed
    seeds = [s["seed"] for _, s in gen.model.prompts]
    assert gen.model.config.model == "from-flag" and seeds[0] == seeds[1] is not None
    assert gen.model.prompts[0][1]["temperature"] == 0.7


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"solver": "nope"}, "option solver=nope: unknown solver 'nope'"),
        ({"solver": "scripted", "retries": "many"}, "option retries='many'"),
        ({"solver": "scripted", "temperature": "9"}, "option temperature='9'"),
    ],
)
def test_bad_options_are_one_clear_error(plugins, options, message):
    with pytest.raises(PluginConfigError, match=message):
        LLMGenerator(GeneratorConfig(options=options), plugins=plugins)


def test_backend_construction_errors_name_the_generator(plugins):
    with pytest.raises(PluginConfigError, match="llm generator: backend solver 'echo': echo solver: unknown"):
        LLMGenerator(GeneratorConfig(options={"solver": "echo", "base_url": "x"}), plugins=plugins)


def test_transient_failures_are_retried_with_backoff(plugins, tmp_path):
    sleeps: list[float] = []
    gen = make(plugins, tmp_path, sleeps, backoff_s="0.5")
    gen.model.script = [SolverError("HTTP 503"), SolverError("HTTP 503"), GOOD]
    scaffold = gen.generate(ITEM)
    assert (scaffold.outcome, scaffold.retries, scaffold.calls) == ("ok", 2, 3)
    assert sleeps == [0.5, 1.0]


def test_retries_spent_is_api_error_with_the_reason_and_not_cached(plugins, tmp_path):
    sleeps: list[float] = []
    gen = make(plugins, tmp_path, sleeps, retries="1")
    gen.model.script = [SolverError("HTTP 503 Service Unavailable"), SolverError("HTTP 503 Service Unavailable"), GOOD]
    failed = gen.generate(ITEM)
    assert (failed.outcome, failed.retries, failed.calls, failed.source) == ("api_error", 1, 2, "")
    assert "SolverError: HTTP 503" in failed.raw and len(sleeps) == 1
    again = gen.generate(ITEM)  # transient: not stored, so asked again
    assert again.outcome == "ok" and len(gen.model.prompts) == 3


def test_timeouts_and_refused_requests(plugins, tmp_path):
    gen = make(plugins, tmp_path, retries="0")
    gen.model.script = [SolverError("POST http://x/v1/chat/completions: timed out after 60 s (ReadTimeout)")]
    assert gen.generate(ITEM).outcome == "timeout"
    gen = make(plugins, tmp_path / "2", retries="3")
    gen.model.script = [SolverRequestError("HTTP 400: prompt over the context"), GOOD]
    refused = gen.generate(ITEM)  # the same request fails the same way: no retry
    assert (refused.outcome, refused.retries, refused.calls) == ("api_error", 0, 1)


def test_the_store_pays_once_across_instances_and_regenerates_on_change(plugins, tmp_path):
    first = make(plugins, tmp_path).generate(ITEM)
    gen = make(plugins, tmp_path)  # a rerun: a new generator, a new backend
    cached = gen.generate(ITEM)
    assert gen.model.prompts == [] and gen.store.hits == 1
    assert (cached.source, cached.answer, cached.raw, cached.outcome) == (first.source, "B", GOOD, "ok")
    assert (cached.calls, cached.prompt_tokens, cached.completion_tokens) == (0, 0, 0)  # nothing paid now
    gen.generate({**ITEM, "question": "Which one?"})  # same id, other content: a new program
    assert len(gen.model.prompts) == 1
    other = make(plugins, tmp_path, model="other-model")  # another identity
    other.generate(ITEM)
    assert len(other.model.prompts) == 1


def test_deterministic_bad_outcomes_are_cached_too(plugins, tmp_path):
    gen = make(plugins, tmp_path)
    gen.model.script = ["I'm sorry, I cannot do that."]
    assert gen.generate(ITEM).outcome == "refusal"
    again = make(plugins, tmp_path)
    assert again.generate(ITEM).outcome == "refusal" and again.model.prompts == []


def test_threads_asking_for_one_item_generate_it_once(plugins, tmp_path):
    gen = make(plugins, tmp_path)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: gen.generate(ITEM), range(16)))
    assert len(gen.model.prompts) == 1
    assert {r.source for r in results} == {results[0].source} and results[0].source


def test_store_off_writes_nothing(plugins, tmp_path):
    gen = make(plugins, tmp_path, program_store="off")
    gen.generate(ITEM)
    gen.generate(ITEM)
    assert gen.store is None and len(gen.model.prompts) == 2 and not (tmp_path / "store").exists()


def test_a_backend_that_does_not_name_its_model_is_told_apart_by_its_options(plugins, tmp_path, monkeypatch):
    monkeypatch.setattr(ScriptedBackend, "info", lambda self: {"name": "scripted", "model": None})
    make(plugins, tmp_path, endpoint="a").generate(ITEM)
    same = make(plugins, tmp_path, endpoint="a")
    same.generate(ITEM)
    other = make(plugins, tmp_path, endpoint="b")
    other.generate(ITEM)
    assert (len(same.model.prompts), len(other.model.prompts)) == (0, 1)
