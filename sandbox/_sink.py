"""Opt-in output capture through two unlinked temporary files (``Sandbox(output_files=True)``).

Why: wasmtime's custom output stream (``wasi_config_set_stdout_custom``, the default capture) hands
every write to a background task, and a guest write that follows another waits for that task: a
thread hand-off per write, about 0.1 ms on an idle machine and milliseconds on a busy one, so a
scaffold's few ``print`` calls can cost more than the rest of its run. A file (wasmtime's
``OutputFile``) is written synchronously by the guest's own thread.

The cap is kept, with the same outcome: the host looks at both files' sizes at every host call,
at every epoch tick and at the end of the run, and a stream over ``max_output_bytes`` stops the run
with ``output_cap`` (the callback capture stops it at the next host call or epoch tick as well).
What a guest writes past the cap before the next look is cut off there (the file is truncated to
the cap plus one byte; later writes only leave holes) and never read: only the first
``max_output_bytes`` of each stream come back. The files live in a private directory (mode 0700)
and are unlinked as soon as wasmtime has opened them; the host keeps its own descriptors.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

STREAMS = ("stdout", "stderr")


class OutputFiles:
    """stdout and stderr of one run; used by the thread running it only."""

    def __init__(self, directory: str, cap: int) -> None:
        self.cap = cap
        self.paths: list[str] = []
        self.fds: list[int] = []
        try:
            for name in STREAMS:
                fd, path = tempfile.mkstemp(prefix=f"{name}-", dir=directory)
                self.fds.append(fd)
                self.paths.append(path)
        except BaseException:
            self.close()
            raise

    def unlink(self) -> None:
        """Remove the names (wasmtime and this object keep the open files)."""
        for path in self.paths:
            with contextlib.suppress(OSError):
                os.unlink(path)
        self.paths = []

    def over_cap(self) -> str | None:
        """The first stream ("stdout" / "stderr") past the cap, else None; cuts what is past it."""
        for name, fd in zip(STREAMS, self.fds):
            if os.fstat(fd).st_size > self.cap:
                os.ftruncate(fd, self.cap + 1)
                return name
        return None

    def read(self) -> tuple[bytes, bytes]:
        """The first ``cap`` bytes of stdout and of stderr."""
        out = []
        for fd in self.fds:
            chunks, at = [], 0
            while at < self.cap:
                chunk = os.pread(fd, self.cap - at, at)
                if not chunk:
                    break
                chunks.append(chunk)
                at += len(chunk)
            out.append(b"".join(chunks))
        return out[0], out[1]

    def close(self) -> None:
        self.unlink()
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds = []
