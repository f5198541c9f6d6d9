"""The in-guest scaffold runner.

This module runs *inside* the sandbox: CPython compiled to wasm32-wasip2 by componentize-py,
instantiated fresh for every scaffold. It is imported once at build time, and componentize-py
snapshots the interpreter heap after that import, so:

* every standard-library module a scaffold may import must be imported here (a module that
  is not in the snapshot cannot be imported at run time: there is no filesystem);
* ``random`` must be reseeded per run (the snapshot fixes its state).

Its helpers are the sibling modules ``guest_io`` (JSON, output streams, how an exception is
reported) and ``guest_doors`` (what is removed from the snapshot); in the guest all three are
top-level modules (componentize-py's app directory), on the host they are type-checked as the
package ``cgr.sandbox.guest``.

Nothing here is a security boundary: scaffold code can reach this module, the generated
bindings and componentize-py's import trampoline. Every check that matters (call budget,
argument validation, submit validation, output caps, time and memory limits) is done by the
host. The guest only shapes the scaffold API and reports how the program ended.

Threat model: the guest can read and write its own linear memory, so nothing secret may ever be
placed there. Removing modules from the snapshot (``guest_doors.close_doors``, called at the end
of this file: ``marshal``, ``dis``, ``zipimport``, ``_imp.create_builtin``, ...) is defence in
depth, not the boundary.
"""

from __future__ import annotations

import builtins
import gc
import linecache
import random
import sys
import time

# The builtins the runner itself uses, bound as module globals (which win over the ``builtins``
# module), so a scaffold that rebinds or deletes them in ``builtins`` cannot break the runner's
# own reporting of how it ended.
from builtins import (  # noqa: UP029 - bound on purpose (see above)
    AttributeError,
    BaseException,
    Exception,
    KeyError,
    RuntimeError,
    SystemExit,
    TypeError,
    ValueError,
    bool,
    float,
    getattr,
    int,
    len,
    object,
    str,
    tuple,
    type,
)
from builtins import compile as _compile
from builtins import exec as _exec
from builtins import isinstance as _isinstance
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

import wit_world
from componentize_py_types import Err

# The runner's helpers, captured now like the builtins above (a scaffold that rebinds one of these
# globals, e.g. ``_dumps``, changes what the runner reports; the host validates that report).
if TYPE_CHECKING:  # on the host: the package cgr.sandbox.guest
    from .guest_doors import close_doors as _close_doors
    from .guest_io import SCAFFOLD_FILE as _SCAFFOLD_FILE
    from .guest_io import dumps as _dumps
    from .guest_io import exc_line as _exc_line
    from .guest_io import flush as _flush
    from .guest_io import install_stdio as _install_stdio
    from .guest_io import loads as _loads
    from .guest_io import print_traceback as _print_traceback
    from .guest_io import type_name as _type_name
else:  # in the guest: top-level modules next to this one
    from guest_doors import close_doors as _close_doors
    from guest_io import SCAFFOLD_FILE as _SCAFFOLD_FILE
    from guest_io import dumps as _dumps
    from guest_io import exc_line as _exc_line
    from guest_io import flush as _flush
    from guest_io import install_stdio as _install_stdio
    from guest_io import loads as _loads
    from guest_io import print_traceback as _print_traceback
    from guest_io import type_name as _type_name

# Standard-library modules a scaffold may import (snapshotted at build time). Modules that
# do not import under WASI are skipped silently; ``AVAILABLE_MODULES`` lists the ones present.
_PRELOAD = (
    "abc",
    "array",
    "ast",
    "base64",
    "binascii",
    "bisect",
    "calendar",
    "cmath",
    "codecs",
    "collections",
    "collections.abc",
    "colorsys",
    "contextlib",
    "copy",
    "csv",
    "dataclasses",
    "datetime",
    "decimal",
    "difflib",
    "enum",
    "fnmatch",
    "fractions",
    "functools",
    "graphlib",
    "hashlib",
    "heapq",
    "html",
    "io",
    "itertools",
    "json",
    "keyword",
    "math",
    "numbers",
    "operator",
    "pprint",
    "random",
    "re",
    "reprlib",
    "shlex",
    "statistics",
    "string",
    "struct",
    "textwrap",
    "time",
    "tokenize",
    "traceback",
    "types",
    "typing",
    "unicodedata",
    "warnings",
    "weakref",
    "zlib",
)
AVAILABLE_MODULES: list[str] = []
for _name in _PRELOAD:
    try:
        __import__(_name)
    except Exception:  # noqa: BLE001 - a module missing under WASI is simply not offered
        continue
    AVAILABLE_MODULES.append(_name)
del _name

# wit_world.host_call, captured now (the generated bindings have no types on the host).
_host_call: Callable[[str, str], str] = wit_world.host_call

_install_stdio()


class HostError(RuntimeError):
    """The host-side solver or extractor failed (the message says why)."""


class CallBudgetExceeded(RuntimeError):
    """The run's solver-call budget (``max_calls``) is spent; this request was refused."""


# Shown without a module prefix in tracebacks, like the built-in exceptions they extend.
HostError.__module__ = "builtins"
CallBudgetExceeded.__module__ = "builtins"


class _Submitted(BaseException):
    """Raised by submit() to end the scaffold; caught by the runner."""


_ERRORS: dict[str, type[Exception]] = {
    "ValueError": ValueError,
    "TypeError": TypeError,
    "HostError": HostError,
    "CallBudgetExceeded": CallBudgetExceeded,
    "RuntimeError": RuntimeError,
}


def _call(op: str, args: dict[str, object]) -> Any:
    """One host crossing: JSON (ASCII-only) out, JSON back (checked by the host), host errors re-raised here."""
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


def solver_call(
    prompt: str,
    *,
    max_tokens: int = 256,
    temperature: float = 0.0,
    stop: str | list[str] | None = None,
    choices: list[str] | None = None,
) -> str:
    """One solver call; with ``choices`` the reply is exactly one of them."""
    reply: str = _call(
        "solve",
        {"prompt": prompt, "max_tokens": max_tokens, "temperature": temperature, "stop": stop, "choices": choices},
    )
    return reply


def solver_logprobs(prompt: str, continuations: list[str]) -> list[float]:
    """Log-likelihood of each continuation after ``prompt`` (one solver call)."""
    scores: list[float] = _call("logprobs", {"prompt": prompt, "continuations": continuations})
    return scores


def extract_choice(text: str) -> str | None:
    """The run's extractor chain applied to ``text``: a label of ITEM.labels, or None."""
    label: str | None = _call("extract", {"text": text})
    return label


def submit(label: object) -> NoReturn:
    """Submit the final answer (one of ITEM.labels) and end the scaffold."""
    if _isinstance(label, str):
        _call("submit", {"label": label})
    else:
        _call("submit", {"label": None, "type": type(label).__name__})
    raise _Submitted()


def _sleep(secs: object) -> None:
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
    id: str
    question: str
    choices: tuple[str, ...]
    labels: tuple[str, ...]
    context: str | None

    def __init__(self, data: dict[str, Any]) -> None:
        choices = tuple(str(c) for c in data.get("choices") or ())
        labels = tuple(str(x) for x in data.get("labels") or ())
        context = data.get("context")
        for key, value in (
            ("id", str(data.get("id", ""))),
            ("question", str(data.get("question", ""))),
            ("choices", choices),
            ("labels", labels),
            ("context", None if context is None else str(context)),
        ):
            object.__setattr__(self, key, value)

    def __setattr__(self, key: str, value: object) -> NoReturn:
        raise AttributeError("ITEM is read-only")

    def __delattr__(self, key: str) -> NoReturn:
        raise AttributeError("ITEM is read-only")

    def __getitem__(self, key: str) -> object:
        if key in Item.__slots__:
            return getattr(self, key)
        raise KeyError(key)

    def __repr__(self) -> str:
        return (
            f"ITEM(id={self.id!r}, question={self.question!r}, choices={self.choices!r}, "
            f"labels={self.labels!r}, context={self.context!r})"
        )


def _run(code: str, item_json: str, seed: int) -> dict[str, str | None]:
    outcome: dict[str, str | None] = {"kind": "done", "error": None, "exc_type": None}
    item = Item(_loads(item_json))
    random.seed(seed)
    env: dict[str, Any] = {
        "__name__": "__main__",
        "__doc__": None,
        "__builtins__": builtins,
        "ITEM": item,
        "solver_call": solver_call,
        "solver_logprobs": solver_logprobs,
        "extract_choice": extract_choice,
        "submit": submit,
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


_close_doors()
del _close_doors
# Whatever the removal left out of reach is not offered.
AVAILABLE_MODULES[:] = [m for m in AVAILABLE_MODULES if m in sys.modules]

# Everything alive now is part of the snapshot: move it out of the collector's generations so a
# scaffold's garbage collections do not traverse (and touch every page of) the whole snapshot heap.
gc.collect()
gc.freeze()


# componentize-py generates wit_world at build time: on the host it is untyped (Any).
class WitWorld(wit_world.WitWorld):  # type: ignore[misc]
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
