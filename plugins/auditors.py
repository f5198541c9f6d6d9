"""Built-in auditors that need no sandbox: ``hardcode`` (static AST taint analysis with control flow,
see :mod:`cgr.plugins.audit_static`) and ``solver_use`` (the record made a solver call at run time).

The dynamic auditors (``counterfactual``, ``permutation``, ``generator_agreement``, ``leak``) run the
scaffold in the sandbox with stand-in solvers: :mod:`cgr.plugins.audit_dynamic`.
"""

from __future__ import annotations

from typing import Any

from cgr.kernel.hookspecs import hookimpl
from cgr.plugins.audit_static import SOLVER_FUNCS, hardcode_findings

__all__ = ["SOLVER_FUNCS", "hardcode", "hardcode_findings", "solver_use"]


def hardcode(program: str, item: dict[str, Any] | None = None, assisted: Any = None) -> tuple[str, str]:
    """Static AST check: constant or solver-independent submits, solver-free scaffolds, pinned replies."""
    findings = hardcode_findings(program)
    return ("flag", "; ".join(findings)) if findings else ("pass", "")


def solver_use(program: str, item: dict[str, Any] | None = None, assisted: Any = None) -> tuple[str, str]:
    """Dynamic check: the scaffold made at least one solver call when it ran."""
    if assisted is None:
        return ("pass", "not run (static audit only)")
    if assisted.status == "generator_error":
        return ("flag", "no scaffold was produced")
    if assisted.calls == 0:
        return ("flag", f"made no solver call at run time (status {assisted.status})")
    return ("pass", f"{assisted.calls} solver call(s)")


@hookimpl
def register_auditors(register) -> None:
    """The built-in auditors that need no sandbox."""
    register("hardcode", hardcode)
    register("solver_use", solver_use)
