"""Plugin manager: built-ins registered as ordinary plugins, third parties from entry-point group ``cgr``.

Lookups read like English (``plugins.solver("llama")``); a miss raises ``UnknownPluginError`` that
the CLI turns into one clear line.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

import pluggy

from cgr.kernel import hookspecs

#: Built-in plugins, by module name (the kernel knows them by name only).
DEFAULT_PLUGINS: tuple[str, ...] = (
    "cgr.plugins.llama_solver",
    "cgr.plugins.echo_solver",
    "cgr.plugins.openai_solver",
    "cgr.plugins.template_generator",
    "cgr.plugins.llm_generator",
    "cgr.plugins.extractors",
    "cgr.plugins.auditors",
)

#: Comma-separated plugin names (entry-point or module names) that must not be loaded.
DISABLE_ENV = "CGR_DISABLE_PLUGINS"

FAMILIES = ("solver", "generator", "extractor", "auditor")


class PluginError(Exception):
    """A plugin could not be loaded or registered something invalid."""


class UnknownPluginError(LookupError):
    """A solver/generator/extractor/auditor name that no plugin registered."""

    def __init__(self, family: str, name: str, known: list[str]):
        self.family, self.name, self.known = family, name, known
        super().__init__(f"unknown {family} {name!r} (known: {', '.join(sorted(known)) or 'none'})")


@dataclass(frozen=True)
class Entry:
    """One registered thing: its name, the object, the plugin that registered it, extras."""

    family: str
    name: str
    obj: Any
    plugin: str
    description: str = ""
    order: int = 100


@dataclass
class Plugins:
    """The loaded plugins and everything they registered."""

    pm: pluggy.PluginManager
    entries: dict[str, dict[str, Entry]] = field(default_factory=lambda: {f: {} for f in FAMILIES})
    dists: dict[str, str] = field(default_factory=dict)  # plugin name -> "distribution version"

    def get(self, family: str, name: str) -> Entry:
        """The entry for ``name`` in ``family`` or UnknownPluginError."""
        try:
            return self.entries[family][name]
        except KeyError:
            raise UnknownPluginError(family, name, list(self.entries[family])) from None

    def solver(self, name: str) -> Entry:
        """The solver factory registered as ``name``."""
        return self.get("solver", name)

    def generator(self, name: str) -> Entry:
        """The generator factory registered as ``name``."""
        return self.get("generator", name)

    def extractors(self) -> list[Entry]:
        """The extractor chain in its defined order (ascending ``order``, then name)."""
        return sorted(self.entries["extractor"].values(), key=lambda e: (e.order, e.name))

    def auditors(self) -> list[Entry]:
        """All auditors, by name."""
        return sorted(self.entries["auditor"].values(), key=lambda e: e.name)

    def plugin_names(self) -> list[str]:
        """Names of all registered plugins (built-in and third-party alike)."""
        return sorted(name for name, p in self.pm.list_name_plugin() if p is not None)

    def describe(self) -> list[dict]:
        """One dict per plugin: name, distribution (if any), and what it registered."""
        rows = []
        for name in self.plugin_names():
            provides = {
                fam: sorted(e.name for e in self.entries[fam].values() if e.plugin == name)
                for fam in FAMILIES
            }
            rows.append(
                {
                    "name": name,
                    "builtin": name in DEFAULT_PLUGINS,
                    "distribution": self.dists.get(name),
                    **{fam + "s": v for fam, v in provides.items() if v},
                }
            )
        return rows


def _disabled() -> set[str]:
    return {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}


_warned_disabled: set[str] = set()


def _warn_unknown_disabled(disabled: set[str], builtins: tuple[str, ...]) -> None:
    """A misspelt name in CGR_DISABLE_PLUGINS would otherwise skip nothing, silently; said once per process."""
    known = set(builtins) | {ep.name for ep in importlib.metadata.entry_points(group=hookspecs.PROJECT)}
    unknown = sorted(disabled - known - _warned_disabled)
    if unknown:
        _warned_disabled.update(unknown)
        print(f"cgr: warning: {DISABLE_ENV} names unknown plugin(s): {', '.join(unknown)} "
              f"(known: {', '.join(sorted(known))})", file=sys.stderr)


def load_plugins(
    *,
    builtins: tuple[str, ...] = DEFAULT_PLUGINS,
    entry_points: bool = True,
    extra: tuple[object, ...] = (),
) -> Plugins:
    """Build a fresh plugin manager: built-ins, then entry points of group ``cgr``, then ``extra``.

    Calls ``check_pending()`` so a hookimpl with a typo'd name fails loudly, naming its plugin.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    disabled = _disabled()
    _warn_unknown_disabled(disabled, builtins)
    for name in disabled:
        pm.set_blocked(name)
    for modname in builtins:
        if modname in disabled:
            continue
        pm.register(importlib.import_module(modname), modname)
    dists = _load_entry_points(pm, disabled) if entry_points else {}
    for plugin in extra:
        pm.register(plugin, name=getattr(plugin, "__name__", None) or type(plugin).__qualname__)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {pm.get_name(exc.plugin)!r}: {exc}") from None
    plugins = Plugins(pm, dists=dists)
    _collect(plugins)
    return plugins


def _load_entry_points(pm: pluggy.PluginManager, disabled: set[str]) -> dict[str, str]:
    # One by one (not pm.load_setuptools_entrypoints) so a broken plugin is named in the error.
    dists: dict[str, str] = {}
    for ep in importlib.metadata.entry_points(group=hookspecs.PROJECT):
        if ep.name in disabled or pm.get_plugin(ep.name) is not None:
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # noqa: BLE001 - any import failure of a third-party plugin
            raise PluginError(
                f"plugin {ep.name!r} ({ep.value}) failed to load: {type(exc).__name__}: {exc}"
                f" (set {DISABLE_ENV}={ep.name} to skip it)"
            ) from exc
        try:
            pm.register(plugin, name=ep.name)
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {ep.name!r}: {exc}") from None
        if ep.dist is not None:
            dists[ep.name] = f"{ep.dist.metadata['name']} {ep.dist.version}"
    return dists


def check_solver(solver: object, name: str) -> None:
    """PluginError unless ``solver`` has every method of the ``Solver`` protocol with a compatible
    signature: the protocol's positional parameters by position, its keyword-only ones by name (or
    ``**kwargs``); extra parameters must be optional. Checked before a run starts, because a solver
    that fails on every call would otherwise score 0% item by item instead of failing once, loudly.
    """
    from cgr.kernel.api import Solver

    for method in ("info", "complete", "label_logprobs", "logprobs"):
        problem = _signature_problem(getattr(solver, method, None),
                                     inspect.signature(getattr(Solver, method)), method)
        if problem:
            raise PluginError(f"solver {name!r}: {problem}")


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
        return (f"{method}() takes {len(positional)} positional argument(s), the protocol passes "
                f"{len(want_pos)} ({', '.join(p.name for p in want_pos)})")
    by_name = {p.name: p for p in params if p.kind in (P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY)}
    for p in wanted:
        if p.kind is P.KEYWORD_ONLY and p.name not in by_name and not var_kw:
            if p.name == "seed":  # optional part of the protocol (see api.takes_seed)
                continue
            return f"{method}() lacks keyword {p.name!r}"
    for i, p in enumerate(params):
        extra = p.kind is P.KEYWORD_ONLY and p.name not in proto.parameters or \
            p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD) and i >= len(want_pos)
        if extra and p.default is P.empty:
            return f"{method}() requires {p.name!r}, which the protocol never passes"
    return None


def _collect(plugins: Plugins) -> None:
    pm = plugins.pm
    for family in FAMILIES:
        hook = getattr(pm.hook, f"register_{family}s")
        for impl in hook.get_hookimpls():  # registration order
            plugin_name = impl.plugin_name
            impl.function(**{a: _registrar(plugins, family, plugin_name) for a in impl.argnames})


def _registrar(plugins: Plugins, family: str, plugin_name: str) -> Callable[..., None]:
    table = plugins.entries[family]

    def register(name: str, obj: Any, *, description: str = "", order: int = 100) -> None:
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin {plugin_name!r} registered a {family} with an invalid name")
        if not callable(obj):
            raise PluginError(f"plugin {plugin_name!r}: {family} {name!r} is not callable")
        if name in table:
            other = table[name].plugin
            raise PluginError(
                f"{family} {name!r} registered twice: by {other!r} and by {plugin_name!r}"
            )
        table[name] = Entry(family, name, obj, plugin_name, description or _doc(obj), order)

    return register


def _doc(obj: Any) -> str:
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""
