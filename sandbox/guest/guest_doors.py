"""Fewer doors: what the in-guest runner removes from the snapshot before it is taken.

Runs inside the sandbox: ``guest_app`` calls :func:`close_doors` once, at build time, after every
module a scaffold may import is loaded (componentize-py snapshots the heap after that import).
Defence in depth, not the boundary: the guest can read and write its own linear memory, and
every check that matters is done by the host.
"""

from __future__ import annotations

import sys

# Built-in (C) modules no offered module imports but a scaffold could import before
# ``close_doors`` deleted ``_imp.create_builtin`` (after which no built-in module can be created):
# loaded now so they stay importable. ``_suggestions`` gives tracebacks their "Did you mean ...?"
# hints; ``_socket`` stays so that the host's refusal of every socket stays exercised (the sandbox's
# tests connect, bind and resolve from a scaffold). Skipped silently where they do not load.
KEEP_BUILTINS = (
    "_codecs_cn",
    "_codecs_hk",
    "_codecs_iso2022",
    "_codecs_jp",
    "_codecs_kr",
    "_codecs_tw",
    "_hmac",
    "_lsprof",
    "_multibytecodec",
    "_queue",
    "_socket",
    "_suggestions",
    "_symtable",
    "_sysconfig",
    "_tracemalloc",
    "atexit",
    "select",
)
# Modules no scaffold needs and attackers like: bytecode/code-object tooling and the marshal loader,
# an importer that bypasses sys.modules, crash and signal helpers, C parsers of untrusted bytes
# (``_elementtree`` wraps pyexpat), raw memory (ctypes is not built into this CPython; listed so it
# stays out). They are dropped from sys.modules and from every module global that holds them, and
# cannot be imported again.
REMOVED_MODULES = frozenset(
    {
        "dis",
        "opcode",
        "_opcode",
        "_opcode_metadata",
        "marshal",
        "zipimport",
        "faulthandler",
        "_signal",
        "_sqlite3",
        "pyexpat",
        "_elementtree",
        "ctypes",
        "_ctypes",
    }
)
# ``_imp`` functions that create a module or a code object behind the import system's back:
# ``create_builtin`` (any built-in module), ``get_frozen_object`` (unmarshals any bytes into a code
# object: marshal.loads by another name), ``init_frozen`` (executes a frozen module).
REMOVED_IMP = ("create_builtin", "get_frozen_object", "init_frozen")


def _no_frozen(name: str, *, withdata: bool = False) -> None:
    """``_imp.find_frozen`` from now on: nothing more is loaded from frozen code. What a scaffold may
    use is loaded already; left out: ``zipimport``, ``ntpath``, CPython's ``__hello__`` test modules,
    and ``importlib.util`` / ``runpy``, which never worked here (``importlib._abc`` is not in the
    snapshot)."""
    return None


def close_doors() -> None:
    import _imp
    import collections
    import types

    for name in KEEP_BUILTINS:
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - not built in here: simply not offered
            pass

    def removed(name: object) -> bool:
        return isinstance(name, str) and name.partition(".")[0] in REMOVED_MODULES

    def doomed(value: object) -> bool:
        """A removed module, or a function/class/built-in function that belongs to one."""
        if isinstance(value, types.ModuleType):
            return removed(getattr(value, "__name__", None))
        if isinstance(value, types.BuiltinFunctionType):
            owner = value.__self__
            return isinstance(owner, types.ModuleType) and removed(getattr(owner, "__name__", None))
        if isinstance(value, (types.FunctionType, type)):
            return removed(getattr(value, "__module__", None))
        return False

    for name in [n for n in sys.modules if removed(n)]:
        del sys.modules[name]
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if type(namespace) is dict:
            for key in [k for k, v in namespace.items() if doomed(v)]:
                del namespace[key]
    sys.path_hooks[:] = [h for h in sys.path_hooks if not doomed(h)]
    for key in [k for k, v in sys.path_importer_cache.items() if doomed(v) or doomed(type(v))]:
        del sys.path_importer_cache[key]
    sys.meta_path[:] = [f for f in sys.meta_path if not doomed(f) and not doomed(type(f))]

    for attr in REMOVED_IMP:
        if hasattr(_imp, attr):
            delattr(_imp, attr)
    # BuiltinImporter asks _imp.is_builtin (find_spec) and sys.builtin_module_names (create_module):
    # both now name only the built-in modules that exist (all loaded), so a removed one is "No module
    # named ..." / "not a built-in module" (ImportError) rather than a missing _imp function.
    kept = tuple(n for n in sys.builtin_module_names if n in sys.modules)
    sys.builtin_module_names = kept
    _imp.is_builtin = frozenset(kept).__contains__
    _imp.find_frozen = _no_frozen

    # inspect (imported by dataclasses; typing imports it lazily) only needs dis.Positions outside
    # getclosurevars (which needs dis.get_instructions, so it raises AttributeError here).
    inspect = sys.modules.get("inspect")
    if inspect is not None:
        Positions = collections.namedtuple(
            "Positions",
            ["lineno", "end_lineno", "col_offset", "end_col_offset"],
            defaults=(None, None, None, None),
            module="inspect",
        )
        inspect.__dict__["dis"] = types.SimpleNamespace(Positions=Positions)
