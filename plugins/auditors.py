"""Built-in auditors: a static AST hard-coding check and a dynamic solver-use check.

``hardcode`` flags a scaffold when (a) it never calls the solver, (b) it submits a constant, or
(c) the submitted value does not depend on any solver result (no data flow from ``solver_call`` /
``solver_logprobs`` / ``extract_choice`` into ``submit``). The data-flow check is a conservative
name-level taint analysis: it may miss a cleverly laundered constant, it does not flag honest code.
"""

from __future__ import annotations

import ast

from cgr.kernel.hookspecs import hookimpl

SOLVER_FUNCS = frozenset({"solver_call", "solver_logprobs"})
TAINT_SOURCES = SOLVER_FUNCS | {"extract_choice"}


def _called_name(node: ast.Call) -> str | None:
    f = node.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        return f.attr
    return None


def _names_in(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _calls_in(node: ast.AST) -> set[str]:
    return {name for n in ast.walk(node) if isinstance(n, ast.Call) and (name := _called_name(n))}


def _targets(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _tainted_names(tree: ast.AST) -> set[str]:
    """Names (variables and functions) whose value may derive from a solver result; fixed point."""
    tainted: set[str] = set()
    flows: list[tuple[set[str], set[str]]] = []  # (targets, names/calls used)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.NamedExpr)):
            value = node.value
            if value is None:
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            tgts = set().union(*(_targets(t) for t in targets))
            flows.append((tgts, _names_in(value) | _calls_in(value)))
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            flows.append((_targets(node.target), _names_in(node.iter) | _calls_in(node.iter)))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            # A function is tainted when anything in its body uses a tainted name or source.
            name = getattr(node, "name", None)
            if name:
                flows.append(({name}, _names_in(node) | _calls_in(node)))
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    flows.append((_targets(item.optional_vars), _names_in(item.context_expr)))
        elif isinstance(node, ast.Call):
            # x.append(tainted) / d.update(...) / list.sort(key=...) taint the receiver.
            if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
                used = set().union(*(_names_in(a) | _calls_in(a) for a in node.args), set())
                used |= set().union(*(_names_in(k.value) for k in node.keywords), set())
                flows.append(({node.func.value.id}, used))
    changed = True
    while changed:
        changed = False
        for tgts, used in flows:
            if used & (tainted | TAINT_SOURCES) and not tgts <= tainted:
                tainted |= tgts
                changed = True
    return tainted


def hardcode_findings(program: str) -> list[str]:
    """Reasons the program looks hard-coded (empty list = clean)."""
    try:
        tree = ast.parse(program)
    except SyntaxError as exc:
        return [f"does not parse: {exc.msg} (line {exc.lineno})"]
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    findings = []
    if not any(_called_name(c) in SOLVER_FUNCS for c in calls):
        findings.append("never calls the solver (no solver_call/solver_logprobs)")
    submits = [c for c in calls if _called_name(c) == "submit"]
    if not submits:
        findings.append("never calls submit")
    tainted = _tainted_names(tree)
    for call in submits:
        if not call.args:
            continue
        arg = call.args[0]
        where = f"line {call.lineno}"
        if isinstance(arg, ast.Constant):
            findings.append(f"submits the constant {arg.value!r} ({where})")
        elif not ((_names_in(arg) | _calls_in(arg)) & (tainted | TAINT_SOURCES)):
            findings.append(f"submitted value does not depend on any solver result ({where})")
    return findings


def hardcode(program: str, item: dict | None = None, assisted=None) -> tuple[str, str]:
    """Static AST check: flags constant or solver-independent submits and solver-free scaffolds."""
    findings = hardcode_findings(program)
    return ("flag", "; ".join(findings)) if findings else ("pass", "")


def solver_use(program: str, item: dict | None = None, assisted=None) -> tuple[str, str]:
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
    """The built-in auditors."""
    register("hardcode", hardcode)
    register("solver_use", solver_use)
