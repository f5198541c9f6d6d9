from cgr.plugins.llm_generator import parse_reply

L = ["A", "B", "C"]


def test_fenced_program_and_answer():
    text = "Here:\n```python\nr = solver_call('x')\nsubmit(extract_choice(r))\n```\nGENERATOR ANSWER: b\n"
    program, answer = parse_reply(text, L)
    assert program == "r = solver_call('x')\nsubmit(extract_choice(r))\n"
    assert answer == "B"


def test_unterminated_fence_and_no_answer():
    program, answer = parse_reply("```\nprint(1)\n", L)
    assert program == "print(1)\n" and answer is None


def test_no_program_and_answer_outside_labels():
    assert parse_reply("I think it is Z.\nGENERATOR ANSWER: Z", L) == ("", None)
