"""The typed outcomes of a run: submit rules, errors, syntax, host failures, the call budget."""

from __future__ import annotations

from .conftest import run


def test_no_submit(sandbox, item, host):
    result = run(sandbox, "print('thinking')", item, host)
    assert result.status == "no_submit"
    assert result.answer is None and result.error is None
    assert result.stdout == "thinking\n"


def test_invalid_submit_uncaught(sandbox, item, host):
    result = run(sandbox, "submit('Z')", item, host)
    assert result.status == "invalid_submit"
    assert result.answer is None
    assert "ValueError" in result.error and "'Z'" in result.error
    assert "ValueError" in result.stderr


def test_invalid_submit_is_catchable_and_first_valid_submit_counts(sandbox, item, host):
    source = (
        "for bad in (1, None, 'z'):\n"
        "    try:\n"
        "        submit(bad)\n"
        "    except ValueError as e:\n"
        "        print('caught', type(e).__name__)\n"
        "try:\n"
        "    submit('B')\n"
        "except BaseException:\n"
        "    pass\n"  # swallowing the submit signal does not undo the answer
        "try:\n"
        "    submit('C')\n"
        "except BaseException:\n"
        "    pass\n"
    )
    result = run(sandbox, source, item, host)
    assert result.stdout == "caught ValueError\n" * 3
    assert result.status == "ok"
    assert result.answer == "B"


def test_invalid_submit_caught_then_nothing(sandbox, item, host):
    result = run(sandbox, "try:\n    submit(['A'])\nexcept ValueError:\n    pass\n", item, host)
    assert result.status == "invalid_submit"
    assert "list" in result.error


def test_submit_ends_the_program(sandbox, item, host):
    result = run(sandbox, "submit('A')\nprint('not reached')\n", item, host)
    assert result.status == "ok" and result.stdout == ""


def test_raise_is_error_with_message(sandbox, item, host):
    source = "def helper():\n    raise ValueError('boom: bad things')\n\nhelper()\n"
    result = run(sandbox, source, item, host)
    assert result.status == "error"
    assert result.error == "ValueError: boom: bad things"
    assert "Traceback (most recent call last)" in result.stderr
    assert 'File "<scaffold>", line 4' in result.stderr
    assert "raise ValueError('boom: bad things')" in result.stderr
    assert "guest_app" not in result.stderr  # only the scaffold's frames are shown


def test_syntax(sandbox, item, host):
    result = run(sandbox, "x = 1\ndef f(:\n    pass\n", item, host)
    assert result.status == "syntax"
    assert result.error == "SyntaxError: invalid syntax (line 2)"
    assert "SyntaxError" in result.stderr
    assert host.calls == []


def test_host_error_is_a_catchable_guest_exception(sandbox, item, host):
    source = (
        "for p in ('fail', 'crash'):\n"
        "    try:\n"
        "        solver_call(p)\n"
        "    except RuntimeError as e:\n"
        "        print(type(e).__name__, '|', e)\n"
        "submit('A')\n"
    )
    result = run(sandbox, source, item, host)
    assert result.status == "ok"
    assert result.stdout == "HostError | model unavailable\nHostError | KeyError: 'no such model'\n"
    assert result.solver_calls == 2


def test_host_error_uncaught_is_error(sandbox, item, host):
    result = run(sandbox, "solver_call('fail')", item, host)
    assert result.status == "error"
    assert result.error == "HostError: model unavailable"


def test_bad_host_replies_become_guest_exceptions(sandbox, item):
    def host(op, args):
        return 42 if op == "solve" else ["x"]

    source = (
        "for f in (lambda: solver_call('p'), lambda: solver_logprobs('p', ['a'])):\n"
        "    try:\n"
        "        f()\n"
        "    except RuntimeError as e:\n"
        "        print(type(e).__name__)\n"
    )
    result = run(sandbox, source, item, host)
    assert result.status == "no_submit"
    assert result.stdout == "HostError\nHostError\n"


def test_call_budget_keeps_answer_submitted_after_catching(sandbox, item, host):
    source = (
        "n = 0\n"
        "while True:\n"
        "    try:\n"
        "        solver_call('p')\n"
        "        n += 1\n"
        "    except RuntimeError as e:\n"
        "        print(type(e).__name__, n)\n"
        "        break\n"
        "submit('B')\n"
    )
    result = run(sandbox, source, item, host, max_calls=3)
    assert result.status == "call_budget"
    assert result.answer == "B"
    assert result.solver_calls == 3
    assert result.stdout == "CallBudgetExceeded 3\n"
    assert len(host.calls) == 3  # the refused call never reached the host
    assert "max_calls=3" in result.error


def test_call_budget_counts_logprobs_too(sandbox, item, host):
    source = "solver_logprobs('p', ['a'])\nsolver_call('p')\nsolver_logprobs('p', ['a'])\n"
    result = run(sandbox, source, item, host, max_calls=2)
    assert result.status == "call_budget"
    assert result.solver_calls == 2
