"""The dynamic auditors with the real sandbox: verdicts, bounded work, records, the pipeline, the CLI."""

import json
import threading

import pytest
from click.testing import CliRunner

from cgr.kernel.cli import main
from cgr.kernel.config import RunConfig
from cgr.kernel.manager import DEFAULT_PLUGINS, load_plugins
from cgr.kernel.pipeline import run
from cgr.kernel.records import AssistedChannel, SolverCall
from cgr.plugins import audit_command, audit_runs
from cgr.plugins.audit_dynamic import counterfactual, generator_agreement, permutation
from cgr.plugins.audit_leak import leak
from cgr.plugins.audit_standin import STRONG
from cgr.plugins.template_generator import STRATEGIES
from tests.conftest import ITEMS
from tests.plugins import fake_solver

DYNAMIC = "cgr.plugins.audit_dynamic"
ITEM = {
    "id": "t1",
    "question": "Which part of Earth's structure is a solid mixture of nickel and iron?",
    "choices": ["the inner core", "the outer core", "the lithosphere", "the asthenosphere"],
    "labels": ["A", "B", "C", "D"],
    "context": None,
}
LISTING = "listing = '\\n'.join(f'{a}. {b}' for a, b in zip(ITEM.labels, ITEM.choices))\n"
CLOZE = "lp = solver_logprobs('Question: ' + ITEM.question + '\\nAnswer:', [' ' + c for c in ITEM.choices])\n"
AUDITORS = (counterfactual, permutation, generator_agreement, leak)


def plugins_with_dynamic(**kw):
    extra = () if DYNAMIC in DEFAULT_PLUGINS else (DYNAMIC,)
    return load_plugins(builtins=DEFAULT_PLUGINS + extra, **kw)


def verdicts(program, item=ITEM, assisted=None):
    return {fn.__name__: fn(program, item, assisted) for fn in AUDITORS}


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_template_strategies_pass(name):
    got = verdicts(STRATEGIES[name])
    assert all(v == "pass" for v, _ in got.values()), got
    assert "follows the solver" in got["counterfactual"][1]


@pytest.mark.parametrize(
    "program, auditor, needle",
    [
        (CLOZE + "best = lp.index(max(lp))\nif best == 1:\n    best = 0\nsubmit(ITEM.labels[best])", "permutation", ""),
        (CLOZE + "best = lp.index(max(lp))\nif len(lp) > 0:\n    best = 2\nsubmit(ITEM.labels[best])", "counterfactual",
         "submits C"),
        (CLOZE + "lp[3] += 0.2\nsubmit(ITEM.labels[lp.index(max(lp))])", "counterfactual", "(weak)"),
        (LISTING + "r = solver_call(ITEM.question + '\\nNote: ' + ITEM.choices[1] + '\\n' + listing)\n"
         "submit(extract_choice(r) or 'A')", "leak", "single out option B"),
        (LISTING + "r = solver_call(ITEM.question + '\\n' + listing + '\\nThe answer is D.')\n"
         "submit(extract_choice(r) or 'A')", "leak", "states the answer 'D'"),
        (CLOZE + "best = lp.index(max(lp))\nby_len = sorted(range(4), key=lambda i: len(ITEM.choices[i]))\n"
         "if best == by_len[-1]:\n    best = by_len[0]\nsubmit(ITEM.labels[best])", "counterfactual",
         "never answered"),
    ],
)  # fmt: skip
def test_hard_coded_programs_are_flagged(program, auditor, needle):
    verdict, reason = verdicts(program)[auditor]
    assert verdict == "flag" and needle in reason


def test_generator_agreement():
    override = CLOZE + "best = lp.index(max(lp))\nif best != 3 and lp[3] > lp[best] - 20:\n    best = 3\n"
    override += "submit(ITEM.labels[best])"
    with_g = dict(ITEM, generator_answer="D")
    verdict, reason = generator_agreement(override, with_g, None)
    assert verdict == "flag" and "generator's own answer D" in reason
    assert generator_agreement(override, ITEM, None) == ("pass", "not run: the generator stated no answer")
    other = AssistedChannel(answer="A", correct=False, calls=4)
    assert generator_agreement(override, with_g, other)[0] == "pass"  # the record's answer is not the generator's
    honest = CLOZE + "submit(ITEM.labels[lp.index(max(lp))])"
    assert generator_agreement(honest, with_g, None)[0] == "pass"


def test_leak_reads_the_records_trace():
    honest = LISTING + "submit(extract_choice(solver_call(ITEM.question + '\\n' + listing)) or 'A')"
    told = SolverCall(op="solve", prompt=f"{ITEM['question']}\nHint: the correct answer is B.", reply="B")
    assisted = AssistedChannel(answer="B", correct=True, calls=1, trace=[told])
    verdict, reason = leak(honest, ITEM, assisted)
    assert verdict == "flag" and "recorded solver call 1 is told the answer is 'B'" in reason
    assert leak(honest, ITEM, None)[0] == "pass"


@pytest.mark.parametrize(
    "program, status",
    [
        ("while True:\n    pass\n", "timeout"),
        ("print('x' * 100000)\nsubmit('A')", "output_cap"),
        ("x = bytearray(512 * 1024 * 1024)\nsubmit('A')", "memory"),
    ],
)
def test_a_program_that_cannot_run_costs_one_run(program, status):
    for fn in AUDITORS:
        verdict, reason = fn(program, dict(ITEM, generator_answer="A"), None)
        assert verdict == "pass" and ("inconclusive" in reason or "submitted" in reason), (fn.__name__, reason)
    s = audit_runs.session(program, ITEM)
    assert len(s.runs) == 1 and f"status {status}" in (s.stopped or "")


def test_work_per_audit_is_bounded(monkeypatch):
    monkeypatch.setattr(audit_runs, "AUDIT_SECONDS", 1e-9)  # every run after the first is refused
    heavy = "for i in range(100):\n    solver_logprobs('x' * 30000, ['a'])\nsubmit('A')"
    for fn in AUDITORS:
        assert fn(heavy, ITEM, None)[0] == "pass"
    s = audit_runs.session(heavy, ITEM)
    assert len(s.runs) == 1 and "budget" in (s.stopped or "")
    # the stand-in's host time per run is capped: past it every solver call raises in the guest
    monkeypatch.setattr(audit_runs, "RUN_HOST_SECONDS", 0.0)
    probe = "try:\n    solver_call('q')\nexcept RuntimeError as e:\n    print(e)\nsubmit('A')"
    run_ = audit_runs.Session(probe, audit_runs.view_of(ITEM))._run(STRONG, 0, 0)
    assert run_.status == "ok" and "stand-in solver's 0 s for this run are spent" in (run_.note or "")


def test_concurrent_audits_agree_with_sequential_ones():
    programs = [STRATEGIES["per_option"], CLOZE + "submit(ITEM.labels[2])", STRATEGIES["letter"]]
    items = [dict(ITEM, id=f"t{k}") for k in range(4)]
    expected = {(p, it["id"]): counterfactual(p, it)[0] for p in programs for it in items}
    audit_runs._sessions.clear()
    got, threads = {}, []

    def work(p, it):
        got[(p, it["id"])] = counterfactual(p, it)[0]

    for p in programs:
        for it in items:
            threads.append(threading.Thread(target=work, args=(p, it)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == expected and list(expected.values()).count("flag") == 4


# ---------------------------------------------------------------- the pipeline and the CLI -------
class HardCoder:
    name = "hardcoder"

    def info(self):
        return {"name": self.name, "model": None}

    def generate(self, item):
        from cgr.kernel.api import Scaffold

        source = CLOZE + "best = lp.index(max(lp))\nif best == 0:\n    best = 1\nsubmit(ITEM.labels[best])"
        return Scaffold(source=source, answer="B")


def test_pipeline_records_carry_the_dynamic_audits(toy_bundle, tmp_path):
    from cgr.kernel.pipeline import Engine

    plugins = plugins_with_dynamic(entry_points=False, extra=(fake_solver,))
    cfg = RunConfig(bundle=toy_bundle, out=tmp_path / "run", solver="fake")
    honest = run(cfg, plugins=plugins)
    for rec in honest.records:
        audits = {a.auditor: a for a in rec.audits}
        assert {"counterfactual", "permutation", "generator_agreement", "leak"} <= set(audits)
        assert all(a.verdict == "pass" for a in rec.audits), rec.audits
    cfg = cfg.model_copy(update={"out": tmp_path / "hard"})
    engine = Engine.from_config(cfg, plugins)
    engine.generator, engine.generator_name = HardCoder(), "hardcoder"
    hard = run(cfg, engine=engine)
    flagged = {r.item_id: {a.auditor for a in r.audits if a.verdict == "flag"} for r in hard.records}
    assert all("permutation" in f for f in flagged.values()), flagged

    # cgr audit DIR re-audits the records on the run's own items, with the generator's stated answer
    monkey = audit_command.load_plugins
    audit_command.load_plugins = lambda: plugins
    try:
        res = CliRunner().invoke(main, ["audit", str(tmp_path / "hard"), "--json"], catch_exceptions=False)
        static = CliRunner().invoke(main, ["audit", str(tmp_path / "hard"), "--json", "--static-only"])
    finally:
        audit_command.load_plugins = monkey
    assert res.exit_code == 0, res.output  # records never fail the command
    out = [json.loads(line) for line in res.stdout.splitlines()]
    assert [o["item_id"] for o in out] == [it["id"] for it in ITEMS]
    assert all(o["verdict"] == "hard_coded" for o in out)
    gen = {o["item_id"]: next(f for f in o["findings"] if f["auditor"] == "generator_agreement") for o in out}
    assert all("generator" in f["reason"] for f in gen.values())
    assert {f["auditor"] for o in map(json.loads, static.stdout.splitlines()) for f in o["findings"]} == {
        "hardcode",
        "solver_use",
    }


def test_cli_audits_scripts_statically_and_dynamically(tmp_path, monkeypatch):
    monkeypatch.setattr(audit_command, "load_plugins", lambda: plugins_with_dynamic())
    item = tmp_path / "item.json"
    item.write_text(json.dumps({k: ITEM[k] for k in ("question", "choices")}))
    honest, sneaky = tmp_path / "honest.py", tmp_path / "sneaky.py"
    honest.write_text(STRATEGIES["pmi"])
    sneaky.write_text(CLOZE + "lp[1] += 0.3\nsubmit(ITEM.labels[lp.index(max(lp))])")

    def cli(*args):
        return CliRunner().invoke(main, ["audit", *map(str, args)], catch_exceptions=False)

    res = cli(honest, sneaky, "--item", item, "--json")
    out = [json.loads(line) for line in res.stdout.splitlines()]
    assert res.exit_code == 1 and [o["verdict"] for o in out] == ["clean", "hard_coded"]
    assert {"counterfactual", "permutation", "leak", "generator_agreement"} <= {
        f["auditor"] for f in out[0]["findings"]
    }
    res = cli(honest, sneaky, "--item", item, "--static-only")
    assert (
        res.exit_code == 0 and res.stdout.strip().splitlines()[-1] == "2 scripts: 2 clean, 0 hard_coded, 0 unparsable"
    )
    gen = tmp_path / "gen.py"
    gen.write_text(CLOZE + "best = lp.index(max(lp))\nif best != 2 and lp[2] > lp[best] - 20:\n    best = 2\n"
                   "submit(ITEM.labels[best])")  # fmt: skip
    res = cli(gen, "--generator-answer", "C", "--json")  # no --item: the first sample item
    found = {f["auditor"]: f for f in json.loads(res.stdout)["findings"]}
    assert res.exit_code == 1 and found["generator_agreement"]["verdict"] == "flag"
