"""``llm``: a language model writes the scaffold from the versioned generator prompt.

The model is any registered solver (the backend): ``solver=NAME`` (default ``llama``), its model
``model=…`` (else ``GeneratorConfig.model``, ``--generator-model``; else the solver's default), and
that solver's own options, as ``solver_option.KEY=VALUE`` or as a bare ``KEY=VALUE`` that is not one
of the generator's own options (``solver``, ``model``, ``program_store``, ``retries``,
``backoff_s``, ``temperature``, ``n_ctx``). So ``solver=openai base_url=… model=…`` points it at any
OpenAI-compatible endpoint (the key comes from the environment variable the ``openai`` solver
reads, and is never recorded), and a third-party solver plugin is a generator backend with no
extra code.

The model gets ``prompts.render_generator(item)`` (``specs/prompts/generator-v1.txt``); the first
fenced code block of its reply is the scaffold, and a final ``GENERATOR ANSWER: <label>`` line is
the generator-side answer. Every result carries a typed ``outcome`` (``cgr.plugins.programs.OUTCOMES``)
and the raw reply: ``ok``; ``no_code`` (no fenced block); ``syntax_error`` (the block does not parse
on the host: the program is still passed on, the sandbox has the last word); ``refusal`` (no code
and the reply declines); ``empty`` (a blank reply); ``timeout`` / ``api_error`` (the backend
failed: ``source`` is empty, ``raw`` says why, ``retries`` how many retries were spent). Transient
failures (a ``SolverError``, a timeout) are retried ``retries`` times (default 2) with exponential
backoff from ``backoff_s`` (default 1 s); a request the backend refuses (``SolverRequestError``) is not.

Programs are kept in the program store (``cgr.plugins.programs``) per (item, generator identity,
prompt version): a rerun or a resume gets them back without a model call (``calls`` 0).
``program_store=off`` turns the store off. Small models write poor programs: that is measured, not
hidden.
"""

from __future__ import annotations

import ast
import re
import time
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cgr.kernel.api import (
    Completion,
    GeneratorConfig,
    PluginConfigError,
    Scaffold,
    SolverConfig,
    SolverError,
    SolverRequestError,
    call_seed,
    takes_seed,
)
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.prompts import GENERATOR_VERSION, render_generator
from cgr.plugins.programs import ProgramStore

if TYPE_CHECKING:
    from cgr.kernel.manager import Plugins

_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)
_ANSWER = re.compile(r"GENERATOR ANSWER:\s*\(?([A-Za-z0-9]{1,3})\)?", re.IGNORECASE)
_REFUSAL = re.compile(
    r"\b(?:I'?m sorry|I am sorry|I apologi[sz]e|I can(?:not|'t|’t)|I'?m (?:not able|unable)|I am (?:not able|unable)"
    r"|I won'?t|as an AI)\b",
    re.IGNORECASE,
)
SOLVER_OPTION = "solver_option."
MAX_ERROR_CHARS = 2000
MAX_PROGRAM_CHARS = 256 * 1024  # a longer "program" is not checked on the host (the sandbox still decides)


def parse_reply(text: str, labels: list[str]) -> tuple[str, str | None]:
    """``(program, generator_answer)`` from a generator reply (empty program when none is fenced)."""
    m = _FENCE.search(text)
    program = m.group(1).strip() + "\n" if m and m.group(1).strip() else ""
    answers = [a for a in _ANSWER.findall(text) if a in labels or a.upper() in labels]
    answer = answers[-1] if answers else None
    if answer is not None and answer not in labels:
        answer = answer.upper()
    return program, answer


def parses(program: str) -> bool:
    """Whether ``program`` parses as Python on the host, as the sandbox compiles it: from text, where a
    leading BOM (U+FEFF) is an error, unlike in a file."""
    if len(program) > MAX_PROGRAM_CHARS:
        return True  # too big to check here; the sandbox reports it
    try:
        ast.parse(program)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return False
    return True


def classify_reply(text: str, labels: list[str]) -> tuple[str, str, str | None]:
    """``(outcome, program, answer)`` of one reply: ``ok``, ``syntax_error``, ``no_code``, ``refusal`` or ``empty``."""
    if not text.strip():
        return "empty", "", None
    program, answer = parse_reply(text, labels)
    if not program:
        return ("refusal" if _REFUSAL.search(text[:2000]) else "no_code"), "", answer
    return ("ok" if parses(program) else "syntax_error"), program, answer


def is_timeout(exc: BaseException) -> bool:
    """Whether a backend failure was a timeout (by type, or by what the solver says)."""
    return isinstance(exc, TimeoutError) or "timeout" in type(exc).__name__.lower() or "timed out" in str(exc).lower()


class LLMOptions(BaseModel):
    """The generator's own options (``GeneratorConfig.options``); every other key is the backend solver's."""

    model_config = ConfigDict(extra="forbid")

    solver: str = "llama"
    model: str | None = None
    program_store: str | None = None  # a directory, or "off"; None = the default store
    retries: int = Field(2, ge=0, le=20)
    backoff_s: float = Field(1.0, ge=0, le=60)
    temperature: float = Field(0.0, ge=0, le=2)
    n_ctx: int = Field(4096, ge=256, le=131072)

    @classmethod
    def split(cls, options: dict[str, Any]) -> tuple[LLMOptions, dict[str, Any]]:
        """``(own options, backend solver options)``; a bad value is one PluginConfigError."""
        own: dict[str, Any] = {}
        backend: dict[str, Any] = {}
        for key, value in options.items():
            if key.startswith(SOLVER_OPTION):
                backend[key[len(SOLVER_OPTION) :]] = value
            elif key in cls.model_fields:
                own[key] = value
            else:
                backend[key] = value
        try:
            return cls(**own), backend
        except ValidationError as exc:
            err = exc.errors()[0]
            name = ".".join(map(str, err["loc"]))
            raise PluginConfigError(f"llm generator: option {name}={own.get(name)!r}: {err['msg']}") from None


class LLMGenerator:
    """Prompts a model behind any registered solver for a scaffold; results kept in the program store."""

    name = "llm"

    def __init__(
        self,
        config: GeneratorConfig | None = None,
        *,
        plugins: Plugins | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        from cgr.kernel.manager import UnknownPluginError, check_solver, load_plugins

        self.config = config or GeneratorConfig()
        self.options, self.solver_options = LLMOptions.split(dict(self.config.options))
        self.backend = self.options.solver
        self._sleep = sleep
        plugins = plugins or load_plugins()
        try:
            factory = plugins.solver(self.backend).obj
        except UnknownPluginError as exc:
            raise PluginConfigError(f"llm generator: option solver={self.backend}: {exc}") from None
        model = self.options.model or self.config.model
        try:
            self.model = factory(
                SolverConfig(model=model, seed=self.config.seed, n_ctx=self.options.n_ctx, options=self.solver_options)
            )
        except (SolverError, ValueError, TypeError) as exc:
            raise PluginConfigError(f"llm generator: backend solver {self.backend!r}: {exc}") from exc
        check_solver(self.model, self.backend)
        self.takes_seed = takes_seed(self.model)
        where = self.options.program_store
        self.store = None if where == "off" else ProgramStore(where)

    @cached_property
    def solver_info(self) -> dict[str, Any]:
        """The backend solver's manifest facts (asked once: a served model may be looked up)."""
        return dict(self.model.info())

    @cached_property
    def identity(self) -> dict[str, Any]:
        """What decides the program for an item: backend, model, prompt version, sampling (no endpoint, no key)."""
        info = self.solver_info
        identity = {
            "backend": self.backend,
            "model": info.get("model"),
            "model_sha256": info.get("model_sha256"),
            "mode": info.get("mode"),
            "requested_model": self.options.model or self.config.model,
            "prompt_version": GENERATOR_VERSION,
            "max_tokens": self.config.max_tokens,
            "temperature": self.options.temperature,
            "seed": self.config.seed,
        }
        if not info.get("model"):  # a backend that does not say its model: its options may choose it
            identity["solver_options"] = {k: str(v) for k, v in sorted(self.solver_options.items())}
        return identity

    def info(self) -> dict[str, Any]:
        """Manifest facts: backend solver (with its own facts), model, prompt version, sampling, store."""
        from cgr.plugins.programs import identity_sha256

        info = self.solver_info
        return {
            "name": self.name,
            "strategy": "prompted",
            "backend": self.backend,
            "model": info.get("model"),
            "model_sha256": info.get("model_sha256"),
            "prompt_version": GENERATOR_VERSION,
            "max_tokens": self.config.max_tokens,
            "temperature": self.options.temperature,
            "seed": self.config.seed,
            "retries": self.options.retries,
            "backoff_s": self.options.backoff_s,
            "identity": identity_sha256(self.identity),
            "program_store": str(self.store.root) if self.store else None,
            "solver": info,
        }

    def generate(self, item: dict[str, Any]) -> Scaffold:
        """The program for ``item``: from the store, else asked of the model (see the module doc)."""
        if self.store is None:
            return self._generate(item)
        return self.store.get_or_generate(item, self.identity, lambda: self._generate(item))

    def _generate(self, item: dict[str, Any]) -> Scaffold:
        prompt = render_generator(item)
        retries = 0
        while True:
            try:
                reply = self._complete(prompt, item, retries)
            except SolverRequestError as exc:  # this request was refused: the same one fails again
                return self._failure("api_error", exc, retries)
            except Exception as exc:  # noqa: BLE001 - every backend failure becomes a typed outcome
                outcome = "timeout" if is_timeout(exc) else "api_error"
                if (isinstance(exc, SolverError) or outcome == "timeout") and retries < self.options.retries:
                    self._sleep(min(60.0, self.options.backoff_s * 2**retries))
                    retries += 1
                    continue
                return self._failure(outcome, exc, retries)
            outcome, program, answer = classify_reply(reply.text, list(item["labels"]))
            return Scaffold(
                source=program,
                answer=answer,
                raw=reply.text,
                calls=retries + 1,
                prompt_tokens=reply.prompt_tokens,
                completion_tokens=reply.completion_tokens,
                outcome=outcome,
                retries=retries,
            )

    def _complete(self, prompt: str, item: dict[str, Any], attempt: int) -> Completion:
        temperature = self.options.temperature
        extra: dict[str, Any] = {}
        if temperature and self.takes_seed:
            extra["seed"] = call_seed(self.config.seed, str(item["id"]), "generator", attempt)
        reply = self.model.complete(prompt, max_tokens=self.config.max_tokens, temperature=temperature, **extra)
        if not isinstance(getattr(reply, "text", None), str):
            raise SolverError(f"solver {self.backend!r} returned {type(reply).__name__}, not a Completion")
        return reply

    def _failure(self, outcome: str, exc: BaseException, retries: int) -> Scaffold:
        message = f"{type(exc).__name__}: {exc}"
        return Scaffold(source="", raw=message[:MAX_ERROR_CHARS], calls=retries + 1, outcome=outcome, retries=retries)


@hookimpl
def register_generators(register: Any) -> None:
    """The model-backed generator."""
    register(
        "llm",
        LLMGenerator,
        description="a model behind any solver writes the scaffold (options solver=, model=, solver_option.K=)",
    )
