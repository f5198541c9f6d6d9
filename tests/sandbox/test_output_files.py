"""``Sandbox(output_files=True)``: output captured through files gives the same results as the
default output callback, keeps the cap, and leaves no file or descriptor behind."""

from __future__ import annotations

import os

import pytest

from cgr.sandbox import Limits, Sandbox

from .conftest import ITEM, EchoHost

CASES = [
    "print('hi')\nimport sys\nsys.stderr.write('err\\n')\nsubmit('A')\n",
    "for i in range(20):\n    print('line', i, 'é\\u2603')\nprint(solver_call('p'))\nsubmit('B')\n",
    "while True:\n    print('spam' * 25)\n",
    "print('y' * 5000)\nsubmit('B')\n",
    "import sys\nsys.stderr.write('z' * 3000)\nsubmit('B')\n",
    "print('a' * 100_000)\n",
    "print('abc', end='')\nwhile True:\n    pass\n",
    "raise ValueError('boom')\n",
    "print('x' * 500)\nprint(solver_call('q'))\nsubmit('C')\n",
    "import sys\ntry:\n    submit('A')\nexcept BaseException:\n    pass\nsys.stderr.write('e' * 50_000)\n",
    "print('\\u00e9' * 1500)\nsubmit('A')\n",  # 3000 bytes: the 2048-byte cap cuts inside a character
    "def f(n):\n    return f(n + 1)\nf(0)\n",
]


@pytest.fixture(scope="module")
def file_sandbox() -> Sandbox:
    sb = Sandbox(output_files=True)
    sb.warm()
    return sb


def _summary(result):
    return (result.status, result.answer, result.solver_calls, result.stdout, result.stderr, result.error)


@pytest.mark.parametrize("source", CASES)
@pytest.mark.parametrize("cap", [2048, 64 * 1024])
def test_same_result_as_the_output_callback(sandbox, file_sandbox, source, cap):
    limits = Limits(timeout_s=2, max_output_bytes=cap)
    expected = sandbox.run(source, ITEM, EchoHost(), limits)
    got = file_sandbox.run(source, ITEM, EchoHost(), limits)
    assert _summary(got) == _summary(expected)


def test_print_flood_is_cut_at_the_cap(file_sandbox):
    flood = "while True:\n    print('spam' * 25)\n"
    result = file_sandbox.run(flood, ITEM, EchoHost(), Limits(max_output_bytes=10_000))
    assert result.status == "output_cap"
    assert len(result.stdout.encode()) == 10_000
    assert result.error == "output cap: stdout exceeded 10000 bytes"


def test_one_huge_write_is_output_cap_and_not_kept(file_sandbox):
    result = file_sandbox.run("print('x' * 50_000_000)\nsubmit('A')\n", ITEM, EchoHost(), Limits(max_output_bytes=1024))
    assert result.status == "output_cap"
    assert len(result.stdout) == 1024


def test_no_file_or_descriptor_is_left_behind(file_sandbox):
    file_sandbox.run("print('warm')\n", ITEM, EchoHost())
    fds = len(os.listdir("/proc/self/fd"))
    for source in CASES[:4]:
        file_sandbox.run(source, ITEM, EchoHost(), Limits(timeout_s=2, max_output_bytes=2048))
    assert os.listdir(file_sandbox._output_dir()) == []
    assert len(os.listdir("/proc/self/fd")) == fds


def test_the_output_directory_is_private_and_removed_with_the_sandbox():
    sb = Sandbox(output_files=True)
    assert sb.run("print('hi')\nsubmit('A')\n", ITEM, EchoHost()).stdout == "hi\n"
    path = sb._output_dir()
    assert os.stat(path).st_mode & 0o777 == 0o700
    del sb
    import gc

    gc.collect()
    assert not os.path.exists(path)
