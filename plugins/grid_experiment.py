"""An experiment file (TOML): bundles x solvers x generators, validated, with errors naming file, line and key.

``load_experiment(path)`` reads and validates the file (pydantic, unknown keys are errors) and
returns an :class:`Experiment`; ``Experiment.cells()`` expands it into the grid's cells, each a
plain ``RunConfig`` with a unique, filesystem-safe slug. Every problem is one
:class:`ExperimentError` line: ``FILE:LINE: KEY.PATH: problem``. tomllib gives no positions, so
the line is found by a small scan of the TOML text for the table headers and keys
(:func:`key_line`): the line of the offending key, else of its table.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from cgr.kernel.config import RunConfig
from cgr.sandbox import Limits

__all__ = ["BundleSpec", "Cell", "Experiment", "ExperimentError", "GeneratorSpec", "SolverSpec", "load_experiment"]


class ExperimentError(ValueError):
    """An experiment file that cannot be used: one line naming the file, the line and the key."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BundleSpec(_Spec):
    """One bundle of the grid (a path relative to the experiment file; none = the shipped sample)."""

    path: Path | None = None
    name: str | None = Field(None, min_length=1, max_length=64)  # the slug part; default: the file's stem
    tasks: list[str] | None = None
    limit: int | None = Field(None, ge=1)  # overrides the experiment's ``limit``

    def label(self) -> str:
        return self.name or (self.path.stem if self.path else "sample")


class SolverSpec(_Spec):
    """One solver of the grid: plugin, model and options (the ``cgr run`` solver flags)."""

    plugin: str = Field("llama", min_length=1)
    model: str | None = None
    options: dict[str, str] = {}
    gpu_layers: int | None = None
    n_threads: int | None = Field(None, ge=1, le=256)
    n_ctx: int = Field(2048, ge=256)
    name: str | None = Field(None, min_length=1, max_length=64)

    def label(self) -> str:
        model = Path(self.model).name.removesuffix(".gguf") if self.model else ""
        return self.name or (f"{self.plugin}-{model}" if model else self.plugin)


class GeneratorSpec(_Spec):
    """One generator of the grid: plugin and strategy, model or options (e.g. ``dir`` of ``files``)."""

    plugin: str = Field("template", min_length=1)
    strategy: str | None = None
    model: str | None = None
    options: dict[str, str] = {}
    name: str | None = Field(None, min_length=1, max_length=64)

    def label(self) -> str:
        detail = self.strategy or (Path(self.model).name.removesuffix(".gguf") if self.model else "")
        return self.name or (f"{self.plugin}-{detail}" if detail else self.plugin)


class Experiment(_Spec):
    """The whole grid: every bundle x solver x generator is a cell; the rest is shared by all cells."""

    name: str | None = None
    bundles: list[BundleSpec] = Field(default_factory=lambda: [BundleSpec()], min_length=1)
    solvers: list[SolverSpec] = Field(min_length=1)
    generators: list[GeneratorSpec] = Field(default_factory=lambda: [GeneratorSpec()], min_length=1)
    direct_modes: list[Annotated[str, Field(min_length=1)]] = Field(["generate"], min_length=1)  # first = primary
    limit: int | None = Field(None, ge=1)
    tasks: list[str] | None = None
    seed: int = 0
    workers: int = Field(1, ge=1, le=64)
    direct_max_tokens: int = Field(8, ge=1, le=512)
    budget_baseline: bool = False
    baseline: str = Field("budget_matched", min_length=1)  # the registered baseline budget_baseline runs
    budget_temperature: float = Field(0.7, gt=0, le=2)
    limits: Limits = Field(default_factory=Limits)
    executor: str = Field("local", min_length=1)  # the registered executor of every cell
    executor_options: dict[str, str] = {}
    _source: Path | None = PrivateAttr(None)
    _text: str = PrivateAttr("")

    @model_validator(mode="after")
    def _no_repeats(self) -> Experiment:
        """No two bundles alike; no two solvers (generators) whose records would carry the same label:
        the record's ``solver`` is plugin/model, its ``generator`` plugin/strategy (or model), so two
        that differ only in options would be pooled by the report."""
        for key in ("bundles", "solvers", "generators"):
            seen: dict[str, int] = {}
            for i, spec in enumerate(getattr(self, key)):
                same = spec.model_dump_json() if key == "bundles" else repr(_record_label(spec))
                if same in seen:
                    why = "" if key == "bundles" else " (the same record label: the report would pool them)"
                    raise ValueError(f"{key}[{i}] repeats {key}[{seen[same]}]{why}")
                seen[same] = i
        return self

    def cells(self, out: Path) -> list[Cell]:
        """The grid's cells, solver-major (a solver's cells run one after another: its model loads once)."""
        raw = [(b, s, g) for s in self.solvers for b in self.bundles for g in self.generators]
        slugs = unique_slugs([f"{b.label()}__{s.label()}__{g.label()}" for b, s, g in raw])
        return [
            Cell(slug, b, s, g, self.run_config(b, s, g, out / "cells" / slug)) for slug, (b, s, g) in zip(slugs, raw)
        ]

    def run_config(self, b: BundleSpec, s: SolverSpec, g: GeneratorSpec, out: Path, resume: bool = False) -> RunConfig:
        """The ``RunConfig`` of one cell."""
        extra: dict[str, Any] = {}
        if "executor" in RunConfig.model_fields:
            extra = {"executor": self.executor, "executor_options": self.executor_options}
        elif self.executor != "local" or self.executor_options:
            raise ExperimentError(f"{self.where('executor')}: this cgr has no executors")
        return RunConfig(
            bundle=self._resolve(b.path),
            limit=b.limit or self.limit,
            tasks=b.tasks or self.tasks,
            out=out,
            solver=s.plugin,
            model=s.model,
            solver_options=s.options,
            gpu_layers=s.gpu_layers,
            n_threads=s.n_threads,
            n_ctx=s.n_ctx,
            generator=g.plugin,
            strategy=g.strategy,
            generator_model=g.model,
            generator_options=g.options,
            direct_mode=self.direct_modes[0],
            direct_modes=self.direct_modes[1:],
            direct_max_tokens=self.direct_max_tokens,
            budget_baseline=self.budget_baseline,
            baseline=self.baseline,
            budget_temperature=self.budget_temperature,
            seed=self.seed,
            workers=self.workers,
            limits=self.limits,
            resume=resume,
            **extra,
        )

    def bundle_path(self, bundle: BundleSpec) -> Path | None:
        """The bundle's file (relative paths are from the experiment file's directory); None = the sample."""
        return self._resolve(bundle.path)

    def _resolve(self, path: Path | None) -> Path | None:
        if path is None or path.is_absolute() or self._source is None:
            return path
        return self._source.parent / path

    def where(self, *loc: str | int) -> str:
        """``FILE:LINE: key.path`` of a key of this experiment (for an error about it)."""
        return _where(self._source, self._text, loc)

    def describe(self) -> dict[str, Any]:
        """What ``grid.json`` records: the validated experiment, bundle paths resolved."""
        data = self.model_dump(mode="json")
        for spec, b in zip(data["bundles"], self.bundles):
            resolved = self._resolve(b.path)
            spec["path"] = str(resolved.absolute()) if resolved else None
        return data


def _record_label(spec: BaseModel) -> tuple[Any, ...]:
    if isinstance(spec, SolverSpec):
        return (spec.plugin, spec.model)
    assert isinstance(spec, GeneratorSpec)
    return (spec.plugin, spec.strategy, spec.model)


@dataclass(frozen=True)
class Cell:
    """One (bundle, solver, generator) of the grid: its slug (directory name) and run configuration."""

    slug: str
    bundle: BundleSpec
    solver: SolverSpec
    generator: GeneratorSpec
    config: RunConfig


_UNSAFE = re.compile(r"[^a-z0-9._-]+")
MAX_SLUG = 96


def slugify(text: str) -> str:
    """A filesystem-safe name: lower-case ``[a-z0-9._-]``, no leading dot or dash, at most ``MAX_SLUG``
    characters (a longer one keeps a hash of the whole)."""
    slug = _UNSAFE.sub("-", text.lower()).strip(".-_") or "cell"
    if len(slug) > MAX_SLUG:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        slug = slug[: MAX_SLUG - 11].rstrip(".-_") + "-" + digest
    return slug


def unique_slugs(names: list[str]) -> list[str]:
    """``slugify`` of each name, made unique case-insensitively by a ``-2``, ``-3``… suffix in order."""
    out: list[str] = []
    taken: set[str] = set()
    for name in names:
        base = slugify(name)
        slug, n = base, 1
        while slug in taken:
            n += 1
            slug = f"{base[: MAX_SLUG - 1 - len(str(n))]}-{n}"
        taken.add(slug)
        out.append(slug)
    return out


# ------------------------------------------------------------------------ loading ------------
def load_experiment(path: Path | str) -> Experiment:
    """Read and validate an experiment file; every problem is one ``ExperimentError`` line."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExperimentError(f"{path}: cannot read the experiment file ({exc})") from None
    return parse_experiment(text, path)


def parse_experiment(text: str, source: Path | None = None) -> Experiment:
    """Validate the TOML ``text`` of an experiment (``source`` names it in errors)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ExperimentError(f"{source or '<experiment>'}: invalid TOML: {_one_line(str(exc))}") from None
    try:
        experiment = Experiment.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = _real_loc(data, err["loc"])
        msg = _one_line(str(err["msg"])).removeprefix("Value error, ")
        if err["type"] in ("extra_forbidden", "unexpected_keyword_argument", "missing"):
            loc = (*loc, err["loc"][-1]) if err["loc"] and err["loc"][-1] not in loc[-1:] else loc
        if err["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            msg = f"unknown key; allowed: {', '.join(_allowed(loc[:-1]))}"
        elif err["type"] == "missing":
            msg = "required key missing"
        found = re.match(r"(\w+)\[(\d+)\] (repeats .*)", msg)
        if found and not loc:  # from the model validator: name the repeat's own key
            loc, msg = (found[1], int(found[2])), found[3]
        where = _where(source, text, loc)
        raise ExperimentError(f"{where}: {msg}") from None
    experiment._source, experiment._text = source, text
    return experiment


_MODELS: dict[str, type[BaseModel]] = {"bundles": BundleSpec, "solvers": SolverSpec, "generators": GeneratorSpec}


def _real_loc(data: Any, loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """The part of pydantic's ``loc`` that is keys and indexes of ``data`` (not its union/function tags)."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            continue
        out.append(part)
    return tuple(out)


def _allowed(loc: tuple[str | int, ...]) -> list[str]:
    names = [p for p in loc if isinstance(p, str)]
    if not names:
        return sorted(Experiment.model_fields)
    if names[-1] == "limits":
        return sorted(Limits.__dataclass_fields__)
    return sorted(_MODELS[names[-1]].model_fields) if names[-1] in _MODELS else []


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def _where(source: Path | None, text: str, loc: tuple[str | int, ...]) -> str:
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "(top level)"
    line = key_line(text, loc)
    return f"{source or '<experiment>'}{f':{line}' if line else ''}: {key}"


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")


def _parts(dotted: str) -> list[str]:
    return [p.strip().strip("\"'") for p in re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", dotted)]


def key_line(text: str, loc: tuple[str | int, ...]) -> int | None:
    """The 1-based line of ``loc`` (e.g. ``("solvers", 1, "model")``) in the TOML ``text``: of the
    key itself, else of the longest enclosing key or table that is written out; None if none is.
    A scan, not a parser: headers ``[a.b]`` / ``[[a]]`` and ``key =`` lines outside multi-line strings."""
    where: dict[tuple[str | int, ...], int] = {}
    table: tuple[str | int, ...] = ()
    counts: dict[tuple[str, ...], int] = {}
    in_string: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string:  # inside a multi-line string: only its end matters
            if line.count(in_string) % 2:
                in_string = None
            continue
        header = _HEADER.match(line)
        if header:
            names = tuple(_parts(header[2]))
            if header[1] == "[[":
                counts[names] = counts.get(names, -1) + 1
                table = (*names, counts[names])
            else:
                table = names
            where.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key:
            where.setdefault((*table, *_parts(key[1])), number)
            rest = line[key.end() :]
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2:
                    in_string = quote
    for n in range(len(loc), 0, -1):
        if loc[:n] in where:
            return where[loc[:n]]
    return None
