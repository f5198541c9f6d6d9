"""Batched solver calls: throughput of concurrent ``complete`` calls on ONE in-process llama model.

Part 1 (solver level, the way ``cgr run --workers W`` calls it): N prompts, W threads calling
``solver.complete`` at once, for W in ``--workers``; each W twice: ``batch_slots=1`` (today: the calls
queue on the solver's lock) and ``batch_slots=W`` (decoded together, ``llama_batch``). Ratios are
against workers=1 measured in the same run; "same" says whether every reply equals the workers=1 one.

Part 2 (llama level): the same N prompts through one ``BatchEngine``, one at a time vs all submitted
at once (N slots).

    python bench/bench_batched.py                      # CPU, default model, 16 prompts x 32 tokens
    python bench/bench_batched.py --gpu-layers -1      # on a GPU build of llama.cpp: offload all layers
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cgr.kernel.api import SolverConfig
from cgr.kernel.bundle import load_bundle
from cgr.plugins.llama_batch import BatchEngine
from cgr.plugins.llama_solver import load_solver


def machine(solver: Any) -> str:
    import llama_cpp

    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8", errors="replace"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{cpu}; {usable} usable CPUs (load average {os.getloadavg()[0]:.1f}); llama-cpp-python "
        f"{llama_cpp.__version__}; model {solver.model_name}; n_threads {solver.n_threads}; "
        f"gpu_layers {solver.gpu_layers} (gpu backend: {solver.gpu_backend})"
    )


def run_solver(config: SolverConfig, prompts: list[str], workers: int, max_tokens: int) -> tuple[float, list[Any]]:
    solver = load_solver(config)
    solver.complete(prompts[0], max_tokens=4)  # warm: the engine's context, pages of the weights
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        replies = list(pool.map(lambda p: solver.complete(p, max_tokens=max_tokens), prompts))
    return time.perf_counter() - start, replies


def header(title: str, versus: str) -> str:
    return f"{title:<34} {'seconds':>8} {'items/s':>8} {'tokens/s':>9} {versus:>8} {'same':>5}"


def row(label: str, seconds: float, n_items: int, tokens: int, base: tuple[float, float] | None, same: str) -> str:
    items_s, tok_s = n_items / seconds, tokens / seconds
    ratio = f"{tok_s / base[1]:6.2f}x" if base else "  1.00x"
    return f"{label:<34} {seconds:8.1f} {items_s:8.2f} {tok_s:9.1f} {ratio:>8} {same:>5}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="embedded model name or GGUF path (default: smollm2-135m)")
    ap.add_argument("--gpu-layers", type=int, default=None, help="n_gpu_layers (default: all on a GPU build)")
    ap.add_argument("--prompts", type=int, default=16, help="prompts per measurement (default 16)")
    ap.add_argument("--max-tokens", type=int, default=32, help="tokens per reply at most (default 32)")
    ap.add_argument("--workers", default="1,4,16", help="comma-separated worker counts (default 1,4,16)")
    ap.add_argument("--n-ctx", type=int, default=2048, help="context per sequence (default 2048)")
    args = ap.parse_args()
    workers = sorted({int(w) for w in args.workers.split(",")} | {1})
    items = load_bundle(None).items
    prompts = [f"Question: {items[i % len(items)].question}\nAnswer in one sentence." for i in range(args.prompts)]

    def config(slots: int) -> SolverConfig:
        options = {"batch_slots": slots} if slots > 1 else {}
        return SolverConfig(model=args.model, gpu_layers=args.gpu_layers, n_ctx=args.n_ctx, options=options)

    print(f"machine: {machine(load_solver(config(1)))}")
    print(f"{args.prompts} prompts x at most {args.max_tokens} tokens, greedy\n")
    print(header("solver level", "vs w=1"))
    base_t, base = run_solver(config(1), prompts, 1, args.max_tokens)
    base_tokens = sum(r.completion_tokens for r in base)
    base_rate = (args.prompts / base_t, base_tokens / base_t)
    print(row("workers=1 (batch_slots=1)", base_t, args.prompts, base_tokens, None, "-"))
    for w in workers[1:]:
        for slots, label in ((1, f"workers={w} batch_slots=1 (lock)"), (w, f"workers={w} batch_slots={w}")):
            t, replies = run_solver(config(slots), prompts, w, args.max_tokens)
            same = "yes" if [r.text for r in replies] == [r.text for r in base] else "NO"
            print(row(label, t, args.prompts, sum(r.completion_tokens for r in replies), base_rate, same))

    solver = load_solver(config(1))
    toks = [solver._tokens(solver.chat_prompt(p), bos=True) for p in prompts]
    engine = BatchEngine(solver.llm, slots=len(toks), n_ctx=args.n_ctx, n_threads=solver.n_threads)
    engine.generate(toks[0], max_tokens=4)
    decodes = engine.decodes
    start = time.perf_counter()
    alone = [engine.generate(t, max_tokens=args.max_tokens) for t in toks]
    t_seq = time.perf_counter() - start
    decodes_seq, decodes = engine.decodes - decodes, engine.decodes
    start = time.perf_counter()
    reqs = [engine.submit(t, max_tokens=args.max_tokens) for t in toks]
    for r in reqs:
        r.done.wait()
    t_batch = time.perf_counter() - start
    decodes_batch = engine.decodes - decodes
    n_seq = sum(r.completion_tokens for r in alone)
    together = [r.reply for r in reqs]
    same = "yes" if [r.text for r in alone] == [r.text for r in together if r] else "NO"
    print("\n" + header("llama level (one BatchEngine)", "vs seq"))
    print(row(f"{len(toks)} prompts one at a time", t_seq, len(toks), n_seq, None, "-"))
    n_b = sum(r.completion_tokens for r in together if r)
    print(row(f"{len(toks)} prompts in one batch", t_batch, len(toks), n_b, (len(toks) / t_seq, n_seq / t_seq), same))
    n_prompt = sum(map(len, toks))
    print(
        f"llama_decode calls: {decodes_seq} one at a time, {decodes_batch} in one batch "
        f"({n_prompt} prompt tokens, {n_seq} generated tokens)"
    )


if __name__ == "__main__":
    main()
