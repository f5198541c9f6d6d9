"""The Python interfaces plugins implement (structural: no base class needed) and their configs."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import msgspec
from pydantic import BaseModel, ConfigDict, Field

from cgr.kernel import prompts
from cgr.kernel.records import AssistedChannel, BudgetChannel, Item, Record

if TYPE_CHECKING:
    from cgr.kernel.channels import Engine
    from cgr.kernel.config import RunConfig
    from cgr.kernel.manager import Entry, Plugins


class SolverError(RuntimeError):
    """A solver cannot answer (model missing, server down…); the CLI shows it as one line."""


class PluginConfigError(ValueError):
    """A plugin was given a setting it does not have (an unknown strategy…); the CLI shows it as one line."""


class SolverConfig(BaseModel):
    """What a solver factory gets: model selection and deterministic decoding settings."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = None  # embedded model name or a GGUF path; None = the solver's default
    n_ctx: int = Field(2048, ge=256, le=131072)
    n_threads: int | None = Field(None, ge=1)
    gpu_layers: int | None = None  # None = all layers when a GPU backend exists, else 0
    seed: int = 0
    options: dict[str, Any] = {}


class GeneratorConfig(BaseModel):
    """What a generator factory gets."""

    model_config = ConfigDict(extra="forbid")

    strategy: str | None = None
    model: str | None = None  # for model-backed generators: embedded model name or GGUF path
    max_tokens: int = Field(768, ge=16, le=8192)
    seed: int = 0
    options: dict[str, Any] = {}


class Scores(list[float]):
    """Log-probabilities from ``label_logprobs``/``logprobs``: a plain ``list[float]`` that also
    says how many tokens the model read to score them (``prompt_tokens``).

    Returning a plain list stays valid; the tokens are then recorded as 0 (unknown).
    """

    def __init__(self, values: Iterable[float] = (), *, prompt_tokens: int = 0) -> None:
        super().__init__(float(v) for v in values)
        self.prompt_tokens = int(prompt_tokens)


def call_seed(run_seed: int, item_id: str, *key: object) -> int:
    """The sampling seed of one call: a 31-bit hash of (run seed, item id, call key)."""
    text = "\0".join(str(part) for part in (run_seed, item_id, *key))
    return int.from_bytes(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:4], "little") >> 1


def takes_seed(solver: object) -> bool:
    """Whether ``solver.complete`` accepts ``seed=`` (an optional part of the Solver protocol)."""
    try:
        params = inspect.signature(solver.complete).parameters  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return False
    return "seed" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def scored_tokens(scores: list[float]) -> int:
    """The tokens a solver reported for ``scores`` (0 for a plain list)."""
    return int(getattr(scores, "prompt_tokens", 0) or 0)


class Completion(msgspec.Struct, kw_only=True):
    """A solver's reply to one prompt."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


@runtime_checkable
class Solver(Protocol):
    """A language model that answers prompts. All methods are deterministic at temperature 0."""

    name: str

    def info(self) -> dict[str, Any]:
        """Manifest facts: model path, sha256, backend, offloaded layers, seed…"""

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
        """Generate a reply; with ``choices`` the reply is exactly one of them.

        ``seed`` (optional to implement): the seed of this call's sample above temperature 0. The
        kernel derives it from (run seed, item id, call index) and passes it to solvers whose
        ``complete`` takes it, so a sample never depends on what other items asked before.
        """

    def label_logprobs(self, prompt: str, labels: list[str]) -> list[float]:
        """Next-token log-probability of each label after ``prompt`` (a ``Scores`` may say the tokens read)."""

    def logprobs(self, prompt: str, continuations: list[str]) -> list[float]:
        """Total log-likelihood of each continuation after ``prompt`` (a ``Scores`` may say the tokens read)."""


class Scaffold(msgspec.Struct, kw_only=True):
    """What a generator returns for one item."""

    source: str
    answer: str | None = None  # the generator-side answer, if the generator states one
    raw: str = ""  # the generator's raw output (for LLM generators)
    calls: int = 0  # model calls the generator itself made
    prompt_tokens: int = 0
    completion_tokens: int = 0
    #: ok | no_code | syntax_error | refusal | timeout | api_error | empty (the programs plugin's OUTCOMES)
    outcome: str = "ok"
    retries: int = 0  # retries spent on transient backend failures (served generators)


@runtime_checkable
class Generator(Protocol):
    """Writes a scaffold program for an item (sees the item without its gold answer)."""

    name: str

    def info(self) -> dict[str, Any]:
        """Manifest facts: strategy, prompt version, model…"""

    def generate(self, item: dict[str, Any]) -> Scaffold:
        """Return the scaffold for ``item`` (the guest view: id, question, choices, labels, context)."""


class SolverRequestError(Exception):
    """The solver refused or failed this one request (e.g. the server rejected the prompt).

    The item's error, not the run's: deliberately not a ``SolverError``, so the pipeline records it
    for that item (the direct channel's error, a HostError inside a scaffold) and goes on.
    """


# ---------------------------------------------------------------- registrars -------------------
# What each ``register_*`` hook receives (see ``cgr.kernel.hookspecs``). The kernel passes objects
# of these shapes; a plugin only ever calls them.

SolverFactory = Callable[[SolverConfig], Solver]
GeneratorFactory = Callable[[GeneratorConfig], Generator]
#: ``fn(text, labels, choices) -> label | None``
Extractor = Callable[[str, list[str], list[str]], "str | None"]
#: ``fn(program, item, assisted) -> (verdict, reason)``
Auditor = Callable[[str, "dict[str, Any] | None", "AssistedChannel | None"], "tuple[str, str]"]


class SolverRegistrar(Protocol):
    def __call__(self, name: str, factory: SolverFactory, *, description: str = "", replace: bool = False) -> None: ...


class GeneratorRegistrar(Protocol):
    def __call__(
        self, name: str, factory: GeneratorFactory, *, description: str = "", replace: bool = False
    ) -> None: ...


class ExtractorRegistrar(Protocol):
    def __call__(
        self, name: str, fn: Extractor, *, order: int = 100, description: str = "", replace: bool = False
    ) -> None: ...


class AuditorRegistrar(Protocol):
    def __call__(
        self, name: str, fn: Auditor, *, description: str = "", replace: bool = False, sandbox: bool = False
    ) -> None: ...


class RowError(ValueError):
    """A source row an adapter cannot map: ``field`` and ``problem`` become a ``BundleError``."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem


@dataclass(frozen=True)
class RowContext:
    """What an adapter knows besides the row: where it is and the user's choices."""

    source: Path
    number: int  # line / row / element number in the source, from 1
    seed: int
    options: dict[str, str] = field(default_factory=dict[str, Any])  # the user's adapter options (--option KEY=VALUE)


#: ``fn(path, data) -> iterator of (number, value)``
Reader = Callable[[Path, bytes], Iterator[tuple[int, object]]]
#: ``fn(row, ctx) -> item dict`` (raises RowError)
Adapter = Callable[[dict[str, Any], RowContext], dict[str, Any]]


class FormatRegistrar(Protocol):
    def reader(
        self, name: str, fn: Reader, *, suffixes: tuple[str, ...], description: str = "", replace: bool = False
    ) -> None: ...

    def adapter(
        self, name: str, fn: Adapter, *, dataset: str, description: str = "", replace: bool = False
    ) -> None: ...


@dataclass(frozen=True)
class ReportRequest:
    """What a reporter renders: the records of one or more runs and the statistics settings."""

    records: list[Record]
    runs: list[Path] = field(default_factory=list)  # the run directories, when read from disk
    tau: float = 0.30
    resamples: int = 2000
    seed: int = 0


Reporter = Callable[[ReportRequest], str]


class ReporterRegistrar(Protocol):
    def __call__(self, name: str, fn: Reporter, *, description: str = "", replace: bool = False) -> None: ...


@dataclass
class DirectAnswer:
    """What one direct mode produced for one item (the kernel makes it a ``DirectChannel``)."""

    label: str | None
    method: str | None
    raw: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    scores: list[float] | None = None
    text_answer: str | None = None
    prompt_version: str = prompts.DIRECT_VERSION


class DirectMode(Protocol):
    """``fn(solver, chain, item, *, max_tokens, cache) -> DirectAnswer``; ``cache`` is one dict per
    item shared by all its modes (e.g. ``cloze`` and ``cloze_raw`` score the options once)."""

    def __call__(
        self, solver: Solver, chain: list[Entry], item: Item, *, max_tokens: int, cache: dict[str, Any]
    ) -> DirectAnswer: ...


class DirectModeRegistrar(Protocol):
    def __call__(
        self,
        name: str,
        fn: DirectMode,
        *,
        description: str = "",
        replace: bool = False,
        prompt_version: str = prompts.DIRECT_VERSION,
    ) -> None: ...


@dataclass(frozen=True)
class ExecutorRequest:
    """What an executor gets: the items still to do (bundle order, resume applied) and the run."""

    config: RunConfig
    items: list[Item]
    engine: Engine  # the driver's Engine, already built (a remote executor may rebuild it from ``config``)
    plugins: Plugins
    options: dict[str, str] = field(default_factory=dict)  # --executor-option KEY=VALUE (and --address)


#: ``fn(request) -> iterator of records``: one per item, in the items' order
Executor = Callable[[ExecutorRequest], Iterator[Record]]


class ExecutorRegistrar(Protocol):
    def __call__(self, name: str, fn: Executor, *, description: str = "", replace: bool = False) -> None: ...


@dataclass(frozen=True)
class BaselineRequest:
    """What a baseline gets for one item: the run's solver and extractor chain, the item, its
    assisted channel (whose solver calls are the budget) and the run's settings."""

    solver: Solver
    chain: list[Entry]  # the extractor chain, in order
    item: Item
    assisted: AssistedChannel
    seed: int  # the run seed (``call_seed(seed, item.id, …)`` seeds a call that samples)
    max_tokens: int  # the direct channel's reply budget (``direct_max_tokens``)
    temperature: float  # the run's ``budget_temperature``, for a baseline that samples


#: ``fn(request) -> (channel, None)``, or ``(None, reason)`` when the item gets no baseline
Baseline = Callable[[BaselineRequest], "tuple[BudgetChannel | None, str | None]"]


class BaselineRegistrar(Protocol):
    def __call__(self, name: str, fn: Baseline, *, description: str = "", replace: bool = False) -> None: ...


class CommandGroup(Protocol):
    """The root ``click.Group`` of ``cgr`` as ``register_commands`` sees it."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[..., Any]: ...

    def group(self, *args: Any, **kwargs: Any) -> Callable[..., Any]: ...

    def add_command(self, cmd: Any, name: str | None = None) -> None: ...

    def replace_command(self, cmd: Any, name: str | None = None) -> None: ...


def protocol_problem(solver: object) -> str | None:
    """What is wrong with ``solver`` as a ``Solver``, or None: each method must exist with a
    compatible signature (the protocol's positional parameters by position, its keyword-only ones
    by name or ``**kwargs``; extra parameters must be optional)."""
    for method in ("info", "complete", "label_logprobs", "logprobs"):
        problem = _signature_problem(getattr(solver, method, None), inspect.signature(getattr(Solver, method)), method)
        if problem:
            return problem
    return None


def _signature_problem(func: object, proto: inspect.Signature, method: str) -> str | None:
    if func is None:
        return f"has no {method}() method"
    if not callable(func):
        return f"{method} is not callable"
    try:
        sig = inspect.signature(func)  # bound method: no self
    except (TypeError, ValueError):
        return None  # a builtin without a signature: nothing to check
    P = inspect.Parameter
    wanted = [p for p in proto.parameters.values() if p.name != "self"]
    params = list(sig.parameters.values())
    positional = [p for p in params if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)]
    var_args = any(p.kind is P.VAR_POSITIONAL for p in params)
    var_kw = any(p.kind is P.VAR_KEYWORD for p in params)
    want_pos = [p for p in wanted if p.kind is P.POSITIONAL_OR_KEYWORD]
    if len(positional) < len(want_pos) and not var_args:
        return (
            f"{method}() takes {len(positional)} positional argument(s), the protocol passes "
            f"{len(want_pos)} ({', '.join(p.name for p in want_pos)})"
        )
    by_name = {p.name: p for p in params if p.kind in (P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY)}
    for p in wanted:
        if p.kind is P.KEYWORD_ONLY and p.name not in by_name and not var_kw:
            if p.name == "seed":  # optional part of the protocol (see api.takes_seed)
                continue
            return f"{method}() lacks keyword {p.name!r}"
    for i, p in enumerate(params):
        extra = (
            p.kind is P.KEYWORD_ONLY
            and p.name not in proto.parameters
            or p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)
            and i >= len(want_pos)
        )
        if extra and p.default is P.empty:
            return f"{method}() requires {p.name!r}, which the protocol never passes"
    return None
