"""Accuracy that respects the audit, several direct modes and the best one, the budget-matched baseline
without its zero-call items, and intervals that are honest at small n (issue 11)."""

import json

import numpy as np
import pytest
from scipy import stats as sps

from cgr.kernel.records import (
    AssistedChannel,
    Audit,
    BudgetChannel,
    DirectChannel,
    GeneratorChannel,
    Record,
)
from cgr.plugins import stats_interval as si
from cgr.plugins.reports import format_comparison, format_markdown, format_table
from cgr.plugins.stats import cells, compare, partitions, report

if "direct_modes" in Record.__struct_fields__:
    ModesRecord = Record
else:  # until kernel/records.py has the field: a test-only subclass with it

    class ModesRecord(Record, kw_only=True):  # type: ignore[no-redef]
        direct_modes: dict[str, DirectChannel] = {}


def rec(task, d, a, i=0, *, flag=False, modes=None, calls=3, budget=None, greedy=None, n_task=None):
    """One record; ``modes``: extra direct modes {mode: correct}; ``budget``: the baseline's correctness."""
    kw = {}
    if modes is not None:
        kw["direct_modes"] = {m: DirectChannel(answer="A", correct=bool(c), calls=1, mode=m) for m, c in modes.items()}
    return (ModesRecord if modes is not None else Record)(
        item_id=f"{task}-{i}",
        dataset="ds",
        task=task,
        solver="s",
        generator="g",
        gold="A",
        direct=DirectChannel(answer="A" if d else "B", correct=bool(d), calls=1),
        assisted=AssistedChannel(answer="A" if a else "B", correct=bool(a), calls=calls),
        generator_side=GeneratorChannel(answer=None, correct=False, calls=0),
        audits=[Audit(auditor="taint", verdict="flag" if flag else "pass")],
        budget_matched=None
        if budget is None
        else BudgetChannel(
            answer="A", correct=bool(budget), calls=calls, greedy=None if greedy is None else "AB"[1 - greedy]
        ),
        **kw,
    )


# ------------------------------------------------------------------ assisted_clean -----------


def test_a_flagged_scaffold_counts_as_wrong_in_assisted_clean():
    # t1: 4 items, assisted right on 3, one of those flagged; t2: 2 items, both right, none flagged
    records = [rec("t1", 0, 1, 0, flag=True), rec("t1", 0, 1, 1), rec("t1", 1, 1, 2), rec("t1", 0, 0, 3, flag=True)]
    records += [rec("t2", 0, 1, 0), rec("t2", 1, 1, 1)]
    rows = {c["task"]: c for c in cells(records)}
    assert rows["t1"]["assisted_acc"] == 0.75 and rows["t1"]["assisted_clean_acc"] == 0.5
    assert rows["t1"]["flagged"] == 2 and rows["t1"]["flag_rate"] == 0.5
    assert rows["t2"]["assisted_clean_acc"] == rows["t2"]["assisted_acc"] == 1.0
    p = partitions(records, resamples=300)["all"]
    assert p["macro_assisted"] == pytest.approx(0.875) and p["macro_assisted_clean"] == pytest.approx(0.75)
    assert p["flag_rate"] == pytest.approx(2 / 6)
    clean = p["comparisons"]["assisted_clean_vs_direct"]
    assert p["macro_direct"] == pytest.approx(0.375)
    assert clean["delta"] == pytest.approx(0.75 - 0.375) == p["delta_clean"]
    assert clean["ci_low"] <= clean["delta"] <= clean["ci_high"]
    assert p["delta"] == pytest.approx(0.875 - 0.375)  # assisted itself unchanged
    text = format_table(report(records, resamples=200))
    assert "clean=0.750" in text and "flagged=33.3%" in text and "assisted_clean - best direct:" in text


def test_json_keeps_the_design_contract_and_extends_it():
    records = [rec("t", i % 2, 1, i, flag=i == 0) for i in range(6)]
    rep = json.loads(json.dumps(report(records, resamples=200)))  # plain JSON all the way down
    cell = rep["cells"][0]
    calls = ("direct_calls", "assisted_calls", "generator_calls")
    for key in ("n", "direct_acc", "assisted_acc", "generator_acc", *calls):
        assert key in cell
    assert cell["assisted_clean_acc"] == pytest.approx(5 / 6)
    assert set(rep["partitions"]) == {"all", "nonzero_baseline", "gate_0.30"}
    for p in rep["partitions"].values():
        for key in ("n_cells", "macro_direct", "macro_assisted", "delta", "ci_low", "ci_high", "macro_assisted_clean"):
            assert key in p
    assert "BCa" in rep["bootstrap"]["interval"] and "score" in rep["bootstrap"]["interval"]
    assert "chosen on these data" in rep["bootstrap"]["best_direct"]


# ------------------------------------------------------------------ direct modes --------------


def test_each_direct_mode_per_cell_and_the_best_one_per_partition():
    # primary mode generate: t1 1/4, t2 2/4; cloze: t1 3/4, t2 1/4 (macro .5 vs .375); logprobs 0/4, 0/4
    gen = {"t1": [1, 0, 0, 0], "t2": [1, 1, 0, 0]}
    cloze = {"t1": [1, 1, 1, 0], "t2": [0, 0, 0, 1]}
    assisted = {"t1": [1, 1, 1, 1], "t2": [1, 0, 1, 0]}
    records = [
        rec(t, gen[t][i], assisted[t][i], i, modes={"cloze": cloze[t][i], "logprobs": 0}) for t in gen for i in range(4)
    ]
    rows = {c["task"]: c for c in cells(records)}
    assert rows["t1"]["direct_modes"] == {
        "cloze": {"n": 4, "acc": 0.75},
        "generate": {"n": 4, "acc": 0.25},
        "logprobs": {"n": 4, "acc": 0.0},
    }
    assert rows["t1"]["direct_mode"] == "generate"
    p = partitions(records, resamples=300)["all"]
    assert p["direct_modes"] == {"cloze": 0.5, "generate": 0.375, "logprobs": 0.0}
    assert p["best_direct"] == {"mode": "cloze", "macro": 0.5, "chosen_on_data": True}
    vs_best = p["comparisons"]["assisted_vs_best_direct"]
    assert vs_best["delta"] == pytest.approx(0.75 - 0.5) == p["delta_vs_best"]
    assert vs_best["base"] == "best direct (cloze)"
    assert p["delta"] == pytest.approx(0.75 - 0.375)  # the contract's delta stays against the primary mode
    assert p["comparisons"]["assisted_clean_vs_best_direct"]["delta"] == pytest.approx(0.25)
    # the gate partition chooses its own best mode on its own cells: only t2 (generate .5 > .3)
    gate = partitions(records, tau=0.3, resamples=300)["gate_0.30"]
    assert gate["n_cells"] == 1 and gate["best_direct"]["mode"] == "generate"
    rep = report(records, resamples=300)
    text = format_table(rep)
    lead = text.splitlines()[0]
    assert rep["partitions"]["all"]["comparisons"]["assisted_vs_best_direct"] == vs_best  # seeded: the same
    assert lead.startswith(f"assisted - best direct:       {vs_best['delta']:+.3f} [{vs_best['ci_low']:+.3f}")
    assert "best direct mode: cloze" in text and "chosen on these data: optimistic for direct" in text
    header = text.splitlines()[4]
    assert header.split()[:7] == ["solver", "task", "n", "direct", "cloze", "logprobs", "assisted"]
    md = format_markdown(report(records, resamples=200))
    assert "| all | assisted - best direct (cloze) |" in md and "| 0.500 (cloze) |" in md


def test_records_without_extra_modes_and_ties_go_to_the_primary_mode():
    plain = [rec("t", i % 2, 1, i) for i in range(4)]  # no direct_modes at all (older records)
    p = partitions(plain, resamples=200)["all"]
    assert p["best_direct"]["mode"] == "generate" and p["direct_modes"] == {"generate": 0.5}
    assert p["comparisons"]["assisted_vs_best_direct"]["delta"] == p["delta"]
    tie = [rec("t", i % 2, 1, i, modes={"cloze": (i + 1) % 2}) for i in range(4)]  # both .5
    assert partitions(tie, resamples=200)["all"]["best_direct"]["mode"] == "generate"


def test_a_mode_missing_on_some_items_is_not_a_candidate():
    records = [rec("t", 0, 1, i, modes={"cloze": 1} if i < 3 else {}) for i in range(4)]
    rep = report(records, resamples=200)
    assert rep["cells"][0]["direct_modes"]["cloze"] == {"n": 3, "acc": 1.0}
    assert rep["partitions"]["all"]["best_direct"]["mode"] == "generate"  # cloze 1.0 but not on every item
    assert any("cloze missing on some items" in w for w in rep["warnings"])
    assert "1.00 (3)" in format_table(rep)


# ------------------------------------------------------------------ budget-matched baseline ---


def test_zero_call_items_are_left_out_of_the_budget_comparison_and_counted():
    # 4 items with a baseline (right on 1) + 2 items whose scaffold made no call (assisted right on both)
    records = [rec("t", 0, a, i, budget=b) for i, (a, b) in enumerate([(1, 1), (1, 0), (0, 0), (1, 0)])]
    records += [rec("t", 0, 1, 4 + i, calls=0) for i in range(2)]
    cell = cells(records)[0]
    assert cell["budget_acc"] == 0.25 and cell["budget_n"] == 4 and cell["budget_zero_call_items"] == 2
    p = partitions(records, resamples=300)["all"]
    assert p["macro_budget"] == 0.25  # the old report counted the zero-call items as misses: 1/6
    assert p["budget_items"] == 4 and p["budget_zero_call_items"] == 2
    assert p["macro_assisted_budget_items"] == 0.75
    assert p["delta_vs_budget"] == pytest.approx(0.5) == p["comparisons"]["assisted_vs_budget"]["delta"]
    assert p["ci_low_vs_budget"] <= 0.5 <= p["ci_high_vs_budget"]
    assert "2 zero-call items left out" in format_table(report(records, resamples=200))


def test_the_baselines_one_call_greedy_answer_is_shown_beside_it():
    # the baseline is right on 1 of 4, its own greedy answer on 3 of 4: the report says both
    pairs = [(1, 1), (0, 1), (0, 1), (0, 0)]
    records = [rec("t", 0, 1, i, budget=b, greedy=g) for i, (b, g) in enumerate(pairs)]
    cell = cells(records)[0]
    assert cell["budget_acc"] == 0.25 and cell["budget_greedy_acc"] == 0.75
    assert partitions(records, resamples=200)["all"]["macro_budget_greedy"] == 0.75
    assert "(0.250 on 4 items, its one-call greedy 0.750," in format_table(report(records, resamples=200))


def test_no_budget_comparison_without_the_baseline():
    p = partitions([rec("t", 0, 1, i) for i in range(3)], resamples=200)["all"]
    assert "macro_budget" not in p and "assisted_vs_budget" not in p["comparisons"]
    assert "budget" not in format_table(report([rec("t", 0, 1, i) for i in range(3)], resamples=200))


# ------------------------------------------------------------------ small n -------------------

# The issue's run: 10 items, the first of the sample bundle (4 cells of 2 items, 2 of 1). Patterns are
# (direct, assisted); a 2-item cell whose two items moved the same way, and the 1-item cells, never vary
# under resampling, so a bootstrap sees almost no uncertainty.
ISSUE = {
    "arc_easy": [(0, 0), (0, 0)],
    "arc_challenge": [(0, 0), (1, 1)],
    "openbookqa": [(0, 1), (0, 1)],
    "sciq": [(0, 0), (1, 0)],
    "mmlu_high_school_geography": [(0, 1)],
    "mmlu_high_school_biology": [(0, 0)],
}


def issue_records():
    return [rec(t, d, a, i) for t, ps in ISSUE.items() for i, (d, a) in enumerate(ps)]


def issue_pairs():
    return [(np.array([d for d, _ in ps], float), np.array([a for _, a in ps], float)) for ps in ISSUE.values()]


def test_the_issue_example_at_n_10_gets_an_interval_consistent_with_mcnemar():
    pairs = issue_pairs()
    replicates = si.bootstrap_distribution(pairs, resamples=2000, seed=0)
    old = si.percentile_interval(replicates)
    assert old == pytest.approx((1 / 6, 1 / 3))  # what the report showed: +0.250 [+0.167, +0.333]
    assert si.mcnemar_p(pairs) == pytest.approx(0.625)
    assert si.disagreement({"ci_low": old[0], "ci_high": old[1], "mcnemar_p": 0.625}) is not None
    low, high = si.bca_interval(pairs, replicates)  # BCa alone cannot see variability the cells lack
    assert 1 / 6 - 1e-9 <= low and high <= 1 / 3 + 1e-9

    p = partitions(issue_records(), resamples=2000)["all"]
    assert p["delta"] == pytest.approx(0.25) and p["n_items"] == 10 and p["mcnemar_p"] == pytest.approx(0.625)
    assert p["ci_low"] < 0 < 0.25 < 1 / 3 < p["ci_high"]  # wider, and consistent with the test
    assert p["ci_high"] - p["ci_low"] > 2 * (old[1] - old[0])
    assert p["exact_p"] == pytest.approx(0.5)  # 4 of 16 sign patterns reach +-0.25 each way
    assert si.disagreement(p) is None
    rep = report(issue_records(), resamples=2000)
    assert any(w.startswith("6 of 6 cells have fewer than 30 items") for w in rep["warnings"])
    text = format_table(rep)
    assert "warning: 6 of 6 cells have fewer than 30 items" in text and "cells=6 (6 with < 30)" in text


def test_the_interval_covers_at_small_n_where_the_bootstrap_does_not():
    """Coverage of the true macro difference over simulated runs shaped like the issue's (6 cells, 10 items)."""
    rng = np.random.default_rng(11)
    sizes, hits_new, hits_old, sims = [2, 2, 2, 2, 1, 1], 0, 0, 300
    for s in range(sims):
        probs = rng.dirichlet([2, 1, 1, 2], size=len(sizes))  # both right, only assisted, only direct, neither
        truth = float(np.mean(probs[:, 1] - probs[:, 2]))
        pairs = []
        for n, p in zip(sizes, probs):
            kind = rng.choice(4, size=n, p=p)
            pairs.append((np.isin(kind, [0, 2]).astype(float), np.isin(kind, [0, 1]).astype(float)))
        result = si.paired_difference(pairs, resamples=400, seed=s)
        hits_new += result["ci_low"] <= truth <= result["ci_high"]
        old = si.percentile_interval(si.bootstrap_distribution(pairs, resamples=400, seed=s))
        hits_old += old[0] <= truth <= old[1]
    assert hits_new / sims >= 0.88 and hits_old / sims <= 0.7


def test_at_large_n_the_interval_is_the_bootstrap_one():
    rng = np.random.default_rng(5)
    pairs = [((rng.random(250) < 0.3).astype(float), (rng.random(250) < 0.4).astype(float)) for _ in range(10)]
    r = si.paired_difference(pairs, resamples=2000, seed=0)
    (bl, bh), (sl, sh) = r["ci_bootstrap"], r["ci_score"]
    assert abs(bl - sl) < 0.01 and abs(bh - sh) < 0.01
    assert r["ci_low"] == min(bl, sl) and r["ci_high"] == max(bh, sh)
    assert r["exact_p"] == pytest.approx(r["mcnemar_p"], rel=1e-6)  # equal cells: macro = pooled statistic


def test_bca_matches_scipy_on_one_cell():
    rng = np.random.default_rng(3)
    d, a = (rng.random(40) < 0.4).astype(float), (rng.random(40) < 0.6).astype(float)
    ours = si.bca_interval([(d, a)], si.bootstrap_distribution([(d, a)], resamples=20000, seed=1))
    ref = sps.bootstrap(
        (d, a),
        lambda d, a, axis=-1: a.mean(axis=axis) - d.mean(axis=axis),
        paired=True,
        vectorized=True,
        method="BCa",
        n_resamples=20000,
        random_state=1,
    ).confidence_interval
    assert ours == pytest.approx((ref.low, ref.high), abs=0.03)


def test_sign_flip_is_mcnemar_in_one_cell_and_monte_carlo_when_large(monkeypatch):
    rng = np.random.default_rng(8)
    d, a = (rng.random(60) < 0.3).astype(float), (rng.random(60) < 0.5).astype(float)
    p, how = si.sign_flip_p([(d, a)])
    assert how == "exact" and p == pytest.approx(si.mcnemar_p([(d, a)]))
    pairs = issue_pairs() + [(d, a)]
    exact, _ = si.sign_flip_p(pairs)
    monkeypatch.setattr(si, "MAX_EXACT_WORK", 10)
    approx, how = si.sign_flip_p(pairs, seed=1)
    assert how == f"monte carlo {si.MONTE_CARLO_FLIPS}" and approx == pytest.approx(exact, abs=0.01)
    assert si.sign_flip_p([(d, d)]) == (None, "exact")


def test_warning_when_the_interval_and_mcnemar_disagree():
    # a big cell where assisted gains and a small one where it loses: pooled McNemar rejects, the macro
    # difference (cells weigh the same) is not resolved
    records = [rec("big", 0, 1 if i < 30 else 0, i) for i in range(100)]
    records += [rec("small", 1, 0 if i < 4 else 1, i) for i in range(10)]
    rep = report(records, resamples=500)
    p = rep["partitions"]["all"]
    assert p["mcnemar_p"] < 0.05 and p["ci_low"] < 0 < p["ci_high"]
    warning = next(w for w in rep["warnings"] if w.startswith("all, assisted - direct:"))
    assert "includes 0 but McNemar p=" in warning and "sign-flip p" in warning
    assert f"warning: {warning}" in format_table(rep)
    assert sum("assisted - " in w for w in rep["warnings"]) == 2  # assisted and assisted_clean; no repeats
    excluded = {"ci_low": 0.1, "ci_high": 0.3, "mcnemar_p": 0.2, "exact_p": 0.25}
    assert "excludes 0 but McNemar p=0.2" in si.disagreement(excluded)


def test_compare_uses_the_same_interval_and_warns_at_small_n():
    a = issue_records()
    index = [int(r.item_id.rsplit("-", 1)[1]) for r in a]
    b = [rec(r.task, r.assisted.correct, r.direct.correct, i) for r, i in zip(a, index)]
    cmp = compare(a, b, channel="direct", resamples=2000)
    p = partitions(a, resamples=2000)["all"]
    assert (cmp["delta"], cmp["ci_low"], cmp["ci_high"]) == pytest.approx((p["delta"], p["ci_low"], p["ci_high"]))
    assert cmp["exact_p"] == pytest.approx(0.5) and cmp["bootstrap"]["interval"] == si.INTERVAL
    text = format_comparison(cmp)
    assert "sign-flip p=0.5" in text and "warning: 6 of 6 cells have fewer than 30 items" in text
    flagged = [rec(r.task, r.direct.correct, r.assisted.correct, i, flag=True) for r, i in zip(a, index)]
    clean = compare(a, flagged, channel="assisted_clean", resamples=200)
    assert clean["macro_b"] == 0.0 and clean["macro_a"] == p["macro_assisted"]
