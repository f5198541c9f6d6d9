"""The hook contract of cgr: four plugin families, each registered through one ``register_*`` hook.

Every hook receives a ``register`` callback and calls it once per thing it provides, so the kernel
(not the plugin) owns names, clashes and lookups (see ``cgr.kernel.manager``). A hookimpl may accept
any subset of the spec's arguments. ``specs/hooks.md`` documents these hooks; a test keeps the two
in step.
"""

from __future__ import annotations

import pluggy

PROJECT = "cgr"

hookspec = pluggy.HookspecMarker(PROJECT)
#: Public marker for plugin authors: ``from cgr.kernel.hookspecs import hookimpl``.
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------- solvers ----------------------
@hookspec
def register_solvers(register) -> None:
    """Register solver factories: ``register(name, factory, description="")``.

    ``factory(config: SolverConfig) -> Solver`` builds a solver (see ``cgr.kernel.api.Solver``).
    """


# ---------------------------------------------------------------- generators -------------------
@hookspec
def register_generators(register) -> None:
    """Register scaffold generators: ``register(name, factory, description="")``.

    ``factory(config: GeneratorConfig) -> Generator`` (see ``cgr.kernel.api.Generator``).
    """


# ---------------------------------------------------------------- extractors -------------------
@hookspec
def register_extractors(register) -> None:
    """Register answer extractors: ``register(name, fn, order=100, description="")``.

    ``fn(text, labels, choices) -> str | None`` returns a label or None (never a guess); the chain
    runs in ascending ``order`` and the first non-None wins.
    """


# ---------------------------------------------------------------- auditors ---------------------
@hookspec
def register_auditors(register) -> None:
    """Register scaffold auditors: ``register(name, fn, description="")``.

    ``fn(program: str, item: dict, assisted: AssistedChannel | None) -> (verdict, reason)`` with
    verdict ``"pass"`` or ``"flag"``; ``assisted`` is None for a static audit of a bare script.
    """
