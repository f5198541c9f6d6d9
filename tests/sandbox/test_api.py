"""The scaffold API round trips and the item view (real wasmtime, real component)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from cgr.sandbox import STATUSES, HostError, Limits, Sandbox

from .conftest import run


def test_public_api_shape():
    assert STATUSES == (
        "ok",
        "no_submit",
        "invalid_submit",
        "error",
        "syntax",
        "timeout",
        "memory",
        "output_cap",
        "call_budget",
    )
    limits = Limits()
    assert (
        limits.timeout_s,
        limits.memory_mb,
        limits.max_output_bytes,
        limits.max_calls,
        limits.max_prompt_chars,
        limits.fuel,
    ) == (20.0, 256, 64 * 1024, 64, 32_000, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        limits.timeout_s = 3  # frozen
    with pytest.raises(ValueError):
        Limits(timeout_s=0)
    with pytest.raises(ValueError):
        Limits(memory_mb=-1)  # every bound: test_limits_bounds.py
    assert issubclass(HostError, Exception)
    Sandbox()  # cheap: builds nothing


def test_ok_submit_via_solver_call(sandbox, item, host):
    source = (
        "reply = solver_call('Q: ' + ITEM.question, max_tokens=8, stop=['\\n'])\n"
        "print(reply)\n"
        "pick = solver_call('pick one', choices=list(ITEM.labels), temperature=0.5)\n"
        "submit(pick)\n"
    )
    result = run(sandbox, source, item, host)
    assert result.status == "ok", result
    assert result.answer == "C"
    assert result.solver_calls == 2
    assert result.stdout == "echo: Q: Which city is the capital of France?\n"
    assert result.error is None
    assert result.elapsed_s > 0
    (op1, args1), (op2, args2) = host.calls
    assert op1 == op2 == "solve"
    assert args1 == {
        "prompt": "Q: Which city is the capital of France?",
        "max_tokens": 8,
        "temperature": 0.0,
        "stop": ["\n"],
        "choices": None,
    }
    assert args2["choices"] == ["A", "B", "C"] and args2["temperature"] == 0.5
    assert args2["max_tokens"] == 256
    d = result.to_dict()
    assert set(d) == {"status", "answer", "solver_calls", "stdout", "stderr", "elapsed_s", "error"}
    json.dumps(d)


def test_solver_logprobs_round_trip(sandbox, item, host):
    source = (
        "scores = solver_logprobs('The capital is', [' ' + c for c in ITEM.choices])\n"
        "print(scores)\n"
        "best = max(range(len(scores)), key=scores.__getitem__)\n"
        "submit(ITEM.labels[best])\n"
    )
    result = run(sandbox, source, item, host)
    assert result.status == "ok", result
    assert result.stdout == "[-7.0, -6.0, -5.0]\n"
    assert result.answer == "C"
    assert result.solver_calls == 1
    assert host.calls == [("logprobs", {"prompt": "The capital is", "continuations": [" Berlin", " Paris", " Rome"]})]


def test_extract_choice_round_trip(sandbox, item, host):
    source = (
        "a = extract_choice('I think the answer is B.')\n"
        "b = extract_choice('no idea')\n"
        "print(repr(a), repr(b))\n"
        "submit(a)\n"
    )
    result = run(sandbox, source, item, host)
    assert result.status == "ok"
    assert result.stdout == "'B' None\n"
    assert result.answer == "B"
    assert result.solver_calls == 0  # extraction is not a solver call


def test_item_view_is_read_only_and_typed(sandbox, item, host):
    item["context"] = "Some context."
    source = (
        "print(type(ITEM.choices).__name__, type(ITEM.labels).__name__)\n"
        "print(ITEM.id, ITEM['question'], ITEM.choices, ITEM.labels, ITEM.context)\n"
        "for attempt in ('ITEM.question = \"x\"', 'del ITEM.id', 'ITEM.answer = \"A\"'):\n"
        "    try:\n"
        "        exec(attempt)\n"
        "        print('mutated')\n"
        "    except AttributeError:\n"
        "        print('read-only')\n"
    )
    result = run(sandbox, source, item, host)
    assert result.stdout.splitlines() == [
        "tuple tuple",
        "toy-1 Which city is the capital of France? ('Berlin', 'Paris', 'Rome') ('A', 'B', 'C') Some context.",
        "read-only",
        "read-only",
        "read-only",
    ]


def test_default_labels_and_seeded_random(sandbox, host):
    item = {"id": 7, "question": "q", "choices": ["x", "y"]}
    source = "import random\nprint(ITEM.labels, ITEM.id, random.random())\n"
    a = sandbox.run(source, item, host, seed=1)
    b = sandbox.run(source, item, host, seed=1)
    c = sandbox.run(source, item, host, seed=2)
    assert a.stdout.startswith("('A', 'B') 7 ")
    assert a.stdout == b.stdout != c.stdout


def test_stdlib_imports(sandbox, item, host):
    source = (
        "import re, json, math, random, itertools, collections, functools, string, statistics, textwrap\n"
        "import difflib, heapq, bisect, fractions, decimal, operator, dataclasses, typing, enum\n"
        "import unicodedata, copy, time, datetime\n"
        "from collections import Counter\n"
        "print(Counter('aab').most_common(1), statistics.mean([1, 2, 3]), fractions.Fraction(1, 3))\n"
        "time.sleep(0.01)\n"
        "try:\n"
        "    import numpy\n"
        "except ImportError:\n"
        "    print('no numpy')\n"
    )
    result = run(sandbox, source, item, host)
    assert result.status == "no_submit", result
    assert result.stdout == "[('a', 2)] 2 1/3\nno numpy\n"


def test_argument_validation(sandbox, item, host):
    source = (
        "cases = [dict(max_tokens=0), dict(max_tokens=5000), dict(max_tokens=1.5), dict(temperature=2.5),\n"
        "         dict(temperature='hot'), dict(stop=[1]), dict(stop=[]), dict(choices=[]), dict(choices='AB'),\n"
        "         dict(choices={'A'})]\n"
        "for kw in cases:\n"
        "    try:\n"
        "        solver_call('x', **kw)\n"
        "        print('accepted', kw)\n"
        "    except (TypeError, ValueError) as e:\n"
        "        print(type(e).__name__)\n"
        "for args in ((5, ['a']), ('p', []), ('p', 'ab'), ('p', ['a'] * 65)):\n"
        "    try:\n"
        "        solver_logprobs(*args)\n"
        "        print('accepted', args)\n"
        "    except (TypeError, ValueError) as e:\n"
        "        print(type(e).__name__)\n"
        "try:\n"
        "    solver_call('x', 'positional')\n"
        "except TypeError:\n"
        "    print('TypeError')\n"
        "submit('A')\n"
    )
    result = run(sandbox, source, item, host)
    assert "accepted" not in result.stdout, result.stdout
    assert result.stdout.split() == [
        "ValueError",
        "ValueError",
        "TypeError",
        "ValueError",
        "TypeError",
        "TypeError",
        "ValueError",
        "ValueError",
        "TypeError",
        "TypeError",
        "TypeError",
        "ValueError",
        "TypeError",
        "ValueError",
        "TypeError",
    ]
    assert host.calls == []  # refused requests never reach the host
    assert result.solver_calls == 0
    assert result.status == "ok"
    assert result.error is not None  # the first refusal is recorded


def test_prompt_size_cap(sandbox, item, host):
    source = (
        "try:\n"
        "    solver_call('x' * 501)\n"
        "except ValueError as e:\n"
        "    print('refused')\n"
        "print(solver_call('y' * 500)[:8])\n"
        "submit('A')\n"
    )
    result = run(sandbox, source, item, host, max_prompt_chars=500)
    assert result.stdout == "refused\necho: yy\n"
    assert result.status == "ok"
    assert "max_prompt_chars=500" in result.error
    assert result.solver_calls == 1


def test_direct_bindings_do_not_bypass_host_checks(sandbox, item, host):
    # componentize-py's generated bindings are reachable from scaffold code; the host checks anyway.
    source = (
        "import json, wit_world\n"
        "from componentize_py_types import Err\n"
        "def raw(op, payload):\n"
        "    try:\n"
        "        return 'ok', wit_world.host_call(op, payload)\n"
        "    except Err as e:\n"
        "        return 'err', json.loads(e.value)['type']\n"
        "req = json.dumps({'prompt': 'p', 'max_tokens': 1, 'temperature': 0, 'stop': None, 'choices': None})\n"
        "print(raw('solve', json.dumps({'prompt': 'x' * 100})))\n"
        "print(raw('solve', req)[0])\n"
        "print(raw('solve', req))\n"
        "print(raw('submit', json.dumps({'label': 'Z'})))\n"
        "print(raw('whatever', '{}'))\n"
        "print(raw('solve', 'not json'))\n"
    )
    result = run(sandbox, source, item, host, max_calls=1, max_prompt_chars=50)
    assert result.stdout.splitlines() == [
        "('err', 'ValueError')",
        "ok",
        "('err', 'CallBudgetExceeded')",
        "('err', 'ValueError')",
        "('err', 'ValueError')",
        "('err', 'ValueError')",
    ]
    assert result.status == "call_budget"
    assert result.solver_calls == 1
