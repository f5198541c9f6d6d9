"""Replay a run's scaffolds without a model: each recorded program runs again in the sandbox while
its solver calls are answered from the record's own call trace, in order.

A scaffold that asks for exactly what it asked before gets exactly the replies it got before, so
its status, answer and calls must come out the same. When they do not, the record does not
explain its own assisted answer: the program depends on something besides its calls (the clock,
say), or the record is incomplete. The first call that differs from the trace (another operation,
prompt or options, or more calls than recorded) is reported as the divergence.

The replay goes through the pipeline's own assisted channel (``Engine.assisted``) with a
:class:`TraceSolver` in place of the model, so validation, budgets, extraction and the status
mapping are the ones the run used. It needs the run's bundle for the items' text (the manifest
names it and its sha256; ``bundle=`` points elsewhere).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click

from cgr.kernel.api import Completion, Scaffold, Scores
from cgr.kernel.config import RunConfig
from cgr.kernel.hookspecs import hookimpl
from cgr.kernel.manager import Plugins, load_plugins
from cgr.kernel.records import Record, SolverCall
from cgr.kernel.store import StoreError, read_manifest, read_records
from cgr.plugins.run_bundle import load_run_bundle


class Diverged(RuntimeError):
    """The replayed program asked for something the trace does not have at this point."""


class TraceSolver:
    """A solver that answers from one record's call trace, in order, and notes the first divergence."""

    name = "trace"

    def __init__(self, trace: list[SolverCall]):
        self.calls = [c for c in trace if c.op != "extract"]  # extraction runs host-side again
        self.next = 0
        self.divergence: str | None = None

    def info(self) -> dict:
        return {"name": self.name, "model": None}

    def _take(self, op: str, prompt: str, options: dict) -> SolverCall:
        k = self.next
        self.next += 1
        if k >= len(self.calls):
            problem = f"call {k + 1}: {op} beyond the {len(self.calls)} recorded call(s)"
        else:
            rec = self.calls[k]
            if rec.truncated:
                problem = f"call {k + 1}: its trace was cut to the record's trace bound, so it cannot be replayed"
            elif (rec.op, rec.prompt, rec.options) == (op, prompt, options):
                if rec.error is not None:
                    raise _recorded_error(rec.error)
                return rec
            else:
                problem = (
                    f"call {k + 1}: recorded {rec.op}({_short(rec.prompt)}, {rec.options}), "
                    f"replayed {op}({_short(prompt)}, {options})"
                )
        if self.divergence is None:
            self.divergence = problem
        raise Diverged(f"replay diverged at {problem}")

    def complete(self, prompt, *, seed=None, **options) -> Completion:
        # the host callback passes exactly the options it records for the call (plus the call's
        # seed, which is derived from the item and the call's index and so needs no check)
        rec = self._take("solve", prompt, options)
        return Completion(text=str(rec.reply), prompt_tokens=rec.prompt_tokens, completion_tokens=rec.completion_tokens)

    def logprobs(self, prompt, continuations) -> list[float]:
        rec = self._take("logprobs", prompt, {"continuations": list(continuations)})
        reply = rec.reply if isinstance(rec.reply, list) else []
        return Scores(reply, prompt_tokens=rec.prompt_tokens)

    def label_logprobs(self, prompt, labels) -> list[float]:  # not reachable from a scaffold
        raise Diverged("label_logprobs is not a scaffold call")

    def unused(self) -> int:
        return max(0, len(self.calls) - self.next)


def _recorded_error(error: str) -> Exception:
    """The recorded solver failure again: the host records ``"<Type>: <message>"`` and shows the
    program ``solver failed: <that>``, so an exception of that name and message reproduces both."""
    name, _, message = error.partition(": ")
    if not name.isidentifier():
        name, message = "RuntimeError", error
    return type(name, (Exception,), {})(message)


def _short(text: str, n: int = 60) -> str:
    return repr(text if len(text) <= n else text[:n] + "…")


@dataclass
class Replayed:
    item_id: str
    match: bool
    recorded: dict  # status, answer, calls
    replayed: dict | None  # None when there was no program to run
    divergence: str | None
    stdout_match: bool | None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def replay_run(
    run_dir: Path | str, *, bundle: Path | str | None = None, limit: int | None = None, plugins: Plugins | None = None
) -> Iterator[Replayed]:
    """Replay every record of ``run_dir`` that has a program (the first ``limit``)."""
    from cgr.kernel.pipeline import Engine  # imports the sandbox: only when replaying

    manifest = read_manifest(run_dir)
    records: list[Record] = read_records(run_dir)[:limit]
    plugins = plugins or load_plugins()
    loaded = load_run_bundle(run_dir, bundle, readers=plugins.readers())  # sha256-checked; says --bundle
    source = loaded.path
    items = {it.id: it for it in loaded.items}
    config = RunConfig.model_validate({**manifest.config, "resume": False})
    engine = Engine(plugins, TraceSolver([]), None, "trace", "replay", config)
    for rec in records:
        was = {"status": rec.assisted.status, "answer": rec.assisted.answer, "calls": rec.assisted.calls}
        item = items.get(rec.item_id)
        if item is None:
            raise StoreError(f"{source}: has no item {rec.item_id!r} (recorded in {run_dir})")
        if not rec.assisted.program.strip():
            yield Replayed(rec.item_id, match=True, recorded=was, replayed=None, divergence=None, stdout_match=None)
            continue
        engine.solver = solver = TraceSolver(rec.assisted.trace)
        now = engine.assisted(item, Scaffold(source=rec.assisted.program))
        got = {"status": now.status, "answer": now.answer, "calls": now.calls}
        divergence = solver.divergence
        if divergence is None and solver.unused():
            divergence = f"made {solver.next} of the {len(solver.calls)} recorded call(s)"
        yield Replayed(
            rec.item_id,
            match=got == was and divergence is None,
            recorded=was,
            replayed=got,
            divergence=divergence,
            stdout_match=now.stdout == rec.assisted.stdout,
        )


@hookimpl
def register_commands(cli):
    @cli.command(epilog="\b\nExample:\n  cgr replay cgr-run --limit 20")
    @click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
    @click.option(
        "--bundle",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="The run's bundle, if not where run.json says (its sha256 must match).",
    )
    @click.option("--limit", type=click.IntRange(min=1), help="Only the first N records.")
    @click.option("--json", "as_json", is_flag=True, help="One JSON object per record.")
    def replay(run_dir, bundle, limit, as_json):
        """Re-run a run's scaffolds with their recorded solver replies (no model); exit 1 if any differs."""
        n = same = bare = 0
        for r in replay_run(run_dir, bundle=bundle, limit=limit):
            if r.replayed is None:  # no program (the generator failed): nothing to replay
                bare += 1
            else:
                n += 1
                same += r.match
            if as_json:
                click.echo(json.dumps(r.to_dict()))
            elif not r.match:
                click.echo(
                    f"{r.item_id}: recorded {r.recorded}, replayed {r.replayed}"
                    + (f"; {r.divergence}" if r.divergence else "")
                )
        if not as_json:
            click.echo(
                f"{n} record(s) replayed without a model: {same} reproduced, {n - same} differ"
                + (f"; {bare} without a program" if bare else "")
            )
        if same != n:
            raise SystemExit(1)


replay = replay_run  # the Python API's name (README)
