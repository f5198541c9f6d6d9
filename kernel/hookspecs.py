"""The hook contract of cgr: the plugin families, each filled through one ``register_*`` hook.

Every hook is called once per process through pluggy (``pm.hook.register_…``), so hook wrappers and
tracing work. Every implementation is called, in pluggy's order (plugins registered later are
called first; ``tryfirst``/``trylast`` move an implementation). The order never decides a clash:
the kernel owns names, and a name registered twice is an error naming both plugins unless exactly
one of the two registrations says ``replace=True`` (that one wins, whatever the order; ``cgr
plugins`` shows what it replaced). A hookimpl may accept any subset of the spec's arguments; a
misspelt hook name fails at load time. ``specs/hooks.md`` is generated from this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from cgr.kernel.api import (
        AuditorRegistrar,
        BaselineRegistrar,
        CommandGroup,
        DirectModeRegistrar,
        ExecutorRegistrar,
        ExtractorRegistrar,
        FormatRegistrar,
        GeneratorRegistrar,
        ReporterRegistrar,
        SolverRegistrar,
    )
    from cgr.kernel.manager import Plugins

PROJECT = "cgr"

hookspec = pluggy.HookspecMarker(PROJECT)
#: Public marker for plugin authors: ``from cgr.kernel.hookspecs import hookimpl``.
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_solvers(register: SolverRegistrar) -> None:
    """Register solver factories: ``register(name, factory, *, description="", replace=False)``.

    ``factory(config: SolverConfig) -> Solver`` builds a solver (the ``Solver`` protocol of
    ``cgr.kernel.api``: ``info``, ``complete``, ``label_logprobs``, ``logprobs``). The kernel checks
    a built solver's methods against the protocol by signature before a run starts. The two scoring
    methods may return ``Scores(values, prompt_tokens=n)``, a ``list[float]`` that also says how
    many tokens the model read; log-probabilities are at most 0.
    """


@hookspec
def register_generators(register: GeneratorRegistrar) -> None:
    """Register scaffold generators: ``register(name, factory, *, description="", replace=False)``.

    ``factory(config: GeneratorConfig) -> Generator`` with ``info() -> dict`` and ``generate(item)
    -> Scaffold`` (``source``, optional generator-side ``answer``, ``raw``, ``calls``, token
    counts, ``outcome``: ok, no_code, syntax_error, refusal, timeout, api_error or empty, and the
    ``retries`` spent). ``item`` is the guest view: never the gold answer. A factory that also
    takes ``plugins=`` gets the run's loaded plugins (e.g. to build a solver by name).
    """


@hookspec
def register_extractors(register: ExtractorRegistrar) -> None:
    """Register answer extractors: ``register(name, fn, *, order=100, description="", replace=False)``.

    ``fn(text, labels, choices) -> str | None`` returns one of ``labels`` or None (never a guess).
    The chain runs in ascending ``order`` (then name) and the first label wins; the text is cut to
    its last 32,000 characters first. Built-in order: ``exact_label`` (10), ``answer_is`` (20),
    ``leading_label`` (30), ``option_text`` (40).
    """


@hookspec
def register_auditors(register: AuditorRegistrar) -> None:
    """Register scaffold auditors: ``register(name, fn, *, description="", replace=False)``.

    ``fn(program, item, assisted) -> (verdict, reason)`` with verdict ``"pass"`` or ``"flag"``;
    ``assisted`` is the record's assisted channel, or None for a static audit of a bare script. An
    auditor that raises is recorded as a flag naming the exception. An auditor that runs the
    scaffold registers with ``sandbox=True`` (``cgr audit --static-only`` skips it). ``item`` may
    carry the host-side key ``generator_answer``. Built-ins: ``hardcode`` (static AST),
    ``solver_use`` (made a solver call at run time) and the dynamic ``counterfactual``,
    ``permutation``, ``generator_agreement`` and ``leak`` (stand-in solvers in the sandbox).
    """


@hookspec
def register_bundle_formats(register: FormatRegistrar) -> None:
    """Register source formats for bundles: ``register.reader(…)`` and ``register.adapter(…)``.

    ``register.reader(name, fn, *, suffixes, description="", replace=False)``: ``fn(path, data)``
    yields ``(number, value)`` pairs (the line, row or element number from 1, and one decoded
    value) from a file whose name ends with one of ``suffixes``. Readers serve ``cgr run --bundle``
    and ``cgr bundle`` alike; JSONL is the kernel's own. ``register.adapter(name, fn, *, dataset,
    description="", replace=False)``: ``fn(row, ctx) -> dict`` maps one source row (``ctx``: source
    path, row number, seed) to an item of the bundle interface, or raises ``RowError(field,
    problem)``; ``cgr bundle convert --from NAME`` uses it. Built-ins: readers ``msgpack``,
    ``json``, ``parquet``, ``csv``; adapters ``cgr``, ``arc``, ``openbookqa``, ``sciq``, ``mmlu``,
    ``mmlu-csv``.
    """


@hookspec
def register_reporters(register: ReporterRegistrar) -> None:
    """Register report formats: ``register(name, fn, *, description="", replace=False)``.

    ``fn(request: ReportRequest) -> str`` renders the records of one or more runs
    (``request.records``, ``request.runs``, ``request.tau``, ``request.resamples``,
    ``request.seed``); ``cgr report --format NAME`` prints what it returns, or writes it with
    ``-o FILE``. Built-ins: ``table`` (the end of ``cgr run`` too), ``markdown``, ``json`` (the
    DESIGN.md contract).
    """


@hookspec
def register_direct_modes(register: DirectModeRegistrar) -> None:
    """Register direct-channel modes: ``register(name, fn, *, description="", replace=False, prompt_version=…)``.

    ``fn(solver, chain, item, *, max_tokens, cache) -> DirectAnswer`` answers ``item`` without a
    scaffold (``chain``: the extractor chain; ``cache``: one dict per item shared by its modes); an
    exception is recorded as the item's direct error (``prompt_version`` is then recorded), except
    ``SolverError``, which stops the run. ``cgr run --direct-mode NAME`` offers every registered
    mode. Built-ins: ``generate``, ``grammar``, ``logprobs``, ``cloze``, ``cloze_raw``.
    """


@hookspec
def register_executors(register: ExecutorRegistrar) -> None:
    """Register executors: ``register(name, fn, *, description="", replace=False)``.

    ``fn(request: ExecutorRequest) -> Iterator[Record]`` processes ``request.items`` (bundle order,
    resume applied) and yields one record per item, in the items' order; the kernel appends each to
    the store as it comes. Closing the iterator (an error, Ctrl-C) must stop or cancel the remaining
    work; a ``SolverError`` raised inside propagates. ``request.engine`` is the driver's ``Engine``,
    ``request.options`` the ``--executor-option KEY=VALUE`` pairs (``--address ADDR`` is
    ``address=ADDR``). ``cgr run --executor NAME`` selects one. Built-in: ``local`` (this process;
    ``--workers`` threads).
    """


@hookspec
def register_baselines(register: BaselineRegistrar) -> None:
    """Register baselines: ``register(name, fn, *, description="", replace=False)``.

    ``fn(request: BaselineRequest) -> (BudgetChannel, None)`` answers ``request.item`` as a baseline
    for its scaffold (``request.assisted``: its solver calls are the budget), or ``(None, reason)``
    when the item gets none (left out of the comparison, the reason recorded). With
    ``budget_baseline`` on, the run's baseline (``RunConfig.baseline``; an unknown name fails before
    the run starts) is called once per item after its assisted channel, and what it returns is the
    record's ``budget_matched`` and ``budget_matched_reason``. An exception stops the run: a
    ``SolverError`` as it is, any other as a ``PluginError`` naming the baseline and the item
    (records so far are kept; ``--resume`` continues). Built-in: ``budget_matched`` (as many greedy
    calls of the same kinds as the scaffold made).
    """


@hookspec
def register_commands(cli: CommandGroup, plugins: Plugins) -> None:
    """Add commands to the ``cgr`` command line: ``cli`` is the root ``click.Group``.

    ``plugins`` is everything loaded (e.g. ``plugins.all("reporter")`` for a ``--format`` choice).
    Use ``@cli.command()`` / ``@cli.group()`` or ``cli.add_command(cmd)``; ``cli.replace_command(cmd)``
    replaces a command of the same name that another plugin added. The kernel's own command
    (``plugins``) cannot be replaced. A command fails with one line, exit 1, by raising
    ``click.ClickException`` or one of the kernel's named errors. Built-ins: ``run``, ``report``,
    ``compare``, ``replay``, ``audit``, ``bundle``, ``models``, ``sandbox``, ``export``, ``show``
    and ``new``.
    """
