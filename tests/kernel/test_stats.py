import numpy as np
import pytest

from cgr.kernel.records import AssistedChannel, DirectChannel, GeneratorChannel, Record
from cgr.plugins.reports import format_markdown, format_table
from cgr.plugins.stats import cells, paired_bootstrap, partitions, report


def rec(task, d, a, i=0, solver="s"):
    return Record(
        item_id=f"{task}-{i}",
        dataset="ds",
        task=task,
        solver=solver,
        generator="g",
        gold="A",
        direct=DirectChannel(answer="A" if d else "B", correct=d, calls=1),
        assisted=AssistedChannel(answer="A" if a else "B", correct=a, calls=3),
        generator_side=GeneratorChannel(answer=None, correct=False, calls=0),
    )


def make(spec):
    # spec: task -> list of (direct, assisted)
    return [rec(t, d, a, i) for t, pairs in spec.items() for i, (d, a) in enumerate(pairs)]


def test_cells_and_partitions():
    records = make(
        {
            "t1": [(1, 1), (0, 1), (0, 1), (1, 0)],  # direct .5, assisted .75
            "t2": [(0, 1), (0, 0)],  # zero baseline
            "t3": [(1, 1), (1, 1), (0, 0), (0, 1)],  # .5 -> .75
        }
    )
    rows = {c["task"]: c for c in cells(records)}
    assert rows["t1"]["direct_acc"] == 0.5 and rows["t1"]["assisted_acc"] == 0.75
    assert rows["t2"]["assisted_calls"] == 3.0
    parts = partitions(records, tau=0.3, resamples=500)
    assert parts["all"]["n_cells"] == 3 and parts["nonzero_baseline"]["n_cells"] == 2
    assert parts["gate_0.30"]["n_cells"] == 2
    assert parts["all"]["delta"] == pytest.approx(np.mean([0.25, 0.5, 0.25]))
    nz = parts["nonzero_baseline"]
    assert nz["macro_direct"] == 0.5 and nz["macro_assisted"] == 0.75
    assert nz["ci_low"] <= nz["delta"] <= nz["ci_high"]


def test_bootstrap_is_paired_and_seeded():
    d = np.array([0, 1] * 50, dtype=float)
    # identical channels: every resample has difference 0 exactly (pairing kept)
    assert paired_bootstrap([(d, d.copy())], resamples=300) == (0.0, 0.0, 0.0)
    a = np.ones(100)
    r1 = paired_bootstrap([(d, a)], resamples=300, seed=1)
    assert r1 == paired_bootstrap([(d, a)], resamples=300, seed=1)
    assert 0.35 < r1[1] < 0.5 < r1[2] < 0.65


def test_report_regressions_and_table():
    records = make({"up": [(0, 1), (1, 1)], "down": [(1, 0), (1, 1)]})
    rep = report(records, resamples=200)
    assert [r["task"] for r in rep["regressions"]] == ["down"]
    text = format_table(rep)
    assert "down" in text and "nonzero_baseline" in text and "regressions" in text


def test_empty_partition():
    parts = partitions(make({"z": [(0, 0), (0, 1)]}), resamples=100)
    assert parts["nonzero_baseline"]["n_cells"] == 0 and parts["nonzero_baseline"]["delta"] is None


def test_cells_keep_solver_models_and_generators_apart():
    records = [rec("t", 1, 0, i, solver="llama/smollm2-135m") for i in range(2)]
    records += [rec("t", 0, 1, i, solver="llama/gemma3-270m") for i in range(2)]
    other_gen = rec("t", 1, 1, 9, solver="llama/gemma3-270m")
    other_gen.generator = "llm/smollm2-135m"
    rep = report(records + [other_gen], resamples=100)
    keys = {(c["solver"], c["generator"]): c["n"] for c in rep["cells"]}
    assert keys == {
        ("llama/smollm2-135m", "g"): 2,
        ("llama/gemma3-270m", "g"): 2,
        ("llama/gemma3-270m", "llm/smollm2-135m"): 1,
    }
    assert rep["partitions"]["all"]["n_cells"] == 3
    assert "llm/smollm2-135m" in format_table(rep)


def test_markdown_has_the_same_numbers_as_the_text_table():
    records = make({"up": [(0, 1), (1, 1)], "down": [(1, 0), (1, 1)], "z": [(0, 0), (0, 0)]})
    rep = report(records, resamples=200)
    md = format_markdown(rep).splitlines()
    header = "| solver | task | n | direct | assisted | clean | gen | calls d/a | tokens d/a | no-ans d/a | flagged |"
    at = md.index(header)
    assert md[at + 1] == "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    assert "| s | down | 2 | 1.00 | 0.50 | 0.50 | - | 1.0/3.0 | 0/0 | 0/0 | 0 |" in md
    p = rep["partitions"]["nonzero_baseline"]
    row = next(x for x in md if x.startswith("| nonzero_baseline | assisted - direct"))
    assert row == (
        f"| nonzero_baseline | assisted - direct (generate, the best direct mode) | "
        f"{p['delta']:+.3f} [{p['ci_low']:+.3f}, {p['ci_high']:+.3f}] | {p['exact_p']:.3g} | {p['mcnemar_p']:.3g} |"
    )
    assert f"delta={p['delta']:+.3f} [{p['ci_low']:+.3f}, {p['ci_high']:+.3f}]" in format_table(rep)
    assert "Regressions (assisted < direct): down" in md
    # both formats lead with assisted - best direct, over all cells
    a = rep["partitions"]["all"]
    lead = f"assisted - best direct:       {a['delta']:+.3f} [{a['ci_low']:+.3f}, {a['ci_high']:+.3f}]"
    assert md[0].startswith(lead) and format_table(rep).splitlines()[0].startswith(lead)


def test_compare_pairs_items_across_runs_by_id():
    from cgr.plugins.reports import format_comparison
    from cgr.plugins.stats import compare

    # run A: assisted right on 1 of 4 in t1, 2 of 2 in t2; run B: 3 of 4 and 1 of 2, plus an item A lacks
    a = make({"t1": [(0, 1), (0, 0), (0, 0), (0, 0)], "t2": [(0, 1), (0, 1)]})
    b = make({"t1": [(1, 1), (0, 1), (0, 1), (0, 0)], "t2": [(0, 1), (0, 0)]}) + [rec("t3", 1, 1)]
    cmp = compare(a, b, resamples=300)
    assert (cmp["n_items"], cmp["only_in_a"], cmp["only_in_b"], cmp["n_cells"]) == (6, 0, 1, 2)
    cells_ = {c["task"]: c for c in cmp["cells"]}
    assert (cells_["t1"]["acc_a"], cells_["t1"]["acc_b"]) == (0.25, 0.75)
    assert (cells_["t2"]["acc_a"], cells_["t2"]["acc_b"]) == (1.0, 0.5)
    assert cmp["macro_a"] == 0.625 and cmp["macro_b"] == 0.625 and cmp["delta"] == pytest.approx(0.0)
    assert cmp["ci_low"] <= 0.0 <= cmp["ci_high"]
    assert cmp["mcnemar_p"] == pytest.approx(1.0)  # 2 items only B got right, 1 only A: exact two-sided p = 1
    direct = compare(a, b, channel="direct", resamples=300)
    assert direct["macro_a"] == 0.0 and direct["macro_b"] == 0.125 and direct["mcnemar_p"] == 1.0
    assert "delta B-A=+0.000" in format_comparison(cmp)
    assert cmp["bootstrap"]["interval"] == report(a, resamples=100)["bootstrap"]["interval"]  # the same method
    assert any("fewer than 30 items" in w for w in cmp["warnings"])
    with pytest.raises(ValueError, match="not the same items"):
        compare(a, [msgspec_replace(a[0], gold="B")], resamples=100)


def msgspec_replace(record, **changes):
    import msgspec

    return msgspec.structs.replace(record, **changes)
