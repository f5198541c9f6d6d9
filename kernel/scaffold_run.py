"""``cgr sandbox run``: one scaffold, one item, one solver; the contract's JSON object."""

from __future__ import annotations

from cgr.kernel.api import SolverConfig
from cgr.kernel.bundle import load_bundle
from cgr.kernel.config import RunConfig
from cgr.kernel.manager import Plugins, load_plugins
from cgr.kernel.records import Item

CONTRACT_KEYS = ("status", "answer", "solver_calls", "stdout", "stderr", "elapsed_s", "error")


def sample_item() -> Item:
    """The built-in sample item: the first item of the shipped sample bundle."""
    return load_bundle().items[0]


def run_script(
    source: str,
    *,
    item: dict | None = None,
    solver: str = "llama",
    model: str | None = None,
    timeout_s: float = 30.0,
    memory_mb: int = 256,
    max_calls: int = 64,
    max_output_bytes: int = 64 * 1024,
    fuel: int | None = None,
    seed: int = 0,
    plugins: Plugins | None = None,
) -> dict:
    """Run ``source`` as a scaffold and return the ``cgr sandbox run --json`` object."""
    from cgr.kernel.pipeline import Engine
    from cgr.sandbox import Limits

    plugins = plugins or load_plugins()
    view = item or sample_item().guest_view()
    # The engine's host callback needs an Item; the gold answer is unknown here and never used.
    full = Item(id=view["id"], dataset="cli", task="cli", question=view["question"],
                choices=list(view["choices"]), labels=list(view["labels"]), answer=view["labels"][0],
                context=view.get("context"))
    config = RunConfig(solver=solver, model=model, seed=seed)  # the engine's limits are not used here
    solver_obj = plugins.solver(solver).obj(SolverConfig(model=model, seed=seed))
    engine = Engine(plugins, solver_obj, None, solver, "cli", config)
    trace: list = []
    limits = Limits(timeout_s=timeout_s, memory_mb=memory_mb, max_calls=max_calls,
                    max_output_bytes=max_output_bytes, fuel=fuel)
    result = engine.sandbox.run(source, full.guest_view(), engine.host_callback(full, trace), limits, seed=seed)
    out = result.to_dict()
    return {k: out[k] for k in CONTRACT_KEYS}
