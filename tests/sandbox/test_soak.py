"""Soak: many hostile and honest scaffolds in one process. No crash, bounded RSS, every outcome recorded.

``bench/bench_sandbox.py --soak 1000`` runs the same mix at full size and prints the figures.
"""

from __future__ import annotations

import collections
import gc
import time
from dataclasses import replace

import pytest

from cgr.sandbox import STATUSES, Limits, Sandbox

from .test_hostile import ATTACKS, ITEM, SECRETS, HostileHost

HONEST = [
    "submit(ITEM.labels[1])\n",
    "r = solver_call('Q: ' + ITEM.question, max_tokens=8)\nsubmit(extract_choice('answer is A') or 'B')\n",
    "s = solver_logprobs(ITEM.question, list(ITEM.choices))\nsubmit(ITEM.labels[s.index(max(s))])\n",
    "import json, re, collections\nwords = collections.Counter(re.findall(r'\\w+', ITEM.question))\n"
    "print(json.dumps(words.most_common(2)))\nsubmit(solver_call('pick', choices=list(ITEM.labels)))\n",
    "data = [list(range(1000)) for _ in range(200)]\nprint(sum(map(sum, data)))\nsubmit('C')\n",
]
PLACEHOLDERS = {"@PATH@": "/no/such/file", "@ENV@": "CGR_SOAK_NOTHING", "@PORT@": "9", "@UDP_PORT@": "9"}


def scaffold_mix() -> list[tuple[str, str, Limits]]:
    """(name, source, limits): every hostile attack (timeouts shortened to 0.2 s) and honest ones."""
    mix = []
    for attack in ATTACKS:
        source = attack.source
        for key, value in PLACEHOLDERS.items():
            source = source.replace(key, value)
        limits = Limits(**attack.limits)
        if limits.timeout_s < 1 or attack.status == "timeout":
            limits = replace(limits, timeout_s=0.2)
        mix.append((attack.id, source, limits))
    honest = [(f"honest_{i}", src, Limits(timeout_s=10)) for i, src in enumerate(HONEST)]
    # one honest scaffold after every hostile one
    out = []
    for i, entry in enumerate(mix):
        out += [entry, honest[i % len(honest)]]
    return out


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def soak(sandbox: Sandbox, n: int) -> dict:
    """Run ``n`` scaffolds from the mix (after one warm-up pass); return counts and RSS figures."""
    mix = scaffold_mix()
    host = HostileHost()
    for _name, source, limits in mix:  # warm-up: pools, both engine variants, allocator arenas
        sandbox.run(source, ITEM, host, limits)
    gc.collect()
    before = rss_mb()
    counts: collections.Counter = collections.Counter()
    bad = []
    start = time.perf_counter()
    for i in range(n):
        name, source, limits = mix[i % len(mix)]
        host.seen.clear()
        result = sandbox.run(source, ITEM, host, limits)
        counts[result.status] += 1
        texts = (result.stdout, result.stderr, result.error or "", result.answer or "", repr(host.seen))
        if result.status not in STATUSES or any(s in t for s in SECRETS for t in texts):
            bad.append((name, result))
    elapsed = time.perf_counter() - start
    gc.collect()
    after = rss_mb()
    return {
        "runs": n,
        "counts": dict(counts),
        "bad": bad,
        "rss_before_mb": before,
        "rss_after_mb": after,
        "rss_growth_mb": after - before,
        "seconds": elapsed,
    }


@pytest.mark.slow
def test_soak_150(sandbox):
    report = soak(sandbox, 150)
    assert report["bad"] == []
    assert sum(report["counts"].values()) == 150
    assert set(report["counts"]) >= {"ok", "error", "timeout", "memory", "output_cap", "call_budget", "no_submit"}
    assert report["rss_growth_mb"] < 100, report
