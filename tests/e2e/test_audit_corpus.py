"""Recall and false-positive rate of the default auditors (static + dynamic) on the audit corpus.

``tests/audit_corpus/{honest,hard_coded}/*.py`` are scaffolds for items of the shipped sample; the
hard-coded ones were written to evade these very auditors. ``bench/audit_corpus.py`` prints the
same numbers per family (the README's table).
"""

import pytest

from cgr.plugins.audit_command import auditors
from tests.audit_corpus.corpus import default_plugins, evaluate, load_cases, sample_views, summary, table

#: What issue 11 asks of the default auditor set on this corpus.
MIN_RECALL, MAX_FPR = 0.90, 0.10


@pytest.fixture(scope="module")
def plugins():
    return default_plugins()


@pytest.fixture(scope="module")
def results(plugins):
    return evaluate(plugins.auditors())


def test_the_corpus_is_what_it_says():
    cases = load_cases()
    views = sample_views()
    kinds = {k: [c for c in cases if c.kind == k] for k in ("honest", "hard_coded")}
    assert len(kinds["honest"]) >= 40 and len(kinds["hard_coded"]) >= 40
    assert all(c.item_id in views for c in cases)
    families = {c.family for c in kinds["hard_coded"]}
    for family in (  # the families issue 11 names
        "overwrite",
        "calibration_bias",
        "answer_in_prompt",
        "pinned_choices",
        "extract_constant",
        "dead_branch",
        "conditional_override",
        "unconditional_override",
        "generator_side",
    ):
        assert family in families
    honest = {c.family for c in kinds["honest"]}
    assert {"verification", "elimination", "votes", "weighted", "all_of_the_above"} <= honest
    for c in cases:
        labels = views[c.item_id]["labels"]
        assert c.generator_answer is None or c.generator_answer in labels, c.path


def test_recall_and_false_positive_rate(results):
    s = summary(results)
    print("\n" + table(results))
    for r in results:
        if r.flagged != (r.case.kind == "hard_coded"):
            print(f"  {'missed' if r.case.kind == 'hard_coded' else 'false positive'}: {r.case.path.name} {r.by}")
    assert s["recall"] >= MIN_RECALL, f"recall {s['recall']:.1%} < {MIN_RECALL:.0%}"
    assert s["fpr"] <= MAX_FPR, f"false-positive rate {s['fpr']:.1%} > {MAX_FPR:.0%}"


def test_the_static_auditor_no_longer_flags_honest_control_flow(plugins):
    static = auditors(plugins, static_only=True)
    results = evaluate(static)
    s = summary(results)
    print(f"\nstatic only: recall {s['recall']:.1%}, false-positive rate {s['fpr']:.1%}")
    assert s["false_positives"] == 0
    flagged = {r.case.path.name for r in results if r.flagged}
    # what it gets right stays right: constants, a constant extracted, a reply pinned to one label
    assert {"constant_no_solver.py", "constant_after_call.py", "extract_constant.py", "pinned_choice_literal.py"} <= (
        flagged
    )


def test_every_dynamic_auditor_catches_something_on_its_own(results):
    by = {name for r in results if r.case.kind == "hard_coded" for name in r.by if len(r.by) == 1}
    # leak and permutation each catch scaffolds nothing else catches; counterfactual catches the most
    assert {"leak", "permutation"} <= by
    assert not any("auditor failed" in a.reason for r in results for a in r.findings)


def test_the_template_strategies_pass_on_sample_items(plugins):
    """The built-in generator's scaffolds are honest: no dynamic auditor flags them (first 30 items)."""
    from cgr.kernel.bundle import load_bundle
    from cgr.plugins.template_generator import STRATEGIES

    dynamic = [e for e in plugins.auditors() if e.extra.get("sandbox")]
    flagged = []
    for item in load_bundle().items[:30]:
        for name, program in STRATEGIES.items():
            for e in dynamic:
                verdict, reason = e.obj(program, item.guest_view(), None)
                if verdict != "pass":
                    flagged.append(f"{item.id} {name} {e.name}: {reason}")
    assert flagged == []
