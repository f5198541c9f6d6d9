"""Solver benchmarks; every number is a ratio against a baseline measured in the same run.

1. direct throughput: cgr's llama solver (generate mode) vs bare llama-cpp-python loops over the
   same chat-formatted prompts and model file: from an empty cache per prompt, as cgr evaluates
   (target >= 0.95x), and reusing the KV cache across prompts, as cgr did before calls were made
   history-independent (the cost of that guarantee);
2. shared-prefix reuse: label scoring after a long few-shot prefix, warm KV cache (reused in whole
   64-token blocks) vs cold (the cache dropped before every call) (target >= 3x faster);
3. direct answer modes on the sample bundle: accuracy and time of generate+extract, grammar
   (constrained label) and next-token label log-probabilities;
4. extra buffer types (issue: AMX crash): the direct loop with the model loaded with llama.cpp's
   extra buffer types (repacked weights; AMX where present) vs without, interleaved; on a CPU with
   AMX, ``auto`` runs without them, so this is what that costs (or gains).

    python bench/bench_solver.py [--items N] [--model NAME|PATH] [--repeats R]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

from cgr.kernel.api import SolverConfig
from cgr.kernel.bundle import load_bundle
from cgr.kernel.chain import extract_label
from cgr.kernel.manager import load_plugins
from cgr.kernel.prompts import render_direct
from cgr.plugins.llama_solver import LlamaSolver


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_throughput(solver: LlamaSolver, items, repeats: int) -> tuple[float, float, float]:
    """Seconds for the direct loop: bare llama-cpp-python reusing its KV cache across prompts (what
    cgr did before prompts were evaluated history-independently), bare from an empty cache per
    prompt, and cgr's solver (medians, interleaved)."""
    import llama_cpp

    prompts = [solver.chat_prompt(render_direct(it.guest_view())) for it in items]
    bare = llama_cpp.Llama(
        model_path=str(solver.path),
        n_ctx=solver.config.n_ctx,
        n_threads=solver.n_threads,
        n_gpu_layers=-1 if solver.gpu_backend else 0,
        seed=0,
        logits_all=False,
        verbose=False,
    )

    def bare_loop(fresh: bool):
        for p in prompts:
            if fresh:
                bare.n_tokens = 0
            bare.create_completion(p, max_tokens=8, temperature=0.0, top_k=1, stop=["\n"], seed=0)

    def cgr_loop():
        for it in items:
            solver.complete(render_direct(it.guest_view()), max_tokens=8, temperature=0.0, stop=["\n"])

    bare_loop(False), bare_loop(True), cgr_loop()  # warm all
    t_reuse, t_fresh, t_cgr = [], [], []
    for _ in range(repeats):  # interleaved, so machine noise hits all alike
        t_reuse.append(timed(lambda: bare_loop(False)))
        t_fresh.append(timed(lambda: bare_loop(True)))
        t_cgr.append(timed(cgr_loop))
    return statistics.median(t_reuse), statistics.median(t_fresh), statistics.median(t_cgr)


def bench_prefix(solver: LlamaSolver, items, repeats: int) -> tuple[float, float]:
    shots = "\n\n".join(render_direct(it.guest_view()) + " " + it.answer for it in items[:5])
    questions = [shots + "\n\n" + render_direct(it.guest_view()) for it in items[5:25]]
    llm = solver.llm

    def warm():
        for q in questions:
            solver.label_logprobs(q, ["A", "B", "C", "D"])

    def cold():
        for q in questions:
            llm.n_tokens = 0  # drop the cache: the whole prompt is evaluated again
            solver.label_logprobs(q, ["A", "B", "C", "D"])

    warm()
    t_warm, t_cold = [], []
    for _ in range(repeats):
        t_cold.append(timed(cold))
        t_warm.append(timed(warm))
    n = len(questions)
    return statistics.median(t_cold) / n, statistics.median(t_warm) / n


def bench_extra_buffers(model, items, repeats: int) -> tuple[float, float]:
    """Seconds for the direct loop over ``items`` with extra buffer types on and off (medians)."""
    on = LlamaSolver(SolverConfig(model=model, options={"extra_buffers": "on"}))
    off = LlamaSolver(SolverConfig(model=model, options={"extra_buffers": "off"}))

    def loop(solver):
        for it in items:
            solver.complete(render_direct(it.guest_view()), max_tokens=8, temperature=0.0, stop=["\n"])

    loop(on), loop(off)  # warm both
    t_on, t_off = [], []
    for _ in range(repeats):
        t_on.append(timed(lambda: loop(on)))
        t_off.append(timed(lambda: loop(off)))
    return statistics.median(t_on), statistics.median(t_off)


def bench_modes(solver: LlamaSolver, items) -> dict[str, tuple[float, float, int]]:
    """Accuracy, seconds per item and no-answer count of each direct mode.

    Modes are interleaved item by item (machine noise hits all alike) and each call starts from
    an empty KV cache, so no mode profits from the prompt another mode just evaluated.
    """
    chain = load_plugins(entry_points=False).extractors()
    modes = ("generate", "grammar", "logprobs")
    right = dict.fromkeys(modes, 0)
    fails = dict.fromkeys(modes, 0)
    spent = dict.fromkeys(modes, 0.0)
    for it in items:
        prompt = render_direct(it.guest_view())
        for mode in modes:
            solver.llm.n_tokens = 0
            start = time.perf_counter()
            if mode == "logprobs":
                scores = solver.label_logprobs(prompt, it.labels)
                label = it.labels[max(range(len(scores)), key=scores.__getitem__)]
            else:
                text = solver.complete(
                    prompt,
                    max_tokens=8 if mode == "generate" else 4,
                    stop=["\n"] if mode == "generate" else None,
                    choices=list(it.labels) if mode == "grammar" else None,
                ).text
                label, _ = extract_label(chain, text, it.labels, it.choices)
            spent[mode] += time.perf_counter() - start
            right[mode] += label == it.answer
            fails[mode] += label is None
    return {m: (right[m] / len(items), spent[m] / len(items), fails[m]) for m in modes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=250, help="items of the sample bundle for the mode comparison")
    ap.add_argument("--model", default=None)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    solver = LlamaSolver(SolverConfig(model=args.model))
    items = load_bundle().items
    info = solver.info()
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} cores={__import__('os').cpu_count()} "
        f"| model {info['model']} | llama-cpp-python {info['llama_cpp_python']} | gpu_offload={info['gpu_offload']}"
    )

    t_reuse, t_fresh, t_cgr = bench_throughput(solver, items[:40], args.repeats)
    print(
        f"direct throughput (40 prompts): cgr {40 / t_cgr:.1f}/s = {t_fresh / t_cgr:.2f}x of a bare loop from an "
        f"empty cache ({40 / t_fresh:.1f}/s; target >= 0.95x), {t_reuse / t_cgr:.2f}x of a bare loop reusing "
        f"the cache across prompts ({40 / t_reuse:.1f}/s; cgr before it stopped doing that)"
    )
    cold, warm = bench_prefix(solver, items, args.repeats)
    print(
        f"shared-prefix reuse (5-shot prefix): cold {cold * 1e3:.1f} ms/call, warm {warm * 1e3:.1f} ms/call "
        f"= {cold / warm:.1f}x faster (target >= 3x)"
    )
    t_on, t_off = bench_extra_buffers(args.model, items[:40], args.repeats)
    print(
        f"extra buffer types (40 prompts, direct generate): on {40 / t_on:.1f}/s, off {40 / t_off:.1f}/s "
        f"= off runs at {t_on / t_off:.2f}x the speed of on | this CPU: {info['extra_buffers_reason']}"
    )
    modes = bench_modes(solver, items[: args.items])
    base = modes["generate"][1]
    print(f"direct answer modes on {min(args.items, len(items))} sample items:")
    for mode, (acc, per, fails) in modes.items():
        print(
            f"  {mode:<9} accuracy {acc:.3f}  {per * 1e3:7.1f} ms/item  {base / per:5.2f}x generate's speed"
            f"  no-answer {fails}"
        )


if __name__ == "__main__":
    main()
