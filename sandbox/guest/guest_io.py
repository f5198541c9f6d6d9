"""The in-guest runner's own I/O: JSON through the C accelerators, complete writes to fd 1 / fd 2,
and how an exception is reported (one line for the host, a traceback of the scaffold's frames).

Runs inside the sandbox, imported by ``guest_app`` (see there). The builtins used here are bound as
module globals (which win over the ``builtins`` module) and JSON goes through the C accelerators
only (``json.dumps`` / ``json.loads`` run Python code that looks names up in ``builtins``), both
captured at import time: a scaffold that rebinds json, the generated bindings or names in
``builtins`` cannot break the runner's own reporting (it can only hurt itself; the host
re-validates everything).
"""

from __future__ import annotations

import io
import json
import os
import sys
import traceback
from _json import encode_basestring_ascii as _c_encode_str
from _json import make_encoder as _c_make_encoder
from builtins import (  # noqa: UP029 - bound on purpose (see the docstring)
    BaseException,
    SyntaxError,
    TypeError,
    ValueError,
    getattr,
    id,
    len,
    set,
    str,
    type,
)
from builtins import isinstance as _isinstance
from builtins import memoryview as _memoryview
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

#: The file name scaffold code is compiled under; tracebacks keep only frames of this file.
SCAFFOLD_FILE = "<scaffold>"

# typeshed does not declare JSONDecoder.scan_once (set by its __init__: the C scanner here).
_scan_once: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_os_write = os.write


def _no_default(obj: object) -> NoReturn:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def dumps(obj: object) -> str:
    """``json.dumps(obj, ensure_ascii=True)`` for plain values (NaN/Infinity allowed, as json does)."""
    encode = _c_make_encoder({}, _no_default, _c_encode_str, None, ": ", ", ", False, False, True)
    return "".join(encode(obj, 0))


def loads(text: str) -> Any:
    """``json.loads`` of a JSON text the host wrote (no surrounding whitespace)."""
    try:
        value, end = _scan_once(text, 0)
    except StopIteration:
        raise ValueError("malformed JSON from the host") from None
    if end != len(text):
        raise ValueError("malformed JSON from the host")
    return value


class FullWriter(io.RawIOBase):
    """fd 1 / fd 2 as a raw stream whose writes are complete.

    A WASI output stream takes at most a few KiB per write; the interpreter's own unbuffered
    stdout/stderr (a TextIOWrapper straight over FileIO) drops the rest of a short write, so one
    large print would lose data silently and never reach the output cap.
    """

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def write(self, data: ReadableBuffer) -> int:
        view = _memoryview(data).cast("B")
        total = len(view)
        while view:
            written = _os_write(self._fd, view)
            if not written:
                break
            view = view[written:]
        return total


def text_stream(fd: int) -> io.TextIOWrapper:
    # Never raises on odd characters (a lone surrogate prints as an escape); written through,
    # so output reaches the host as it is written and a scaffold stopped by a limit keeps it.
    # typeshed types the wrapped stream as buffered (with .name); a raw one works (written through).
    raw = FullWriter(fd)
    return io.TextIOWrapper(
        raw,  # type: ignore[arg-type]
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=True,
        write_through=True,
    )


def install_stdio() -> None:
    """sys.stdout / sys.stderr (and the ``__stdout__`` / ``__stderr__`` the runner reports through)
    as complete-writing text streams over fd 1 / fd 2."""
    # typeshed declares sys.__stdout__ / sys.__stderr__ Final; replacing them is the point here.
    sys.stdout = sys.__stdout__ = text_stream(1)  # type: ignore[misc]
    sys.stderr = sys.__stderr__ = text_stream(2)  # type: ignore[misc]


def type_name(exc: BaseException) -> str:
    cls = type(exc)
    module = getattr(cls, "__module__", None)
    name: str = getattr(cls, "__qualname__", cls.__name__)
    return name if module in (None, "builtins", "__main__") else f"{module}.{name}"


def exc_line(exc: BaseException) -> str:
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
    return f"{type_name(exc)}: {text}" if text else type_name(exc)


def _only_scaffold_frames(te: traceback.TracebackException | None, seen: set[int]) -> None:
    """Drop the runner's own frames so the traceback shows the scaffold only."""
    if te is None or id(te) in seen:
        return
    seen.add(id(te))
    te.stack = traceback.StackSummary.from_list([f for f in te.stack if f.filename == SCAFFOLD_FILE])
    _only_scaffold_frames(te.__cause__, seen)
    _only_scaffold_frames(te.__context__, seen)
    for sub in getattr(te, "exceptions", None) or ():
        _only_scaffold_frames(sub, seen)


def _write_stderr(text: str) -> None:
    stream = sys.__stderr__
    if stream is not None:  # a scaffold may have set it to None: then nothing is written
        stream.write(text)


def print_traceback(exc: BaseException) -> None:
    try:
        te = traceback.TracebackException(type(exc), exc, exc.__traceback__, compact=True)
        _only_scaffold_frames(te, set())
        _write_stderr("".join(te.format()))
    except BaseException:  # noqa: BLE001 - e.g. MemoryError while formatting
        try:
            _write_stderr(exc_line(exc) + "\n")
        except BaseException:  # noqa: BLE001
            pass


def flush() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except BaseException:  # noqa: BLE001
            pass
