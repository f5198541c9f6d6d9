"""``cgr sandbox run``: one scaffold, one item, one solver; the contract's JSON object (DESIGN.md)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from cgr.kernel.api import SolverConfig
from cgr.kernel.bundle import DEFAULT_LABELS, BundleError, load_bundle, parse_item
from cgr.kernel.config import RunConfig
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.manager import Plugins, load_plugins
from cgr.kernel.records import Item
from cgr.plugins.run_options import limit_options
from cgr.sandbox import Limits

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
    limits: Limits | None = None,
    seed: int = 0,
    plugins: Plugins | None = None,
) -> dict:
    """Run ``source`` as a scaffold and return the ``cgr sandbox run --json`` object."""
    from cgr.kernel.pipeline import Engine

    plugins = plugins or load_plugins()
    view = item or sample_item().guest_view()
    # The engine's host callback needs an Item; the gold answer is unknown here and never used.
    full = Item(
        id=view["id"],
        dataset="cli",
        task="cli",
        question=view["question"],
        choices=list(view["choices"]),
        labels=list(view["labels"]),
        answer=view["labels"][0],
        context=view.get("context"),
    )
    config = RunConfig(solver=solver, model=model, seed=seed)  # the engine's limits are not used here
    solver_obj = plugins.solver(solver).obj(SolverConfig(model=model, seed=seed))
    engine = Engine(plugins, solver_obj, None, solver, "cli", config)
    trace: list = []
    limits = limits or Limits()
    result = engine.sandbox.run(source, full.guest_view(), engine.host_callback(full, trace), limits, seed=seed)
    out = result.to_dict()
    return {k: out[k] for k in CONTRACT_KEYS}


def load_item(path: Path) -> dict:
    """An item file for a single scaffold: a bundle line, or just question/choices (no gold needed)."""
    try:
        obj = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise BundleError(path, exc.lineno, None, f"invalid JSON: {exc.msg}") from None
    if isinstance(obj, dict):
        # The scaffold never sees the gold answer, so an item file may omit it (and id, dataset).
        obj = {"id": path.stem, "dataset": "cli", **obj}
        if "answer" not in obj and isinstance(obj.get("choices"), list) and obj["choices"]:
            labels = obj.get("labels") or list(DEFAULT_LABELS[: len(obj["choices"])])
            obj["answer"] = labels[0] if isinstance(labels, list) and labels else "A"
    return parse_item(obj, path, 1).guest_view()


@hookimpl
def register_commands(cli):
    @cli.group(epilog="\b\nExample:\n  cgr sandbox run scaffold.py --item item.json --solver echo --json")
    def sandbox():
        """Run scaffolds in the WebAssembly sandbox."""

    @sandbox.command("run", epilog="\b\nExample:\n  cgr sandbox run scaffold.py --item item.json --solver echo --json")
    @click.argument("script", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option(
        "--item",
        "item_path",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Item JSON (default: a built-in sample item).",
    )
    @click.option("--solver", default="llama", show_default=True, help="Solver plugin; `echo` needs no model.")
    @click.option("--model", help="Model for the solver.")
    @limit_options
    @click.option("--seed", type=int, default=0, show_default=True)
    @click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object.")
    def sandbox_run(script, item_path, solver, model, limits, seed, as_json):
        """Run SCRIPT as a scaffold; exit 0 whenever it ran, whatever it did."""
        try:
            item = load_item(item_path) if item_path else None
        except BundleError as exc:  # a bad --item is a usage error of this command (exit 2)
            raise click.BadParameter(str(exc), param_hint="--item") from None
        result = run_script(
            script.read_text(errors="surrogateescape"), item=item, solver=solver, model=model, limits=limits, seed=seed
        )
        if as_json:
            click.echo(json.dumps(result))
            return
        click.echo(
            f"status: {result['status']}  answer: {result['answer']}  solver calls: {result['solver_calls']}"
            f"  elapsed: {result['elapsed_s']:.3f}s"
        )
        if result["error"]:
            click.echo(f"error: {result['error']}")
        if result["stdout"]:
            click.echo("--- stdout ---\n" + result["stdout"].rstrip())
        if result["stderr"]:
            click.echo("--- stderr ---\n" + result["stderr"].rstrip())
