"""Plugin manager: built-ins registered as ordinary plugins, third parties from entry-point group ``cgr``.

Lookups read like English (``plugins.solver("llama")``); a miss raises ``UnknownPluginError`` that
the CLI turns into one clear line.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import click
import pluggy

from cgr.kernel import hookspecs
from cgr.kernel.api import Adapter, Reader, protocol_problem


def builtin_plugins() -> tuple[str, ...]:
    """The built-in plugins: the entry points of group ``cgr`` that cgr's own distribution declares
    (``pyproject.toml``), by module name. The kernel knows no plugin by name."""
    eps = importlib.metadata.entry_points(group=hookspecs.PROJECT)
    return tuple(ep.value for ep in eps if ep.dist is not None and ep.dist.metadata["name"] == "cgr")


DEFAULT_PLUGINS: tuple[str, ...] = builtin_plugins()

#: Comma-separated plugin names (entry-point or module names) that must not be loaded.
DISABLE_ENV = "CGR_DISABLE_PLUGINS"

#: Families of registered things, and the hook that fills each.
HOOKS: dict[str, str] = {
    "solver": "register_solvers",
    "generator": "register_generators",
    "extractor": "register_extractors",
    "auditor": "register_auditors",
    "reader": "register_bundle_formats",
    "adapter": "register_bundle_formats",
    "reporter": "register_reporters",
    "executor": "register_executors",
    "direct_mode": "register_direct_modes",
    "baseline": "register_baselines",
    "command": "register_commands",
}
FAMILIES = tuple(HOOKS)


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
    extra: Mapping[str, Any] = field(default_factory=dict)  # dataset of an adapter, suffixes of a reader
    replaces: str | None = None  # the plugin whose registration of this name this one replaced


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

    def reporter(self, name: str) -> Entry:
        """The reporter registered as ``name``."""
        return self.get("reporter", name)

    def extractors(self) -> list[Entry]:
        """The extractor chain in its defined order (ascending ``order``, then name)."""
        return sorted(self.entries["extractor"].values(), key=lambda e: (e.order, e.name))

    def auditors(self) -> list[Entry]:
        """All auditors, by name."""
        return self.all("auditor")

    def all(self, family: str) -> list[Entry]:
        """Every entry of ``family``, by name."""
        return sorted(self.entries[family].values(), key=lambda e: e.name)

    def readers(self) -> dict[str, Reader]:
        """Bundle readers by file suffix (``.msgpack`` -> reader), for ``load_bundle``."""
        return {suffix: e.obj for e in self.all("reader") for suffix in e.extra.get("suffixes", ())}

    def plugin_names(self) -> list[str]:
        """Names of all registered plugins (built-in and third-party alike)."""
        return sorted(name for name, p in self.pm.list_name_plugin() if p is not None)

    def describe(self) -> list[dict[str, Any]]:
        """One dict per plugin: name, distribution (if any), and what it registered."""
        rows = []
        for name in self.plugin_names():
            provides = {fam: sorted(e.name for e in self.entries[fam].values() if e.plugin == name) for fam in FAMILIES}
            replaced = sorted(
                f"{e.family} {e.name} (of {e.replaces})"
                for fam in FAMILIES
                for e in self.entries[fam].values()
                if e.plugin == name and e.replaces
            )
            rows.append(
                {
                    "name": name,
                    "builtin": name in DEFAULT_PLUGINS,
                    "distribution": self.dists.get(name),
                    **{fam + "s": v for fam, v in provides.items() if v},
                    **({"replaces": replaced} if replaced else {}),
                }
            )
        return rows

    def add_commands(self, cli: click.Group, reserved: Iterable[str] = ()) -> None:
        """Call ``register_commands`` and add the commands to ``cli`` (``reserved`` names are the
        kernel's own and cannot be replaced). Records them as family ``command``."""
        collector = _Collector(self, "command")
        group = _CommandCollector(collector, name="cgr")
        self.pm.hook.register_commands(cli=group, plugins=self)
        for name in reserved:
            if name in collector.registrations:
                plugin = collector.registrations[name][0][0].plugin
                raise PluginError(f"plugin {plugin!r} registered command {name!r}, which is the kernel's own")
        collector.resolve()
        for entry in self.entries["command"].values():
            cli.add_command(entry.obj, entry.name)


def _disabled() -> set[str]:
    return {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}


_warned_disabled: set[str] = set()


def _warn_unknown_disabled(disabled: set[str], builtins: tuple[str, ...]) -> None:
    """A misspelt name in CGR_DISABLE_PLUGINS would otherwise skip nothing, silently; said once per process."""
    known = set(builtins) | {ep.name for ep in importlib.metadata.entry_points(group=hookspecs.PROJECT)}
    unknown = sorted(disabled - known - _warned_disabled)
    if unknown:
        _warned_disabled.update(unknown)
        print(
            f"cgr: warning: {DISABLE_ENV} names unknown plugin(s): {', '.join(unknown)} "
            f"(known: {', '.join(sorted(known))})",
            file=sys.stderr,
        )


def load_plugins(
    *,
    builtins: tuple[str, ...] = DEFAULT_PLUGINS,
    entry_points: bool = True,
    extra: tuple[object, ...] = (),
) -> Plugins:
    """Build a fresh plugin manager: built-ins, then entry points of group ``cgr``, then ``extra``.

    Calls ``check_pending()`` so a hookimpl with a typo'd name fails loudly, naming its plugin.
    """
    if not builtins and builtins is DEFAULT_PLUGINS:
        raise PluginError(
            "cgr's built-in plugins are not registered (no entry points of group 'cgr' from the "
            "cgr distribution): reinstall cgr, e.g. pip install -e ."
        )
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
        if ep.name in disabled or pm.get_plugin(ep.name) is not None or ep.value in DEFAULT_PLUGINS:
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
    signature (see ``cgr.kernel.api.protocol_problem``). Checked before a run starts, because a
    solver that fails on every call would otherwise score 0% item by item instead of failing once."""
    problem = protocol_problem(solver)
    if problem:
        raise PluginError(f"solver {name!r}: {problem}")


def _collect(plugins: Plugins) -> None:
    """Fill every family except commands: one call of each hook, through pluggy."""
    for family in FAMILIES:
        if family not in ("reader", "adapter", "command"):  # filled below / by add_commands
            collector = _Collector(plugins, family)
            getattr(plugins.pm.hook, HOOKS[family])(register=collector.register)
            collector.resolve()
    readers, adapters = _Collector(plugins, "reader"), _Collector(plugins, "adapter")
    registrar = _FormatRegistrar(readers, adapters)
    plugins.pm.hook.register_bundle_formats(register=registrar)
    readers.resolve()
    adapters.resolve()


class _Collector:
    """Registrations of one family during one hook call, and who made each.

    The hook is called once through pluggy; the registering plugin is the hook implementation
    found on the call stack of ``register`` (a plugin may register from helper functions).
    """

    def __init__(self, plugins: Plugins, family: str):
        self.plugins, self.family = plugins, family
        self.registrations: dict[str, list[tuple[Entry, bool]]] = {}
        impls = getattr(plugins.pm.hook, HOOKS[family]).get_hookimpls()
        self.codes: dict[object, list[tuple[str, object]]] = {}
        for i in impls:
            self.codes.setdefault(getattr(i.function, "__code__", None), []).append((i.plugin_name, i.plugin))
        self.rank = {name: i for i, (name, _) in enumerate(plugins.pm.list_name_plugin())}

    def caller(self) -> str:
        frame = sys._getframe(2)
        while frame is not None:
            found = self.codes.get(frame.f_code)
            if found:  # one function shared by several plugins (a subclass): told apart by ``self``
                this = frame.f_locals.get("self")
                return next((name for name, obj in found if obj is this), found[0][0])
            frame = frame.f_back  # type: ignore[assignment]
        return "?"

    def register(
        self, name: str, obj: Any, *, description: str = "", order: int = 100, replace: bool = False, **extra: Any
    ) -> None:
        plugin = self.caller()
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin {plugin!r} registered a {self.family} with an invalid name")
        if not callable(obj):
            raise PluginError(f"plugin {plugin!r}: {self.family} {name!r} is not callable")
        if not isinstance(order, int):
            raise PluginError(f"plugin {plugin!r}: {self.family} {name!r}: order must be an int")
        entry = Entry(self.family, name, obj, plugin, description or _doc(obj), order, extra)
        self.registrations.setdefault(name, []).append((entry, bool(replace)))

    def resolve(self) -> None:
        """Into ``plugins.entries``: one entry per name; a clash is an error unless exactly one of
        the registrations says ``replace=True``."""
        table = self.plugins.entries[self.family]
        for name, regs in self.registrations.items():
            regs = sorted(regs, key=lambda r: self.rank.get(r[0].plugin, len(self.rank)))
            winners = [e for e, wins in regs if wins]
            if len(regs) == 1:
                table[name] = regs[0][0]
            elif len(winners) == 1:
                others = ", ".join(e.plugin for e, _ in regs if e is not winners[0])
                table[name] = replace(winners[0], replaces=others)
            else:
                first, second = [e.plugin for e in winners[:2]] if winners else [e.plugin for e, _ in regs[:2]]
                how = "both with replace=True" if winners else "neither with replace=True"
                raise PluginError(f"{self.family} {name!r} registered twice: by {first!r} and by {second!r} ({how})")


class _FormatRegistrar:
    """The ``register`` of ``register_bundle_formats``: ``.reader(…)`` and ``.adapter(…)``."""

    def __init__(self, readers: _Collector, adapters: _Collector):
        self._readers, self._adapters = readers, adapters

    def reader(
        self, name: str, fn: Reader, *, suffixes: tuple[str, ...], description: str = "", replace: bool = False
    ) -> None:
        if isinstance(suffixes, str) or not all(isinstance(x, str) and x.startswith(".") for x in suffixes):
            raise PluginError(f"reader {name!r}: suffixes must be a tuple like ('.parquet',)")
        self._readers.register(
            name, fn, description=description, replace=replace, suffixes=tuple(x.lower() for x in suffixes)
        )

    def adapter(self, name: str, fn: Adapter, *, dataset: str, description: str = "", replace: bool = False) -> None:
        self._adapters.register(name, fn, description=description, replace=replace, dataset=dataset)


class _CommandCollector(click.Group):
    """The ``cli`` that ``register_commands`` sees: a click group that records who adds what."""

    def __init__(self, collector: _Collector, name: str):
        super().__init__(name)
        self._collector = collector

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        self._add(cmd, name, replace=False)

    def replace_command(self, cmd: click.Command, name: str | None = None) -> None:
        """Add ``cmd``, replacing another plugin's command of the same name."""
        self._add(cmd, name, replace=True)

    def _add(self, cmd: click.Command, name: str | None, replace: bool) -> None:
        name = name or cmd.name
        if not isinstance(cmd, click.Command) or not name:
            raise PluginError(f"plugin {self._collector.caller()!r} added a command that is not a named click command")
        self._collector.register(
            name, cmd, description=(cmd.get_short_help_str(80) if cmd.help else ""), replace=replace
        )


def _doc(obj: Any) -> str:
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""
