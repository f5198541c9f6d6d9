"""The ``cgr`` pytest plugin (entry point ``pytest11``): fixtures for testing cgr plugins.

The kernel's heavier modules are imported inside the fixtures: loading this plugin, which pytest
does in every run once cgr is installed, costs next to nothing.
"""

from __future__ import annotations

import pytest

from cgr.kernel.hookspecs import hookimpl

#: The name a solver *instance* given to ``cgr_sandbox_run`` is registered under.
INSTANCE_SOLVER = "cgr-testing-instance"


class _InstancePlugin:
    """Registers one ready-made solver instance, for ``cgr_sandbox_run(source, solver=obj)``."""

    def __init__(self, solver):
        self.solver = solver
        self.__name__ = f"cgr.testing:{getattr(solver, 'name', type(solver).__name__)}"

    @hookimpl
    def register_solvers(self, register) -> None:
        """The instance, whatever config the engine asks for."""
        register(INSTANCE_SOLVER, lambda config: self.solver, description="cgr.testing: a solver instance")


@pytest.fixture
def cgr_plugins():
    """A fresh plugin manager: cgr's built-ins plus every installed ``cgr`` entry point."""
    from cgr.kernel.manager import load_plugins

    return load_plugins()


@pytest.fixture
def cgr_item() -> dict:
    """A sample item's guest view (``id``, ``question``, ``choices``, ``labels``, ``context``)."""
    from cgr.testing import sample_item

    return sample_item()


@pytest.fixture
def cgr_records() -> list:
    """Four sample ``Record`` objects (two tasks), for testing reporters and commands without a run."""
    from cgr.testing import sample_records

    return sample_records()


@pytest.fixture
def cgr_check_solver(cgr_item):
    """``check(solver, *, item=None, deterministic=True) -> dict``: Solver protocol conformance."""
    from cgr.testing import check_solver

    def check(solver, *, item: dict | None = None, deterministic: bool = True) -> dict:
        return check_solver(solver, item=item or cgr_item, deterministic=deterministic)

    return check


@pytest.fixture
def cgr_sandbox_run(cgr_plugins, cgr_item):
    """``run(source, solver="echo", *, item=None, **limits) -> dict``: a scaffold in the real sandbox.

    ``solver`` is a registered solver name or a solver instance; the result is the
    ``cgr sandbox run --json`` object (``status``, ``answer``, ``solver_calls``, ``stdout``, …).
    Limits are ``run_script``'s keywords (``timeout_s``, ``memory_mb``, ``max_calls``, …).
    """
    from cgr.kernel.manager import load_plugins
    from cgr.plugins.sandbox_command import run_script
    from cgr.sandbox import Limits

    def run(source: str, solver="echo", *, item: dict | None = None, **limits) -> dict:
        plugins = cgr_plugins
        if not isinstance(solver, str):
            plugins = load_plugins(extra=(_InstancePlugin(solver),))
            solver = INSTANCE_SOLVER
        return run_script(source, item=item or cgr_item, solver=solver, plugins=plugins, limits=Limits(**limits))

    return run
