"""Tests of the example plugin, written as a plugin author would: with the cgr.testing fixtures.

The fixtures come from cgr's pytest plugin (entry point ``pytest11``), installed with cgr.
"""

import math

from cgr_example_solver import KeywordSolver, parse_prompt

from cgr.kernel.prompts import render_direct

ITEM = {
    "id": "example-1",
    "question": "Which organ pumps blood around the body?",
    "choices": ["The lungs", "The heart pumps blood", "The liver", "The skin"],
    "labels": ["A", "B", "C", "D"],
    "context": None,
}

PER_OPTION = """\
prompt = "Question: " + ITEM.question + "\\nAnswer:"
scores = solver_logprobs(prompt, [" " + c for c in ITEM.choices])
submit(ITEM.labels[max(range(len(scores)), key=lambda i: scores[i])])
"""

LETTER = """\
options = "\\n".join(f"{l}. {c}" for l, c in zip(ITEM.labels, ITEM.choices))
reply = solver_call("Question: " + ITEM.question + "\\n" + options + "\\nAnswer:", choices=list(ITEM.labels))
submit(extract_choice(reply))
"""


def test_registered_through_its_entry_point(cgr_plugins):
    entry = cgr_plugins.solver("example-keyword")
    assert entry.plugin == "example" and entry.obj is KeywordSolver
    assert cgr_plugins.dists["example"].startswith("cgr-example-solver ")


def test_conforms_to_the_solver_protocol(cgr_check_solver):
    said = cgr_check_solver(KeywordSolver())
    assert said["info"]["model"] is None  # it says it is not a model


def test_conforms_on_an_item_it_can_answer(cgr_check_solver):
    said = cgr_check_solver(KeywordSolver(), item=ITEM)
    assert said["choice"] == "B" and said["complete"] == "B"
    assert said["label_logprobs"] == [math.log(1 / 2), math.log(3 / 4), math.log(1 / 2), math.log(1 / 2)]


def test_reads_the_direct_prompt(cgr_item):
    question, options = parse_prompt(render_direct(cgr_item))
    assert question == cgr_item["question"]
    assert list(options) == cgr_item["labels"] and list(options.values()) == cgr_item["choices"]


def test_runs_in_the_sandbox(cgr_sandbox_run):
    by_name = cgr_sandbox_run(PER_OPTION, solver="example-keyword", item=ITEM)
    assert by_name["status"] == "ok" and by_name["answer"] == "B" and by_name["solver_calls"] >= 1
    by_instance = cgr_sandbox_run(LETTER, solver=KeywordSolver(), item=ITEM)
    assert by_instance["status"] == "ok" and by_instance["answer"] == "B"
