"""The host side of the guest boundary ("Sandbox, round two"): budgets, caps and the guest's outcome.

* ``extract_choice`` counts in ``max_calls`` with the solver calls (``solver_calls`` still counts
  only solver calls), and host time spent extracting counts against ``timeout_s`` (solver time
  does not);
* an operation name over MAX_OP_BYTES and a request over MAX_PAYLOAD_BYTES are refused without the
  host copying them, the strings of one list argument are capped together at ``max_prompt_chars``,
  and one run's requests and replies together are capped at MAX_RUN_BYTES;
* the outcome the guest runner reports (kind / error / exc_type) is validated by the host: a
  scaffold that rewrites the runner's serializer gets a host-made message, cannot claim ``syntax``
  after it ran, and ``memory`` is never read from guest-written stderr.

The guest runner is reachable from a scaffold as ``sys.modules["guest_app"]``; ``WitWorld.run``
serializes the outcome with the module global ``_dumps`` after the program ended, so rebinding that
global rewrites the outcome the host receives. No test asserts wall-clock time.
"""

from __future__ import annotations

import ctypes
import time

import pytest

from cgr.sandbox import HostError, Limits
from cgr.sandbox._api import MAX_ERROR_CHARS, MAX_OP_BYTES, MAX_PAYLOAD_BYTES, MAX_RUN_BYTES, MiB

TIMEOUT_DETAIL = "timeout: wall-clock limit of 1 s exceeded"


class Host:
    """A host callback that records every call; ``sleep`` makes one op slow."""

    def __init__(self, sleep: dict[str, float] | None = None, solve_reply: str = "ok"):
        self.sleep = sleep or {}
        self.solve_reply = solve_reply
        self.calls: list[tuple[str, dict]] = []

    def ops(self, op: str) -> int:
        return sum(1 for o, _ in self.calls if o == op)

    def __call__(self, op: str, args: dict):
        self.calls.append((op, args))
        if op in self.sleep:
            time.sleep(self.sleep[op])
        if op == "solve":
            return self.solve_reply
        if op == "logprobs":
            return [-1.0] * len(args["continuations"])
        if op == "extract":
            return "A" if "answer is A" in args["text"] else None
        raise HostError(op)


def limits(**kw) -> Limits:
    return Limits(**{"timeout_s": 10, "memory_mb": 128, "max_calls": 8, "max_prompt_chars": 2000, **kw})


# ------------------------------------------------------------------ extract_choice and budgets ---


def test_extract_choice_alone_spends_max_calls(sandbox, item):
    host = Host()
    source = (
        "n = 0\n"
        "try:\n"
        "    while True:\n"
        "        extract_choice('the answer is A')\n"
        "        n += 1\n"
        "except RuntimeError as exc:\n"
        "    print(type(exc).__name__, n, exc)\n"
        "    raise\n"
    )
    result = sandbox.run(source, item, host, limits(max_calls=5))
    assert result.status == "call_budget"
    assert result.solver_calls == 0  # extraction is not a solver call
    assert result.stdout.startswith("CallBudgetExceeded 5 extract_choice: call budget exhausted (max_calls=5")
    assert host.ops("extract") == 5  # the sixth never reached the host
    assert result.answer is None
    assert "max_calls=5" in result.error


def test_solver_and_extract_calls_share_one_budget(sandbox, item):
    host = Host()
    source = (
        "log = []\n"
        "for name, call in (('solve', lambda: solver_call('p')), ('extract', lambda: extract_choice('x')),\n"
        "                   ('logprobs', lambda: solver_logprobs('p', ['a', 'b'])),\n"
        "                   ('extract', lambda: extract_choice('the answer is A')),\n"
        "                   ('solve', lambda: solver_call('p')),\n"
        "                   ('extract', lambda: extract_choice('x')), ('solve', lambda: solver_call('p')),\n"
        "                   ('logprobs', lambda: solver_logprobs('p', ['a']))):\n"
        "    try:\n"
        "        call()\n"
        "        log.append(name)\n"
        "    except RuntimeError as exc:\n"
        "        log.append(type(exc).__name__)\n"
        "print(' '.join(log))\n"
        "submit('B')\n"
    )
    result = sandbox.run(source, item, host, limits(max_calls=5))
    assert result.stdout == (
        "solve extract logprobs extract solve CallBudgetExceeded CallBudgetExceeded CallBudgetExceeded\n"
    )
    assert result.status == "call_budget"
    assert result.answer == "B"
    assert result.solver_calls == 3  # solve, logprobs, solve: the two extractions are not counted here
    assert [op for op, _ in host.calls] == ["solve", "extract", "logprobs", "extract", "solve"]


def test_a_zero_budget_refuses_extract_choice_too(sandbox, item):
    host = Host()
    result = sandbox.run("extract_choice('the answer is A')\n", item, host, limits(max_calls=0))
    assert result.status == "call_budget"
    assert host.calls == []
    assert "CallBudgetExceeded: extract_choice: call budget exhausted (max_calls=0" in result.stderr


def test_host_time_extracting_counts_against_timeout(sandbox, item):
    host = Host(sleep={"extract": 0.2})
    source = "for i in range(10):\n    extract_choice('the answer is A')\nsubmit('A')\n"
    result = sandbox.run(source, item, host, limits(timeout_s=1, max_calls=20))
    assert result.status == "timeout"
    assert result.error == TIMEOUT_DETAIL
    assert result.answer is None
    assert host.ops("extract") < 10  # stopped at the deadline, not after the loop


def test_host_time_solving_does_not_count_against_timeout(sandbox, item):
    host = Host(sleep={"solve": 0.2})
    source = "for i in range(10):\n    solver_call('p')\nsubmit('A')\n"
    result = sandbox.run(source, item, host, limits(timeout_s=1, max_calls=20))
    assert result.status == "ok", result.error
    assert result.answer == "A"
    assert result.solver_calls == 10 and host.ops("solve") == 10


# ------------------------------------------------------------------------------------- caps ---


@pytest.fixture
def copies(monkeypatch):
    """Sizes of every ``ctypes.string_at`` copy the host makes (how the host reads guest strings)."""
    sizes: list[int] = []
    original = ctypes.string_at

    def spy(ptr, size=-1):
        sizes.append(size)
        return original(ptr, size)

    monkeypatch.setattr(ctypes, "string_at", spy)
    return sizes


def test_long_operation_name_is_refused_without_being_copied(sandbox, item, copies):
    host = Host()
    source = (
        "import sys\n"
        "runner = sys.modules['guest_app']\n"
        f"for op in ('y' * {MAX_OP_BYTES}, 'y' * {MAX_OP_BYTES + 1}, 'x' * (64 << 20)):\n"
        "    try:\n"
        "        runner._call(op, {})\n"
        "    except ValueError as exc:\n"
        "        print(len(op), type(exc).__name__, str(exc)[:60])\n"
    )
    result = sandbox.run(source, item, host, limits(memory_mb=512))
    assert result.stdout == (
        f"{MAX_OP_BYTES} ValueError unknown host operation {'y' * MAX_OP_BYTES!r}\n"  # read: 32 bytes is allowed
        f"{MAX_OP_BYTES + 1} ValueError host operation name over {MAX_OP_BYTES} bytes\n"
        f"{64 << 20} ValueError host operation name over {MAX_OP_BYTES} bytes\n"
    ), result.stderr
    assert result.status == "no_submit"
    assert host.calls == []
    assert copies and max(copies) < MiB  # the 64 MiB name never crossed into host memory


def test_oversized_request_is_refused_without_being_copied(sandbox, item, copies):
    host = Host()
    source = (
        "import json, wit_world\n"
        "from componentize_py_types import Err\n"
        f"for payload in ('x' * {MAX_PAYLOAD_BYTES}, 'x' * {MAX_PAYLOAD_BYTES + 1}):\n"
        "    try:\n"
        "        wit_world.host_call('solve', payload)\n"
        "    except Err as err:\n"
        "        print(json.loads(err.value))\n"
        f"solver_call('p' * {MAX_PAYLOAD_BYTES + 1})\n"
    )
    result = sandbox.run(source, item, host, limits(memory_mb=256, max_prompt_chars=16 * MiB))
    assert result.stdout == (
        "{'type': 'ValueError', 'message': 'solve: malformed request'}\n"  # at the cap: read, then parsed
        f"{{'type': 'ValueError', 'message': 'solve: request over {MAX_PAYLOAD_BYTES} bytes'}}\n"
    ), result.stderr
    assert result.status == "error"
    assert result.error == f"ValueError: solve: request over {MAX_PAYLOAD_BYTES} bytes"
    assert host.calls == []
    assert max(copies) == MAX_PAYLOAD_BYTES  # only the one at the cap was read


LISTS = {
    "continuations": "solver_logprobs('p', {})",
    "stop": "solver_call('p', stop={})",
    "choices": "solver_call('p', choices={})",
}


@pytest.mark.parametrize("name", sorted(LISTS))
def test_the_strings_of_one_list_are_capped_together(sandbox, item, name):
    host = Host()
    fits, over = "['s' * 300] * 3", "['s' * 300] * 4"  # 900 and 1200 characters; each string is 300
    source = (
        f"{LISTS[name].format(fits)}\ntry:\n    {LISTS[name].format(over)}\nexcept ValueError as exc:\n    print(exc)\n"
    )
    result = sandbox.run(source, item, host, limits(max_prompt_chars=1000))
    api = "solver_logprobs" if name == "continuations" else "solver_call"
    assert result.stdout == f"{api}: the strings of {name} are over max_prompt_chars=1000 together\n", result.stderr
    assert len(host.calls) == 1  # only the list that fits reached the host
    assert result.solver_calls == 1


def test_one_runs_requests_and_replies_are_capped_in_bytes(sandbox, item):
    host = Host(solve_reply="r" * 1000)
    size = 1_000_000
    source = (
        f"P = 'p' * {size}\n"
        "n = 0\n"
        "while True:\n"
        "    try:\n"
        "        solver_call(P)\n"
        "    except RuntimeError as exc:\n"
        "        print(n, type(exc).__name__, str(exc).split(' (')[0])\n"
        "        break\n"
        "    n += 1\n"
        "for again in (lambda: solver_call(P), lambda: solver_logprobs(P, ['a'])):\n"
        "    try:\n"
        "        again()\n"
        "    except RuntimeError as exc:\n"
        "        print(type(exc).__name__, str(exc).split(' (')[0])\n"
    )
    result = sandbox.run(source, item, host, limits(max_calls=1000, max_prompt_chars=size, memory_mb=256, timeout_s=30))
    lines = result.stdout.splitlines()
    n = int(lines[0].split()[0])
    assert lines == [
        f"{n} CallBudgetExceeded solve: byte budget exhausted",
        "CallBudgetExceeded solve: byte budget exhausted",  # and stays refused
        "CallBudgetExceeded logprobs: byte budget exhausted",
    ], result.stderr
    assert result.status == "call_budget"
    assert host.ops("solve") == n == result.solver_calls and host.ops("logprobs") == 0
    crossed = sum(len(args["prompt"]) + len(host.solve_reply) for _, args in host.calls)
    assert MAX_RUN_BYTES - 2 * (size + 1000) < crossed <= MAX_RUN_BYTES


# ---------------------------------------------------------------------- the guest's outcome ---


def rewrite_outcome(outcome_json_expr: str) -> str:
    """A scaffold line that makes the runner report ``outcome_json_expr`` (a guest expression)."""
    return f"import sys\nsys.modules['guest_app']._dumps = lambda outcome: {outcome_json_expr}\n"


MALFORMED = {
    "error_is_an_object": '\'{"kind": "done", "error": {"x": 1}, "exc_type": null}\'',
    "error_is_a_list": '\'{"kind": "exception", "error": ["boom"], "exc_type": "E"}\'',
    "exc_type_is_a_number": '\'{"kind": "exception", "error": "E: x", "exc_type": 7}\'',
    "kind_is_bogus": '\'{"kind": "memory", "error": "memory: fake", "exc_type": null}\'',
    "kind_is_missing": '\'{"error": null, "exc_type": null}\'',
    "kind_is_a_list": '\'{"kind": ["done"], "error": null, "exc_type": null}\'',
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_outcome_gets_a_host_made_message(sandbox, item, name):
    result = sandbox.run(rewrite_outcome(MALFORMED[name]), item, Host(), limits())
    assert result.status == "error"
    assert result.error == "runner: malformed outcome from the guest"


@pytest.mark.parametrize("text", ["'[\"done\"]'", "'not json'", "'null'"])
def test_an_outcome_that_is_not_an_object_gets_a_host_made_message(sandbox, item, text):
    result = sandbox.run(rewrite_outcome(text), item, Host(), limits())
    assert result.status == "error"
    assert result.error == "runner: malformed outcome"


def test_an_8_mib_error_is_cut_to_one_short_line(sandbox, item):
    source = rewrite_outcome(
        '\'{"kind": "exception", "error": "\' + \'E\' * (8 << 20) + '
        "'\\\\nsecond line\", \"exc_type\": \"' + 'T' * (8 << 20) + '\"}'"
    )
    result = sandbox.run(source, item, Host(), limits(memory_mb=256))
    assert result.status == "error"
    assert result.error == "E" * MAX_ERROR_CHARS + "..."


def test_a_multi_line_error_keeps_its_first_non_empty_line(sandbox, item):
    source = rewrite_outcome(
        '\'{"kind": "exception", "error": "\\\\n  \\\\n boom \\\\nmore\\\\r\\\\nx", "exc_type": "RuntimeError"}\''
    )
    result = sandbox.run(source, item, Host(), limits())
    assert (result.status, result.error) == ("error", "boom")


FAKE_SYNTAX = '\'{"kind": "syntax", "error": "SyntaxError: fake (line 1)", "exc_type": "SyntaxError"}\''


@pytest.mark.parametrize("before", ["solver_call('p')\n", "extract_choice('x')\n", ""])
def test_a_program_that_ran_cannot_claim_a_syntax_error(sandbox, item, before):
    host = Host()
    result = sandbox.run(before + rewrite_outcome(FAKE_SYNTAX), item, host, limits())
    assert result.status == "error"
    assert result.error == "SyntaxError: fake (line 1)"
    assert len(host.calls) == (1 if before else 0)


def test_a_real_syntax_error_is_still_syntax(sandbox, item):
    result = sandbox.run("def f(:\n", item, Host(), limits())
    assert result.status == "syntax"
    assert result.error.startswith("SyntaxError: ")


OOM_TEXT = (
    "import sys\n"
    "sys.stderr.write('MemoryError: memory allocation failed\\nwasm trap: out of memory\\n"
    "memory limit exceeded\\n')\n"
)


@pytest.mark.parametrize(
    "ending, status, error",
    [
        ("raise RuntimeError('boom')\n", "error", "RuntimeError: boom"),
        ("import select\nselect.select([], [], [], 0.5)\n", "error", "RuntimeError: blocking clock wait"),
        (
            "sys.setrecursionlimit(10 ** 7)\ndef f(n):\n    return f(n + 1) + 1\nf(0)\n",
            "error",
            "RecursionError: wasm call stack exhausted",
        ),
        ("import os\nos._exit(3)\n", "no_submit", "SystemExit: guest exited with status"),
        ("", "no_submit", None),
    ],
)
def test_memory_is_never_read_from_guest_stderr(sandbox, item, ending, status, error):
    result = sandbox.run(OOM_TEXT + ending, item, Host(), limits(timeout_s=10))
    assert "out of memory" in result.stderr
    assert result.status == status
    assert (result.error or "").startswith(error or "")
    assert "memory" not in (result.error or "")


def test_real_memory_exhaustion_is_still_memory(sandbox, item):
    result = sandbox.run("x = bytearray(200 << 20)\n", item, Host(), limits(memory_mb=64))
    assert result.status == "memory"
