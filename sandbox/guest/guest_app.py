"""The in-guest scaffold runner.

This module runs *inside* the sandbox: CPython compiled to wasm32-wasip2 by componentize-py,
instantiated fresh for every scaffold. It is imported once at build time, and componentize-py
snapshots the interpreter heap after that import, so:

* every standard-library module a scaffold may import must be imported here (a module that
  is not in the snapshot cannot be imported at run time: there is no filesystem);
* ``random`` must be reseeded per run (the snapshot fixes its state).

Nothing here is a security boundary: scaffold code can reach this module, the generated
bindings and componentize-py's import trampoline. Every check that matters (call budget,
argument validation, submit validation, output caps, time and memory limits) is done by the
host. The guest only shapes the scaffold API and reports how the program ended.

Threat model: the guest can read and write its own linear memory, so nothing secret may ever be
placed there. Removing modules from the snapshot (``_close_doors`` at the end of this file:
``marshal``, ``dis``, ``zipimport``, ``_imp.create_builtin``, ...) is defence in depth, not the
boundary.
"""

import builtins
import gc
import io
import json
import linecache
import os
import random
import sys
import time
import traceback

import wit_world
from componentize_py_types import Err

# Standard-library modules a scaffold may import (snapshotted at build time). Modules that
# do not import under WASI are skipped silently; ``AVAILABLE_MODULES`` lists the ones present.
_PRELOAD = (
    "abc", "array", "ast", "base64", "binascii", "bisect", "calendar", "cmath", "codecs",
    "collections", "collections.abc", "colorsys", "contextlib", "copy", "csv", "dataclasses",
    "datetime", "decimal", "difflib", "enum", "fnmatch", "fractions", "functools", "graphlib",
    "hashlib", "heapq", "html", "io", "itertools", "json", "keyword", "math", "numbers",
    "operator", "pprint", "random", "re", "reprlib", "shlex", "statistics", "string",
    "struct", "textwrap", "time", "tokenize", "traceback", "types", "typing", "unicodedata",
    "warnings", "weakref", "zlib",
)
AVAILABLE_MODULES = []
for _name in _PRELOAD:
    try:
        __import__(_name)
    except Exception:  # noqa: BLE001 - a module missing under WASI is simply not offered
        continue
    AVAILABLE_MODULES.append(_name)
del _name

# The builtins the runner itself uses, bound as module globals (which win over the ``builtins``
# module), so a scaffold that rebinds or deletes them in ``builtins`` cannot break the runner's
# own reporting of how it ended.
from builtins import (  # noqa: E402,A004
    AttributeError, BaseException, Exception, KeyError, RuntimeError, SyntaxError, SystemExit, TypeError,
    ValueError, bool, float, getattr, id, int, isinstance, len, object, set, str, tuple, type,
)

# JSON both ways through the C accelerators only (json.dumps / json.loads run Python code that
# looks names up in ``builtins``), captured now: a scaffold that rebinds json.dumps,
# wit_world.host_call or builtins cannot break the runner's own reporting (it can only hurt
# itself; the host re-validates everything).
from _json import encode_basestring_ascii as _c_encode_str  # noqa: E402
from _json import make_encoder as _c_make_encoder  # noqa: E402

_scan_once = json.JSONDecoder().scan_once


def _no_default(obj):
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _dumps(obj):
    """``json.dumps(obj, ensure_ascii=True)`` for plain values (NaN/Infinity allowed, as json does)."""
    encode = _c_make_encoder({}, _no_default, _c_encode_str, None, ": ", ", ", False, False, True)
    return "".join(encode(obj, 0))


def _loads(text):
    """``json.loads`` of a JSON text the host wrote (no surrounding whitespace)."""
    try:
        value, end = _scan_once(text, 0)
    except StopIteration:
        raise ValueError("malformed JSON from the host") from None
    if end != len(text):
        raise ValueError("malformed JSON from the host")
    return value


_host_call = wit_world.host_call
_os_write = os.write
_memoryview = builtins.memoryview
_exec = builtins.exec
_compile = builtins.compile
_isinstance = builtins.isinstance

_SCAFFOLD_FILE = "<scaffold>"


class _FullWriter(io.RawIOBase):
    """fd 1 / fd 2 as a raw stream whose writes are complete.

    A WASI output stream takes at most a few KiB per write; the interpreter's own unbuffered
    stdout/stderr (a TextIOWrapper straight over FileIO) drops the rest of a short write, so one
    large print would lose data silently and never reach the output cap.
    """

    def __init__(self, fd):
        super().__init__()
        self._fd = fd

    def writable(self):
        return True

    def fileno(self):
        return self._fd

    def write(self, data):
        view = _memoryview(data).cast("B")
        total = len(view)
        while view:
            written = _os_write(self._fd, view)
            if not written:
                break
            view = view[written:]
        return total


def _text_stream(fd):
    # Never raises on odd characters (a lone surrogate prints as an escape); written through,
    # so output reaches the host as it is written and a scaffold stopped by a limit keeps it.
    return io.TextIOWrapper(_FullWriter(fd), encoding="utf-8", errors="backslashreplace", line_buffering=True,
                            write_through=True)


sys.stdout = sys.__stdout__ = _text_stream(1)
sys.stderr = sys.__stderr__ = _text_stream(2)


class HostError(RuntimeError):
    """The host-side solver or extractor failed (the message says why)."""


class CallBudgetExceeded(RuntimeError):
    """The run's solver-call budget (``max_calls``) is spent; this request was refused."""


# Shown without a module prefix in tracebacks, like the built-in exceptions they extend.
HostError.__module__ = "builtins"
CallBudgetExceeded.__module__ = "builtins"


class _Submitted(BaseException):
    """Raised by submit() to end the scaffold; caught by the runner."""


_ERRORS = {
    "ValueError": ValueError,
    "TypeError": TypeError,
    "HostError": HostError,
    "CallBudgetExceeded": CallBudgetExceeded,
    "RuntimeError": RuntimeError,
}


def _call(op, args):
    """One host crossing: JSON (ASCII-only) out, JSON back, host errors re-raised here."""
    try:
        payload = _dumps(args)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{op}: argument is not a plain str/number/list value: {exc}") from None
    try:
        reply = _host_call(op, payload)
    except Err as err:
        try:
            info = _loads(err.value)
            kind, message = info.get("type"), info.get("message")
        except Exception:  # noqa: BLE001
            kind, message = "HostError", str(err.value)
        raise _ERRORS.get(kind, HostError)(message) from None
    return _loads(reply)


def solver_call(prompt, *, max_tokens=256, temperature=0.0, stop=None, choices=None):
    """One solver call; with ``choices`` the reply is exactly one of them."""
    return _call("solve", {"prompt": prompt, "max_tokens": max_tokens,
                           "temperature": temperature, "stop": stop, "choices": choices})


def solver_logprobs(prompt, continuations):
    """Log-likelihood of each continuation after ``prompt`` (one solver call)."""
    return _call("logprobs", {"prompt": prompt, "continuations": continuations})


def extract_choice(text):
    """The run's extractor chain applied to ``text``: a label of ITEM.labels, or None."""
    return _call("extract", {"text": text})


def submit(label):
    """Submit the final answer (one of ITEM.labels) and end the scaffold."""
    if _isinstance(label, str):
        _call("submit", {"label": label})
    else:
        _call("submit", {"label": None, "type": type(label).__name__})
    raise _Submitted()


def _sleep(secs):
    """time.sleep for the sandbox: the host sleeps, so the wall-clock limit can wake it."""
    if not _isinstance(secs, (int, float)) or _isinstance(secs, bool):
        raise TypeError(f"'{type(secs).__name__}' object cannot be interpreted as an integer or float")
    if secs != secs or secs < 0:
        raise ValueError("sleep length must be non-negative")
    if secs:
        _call("sleep", {"seconds": float(secs)})


_sleep.__name__ = _sleep.__qualname__ = "sleep"
time.sleep = _sleep


class Item:
    """The read-only item view given to scaffolds as ``ITEM`` (never the gold answer)."""

    __slots__ = ("id", "question", "choices", "labels", "context")

    def __init__(self, data):
        choices = tuple(str(c) for c in data.get("choices") or ())
        labels = tuple(str(x) for x in data.get("labels") or ())
        context = data.get("context")
        for key, value in (("id", str(data.get("id", ""))), ("question", str(data.get("question", ""))),
                           ("choices", choices), ("labels", labels),
                           ("context", None if context is None else str(context))):
            object.__setattr__(self, key, value)

    def __setattr__(self, key, value):
        raise AttributeError("ITEM is read-only")

    def __delattr__(self, key):
        raise AttributeError("ITEM is read-only")

    def __getitem__(self, key):
        if key in Item.__slots__:
            return getattr(self, key)
        raise KeyError(key)

    def __repr__(self):
        return (f"ITEM(id={self.id!r}, question={self.question!r}, choices={self.choices!r}, "
                f"labels={self.labels!r}, context={self.context!r})")


def _type_name(exc):
    cls = type(exc)
    module = getattr(cls, "__module__", None)
    name = getattr(cls, "__qualname__", cls.__name__)
    return name if module in (None, "builtins", "__main__") else f"{module}.{name}"


def _exc_line(exc):
    """The last line of a traceback: ``Type: message`` (first line of the message, capped)."""
    try:
        text = str(exc)
    except BaseException:  # noqa: BLE001
        text = "<exception str() failed>"
    if _isinstance(exc, SyntaxError) and exc.lineno:
        text = f"{exc.msg} (line {exc.lineno})"
    text = text.strip().splitlines()[0] if text.strip() else ""
    if len(text) > 500:
        text = text[:500] + "..."
    return f"{_type_name(exc)}: {text}" if text else _type_name(exc)


def _only_scaffold_frames(te, seen):
    """Drop the runner's own frames so the traceback shows the scaffold only."""
    if te is None or id(te) in seen:
        return
    seen.add(id(te))
    te.stack = traceback.StackSummary.from_list([f for f in te.stack if f.filename == _SCAFFOLD_FILE])
    _only_scaffold_frames(te.__cause__, seen)
    _only_scaffold_frames(te.__context__, seen)
    for sub in getattr(te, "exceptions", None) or ():
        _only_scaffold_frames(sub, seen)


def _print_traceback(exc):
    try:
        te = traceback.TracebackException(type(exc), exc, exc.__traceback__, compact=True)
        _only_scaffold_frames(te, set())
        sys.__stderr__.write("".join(te.format()))
    except BaseException:  # noqa: BLE001 - e.g. MemoryError while formatting
        try:
            sys.__stderr__.write(_exc_line(exc) + "\n")
        except BaseException:  # noqa: BLE001
            pass


def _flush():
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001
            pass


def _run(code, item_json, seed):
    outcome = {"kind": "done", "error": None, "exc_type": None}
    item = Item(_loads(item_json))
    random.seed(seed)
    env = {
        "__name__": "__main__", "__doc__": None, "__builtins__": builtins,
        "ITEM": item, "solver_call": solver_call, "solver_logprobs": solver_logprobs,
        "extract_choice": extract_choice, "submit": submit,
    }
    linecache.cache[_SCAFFOLD_FILE] = (len(code), None, code.splitlines(True), _SCAFFOLD_FILE)
    try:
        program = _compile(code, _SCAFFOLD_FILE, "exec", dont_inherit=True)
    except BaseException as exc:  # SyntaxError, or MemoryError/RecursionError: too deeply nested
        outcome.update(kind="syntax", error=_exc_line(exc), exc_type=_type_name(exc))
        _print_traceback(exc)
        return outcome
    try:
        _host_call("phase", '"exec"')  # tells the host that a stack overflow from now on is not a syntax problem
    except Err:
        pass
    try:
        _exec(program, env)
    except _Submitted:
        pass
    except SystemExit:
        pass
    except BaseException as exc:  # noqa: BLE001 - every ending is a typed outcome
        outcome.update(kind="exception", error=_exc_line(exc), exc_type=_type_name(exc))
        _print_traceback(exc)
    return outcome


# ------------------------------------------------------------------------------ fewer doors ---
# Built-in (C) modules no offered module imports but a scaffold could import before
# ``_close_doors`` deleted ``_imp.create_builtin`` (after which no built-in module can be created):
# loaded now so they stay importable. ``_suggestions`` gives tracebacks their "Did you mean ...?"
# hints; ``_socket`` stays so that the host's refusal of every socket stays exercised (the sandbox's
# tests connect, bind and resolve from a scaffold). Skipped silently where they do not load.
_KEEP_BUILTINS = (
    "_codecs_cn", "_codecs_hk", "_codecs_iso2022", "_codecs_jp", "_codecs_kr", "_codecs_tw", "_hmac",
    "_lsprof", "_multibytecodec", "_queue", "_socket", "_suggestions", "_symtable", "_sysconfig",
    "_tracemalloc", "atexit", "select",
)
# Modules no scaffold needs and attackers like: bytecode/code-object tooling and the marshal loader,
# an importer that bypasses sys.modules, crash and signal helpers, C parsers of untrusted bytes
# (``_elementtree`` wraps pyexpat), raw memory (ctypes is not built into this CPython; listed so it
# stays out). They are dropped from sys.modules and from every module global that holds them, and
# cannot be imported again.
_REMOVED_MODULES = frozenset({
    "dis", "opcode", "_opcode", "_opcode_metadata", "marshal", "zipimport", "faulthandler", "_signal",
    "_sqlite3", "pyexpat", "_elementtree", "ctypes", "_ctypes",
})
# ``_imp`` functions that create a module or a code object behind the import system's back:
# ``create_builtin`` (any built-in module), ``get_frozen_object`` (unmarshals any bytes into a code
# object: marshal.loads by another name), ``init_frozen`` (executes a frozen module).
_REMOVED_IMP = ("create_builtin", "get_frozen_object", "init_frozen")


def _no_frozen(name, *, withdata=False):
    """``_imp.find_frozen`` from now on: nothing more is loaded from frozen code. What a scaffold may
    use is loaded already; left out: ``zipimport``, ``ntpath``, CPython's ``__hello__`` test modules,
    and ``importlib.util`` / ``runpy``, which never worked here (``importlib._abc`` is not in the
    snapshot)."""
    return None


def _close_doors():
    import _imp
    import collections
    import types

    for name in _KEEP_BUILTINS:
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - not built in here: simply not offered
            pass

    def removed(name):
        return _isinstance(name, str) and name.partition(".")[0] in _REMOVED_MODULES

    def doomed(value):
        """A removed module, or a function/class/built-in function that belongs to one."""
        if _isinstance(value, types.ModuleType):
            return removed(getattr(value, "__name__", None))
        if _isinstance(value, types.BuiltinFunctionType):
            owner = value.__self__
            return _isinstance(owner, types.ModuleType) and removed(getattr(owner, "__name__", None))
        if _isinstance(value, (types.FunctionType, type)):
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

    for attr in _REMOVED_IMP:
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
        positions = collections.namedtuple("Positions", ["lineno", "end_lineno", "col_offset", "end_col_offset"],
                                           defaults=[None] * 4, module="inspect")
        inspect.dis = types.SimpleNamespace(Positions=positions)


_close_doors()
del _close_doors
# Whatever the removal left out of reach is not offered.
AVAILABLE_MODULES[:] = [m for m in AVAILABLE_MODULES if m in sys.modules]

# Everything alive now is part of the snapshot: move it out of the collector's generations so a
# scaffold's garbage collections do not traverse (and touch every page of) the whole snapshot heap.
gc.collect()
gc.freeze()


class WitWorld(wit_world.WitWorld):
    def run(self, code: str, item: str, seed: int) -> str:
        try:
            outcome = _run(code, item, seed)
        except BaseException as exc:  # noqa: BLE001 - a runner failure is still an outcome
            outcome = {"kind": "exception", "error": "runner: " + _exc_line(exc), "exc_type": _type_name(exc)}
        _flush()
        try:
            return _dumps(outcome)
        except BaseException:  # noqa: BLE001
            return '{"kind": "exception", "error": "runner: outcome not serializable", "exc_type": null}'
