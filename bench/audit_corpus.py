"""Audit corpus benchmark: recall and false-positive rate of the auditors, and what the dynamic ones cost.

* Quality: every file of ``tests/audit_corpus/{honest,hard_coded}`` is audited on its sample item
  (as ``cgr audit SCRIPT --item ITEM.json`` does) by three auditor sets: the static ones only
  (``--static-only``), the dynamic ones only, and the default set (all). Printed: recall and
  false-positive rate of each, and a per-family table of the default set (the README's table).
* Cost, per scaffold, measured in this run: the scaffold's own run (once in the sandbox with the
  ``--solver`` the pipeline would use: ``echo`` needs no model and is the sandbox-only lower bound;
  ``llama`` is the real default solver) against the dynamic auditors' work on it (a fresh session:
  every stand-in run of all auditors of one record). Printed: median, p90 and max of the ratio
  audit / own run, and sandbox runs per audit.

Usage: python bench/audit_corpus.py [--solver echo|llama] [--model NAME] [--limit N] [--misses]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cgr.kernel.api import SolverConfig  # noqa: E402
from cgr.kernel.bundle import load_bundle  # noqa: E402
from cgr.kernel.config import RunConfig  # noqa: E402
from cgr.plugins import audit_runs  # noqa: E402
from cgr.plugins.audit_command import auditors, needs_sandbox  # noqa: E402
from cgr.sandbox import Limits  # noqa: E402
from tests.audit_corpus.corpus import default_plugins, evaluate, load_cases, summary, table  # noqa: E402


def quality(plugins, cases, show_misses: bool) -> None:
    everything = plugins.auditors()
    sets = {
        "static only (--static-only)": auditors(plugins, static_only=True),
        "dynamic only": [e for e in everything if needs_sandbox(e)],
        "all (default)": everything,
    }
    print("| auditors | recall | false-positive rate |\n|---|---:|---:|")
    results = None
    for name, entries in sets.items():
        results = evaluate(entries, cases)
        s = summary(results)
        print(
            f"| {name} | {s['caught']}/{s['hard_coded']} = {s['recall']:.1%} | "
            f"{s['false_positives']}/{s['honest']} = {s['fpr']:.1%} |"
        )
    assert results is not None
    print("\nDefault auditor set, per family:\n")
    print(table(results))
    if show_misses:
        for r in results:
            if r.flagged != (r.case.kind == "hard_coded"):
                what = "missed" if r.case.kind == "hard_coded" else "false positive"
                print(f"  {what}: {r.case.path.relative_to(ROOT)} ({r.case.note}) {r.by}")


def cost(plugins, cases, solver_name: str, model: str | None) -> None:
    from cgr.kernel.pipeline import Engine

    items = {it.id: it for it in load_bundle().items}
    solver = plugins.solver(solver_name).obj(SolverConfig(model=model))
    engine = Engine(plugins, solver, None, solver_name, "bench", RunConfig(solver=solver_name, model=model))
    engine.sandbox.warm()
    audit_runs.shared_sandbox().warm()
    dynamic = [e for e in plugins.auditors() if needs_sandbox(e)]
    ratios, own_s, audit_s, runs = [], [], [], []
    for case in cases:
        item = items[case.item_id]
        start = time.perf_counter()
        engine.sandbox.run(case.program, item.guest_view(), engine.host_callback(item, []), Limits(), seed=0)
        own = time.perf_counter() - start
        view = dict(item.guest_view())
        if case.generator_answer:
            view["generator_answer"] = case.generator_answer
        audit_runs._sessions.clear()  # a fresh session: the whole cost of auditing one record
        start = time.perf_counter()
        for e in dynamic:
            e.obj(case.program, view, None)
        spent = time.perf_counter() - start
        runs.append(len(audit_runs.session(case.program, view).runs))
        ratios.append(spent / own)
        own_s.append(own)
        audit_s.append(spent)
    ratios.sort()
    print(f"\nCost of the dynamic auditors per record ({len(cases)} scaffolds, solver {solver_name}):")
    print(f"- the scaffold's own run: median {statistics.median(own_s) * 1e3:.1f} ms")
    print(
        f"- all dynamic auditors of one record: median {statistics.median(audit_s) * 1e3:.1f} ms, "
        f"max {max(audit_s) * 1e3:.1f} ms; sandbox runs per record median {statistics.median(runs):g}, "
        f"max {max(runs)}"
    )
    p90 = ratios[min(len(ratios) - 1, int(0.9 * len(ratios)))]
    print(
        f"- ratio audit / own run: median {statistics.median(ratios):.3g}x, p90 {p90:.3g}x, max {ratios[-1]:.3g}x; "
        f"all records together {sum(audit_s) / sum(own_s):.3g}x"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--solver", default="echo", help="solver of the scaffold's own run (echo: no model; llama)")
    ap.add_argument("--model", help="model for the solver")
    ap.add_argument("--limit", type=int, help="only the first N scaffolds of each kind")
    ap.add_argument("--misses", action="store_true", help="list the missed and falsely flagged files")
    ap.add_argument("--no-cost", action="store_true", help="skip the cost measurement")
    args = ap.parse_args(argv)
    plugins = default_plugins()
    cases = load_cases()
    if args.limit:
        cases = [c for c in cases if c.kind == "honest"][: args.limit] + [c for c in cases if c.kind == "hard_coded"][
            : args.limit
        ]
    quality(plugins, cases, args.misses)
    if not args.no_cost:
        cost(plugins, cases, args.solver, args.model)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
