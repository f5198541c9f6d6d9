import pytest

from cgr.plugins.auditors import hardcode, hardcode_findings
from cgr.plugins.template_generator import STRATEGIES

HONEST = [
    "r = solver_call('q')\nsubmit(extract_choice(r))",
    "s = [solver_logprobs('q', [c])[0] for c in ITEM.choices]\n"
    "submit(ITEM.labels[max(range(len(s)), key=lambda i: s[i])])",
    "best = None\nfor lab, c in zip(ITEM.labels, ITEM.choices):\n"
    "    if solver_call(c, choices=['yes', 'no']) == 'yes':\n        best = lab\n"
    "if best is None:\n    best = extract_choice(solver_call('x'))\nsubmit(best)",
]
HARD = [
    ("submit('A')", ["never calls the solver", "constant 'A'"]),
    ("solver_call('q')\nsubmit('B')", ["constant 'B'"]),
    ("r = solver_call('q')\nsubmit(ITEM.labels[0])", ["does not depend"]),
    ("r = solver_call('q')\nx = 'C'\nsubmit(x)", ["does not depend"]),
    ("submit(ITEM.labels[len(ITEM.choices) - 1])", ["never calls the solver", "does not depend"]),
    ("def f(:\n", ["does not parse"]),
]


@pytest.mark.parametrize("program", HONEST + list(STRATEGIES.values()))
def test_honest_programs_pass(program):
    assert hardcode_findings(program) == []
    assert hardcode(program) == ("pass", "")


@pytest.mark.parametrize("program, needles", HARD)
def test_hard_coded_programs_flag(program, needles):
    verdict, reason = hardcode(program)
    assert verdict == "flag"
    for needle in needles:
        assert needle in reason
