"""Cloze scoring speed: cgr's ``--direct-mode cloze`` vs lm-evaluation-harness, same GGUF, threads, items.

Three ways to score every option of the same items, measured in one run (ratios, not absolute
numbers, are the result):

1. **cgr cloze**: ``cgr.plugins.direct_modes.answer_in_mode(..., "cloze")`` with the llama solver: the
   question prefix evaluated once per item, all options scored in one batched decode;
2. **lm-eval**: lm-evaluation-harness 0.4.13 (``lm_eval --model gguf``, its own venv) against
   ``bench/lmeval_cloze.py``'s loopback endpoint on the same GGUF and threads; each
   context+option pair is one request, evaluated from scratch (the ``scoring`` time runs from its
   first request to its last reply: lm-eval's start-up is reported apart);
3. **per-pair, in-process** ("lm-eval-style", no HTTP, no harness): each context+option pair
   evaluated from scratch in one forward pass by llama-cpp-python, on the solver's own model.

    python bench/bench_cloze.py [--items N] [--threads T]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lmeval_cloze  # noqa: E402

from cgr.kernel.api import SolverConfig  # noqa: E402
from cgr.kernel.bundle import load_bundle  # noqa: E402
from cgr.kernel.manager import load_plugins  # noqa: E402
from cgr.kernel.prompts import render_cloze  # noqa: E402
from cgr.plugins.direct_modes import answer_in_mode  # noqa: E402
from cgr.plugins.llama_solver import load_solver  # noqa: E402


def cgr_cloze(solver, chain, items) -> tuple[float, list[str | None]]:
    start = time.perf_counter()
    answers = [answer_in_mode(solver, chain, it, "cloze", max_tokens=8).label for it in items]
    return time.perf_counter() - start, answers


def per_pair(model: Path, threads: int, items) -> float:
    """Each context+option pair from scratch in one forward pass (llama-cpp-python, logits_all)."""
    import llama_cpp

    llm = llama_cpp.Llama(
        model_path=str(model),
        n_ctx=2048,
        n_threads=threads,
        n_threads_batch=threads,
        n_ubatch=32,
        flash_attn=True,
        n_gpu_layers=0,
        logits_all=True,
        verbose=False,
    )
    start = time.perf_counter()
    for it in items:
        context = render_cloze(it.guest_view())
        for choice in it.choices:
            llm.reset()
            llm.eval(llm.tokenize((context + " " + choice).encode("utf-8"), add_bos=True, special=False))
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    items = load_bundle(None).items[: args.items]
    solver = load_solver(SolverConfig(n_threads=args.threads))
    chain = load_plugins().extractors()
    cgr_cloze(solver, chain, items[:3])  # warm: the scoring context is made on first use
    first, answers = cgr_cloze(solver, chain, items)
    timing: dict = {}
    samples, lm_wall, version = lmeval_cloze.run_lmeval(items, solver.path, args.threads, "cgr", timing)
    pairs = per_pair(solver.path, args.threads, items)
    second, again = cgr_cloze(solver, chain, items)
    assert again == answers
    cgr_s = (first + second) / 2
    by_id = {it.id: it for it in items}
    lm_choice = {s["doc"]["id"]: lmeval_cloze.per_item(s, by_id[s["doc"]["id"]].labels) for s in samples}
    agree = sum(lm_choice[it.id]["acc_bytes_choice"] == a for it, a in zip(items, answers))
    n = len(items)
    report = {
        "items": n,
        "options": sum(len(it.choices) for it in items),
        "threads": args.threads,
        "model": solver.model_name,
        "lm_eval": version,
        "cgr_cloze_items_per_s": round(n / cgr_s, 2),
        "lmeval_scoring_items_per_s": round(n / timing["scoring_s"], 2),
        "lmeval_wall_items_per_s": round(n / lm_wall, 2),
        "per_pair_items_per_s": round(n / pairs, 2),
        "ratio_vs_lmeval_scoring": round(timing["scoring_s"] / cgr_s, 2),
        "ratio_vs_lmeval_wall": round(lm_wall / cgr_s, 2),
        "ratio_vs_per_pair": round(pairs / cgr_s, 2),
        "same_choice_as_lmeval_acc_bytes": f"{agree}/{n}",
        "cpu": platform.processor() or platform.machine(),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
