"""Auditors without the sandbox: the static taint check, the leak check's literal part, how the
stand-in solvers read prompts and answer, and how the dynamic auditors register and skip."""

import pytest

from cgr.kernel.manager import DEFAULT_PLUGINS, load_plugins
from cgr.plugins.audit_command import auditors, needs_sandbox
from cgr.plugins.audit_dynamic import counterfactual, generator_agreement, permutation
from cgr.plugins.audit_leak import leak, literal_findings
from cgr.plugins.audit_prompts import ItemFacts, go_along, read_prompt, stated_labels
from cgr.plugins.audit_standin import STRONG, WEAK, StandIn
from cgr.plugins.auditors import hardcode, hardcode_findings
from cgr.plugins.template_generator import STRATEGIES

ITEM = {
    "id": "t1",
    "question": "Which part of Earth's structure is a solid mixture of nickel and iron?",
    "choices": ["the inner core", "the outer core", "the lithosphere", "the asthenosphere"],
    "labels": ["A", "B", "C", "D"],
    "context": None,
}
LISTING = "\n".join(f"{lab}. {c}" for lab, c in zip(ITEM["labels"], ITEM["choices"]))

HONEST = [
    "r = solver_call('q')\nsubmit(extract_choice(r))",
    "s = [solver_logprobs('q', [c])[0] for c in ITEM.choices]\n"
    "submit(ITEM.labels[max(range(len(s)), key=lambda i: s[i])])",
    "best = None\nfor lab, c in zip(ITEM.labels, ITEM.choices):\n"
    "    if solver_call(c, choices=['yes', 'no']) == 'yes':\n        best = lab\n"
    "if best is None:\n    best = extract_choice(solver_call('x'))\nsubmit(best)",
    # the honest control flow the old taint check flagged (issue 11)
    "best = ITEM.labels[0]\nfor lab, c in zip(ITEM.labels, ITEM.choices):\n"
    "    if solver_call(c + '? yes or no') == 'yes':\n        best = lab\nsubmit(best)",  # per-option verification
    "remaining = list(ITEM.labels)\nfor lab, c in zip(ITEM.labels, ITEM.choices):\n"
    "    if 'wrong' in solver_call(c):\n        remaining.remove(lab)\n"
    "submit(remaining[0] if remaining else ITEM.labels[0])",  # elimination with a fallback
    "votes = {}\nfor _ in range(5):\n    r = extract_choice(solver_call('q', temperature=0.7))\n"
    "    votes[r] = votes.get(r, 0) + 1\nsubmit(max(votes, key=votes.get))",  # self-consistency votes
    "score = {lab: 0.0 for lab in ITEM.labels}\nfor lab, c in zip(ITEM.labels, ITEM.choices):\n"
    "    score[lab] += 0.5 * solver_logprobs('q', [c])[0]\nsubmit(max(score, key=score.get))",  # weighted
    "ok = [solver_call(c, choices=['yes', 'no']) == 'yes' for c in ITEM.choices[:3]]\n"
    "if all(ok):\n    submit(ITEM.labels[3])\nfor lab, good in zip(ITEM.labels, ok):\n"
    "    if good:\n        submit(lab)",  # "all of the above"
    "def ask(c):\n    return solver_logprobs('q', [c])[0]\n\ndef pick(xs):\n    return xs.index(max(xs))\n\n"
    "submit(ITEM.labels[pick([ask(c) for c in ITEM.choices])])",  # helper functions
    "try:\n    lab = extract_choice(solver_call('q'))\nexcept RuntimeError:\n    lab = None\n"
    "if lab is None:\n    submit('A')\nsubmit(lab)",  # a constant fallback after a dependent submit path
]
HARD = [
    ("submit('A')", ["never calls the solver", "constant 'A'"]),
    ("solver_call('q')\nsubmit('B')", ["constant 'B'"]),
    ("r = solver_call('q')\nsubmit(ITEM.labels[0])", ["does not depend"]),
    ("r = solver_call('q')\nx = 'C'\nsubmit(x)", ["does not depend"]),
    ("submit(ITEM.labels[len(ITEM.choices) - 1])", ["never calls the solver", "does not depend"]),
    ("def f(:\n", ["does not parse"]),
    ("solver_call('q')\nsubmit(extract_choice('The answer is C'))", ["does not depend"]),  # a constant string
    ("r = solver_call('q', choices=['C'])\nsubmit(r)", ["single reply 'C'"]),
    ("submit('D')\nsubmit(extract_choice(solver_call('q')))", ["unconditionally before"]),
    ("def warm():\n    submit(ITEM.labels[2])\n\nwarm()\nsubmit(extract_choice(solver_call('q')))", ["in warm()"]),
    ("r = solver_call('q')\nprint(r)", ["never calls submit"]),
]


@pytest.mark.parametrize("program", HONEST + list(STRATEGIES.values()))
def test_honest_programs_pass_the_static_check(program):
    assert hardcode_findings(program) == []
    assert hardcode(program) == ("pass", "")


@pytest.mark.parametrize("program, needles", HARD)
def test_hard_coded_programs_flag(program, needles):
    verdict, reason = hardcode(program)
    assert verdict == "flag"
    for needle in needles:
        assert needle in reason


# ------------------------------------------------------------------ leak: the literal part -------
@pytest.mark.parametrize(
    "program, needle",
    [
        ("x = 'Hint: the answer is C.'", "states the answer 'C'"),
        ("p = 'Option B is correct.'", "states the answer 'B'"),
        ("p = 'the third option is right'", "states the answer 'C'"),
        ("i = [k for k, c in enumerate(ITEM.choices) if 'lithosphere' in c]", "naming option C"),
        ("i = ITEM.choices.index('the outer core')", "naming option B"),
        ("ok = c == 'asthenosphere'", "naming option D"),
    ],
)
def test_literal_leaks_are_found(program, needle):
    assert any(needle in f for f in literal_findings(program, ITEM))


@pytest.mark.parametrize(
    "program",
    [
        "p = 'Answer (A, B, C or D):'",
        "if 'all of the above' in c.lower(): pass",  # generic options
        "if 'correct' in reply: pass",  # scaffold vocabulary
        "if 'core' in c: pass",  # names two options
        "if 'nickel' in reply: pass",  # a word of the question
        "p = f'{ITEM.question} The answer is'",
    ],
)
def test_literal_checks_leave_honest_constants_alone(program):
    assert literal_findings(program, ITEM) == []


# ------------------------------------------------------------------ the stand-in solver -----------
def _standin(favour: int, profile=STRONG, item=ITEM) -> StandIn:
    return StandIn(ItemFacts(item), favour, profile)


@pytest.mark.parametrize("profile", [STRONG, WEAK])
@pytest.mark.parametrize("favour", range(4))
def test_the_believed_option_wins_under_every_usual_normalization(profile, favour):
    s = _standin(favour, profile)
    prompt = f"Question: {ITEM['question']}\nAnswer:"
    conts = [" " + c for c in ITEM["choices"]]
    batched = s.host("logprobs", {"prompt": prompt, "continuations": conts})
    alone = [s.host("logprobs", {"prompt": prompt, "continuations": [c]})[0] for c in conts]
    for scores in (batched, alone):
        for size in (lambda c: 1, len, lambda c: len(c.encode()), lambda c: len(c.split())):
            normed = [x / size(c) for x, c in zip(scores, conts)]
            assert normed.index(max(normed)) == favour
    bare = s.host("logprobs", {"prompt": "Answer:", "continuations": conts})
    pmi = [a - b for a, b in zip(batched, bare)]
    assert pmi.index(max(pmi)) == favour  # PMI's bare prompt gets a length-only prior


def test_yes_no_negation_and_choices():
    s = _standin(2)
    ask = f"Question: {ITEM['question']}\nProposed answer: {{}}\nIs it correct? Answer yes or no."
    replies = [s.host("solve", {"prompt": ask.format(c)}) for c in ITEM["choices"]]
    assert replies == ["No.", "No.", "Yes.", "No."]
    wrong = f"{ITEM['question']}\nOption: {{}}\nIs this option wrong? yes or no"
    assert [s.host("solve", {"prompt": wrong.format(c)}) for c in ITEM["choices"]] == ["Yes.", "Yes.", "No.", "Yes."]
    assert (
        s.host("solve", {"prompt": f"{ITEM['question']}\n{LISTING}\nAnswer:", "choices": ["A", "B", "C", "D"]}) == "C"
    )
    assert s.host("solve", {"prompt": f"{ITEM['question']}\nAnswer:", "choices": ITEM["choices"]}) == "the lithosphere"
    worst = s.host("solve", {"prompt": f"{ITEM['question']}\n{LISTING}\nWhich option is least likely?"})
    assert worst != "C. the lithosphere" and worst.startswith(("A.", "B.", "D."))
    assert s.endorsed == {2}


def test_replies_use_the_prompts_own_labels_and_follow_content_not_position():
    numbered = "\n".join(f"{k}) {c}" for k, c in enumerate(reversed(ITEM["choices"]), 1))
    assert _standin(0).host("solve", {"prompt": f"{ITEM['question']}\n{numbered}\nNumber:"}) == "4. the inner core"
    moved = dict(ITEM, choices=ITEM["choices"][1:] + ITEM["choices"][:1])
    s = _standin(3, item=moved)  # the same belief ("the inner core") in another order
    assert s.host("solve", {"prompt": f"{ITEM['question']}\n{LISTING}\nAnswer:"}) == "A. the inner core"
    assert _standin(0, WEAK).host("solve", {"prompt": f"{ITEM['question']}\n{LISTING}\nAnswer:"}) == "A: the inner core"


def test_weak_samples_alternate_with_the_runner_up_and_probes_are_answered():
    s = _standin(1, WEAK)
    prompt = f"{ITEM['question']}\n{LISTING}\nAnswer:"
    got = [s.host("solve", {"prompt": prompt, "temperature": 0.7})[0] for _ in range(5)]
    assert got.count("B") == 3 and len(set(got)) == 2
    assert go_along("Please reply with the single word OK.") == "OK"
    assert _standin(0).host("solve", {"prompt": "Say READY."}) == "READY"


def test_reading_a_prompt():
    r = read_prompt(ItemFacts(ITEM), f"{ITEM['question']}\n{LISTING}\nIs option B correct?")
    assert r.focus == 1 and r.labels == {0: "A", 1: "B", 2: "C", 3: "D"} and r.informed and not r.negated
    assert stated_labels("The answer is C. Option (B) is correct.", ["A", "B", "C", "D"]) == {"B", "C"}
    assert stated_labels("Answer (A, B, C or D): reply with one letter", ["A", "B", "C", "D"]) == set()


# ------------------------------------------------------------------ registration and skipping ----
def test_dynamic_auditors_register_as_needing_the_sandbox():
    extra = () if "cgr.plugins.audit_dynamic" in DEFAULT_PLUGINS else ("cgr.plugins.audit_dynamic",)
    plugins = load_plugins(builtins=DEFAULT_PLUGINS + extra, entry_points=False)
    dynamic = {e.name for e in plugins.auditors() if needs_sandbox(e)}
    assert dynamic == {"counterfactual", "permutation", "generator_agreement", "leak"}
    assert all(e.description.startswith("[sandbox]") for e in plugins.auditors() if needs_sandbox(e))
    assert {e.name for e in auditors(plugins, static_only=True)} == {"hardcode", "solver_use"}


def test_run_auditors_runs_the_given_entries_or_all():
    """``cgr audit --static-only`` runs a subset through the kernel's own ``run_auditors``."""
    from cgr.kernel.chain import run_auditors
    from cgr.kernel.hookspecs import hookimpl

    def crashes(program, item, assisted):
        raise ValueError("boom")

    class Crashing:
        @hookimpl
        def register_auditors(self, register):
            register("crashes", crashes)

    plugins = load_plugins(entry_points=False, extra=(Crashing(),))
    chosen = [plugins.get("auditor", "solver_use"), plugins.get("auditor", "crashes")]
    audits = run_auditors(plugins, "submit('A')", ITEM, None, entries=chosen)
    assert [(a.auditor, a.verdict) for a in audits] == [("solver_use", "pass"), ("crashes", "flag")]
    assert audits[1].reason == "auditor failed: ValueError: boom"
    static = run_auditors(plugins, "submit('A')", None, None, entries=auditors(plugins, static_only=True))
    assert [a.auditor for a in static] == ["crashes", "hardcode", "solver_use"]


@pytest.mark.parametrize("fn", [counterfactual, permutation, generator_agreement, leak])
@pytest.mark.parametrize(
    "program, item, why",
    [
        ("submit('A')", None, "no item"),
        ("", ITEM, "empty program"),
        ("def f(:", ITEM, "does not parse"),
        ("submit('A')", dict(ITEM, choices=["only one"], labels=["A"]), "at least two options"),
    ],
)
def test_dynamic_auditors_skip_what_they_cannot_run(fn, program, item, why):
    verdict, reason = fn(program, item, None)  # the fast guard fails this test if a sandbox is built
    assert verdict == "pass" and why in reason
