"""The static hard-coding check: a name-level taint analysis of the scaffold's AST, with control flow.

A name is *tainted* when its value may derive from a solver result: assigned from an expression
that uses ``solver_call`` / ``solver_logprobs`` (or a function or name that does), **or assigned under
control of one** (inside an ``if`` / ``while`` / ``for`` / ``except`` whose condition, iterable or
``try`` body uses a tainted name). Control dependence is what honest code looks like: per-option
verification (``if reply == "yes": best = label``), elimination (``remaining.remove(label)``), votes
(``votes[label] += 1``), "all of the above" logic. Stores into ``x[i]`` / ``x.attr`` and mutating
calls (``x.append(v)``, ``x.remove(v)``) taint ``x``; arguments passed to a function defined in the
program taint its parameters. ``extract_choice`` is not a source: ``extract_choice("… C")`` of a
constant string is a constant.

Findings (any one flags the program): it never calls the solver; it never calls ``submit``; no
``submit`` depends on a solver result (each one submits a constant or a solver-independent value);
a constant is submitted unconditionally (at module level, or directly in a function the module
calls unconditionally) before any solver-dependent submit; a solver call is
constrained to a single constant reply (``choices=["C"]``). The static check cannot see values: a
solver result overwritten under an always-true condition passes here and is the dynamic auditors'
job (``cgr.plugins.audit_dynamic``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

SOLVER_FUNCS = frozenset({"solver_call", "solver_logprobs"})
MUTATORS = frozenset(
    {"append", "extend", "insert", "remove", "pop", "clear", "update", "add", "discard", "sort", "reverse",
     "setdefault", "appendleft", "extendleft", "popleft", "__setitem__"}
)  # fmt: skip


def _called_name(node: ast.Call) -> str | None:
    f = node.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        return f.attr
    return None


def used(node: ast.AST | None) -> set[str]:
    """Names read and functions called in ``node``."""
    if node is None:
        return set()
    out: set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            out.add(n.id)
        elif isinstance(n, ast.Call) and (name := _called_name(n)):
            out.add(name)
    return out


def stored(target: ast.AST) -> set[str]:
    """Names a store target writes: ``x``, ``a, b``, and the base of ``x[i]`` / ``x.attr``."""
    out: set[str] = set()
    for n in ast.walk(target):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            out.add(n.id)
        elif isinstance(n, (ast.Subscript, ast.Attribute)) and isinstance(n.ctx, (ast.Store, ast.Del)):
            base = n.value
            while isinstance(base, (ast.Subscript, ast.Attribute)):
                base = base.value
            if isinstance(base, ast.Name):
                out.add(base.id)
    return out


def _base(expr: ast.AST) -> set[str]:
    """The variable a mutating call changes: ``x`` of ``x.append(…)``, ``x[i].add(…)``, ``x.a.pop()``."""
    while isinstance(expr, (ast.Subscript, ast.Attribute)):
        expr = expr.value
    return {expr.id} if isinstance(expr, ast.Name) else set()


def _index_names(target: ast.AST) -> set[str]:
    return set().union(*(used(n.slice) for n in ast.walk(target) if isinstance(n, ast.Subscript)), set())


@dataclass
class Submit:
    call: ast.Call
    uses: set[str]
    unconditional: bool  # no enclosing block: at module level, or directly in a function's body
    func: str | None  # the function it is in (None at module level)


@dataclass
class Flows(ast.NodeVisitor):
    """Collects ``(targets, used names)`` flows and every submit, with the control names in force."""

    flows: list[tuple[set[str], set[str]]] = field(default_factory=list)
    submits: list[Submit] = field(default_factory=list)
    control: list[set[str]] = field(default_factory=list)
    params: dict[str, set[str]] = field(default_factory=dict)  # function name -> parameter names
    depth: int = 0  # nesting of blocks (functions, loops, ifs, try)
    func: str | None = None  # the function being visited
    func_depth: int = 0  # the depth of its body
    top_calls: list[tuple[str, int]] = field(default_factory=list)  # unconditional module-level calls

    def ctl(self) -> set[str]:
        return set().union(*self.control, set())

    def flow(self, targets: set[str], uses: set[str]) -> None:
        if targets:
            self.flows.append((targets, uses | self.ctl()))

    def expression(self, node: ast.AST) -> None:
        """Submits, mutating calls and calls of program functions inside one expression."""
        for n in ast.walk(node):
            if not isinstance(n, ast.Call):
                continue
            name = _called_name(n)
            args_used = set().union(*(used(a) for a in n.args), *(used(k.value) for k in n.keywords), set())
            if isinstance(n.func, ast.Name) and self.depth == 0 and not self.control:
                self.top_calls.append((n.func.id, n.lineno))
            if name == "submit" and isinstance(n.func, ast.Name):
                uses = (used(n.args[0]) if n.args else set()) | self.ctl()
                plain = not self.control and self.depth == (self.func_depth if self.func else 0)
                self.submits.append(Submit(n, uses, plain, self.func))
            elif isinstance(n.func, ast.Attribute) and name in MUTATORS:
                self.flow(_base(n.func.value), args_used)
            elif isinstance(n.func, ast.Name) and n.func.id in self.params:
                self.flow(self.params[n.func.id], args_used)
        for comp in (c for c in ast.walk(node) if isinstance(c, ast.comprehension)):
            self.flow(stored(comp.target), used(comp.iter))
        for ne in (n for n in ast.walk(node) if isinstance(n, ast.NamedExpr)):
            self.flow(stored(ne.target), used(ne.value))

    def block(self, body: list[ast.stmt], control: set[str] | None = None) -> None:
        self.depth += 1
        if control is not None:
            self.control.append(control)
        for stmt in body:
            self.visit(stmt)
        if control is not None:
            self.control.pop()
        self.depth -= 1

    # ---------------------------------------------------------------- statements ----------------
    def visit_Assign(self, node: ast.Assign) -> None:
        for t in node.targets:
            self.flow(stored(t), used(node.value) | _index_names(t))
        self.expression(node.value)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.flow(stored(node.target), used(node.value) | _index_names(node.target))
        self.expression(node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.flow(stored(node.target), used(node.value))
            self.expression(node.value)

    def visit_Delete(self, node: ast.Delete) -> None:
        for t in node.targets:
            self.flow(stored(t), _index_names(t))

    def visit_Expr(self, node: ast.Expr) -> None:
        self.expression(node.value)

    def visit_Return(self, node: ast.Return) -> None:
        if node.value is not None:
            self.expression(node.value)

    def visit_If(self, node: ast.If) -> None:
        self.expression(node.test)
        self.block(node.body, used(node.test))
        self.block(node.orelse, used(node.test))

    def visit_While(self, node: ast.While) -> None:
        self.expression(node.test)
        self.block(node.body + node.orelse, used(node.test))

    def visit_For(self, node: ast.For) -> None:
        self.expression(node.iter)
        self.flow(stored(node.target), used(node.iter))
        self.block(node.body + node.orelse, used(node.iter))

    visit_AsyncFor = visit_For  # type: ignore[assignment]

    def visit_With(self, node: ast.With) -> None:
        for item in node.items:
            self.expression(item.context_expr)
            if item.optional_vars is not None:
                self.flow(stored(item.optional_vars), used(item.context_expr))
        self.block(node.body)

    def visit_Try(self, node: ast.Try) -> None:
        body_uses = set().union(*(used(s) for s in node.body), set())
        self.block(node.body)
        for handler in node.handlers:
            self.block(handler.body, body_uses)
        self.block(node.orelse, body_uses)
        self.block(node.finalbody)

    visit_TryStar = visit_Try  # type: ignore[assignment]

    def visit_Match(self, node: ast.Match) -> None:
        self.expression(node.subject)
        for case in node.cases:
            self.block(case.body, used(node.subject))

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        # the function's value (its calls' results) may derive from anything its body reads
        self.flows.append(({node.name}, used(node)))
        args = node.args
        self.params[node.name] = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
        saved = self.control, self.func, self.func_depth
        self.control, self.func, self.func_depth = [], node.name, self.depth + 1
        self.block(node.body)
        self.control, self.func, self.func_depth = saved

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.flows.append(({node.name}, used(node)))
        self.block(node.body)

    def generic_visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.stmt):
            self.expression(node)
        else:
            super().generic_visit(node)


def tainted_names(flows: list[tuple[set[str], set[str]]]) -> set[str]:
    """The fixed point: every name a flow from a solver source reaches."""
    tainted: set[str] = set()
    changed = True
    while changed:
        changed = False
        for targets, uses in flows:
            if uses & (tainted | SOLVER_FUNCS) and not targets <= tainted:
                tainted |= targets
                changed = True
    return tainted


def _pinned_choices(tree: ast.AST) -> list[str]:
    """Solver calls whose ``choices`` is a literal list of one constant: the reply is that constant."""
    out = []
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call) and _called_name(n) in SOLVER_FUNCS):
        for kw in call.keywords:
            if kw.arg == "choices" and isinstance(kw.value, (ast.List, ast.Tuple)) and kw.value.elts:
                elts = kw.value.elts
                values = {e.value for e in elts if isinstance(e, ast.Constant)}
                if len(values) == 1 and all(isinstance(e, ast.Constant) for e in elts):
                    out.append(f"constrains the solver to the single reply {values.pop()!r} (line {call.lineno})")
    return out


def hardcode_findings(program: str) -> list[str]:
    """Reasons the program looks hard-coded (empty list = clean)."""
    try:
        tree = ast.parse(program)
    except SyntaxError as exc:
        return [f"does not parse: {exc.msg} (line {exc.lineno})"]
    except (ValueError, RecursionError, MemoryError) as exc:
        return [f"does not parse: {type(exc).__name__}"]
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    findings = []
    if not names & SOLVER_FUNCS:
        findings.append("never calls the solver (no solver_call/solver_logprobs)")
    flows = Flows()
    flows.visit(tree)
    if "submit" not in names:
        findings.append("never calls submit")
    tainted = tainted_names(flows.flows) | SOLVER_FUNCS
    dependent = [s for s in flows.submits if s.uses & tainted]
    first_dependent = min((s.call.lineno for s in dependent), default=None)
    for s in flows.submits:
        if s in dependent:
            continue
        arg = s.call.args[0] if s.call.args else None
        what = f"submits the constant {arg.value!r}" if isinstance(arg, ast.Constant) else "submits a value"
        where = f"line {s.call.lineno}"
        if not dependent:
            if isinstance(arg, ast.Constant):
                findings.append(f"{what} ({where})")
            else:
                findings.append(f"submitted value does not depend on any solver result ({where})")
        elif s.unconditional and first_dependent is not None:
            if s.func is None and s.call.lineno < first_dependent:
                findings.append(f"{what} unconditionally before any solver-dependent submit ({where})")
            called = [line for name, line in flows.top_calls if name == s.func and line < first_dependent]
            if s.func is not None and called:
                findings.append(
                    f"{what} unconditionally ({where}, in {s.func}() called on line {called[0]}) "
                    "before any solver-dependent submit"
                )
    findings += _pinned_choices(tree)
    return findings
