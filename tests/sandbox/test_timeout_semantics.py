"""timeout_s bounds the scaffold's own time: a slow solver does not time the scaffold out."""

import time

from cgr.sandbox import Limits


def slow_host(op, args):
    time.sleep(0.6)
    return "A" if op == "solve" else None


def test_time_inside_solver_calls_is_not_counted(sandbox, item):
    src = "r = [solver_call('q') for _ in range(3)]\nsubmit('A')\n"  # ~1.8 s of solver time
    result = sandbox.run(src, item, slow_host, Limits(timeout_s=1.0))
    assert result.status == "ok" and result.solver_calls == 3, result.error


def test_the_scaffold_own_time_still_times_out_after_solver_calls(sandbox, item):
    src = "solver_call('q')\nsolver_call('q')\nwhile True:\n    pass\n"
    result = sandbox.run(src, item, slow_host, Limits(timeout_s=1.0))
    assert result.status == "timeout" and result.solver_calls == 2


def test_sleep_still_counts(sandbox, item):
    result = sandbox.run("import time\ntime.sleep(5)\nsubmit('A')\n", item, slow_host, Limits(timeout_s=0.5))
    assert result.status == "timeout" and result.answer is None
