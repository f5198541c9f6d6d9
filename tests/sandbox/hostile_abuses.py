"""Hostile scaffolds that abuse the API and the limits: tampering with the runner, the submit
rules, exhaustion, weird argument types, and state that might persist across runs (rows of
test_hostile.py)."""

from __future__ import annotations

from .hostile_cases import BASE, QUICK, A, Attack

ABUSES: list[Attack] = [
    # ------------------------------------------------------------- tampering with the scaffold API ---
    A(
        "tamper_runner_call",
        "import guest_app\nguest_app._call = lambda op, args: None\nsubmit('Z')\n",
        "no_submit",
        calls=0,
    ),
    A("tamper_fake_solver", "solver_call = lambda *a, **k: 'B'\nsubmit(solver_call('x'))\n", "ok", answer="B", calls=0),
    A("tamper_item_labels", "object.__setattr__(ITEM, 'labels', ('Z',))\nsubmit('Z')\n", "invalid_submit"),
    A(
        "tamper_builtins",
        "import builtins\nfor n in ('isinstance', 'str', 'len', 'type', 'getattr', 'tuple',\n"
        "          'BaseException', 'Exception', 'SystemExit', 'object'):\n    setattr(builtins, n, None)\n"
        "raise ValueError('boom')\n",
        "error",
        error="ValueError: boom",
    ),
    A(
        "tamper_builtins_then_submit",
        "import builtins\ndel builtins.isinstance, builtins.str, builtins.len\nsubmit('B')\n",
        "ok",
        answer="B",
    ),
    A(
        "tamper_json_and_bindings",
        "import json, wit_world\njson.dumps = json.loads = None\nwit_world.host_call = None\nsubmit('C')\n",
        "ok",
        answer="C",
    ),
    A(
        "tamper_stdio",
        "import sys\nsys.stdout = sys.stderr = sys.__stderr__ = None\nraise ValueError('quiet')\n",
        "error",
        error="ValueError: quiet",
    ),
    A(
        "tamper_submitted_signal",
        "import guest_app\nguest_app._Submitted = ValueError\nraise ValueError('x')\n",
        "no_submit",
    ),
    A("raise_keyboard_interrupt", "raise KeyboardInterrupt\n", "error", error="KeyboardInterrupt"),
    A(
        "raise_evil_str",
        "class E(Exception):\n    def __str__(self):\n        raise RuntimeError('no')\nraise E()\n",
        "error",
        error="E: <exception str() failed>",
    ),
    A("exit_code", "import os\nos._exit(7)\n", "no_submit", error="SystemExit"),
    # ----------------------------------------------------------------------------- submit rules ---
    A("submit_never", "x = 1\n", "no_submit"),
    A("submit_invalid", "submit('D')\n", "invalid_submit", error="ValueError: submit(): 'D'"),
    A(
        "submit_twice",
        "try:\n    submit('A')\nexcept BaseException:\n    pass\nsubmit('C')\n",
        "ok",
        answer="A",
        error="submit(): called again with 'C'",
    ),
    A(
        "submit_swallowed_then_loop",
        "try:\n    submit('C')\nexcept BaseException:\n    pass\nwhile True:\n    pass\n",
        "timeout",
        answer="C",
        limits=QUICK,
    ),
    # ------------------------------------------------------------------------------- exhaustion ---
    A("cpu_busy_loop", "while True:\n    pass\n", "timeout", limits=QUICK, error="timeout: wall-clock"),
    A("cpu_regex_backtracking", "import re\nre.match('(a+)+$', 'a' * 40 + 'b')\n", "timeout", limits=QUICK),
    A("cpu_bigint", "x = 7 ** (10 ** 9)\n", "timeout", limits=QUICK),
    A("cpu_sleep_forever", "import time\ntime.sleep(10 ** 6)\n", "timeout", limits=QUICK),
    A("cpu_blocking_select", "import select\nselect.select([], [], [], 1000)\n", "error", error="RuntimeError"),
    A("cpu_fuel", "while True:\n    pass\n", "timeout", limits=dict(BASE, fuel=20_000_000), error="timeout: fuel"),
    A("mem_bomb", "x = []\nwhile True:\n    x.append(bytearray(1 << 20))\n", "memory", limits=dict(BASE, memory_mb=48)),
    A("mem_one_huge_alloc", "x = 'a' * (1 << 30)\n", "memory"),
    A("stack_python_recursion", "def f():\n    f()\nf()\n", "error", error="RecursionError"),
    A(
        "stack_c_recursion",
        "import sys\nsys.setrecursionlimit(10 ** 6)\ndef f(n):\n    return f(n + 1)\nf(0)\n",
        "error",
        error="RecursionError: wasm call stack exhausted",
    ),
    A("stack_parser", "x = " + "(" * 100_000 + ")" * 100_000 + "\n", "syntax"),
    A("out_stdout_flood", "while True:\n    print('spam' * 64)\n", "output_cap", error="output cap: stdout"),
    A(
        "out_stderr_single_write",
        "import sys\nsys.stderr.write('e' * (1 << 22))\n",
        "output_cap",
        error="output cap: stderr",
    ),
    A(
        "out_flood_after_submit",
        "try:\n    submit('B')\nexcept BaseException:\n    pass\nprint('x' * 100_000)\n",
        "output_cap",
        answer="B",
    ),
    A("calls_budget_loop", "while True:\n    solver_call('p')\n", "call_budget", calls=8),
    A(
        "calls_budget_caught",
        "for i in range(20):\n    try:\n        solver_logprobs('p', ['a'])\n"
        "    except RuntimeError:\n        pass\nsubmit('A')\n",
        "call_budget",
        answer="A",
        calls=8,
    ),
    A("prompt_too_long", "solver_call('p' * 2001)\n", "error", error="ValueError: solver_call: prompt is 2001"),
    A("prompt_too_many_choices", "solver_call('p', choices=['a'] * 65)\n", "error", error="ValueError"),
    A("reply_huge", "solver_call('HUGE')\n", "error", error="HostError: solver_call: the solver's reply of", calls=1),
    A(
        "reply_huge_caught",
        "try:\n    solver_call('HUGE')\nexcept RuntimeError:\n    pass\nsubmit('A')\n",
        "ok",
        answer="A",
        error="HostError: solver_call: the solver's reply of",
    ),
    A(
        "host_failures_caught",
        "for p in ('FAIL', 'CRASH'):\n    try:\n        solver_call(p)\n"
        "    except RuntimeError as e:\n        print(e)\nsubmit('B')\n",
        "ok",
        answer="B",
        calls=2,
        stdout="solver unavailable\nKeyError: 'boom'\n",
        error="HostError: solver unavailable",
    ),
    # ---------------------------------------------------------------------- weird argument types ---
    A("arg_bytes_prompt", "solver_call(b'prompt')\n", "error", error="TypeError"),
    A("arg_bytes_label", "submit(b'A')\n", "invalid_submit", error="ValueError: submit(): a bytes"),
    A("arg_huge_int", "solver_call('p', max_tokens=10 ** 100)\n", "error", error="ValueError: solver_call: max_tokens"),
    A(
        "arg_nan_temperature",
        "solver_call('p', temperature=float('nan'))\n",
        "error",
        error="ValueError: solver_call: temperature",
    ),
    A("arg_nested_lists", "solver_call('p', stop=[[['a']]])\n", "error", error="TypeError"),
    A(
        "arg_deeply_nested",
        "x = []\nfor _ in range(100_000):\n    x = [x]\nsolver_call(x)\n",
        "error",
        error="RecursionError",
    ),
    A("arg_self_referencing", "x = []\nx.append(x)\nsolver_call('p', stop=x)\n", "error", error="TypeError"),
    A(
        "arg_str_subclass_eq",
        "class S(str):\n    def __eq__(self, other):\n        return True\n"
        "    __hash__ = str.__hash__\n    def __str__(self):\n        return 'A'\nsubmit(S('Z'))\n",
        "invalid_submit",
        error="ValueError: submit(): 'Z'",
    ),
    A(
        "arg_object_eq_true",
        "class T:\n    def __eq__(self, other):\n        return True\nsubmit(T())\n",
        "invalid_submit",
        error="ValueError: submit(): a T",
    ),
    A("arg_dict_prompt", "solver_call({'prompt': 'p'})\n", "error", error="TypeError: solver_call: prompt"),
    A("arg_lone_surrogate_label", "submit('\\ud800')\n", "invalid_submit"),
    A("arg_huge_label", "submit('A' * 1_000_000)\n", "invalid_submit"),
    # ------------------------------------------------------------------- cross-run persistence ---
    A(
        "persist_globals",
        "import sys, json, builtins, guest_app\nsys.marker = json.marker = 'set'\n"
        "builtins.leak = 'set'\nguest_app.solver_call = None\nGLOBAL = 1\nsubmit('C')\n",
        "ok",
        answer="C",
        then=(
            "import sys, json, builtins\nprint(getattr(sys, 'marker', None), getattr(json, 'marker', None),\n"
            "      getattr(builtins, 'leak', None), 'GLOBAL' in globals(), callable(solver_call))\n",
            "no_submit",
            "None None None False True\n",
        ),
    ),
    A(
        "persist_file",
        "try:\n    open('/persist', 'w').write('x')\nexcept OSError as e:\n    print(type(e).__name__)\n",
        "no_submit",
        stdout="FileNotFoundError\n",
        then=(
            "try:\n    print(open('/persist').read())\nexcept OSError as e:\n    print(type(e).__name__)\n",
            "no_submit",
            "FileNotFoundError\n",
        ),
    ),
    A(
        "persist_item_and_random",
        "import random\nobject.__setattr__(ITEM, 'question', 'tampered')\nrandom.seed(99)\n"
        "type(ITEM).__repr__ = lambda self: 'evil'\n",
        "no_submit",
        then=(
            "import random\nprint(ITEM.question, repr(ITEM).startswith('ITEM('), random.random() != "
            "random.Random(99).random())\n",
            "no_submit",
            "Which city is the capital of France? True True\n",
        ),
    ),
]
