"""cgr.sandbox: run untrusted scaffold programs in CPython-on-WASI under wasmtime.

Knows nothing of the kernel: it takes a program, an item view, limits and one host callback,
and returns a typed :class:`SandboxResult`. See ``specs/scaffold_api.md`` for the contract.
"""

from ._core import STATUSES, HostError, Limits, Sandbox, SandboxResult

__all__ = ["Sandbox", "Limits", "SandboxResult", "HostError", "STATUSES"]
