"""Limits (time, memory, output, nesting) and isolation (filesystem, env, network, state).

No assertion here is on wall-clock time (the machine is shared and noisy): a limit is shown to
have acted by the status and message it produced, not by how long it took.
"""

from __future__ import annotations

import os

import pytest

from cgr.sandbox import MEMORY_MB_RANGE, Limits


def test_infinite_loop_times_out(sandbox, item, host):
    result = sandbox.run("while True:\n    pass\n", item, host, Limits(timeout_s=1))
    assert result.status == "timeout"
    assert result.error == "timeout: wall-clock limit of 1 s exceeded"


def test_sleep_is_stopped_by_the_watchdog(sandbox, item, host):
    result = sandbox.run(
        "import time\nprint('before')\ntime.sleep(100)\nprint('after')\n", item, host, Limits(timeout_s=1)
    )
    assert result.status == "timeout"
    assert result.stdout == "before\n"


def test_timeout_keeps_the_submitted_answer(sandbox, item, host):
    source = "try:\n    submit('C')\nexcept BaseException:\n    pass\nwhile True:\n    pass\n"
    result = sandbox.run(source, item, host, Limits(timeout_s=0.5))
    assert result.status == "timeout"
    assert result.answer == "C"


def test_blocking_clock_wait_is_refused_not_hung(sandbox, item, host):
    result = sandbox.run("import select\nselect.select([], [], [], 100)\n", item, host, Limits(timeout_s=5))
    assert result.status == "error"
    assert "time.sleep" in result.error


def test_allocation_bomb_is_memory(sandbox, item, host):
    source = "blocks = []\nwhile True:\n    blocks.append(bytearray(1 << 20))\n"
    result = sandbox.run(source, item, host, Limits(memory_mb=64, timeout_s=10))
    assert result.status == "memory"
    assert result.error == "MemoryError"


def test_single_huge_allocation_is_memory(sandbox, item, host):
    result = sandbox.run("x = 'a' * (300 * 1024 * 1024)\n", item, host, Limits(memory_mb=128))
    assert result.status == "memory"


def test_memory_error_can_be_caught(sandbox, item, host):
    source = "try:\n    x = bytearray(1 << 30)\nexcept MemoryError:\n    print('caught')\nsubmit('A')\n"
    result = sandbox.run(source, item, host, Limits(memory_mb=64))
    assert result.status == "ok" and result.stdout == "caught\n"


def test_too_little_memory_to_start_is_memory(sandbox, item, host):
    # Limits refuses memory_mb below MEMORY_MB_RANGE; the host still classifies a guest that does not fit.
    limits = Limits()
    object.__setattr__(limits, "memory_mb", 4)
    result = sandbox.run("submit('A')", item, host, limits)
    assert result.status == "memory"
    assert "memory_mb=4" in result.error


def test_the_smallest_memory_limit_still_starts_the_guest(sandbox, item, host):
    result = sandbox.run("submit('A')", item, host, Limits(memory_mb=MEMORY_MB_RANGE[0]))
    assert (result.status, result.answer) == ("ok", "A"), result


def test_print_flood_is_output_cap(sandbox, item, host):
    result = sandbox.run(
        "while True:\n    print('spam' * 25)\n", item, host, Limits(max_output_bytes=10_000, timeout_s=10)
    )
    assert result.status == "output_cap"
    assert len(result.stdout.encode()) == 10_000
    assert result.stdout.startswith("spam" * 25 + "\n")
    assert result.error == "output cap: stdout exceeded 10000 bytes"


def test_stderr_flood_is_output_cap_and_answer_kept(sandbox, item, host):
    source = "import sys\ntry:\n    submit('A')\nexcept BaseException:\n    pass\nsys.stderr.write('e' * 50_000)\n"
    result = sandbox.run(source, item, host, Limits(max_output_bytes=1024))
    assert result.status == "output_cap"
    assert result.answer == "A"
    assert len(result.stderr) == 1024


@pytest.mark.parametrize(
    "source, status",
    [
        ("x = " + "[" * 1000 + "]" * 1000 + "\n", "syntax"),  # CPython's parser limit
        ("y = x" + ".a" * 100_000 + "\n", "syntax"),  # wasm stack exhausted while compiling
        ("y = " + "1+" * 100_000 + "1\n", "syntax"),
        ("x = []\nfor _ in range(200_000):\n    x = [x]\nprint(repr(x)[:5])\n", "error"),  # at run time
        ("import sys\nsys.setrecursionlimit(10**6)\ndef f(n):\n    return f(n + 1)\nf(0)\n", None),
    ],
)
def test_deep_nesting_is_a_typed_outcome(sandbox, item, host, source, status):
    result = sandbox.run(source, item, host, Limits(timeout_s=1 if status is None else 5))
    if status is None:
        assert result.status in ("error", "memory", "timeout")
    else:
        assert result.status == status, result
        assert "nested" in result.error or "too complex" in result.error, result.error
    # and the sandbox is still fine afterwards
    assert sandbox.run("submit('A')", item, host).status == "ok"


def test_plain_recursion_is_recursion_error(sandbox, item, host):
    result = sandbox.run("def f(n):\n    return f(n + 1)\nf(0)\n", item, host)
    assert result.status == "error"
    assert result.error.startswith("RecursionError")


def test_lone_surrogates_do_not_crash(sandbox, item):
    seen = []

    def host(op, args):
        seen.append(args)
        return "reply \udcff"  # a lone surrogate from the host, too

    item = dict(item, question="Q \ud800 here", choices=["x\udfff", "y"])
    source = (
        "print('\ud800', ITEM.question, ITEM.choices)\n"
        "r = solver_call('prompt \\ud800 end')\n"
        "print(ascii(r))\n"
        "submit('A')\n"
    )
    result = sandbox.run(source, item, host)
    assert result.status == "ok", result
    assert seen == [
        {"prompt": "prompt \ufffd end", "max_tokens": 256, "temperature": 0.0, "stop": None, "choices": None}
    ]
    assert "'reply \\ufffd'" in result.stdout
    result.stdout.encode("utf-8")  # valid text
    # a lone surrogate pushed through the raw bindings panics the guest runtime: a typed error
    raw = "import wit_world\nwit_world.host_call('\\ud800', '{}')\n"
    result = sandbox.run(raw, item, host)
    assert result.status == "error"
    assert result.error.startswith("guest trap")


def test_no_filesystem(sandbox, item, host):
    source = (
        "import os\n"
        "for attempt in (lambda: open('/etc/passwd').read(), lambda: open('/tmp/x', 'w'),\n"
        "                lambda: os.listdir('/'), lambda: os.listdir('.'), lambda: os.stat('/etc')):\n"
        "    try:\n"
        "        print('LEAK', attempt())\n"
        "    except OSError as e:\n"
        "        print(type(e).__name__)\n"
    )
    result = sandbox.run(source, item, host)
    assert "LEAK" not in result.stdout, result.stdout
    assert result.stdout.splitlines() == ["FileNotFoundError"] * 5


def test_no_host_environment_or_args(sandbox, item, host, monkeypatch):
    monkeypatch.setenv("CGR_TEST_SECRET", "hunter2-do-not-leak")
    source = (
        "import os, sys\n"
        "print(dict(os.environ), sys.argv, os.environ.get('CGR_TEST_SECRET'), os.environ.get('HOME'))\n"
        "print(sys.stdin.read() == '')\n"
        "try:\n"
        "    input()\n"
        "except EOFError:\n"
        "    print('EOF')\n"
    )
    result = sandbox.run(source, item, host)
    assert "hunter2" not in result.stdout
    assert result.stdout == "{} [] None None\nTrue\nEOF\n"


def test_no_network(sandbox, item, host):
    source = (
        "import _socket\n"
        "for target in (('127.0.0.1', 22), ('1.1.1.1', 80)):\n"
        "    try:\n"
        "        s = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)\n"
        "        s.connect(target)\n"
        "        print('CONNECTED')\n"
        "    except OSError as e:\n"
        "        print(type(e).__name__)\n"
        "try:\n"
        "    import socket\n"
        "except ImportError:\n"
        "    print('no socket module')\n"
        "try:\n"
        "    print(_socket.getaddrinfo('example.com', 80))\n"
        "except Exception as e:\n"
        "    print(type(e).__name__)\n"
    )
    result = sandbox.run(source, item, host)
    assert "CONNECTED" not in result.stdout
    assert "example.com" not in result.stdout
    assert result.status == "no_submit", result


def test_gold_answer_is_never_visible(sandbox, host):
    item = {
        "id": "g1",
        "question": "q?",
        "choices": ["a", "b"],
        "labels": ["A", "B"],
        "context": None,
        "answer": "GOLD-SECRET-B",
        "gold": "GOLD-SECRET-B",
        "metadata": {"answer": "GOLD-SECRET-B"},
    }
    source = (
        "import gc, sys\n"
        "print(hasattr(ITEM, 'answer'), repr(ITEM))\n"
        "try:\n"
        "    ITEM['answer']\n"
        "except KeyError:\n"
        "    print('no key')\n"
        "hits = [o for o in gc.get_objects() if isinstance(o, dict) and 'GOLD-SECRET-B' in map(str, o.values())]\n"
        "print(len(hits))\n"
    )
    result = sandbox.run(source, item, host)
    assert "GOLD-SECRET" not in result.stdout
    assert result.stdout.splitlines()[1:] == ["no key", "0"]
    assert result.stdout.startswith("False ITEM(")


def test_nothing_persists_between_runs(sandbox, item, host):
    first = (
        "import sys, json, random, builtins\n"
        "sys.marker = 'set'\n"
        "json.marker = 'set'\n"
        "builtins.leak = 'set'\n"
        "random.seed(12345)\n"
        "GLOBAL = 1\n"
        "try:\n"
        "    open('/persist.txt', 'w').write('x')\n"
        "except OSError:\n"
        "    print('no write')\n"
    )
    second = (
        "import sys, json, builtins\n"
        "print(getattr(sys, 'marker', None), getattr(json, 'marker', None), getattr(builtins, 'leak', None),\n"
        "      'GLOBAL' in globals())\n"
        "try:\n"
        "    open('/persist.txt').read()\n"
        "except OSError:\n"
        "    print('no file')\n"
    )
    assert sandbox.run(first, item, host).stdout == "no write\n"
    assert sandbox.run(second, item, host).stdout == "None None None False\nno file\n"


def test_exit_paths(sandbox, item, host):
    assert sandbox.run("import sys\nsys.exit(3)\n", item, host).status == "no_submit"
    result = sandbox.run("import os\ntry:\n    submit('B')\nexcept BaseException:\n    pass\nos._exit(0)\n", item, host)
    assert result.status == "ok" and result.answer == "B"
    result = sandbox.run("import os\nos._exit(2)\n", item, host)
    assert result.status == "no_submit" and "exited" in result.error


def test_fuel_limit(sandbox, item, host):
    sandbox.warm(fuel=True)  # second (fuel-metering) compiled component: built once, then cached
    result = sandbox.run("while True:\n    pass\n", item, host, Limits(fuel=50_000_000, timeout_s=10))
    assert result.status == "timeout"
    assert "fuel" in result.error
    assert sandbox.run("submit('A')", item, host, Limits(fuel=10**9)).status == "ok"


def test_process_environment_untouched(sandbox, item, host):
    before = dict(os.environ)
    sandbox.run("import os\nos.environ['X'] = '1'\nos.putenv('Y', '2')\n", item, host)
    assert dict(os.environ) == before
