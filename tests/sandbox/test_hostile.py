"""Hostile scaffolds: one table row per attack, each with its exact typed outcome.

Secrets are planted where a scaffold might look: an environment variable of this test process, a
file on the host, and the item's gold answer (three keys of the item). Every run must keep its
exact status and none of the secrets may appear in its stdout, stderr, error or answer, nor in
anything the host callback receives. A real loopback TCP listener and UDP socket (bound here, with
threads receiving) must see nothing. Rows with ``then`` run a second scaffold in the same Sandbox
afterwards (cross-run persistence).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass, field

import pytest

from cgr.sandbox import STATUSES, HostError, Limits
from cgr.sandbox._api import MAX_REPLY_CHARS

ENV_NAME = "CGR_HOSTILE_SECRET"
ENV_SECRET = "env-secret-6b1f0c2e"
FILE_SECRET = "file-secret-93d2aa71"
GOLD_SECRET = "gold-secret-4e7d1105"
SECRETS = (ENV_SECRET, FILE_SECRET, GOLD_SECRET)

ITEM = {
    "id": "hostile-1", "question": "Which city is the capital of France?", "choices": ["Berlin", "Paris", "Rome"],
    "labels": ["A", "B", "C"], "context": None,
    # never shown to the guest:
    "answer": GOLD_SECRET, "gold": GOLD_SECRET, "metadata": {"answer": GOLD_SECRET, "note": GOLD_SECRET},
}

BASE = dict(timeout_s=5, memory_mb=128, max_calls=8, max_prompt_chars=2000, max_output_bytes=16 * 1024)
QUICK = dict(BASE, timeout_s=0.5)


class HostileHost:
    """The host callback: echoes, and misbehaves on request (prompt HUGE / FAIL / CRASH)."""

    def __init__(self):
        self.seen: list[tuple[str, dict]] = []

    def __call__(self, op, args):
        self.seen.append((op, args))
        if op == "solve":
            prompt = args["prompt"]
            if prompt == "HUGE":
                return "x" * (MAX_REPLY_CHARS + 1)
            if prompt == "FAIL":
                raise HostError("solver unavailable")
            if prompt == "CRASH":
                raise KeyError("boom")
            return args["choices"][0] if args["choices"] else "echo"
        if op == "logprobs":
            return [-1.0] * len(args["continuations"])
        if op == "extract":
            return "A" if "A" in args["text"] else None
        raise HostError(op)


@dataclass
class Attack:
    id: str
    source: str
    status: str
    limits: dict = field(default_factory=lambda: dict(BASE))
    stdout: str | None = None  # exact stdout
    says: str | None = None  # a substring of stdout
    error: str | None = None  # prefix of SandboxResult.error
    answer: str | None = None
    calls: int | None = None
    then: tuple[str, str, str] | None = None  # (second source, its status, its exact stdout)
    net: bool = False  # check the loopback listeners afterwards


A = Attack
ATTACKS = [
    # ---------------------------------------------------------------------------- filesystem ---
    A("fs_read_host_file", "print(open('@PATH@').read())\n", "error", error="FileNotFoundError"),
    A("fs_os_open_low_level", "import os\nfd = os.open('@PATH@', os.O_RDONLY)\nprint(os.read(fd, 99))\n",
      "error", error="FileNotFoundError"),
    A("fs_fileio_class", "import _io\nprint(_io.FileIO('@PATH@').read())\n", "error", error="FileNotFoundError"),
    A("fs_path_traversal", "print(open('../../../../../..@PATH@').read())\n", "error", error="FileNotFoundError"),
    A("fs_listdir_root", "import os\nprint(os.listdir('/'))\n", "error", error="FileNotFoundError"),
    A("fs_walk_everything", "import os\nprint(os.getcwd(), list(os.walk('/')), list(os.walk('.')))\n",
      "no_submit", stdout="/ [] []\n"),
    A("fs_write_tmp", "open('/tmp/cgr-hostile', 'w').write('x')\n", "error", error="FileNotFoundError"),
    A("fs_proc_self_environ", "print(open('/proc/self/environ', 'rb').read())\n", "error", error="FileNotFoundError"),
    A("fs_guess_preopen_fds",
      "import os\nn = 0\nfor fd in range(3, 256):\n    try:\n        os.fstat(fd)\n        n += 1\n"
      "    except OSError:\n        pass\nprint(n)\n", "no_submit", stdout="0\n"),
    A("fs_sqlite_file", "import _sqlite3\n_sqlite3.connect('@PATH@')\n", "error",
      error="ModuleNotFoundError: No module named '_sqlite3'"),  # removed from the guest (test_doors.py)
    # --------------------------------------------------------------------------- environment ---
    A("env_environ", "import os\nprint(dict(os.environ), os.environb)\n", "no_submit", stdout="{} environ({})\n"),
    A("env_getenv_secret", "import os\nprint(os.getenv('@ENV@'), os.getenv('HOME'), os.getenv('PATH'))\n",
      "no_submit", stdout="None None None\n"),
    A("env_argv_stdin", "import sys\nprint(sys.argv, sys.orig_argv, sys.stdin.buffer.read())\n",
      "no_submit", stdout="[] [] b''\n"),
    A("env_putenv_host", "import os\nos.environ['@ENV@'] = 'overwritten'\nos.putenv('@ENV@', 'x')\n"
      "print(os.getenv('@ENV@'))\n", "no_submit", stdout="overwritten\n"),  # the guest's own copy only
    # ------------------------------------------------------------------------------- network ---
    A("net_tcp_connect_loopback", "import _socket\ns = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)\n"
      "s.connect(('127.0.0.1', @PORT@))\n", "error", error="PermissionError", net=True),
    A("net_tcp_connect_ipv6", "import _socket\ns = _socket.socket(_socket.AF_INET6, _socket.SOCK_STREAM)\n"
      "s.connect(('::1', @PORT@))\n", "error", error="PermissionError", net=True),
    A("net_udp_sendto_loopback", "import _socket\ns = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)\n"
      "s.sendto(b'@ENV@', ('127.0.0.1', @UDP_PORT@))\n", "error", error="PermissionError", net=True),
    A("net_bind_listen", "import _socket\ns = _socket.socket()\ns.bind(('0.0.0.0', 0))\ns.listen()\n",
      "error", error="PermissionError", net=True),
    A("net_dns_lookup", "import _socket\nprint(_socket.getaddrinfo('localhost', @PORT@))\n", "error",
      error="LookupError", net=True),
    A("net_socket_module", "import socket\n", "error", error="ModuleNotFoundError: No module named 'socket'"),
    A("net_urllib", "import urllib.request\n", "error", error="ModuleNotFoundError: No module named 'urllib'"),
    # ----------------------------------------------------------- processes, threads, native ---
    A("proc_os_system", "import os\nos.system('id')\n", "error", error="AttributeError"),
    A("proc_fork", "import os\nos.fork()\n", "error", error="AttributeError"),
    A("proc_exec", "import os\nos.execl('/bin/sh', 'sh', '-c', 'id')\n", "error", error="NameError"),
    A("proc_popen", "import os\nos.popen('id')\n", "error",
      error="ModuleNotFoundError: No module named 'subprocess'"),
    A("proc_subprocess", "import subprocess\n", "error", error="ModuleNotFoundError: No module named 'subprocess'"),
    A("proc_signal", "import signal\n", "error", error="ModuleNotFoundError: No module named 'signal'"),
    A("proc_thread", "import _thread\n_thread.start_new_thread(print, ('x',))\n", "error",
      error="RuntimeError: can't start new thread"),
    A("native_ctypes", "import ctypes\n", "error", error="ModuleNotFoundError: No module named 'ctypes'"),
    A("native_dynamic_load",
      "import _imp, importlib.machinery as m\n"
      "_imp.create_dynamic(m.ModuleSpec('evil', None, origin='/lib/x86_64-linux-gnu/libc.so.6'))\n",
      "error", error="ImportError"),
    # --------------------------------------------------------------------------- introspection ---
    A("intro_subclasses",
      "seen, todo = set(), [object]\nwhile todo:\n    c = todo.pop()\n    for s in type.__subclasses__(c):\n"
      "        if s not in seen:\n            seen.add(s)\n            todo.append(s)\n"
      "names = {f'{c.__module__}.{c.__qualname__}' for c in seen}\n"
      "bad = sorted(n for n in names if any(w in n for w in ('Popen', 'CDLL', 'subprocess')) or n == 'socket.socket')\n"
      "opened = 0\nfor c in seen:\n    if c.__name__ in ('FileIO', 'BufferedReader', 'TextIOWrapper'):\n"
      "        try:\n            c('@PATH@')\n            opened += 1\n        except Exception:\n            pass\n"
      "print(len(seen) > 200, bad, opened)\n", "no_submit", stdout="True [] 0\n"),
    A("intro_frames_and_locals",
      "import sys\nf, lines = sys._getframe(), []\nwhile f is not None:\n"
      "    lines += [f'{f.f_code.co_name} {k} {v!r}' for k, v in list(f.f_locals.items())]\n    f = f.f_back\n"
      "print('\\n'.join(lines)[:12000])\nprint('item_json' in '\\n'.join(lines))\n", "no_submit", says="True\n"),
    A("intro_gc_every_string",
      "import gc\ngc.unfreeze()\nhits = set()\nfor o in gc.get_objects():\n    for x in gc.get_referents(o):\n"
      "        if isinstance(x, str) and ('secret-' in x or 'gold' in x.lower()):\n            hits.add(x[:80])\n"
      "print(sorted(h for h in hits if 'hits' not in h))\n", "no_submit"),
    A("intro_sys_modules",
      "import sys\nvals = []\nfor name, mod in list(sys.modules.items()):\n"
      "    for k, v in list(vars(mod).items()):\n        if isinstance(v, (str, bytes)):\n            vals.append(v)\n"
      "print(len(sys.modules) > 50, [v for v in vals if 'secret-' in str(v)][:5])\n", "no_submit",
      stdout="True []\n"),
    A("intro_item_internals", "print(ITEM.__slots__, [getattr(ITEM, k) for k in ITEM.__slots__])\n"
      "print(ITEM['answer'])\n", "error", error="KeyError: 'answer'"),
    A("intro_trampoline_bad_args", "import componentize_py_runtime as r\nr.call_import(7, [object()])\n",
      "error", error="guest trap"),
    A("intro_trampoline_raw_submit",
      "import componentize_py_runtime as r\nprint(r.call_import(0, ['submit', '{\"label\": \"Z\"}']))\n",
      "invalid_submit", error="ValueError: submit(): 'Z'"),
    A("intro_bindings_bypass_budget",
      "import json, wit_world\nfrom componentize_py_types import Err\nreq = json.dumps({'prompt': 'p'})\n"
      "for i in range(20):\n    try:\n        wit_world.host_call('solve', req)\n    except Err:\n        pass\n",
      "call_budget", calls=8),
    A("intro_bindings_bad_requests",
      "import json, wit_world\nfrom componentize_py_types import Err\n"
      "for op, payload in (('solve', 'not json'), ('solve', '[1]'), ('nope', '{}'), ('solve', 'x' * (9 << 20)),\n"
      "                    ('submit', '{\"label\": 5}'), ('sleep', '{\"seconds\": -1}')):\n"
      "    try:\n        wit_world.host_call(op, payload)\n        print('accepted')\n"
      "    except Err as e:\n        print(json.loads(e.value)['type'])\n",
      "invalid_submit", stdout="ValueError\n" * 6),
    # ------------------------------------------------------------- tampering with the scaffold API ---
    A("tamper_runner_call", "import guest_app\nguest_app._call = lambda op, args: None\nsubmit('Z')\n",
      "no_submit", calls=0),
    A("tamper_fake_solver", "solver_call = lambda *a, **k: 'B'\nsubmit(solver_call('x'))\n", "ok", answer="B",
      calls=0),
    A("tamper_item_labels", "object.__setattr__(ITEM, 'labels', ('Z',))\nsubmit('Z')\n", "invalid_submit"),
    A("tamper_builtins", "import builtins\nfor n in ('isinstance', 'str', 'len', 'type', 'getattr', 'tuple',\n"
      "          'BaseException', 'Exception', 'SystemExit', 'object'):\n    setattr(builtins, n, None)\n"
      "raise ValueError('boom')\n", "error", error="ValueError: boom"),
    A("tamper_builtins_then_submit", "import builtins\ndel builtins.isinstance, builtins.str, builtins.len\n"
      "submit('B')\n", "ok", answer="B"),
    A("tamper_json_and_bindings", "import json, wit_world\njson.dumps = json.loads = None\n"
      "wit_world.host_call = None\nsubmit('C')\n", "ok", answer="C"),
    A("tamper_stdio", "import sys\nsys.stdout = sys.stderr = sys.__stderr__ = None\nraise ValueError('quiet')\n",
      "error", error="ValueError: quiet"),
    A("tamper_submitted_signal", "import guest_app\nguest_app._Submitted = ValueError\nraise ValueError('x')\n",
      "no_submit"),
    A("raise_keyboard_interrupt", "raise KeyboardInterrupt\n", "error", error="KeyboardInterrupt"),
    A("raise_evil_str", "class E(Exception):\n    def __str__(self):\n        raise RuntimeError('no')\nraise E()\n",
      "error", error="E: <exception str() failed>"),
    A("exit_code", "import os\nos._exit(7)\n", "no_submit", error="SystemExit"),
    # ----------------------------------------------------------------------------- submit rules ---
    A("submit_never", "x = 1\n", "no_submit"),
    A("submit_invalid", "submit('D')\n", "invalid_submit", error="ValueError: submit(): 'D'"),
    A("submit_twice", "try:\n    submit('A')\nexcept BaseException:\n    pass\nsubmit('C')\n", "ok", answer="A",
      error="submit(): called again with 'C'"),
    A("submit_swallowed_then_loop", "try:\n    submit('C')\nexcept BaseException:\n    pass\nwhile True:\n    pass\n",
      "timeout", answer="C", limits=QUICK),
    # ------------------------------------------------------------------------------- exhaustion ---
    A("cpu_busy_loop", "while True:\n    pass\n", "timeout", limits=QUICK, error="timeout: wall-clock"),
    A("cpu_regex_backtracking", "import re\nre.match('(a+)+$', 'a' * 40 + 'b')\n", "timeout", limits=QUICK),
    A("cpu_bigint", "x = 7 ** (10 ** 9)\n", "timeout", limits=QUICK),
    A("cpu_sleep_forever", "import time\ntime.sleep(10 ** 6)\n", "timeout", limits=QUICK),
    A("cpu_blocking_select", "import select\nselect.select([], [], [], 1000)\n", "error", error="RuntimeError"),
    A("cpu_fuel", "while True:\n    pass\n", "timeout", limits=dict(BASE, fuel=20_000_000), error="timeout: fuel"),
    A("mem_bomb", "x = []\nwhile True:\n    x.append(bytearray(1 << 20))\n", "memory", limits=dict(BASE, memory_mb=48)),
    A("mem_one_huge_alloc", "x = 'a' * (1 << 30)\n", "memory"),
    A("mem_too_small_to_start", "submit('A')\n", "memory", limits=dict(BASE, memory_mb=4)),
    A("stack_python_recursion", "def f():\n    f()\nf()\n", "error", error="RecursionError"),
    A("stack_c_recursion", "import sys\nsys.setrecursionlimit(10 ** 6)\ndef f(n):\n    return f(n + 1)\nf(0)\n",
      "error", error="RecursionError: wasm call stack exhausted"),
    A("stack_parser", "x = " + "(" * 100_000 + ")" * 100_000 + "\n", "syntax"),
    A("out_stdout_flood", "while True:\n    print('spam' * 64)\n", "output_cap", error="output cap: stdout"),
    A("out_stderr_single_write", "import sys\nsys.stderr.write('e' * (1 << 22))\n", "output_cap",
      error="output cap: stderr"),
    A("out_flood_after_submit", "try:\n    submit('B')\nexcept BaseException:\n    pass\nprint('x' * 100_000)\n",
      "output_cap", answer="B"),
    A("calls_budget_loop", "while True:\n    solver_call('p')\n", "call_budget", calls=8),
    A("calls_budget_caught", "for i in range(20):\n    try:\n        solver_logprobs('p', ['a'])\n"
      "    except RuntimeError:\n        pass\nsubmit('A')\n", "call_budget", answer="A", calls=8),
    A("prompt_too_long", "solver_call('p' * 2001)\n", "error", error="ValueError: solver_call: prompt is 2001"),
    A("prompt_too_many_choices", "solver_call('p', choices=['a'] * 65)\n", "error", error="ValueError"),
    A("reply_huge", "solver_call('HUGE')\n", "error", error="HostError: solver_call: the solver's reply of",
      calls=1),
    A("reply_huge_caught", "try:\n    solver_call('HUGE')\nexcept RuntimeError:\n    pass\nsubmit('A')\n", "ok",
      answer="A", error="HostError: solver_call: the solver's reply of"),
    A("host_failures_caught", "for p in ('FAIL', 'CRASH'):\n    try:\n        solver_call(p)\n"
      "    except RuntimeError as e:\n        print(e)\nsubmit('B')\n", "ok", answer="B", calls=2,
      stdout="solver unavailable\nKeyError: 'boom'\n", error="HostError: solver unavailable"),
    # ---------------------------------------------------------------------- weird argument types ---
    A("arg_bytes_prompt", "solver_call(b'prompt')\n", "error", error="TypeError"),
    A("arg_bytes_label", "submit(b'A')\n", "invalid_submit", error="ValueError: submit(): a bytes"),
    A("arg_huge_int", "solver_call('p', max_tokens=10 ** 100)\n", "error", error="ValueError: solver_call: max_tokens"),
    A("arg_nan_temperature", "solver_call('p', temperature=float('nan'))\n", "error",
      error="ValueError: solver_call: temperature"),
    A("arg_nested_lists", "solver_call('p', stop=[[['a']]])\n", "error", error="TypeError"),
    A("arg_deeply_nested", "x = []\nfor _ in range(100_000):\n    x = [x]\nsolver_call(x)\n", "error",
      error="RecursionError"),
    A("arg_self_referencing", "x = []\nx.append(x)\nsolver_call('p', stop=x)\n", "error", error="TypeError"),
    A("arg_str_subclass_eq", "class S(str):\n    def __eq__(self, other):\n        return True\n"
      "    __hash__ = str.__hash__\n    def __str__(self):\n        return 'A'\nsubmit(S('Z'))\n",
      "invalid_submit", error="ValueError: submit(): 'Z'"),
    A("arg_object_eq_true", "class T:\n    def __eq__(self, other):\n        return True\nsubmit(T())\n",
      "invalid_submit", error="ValueError: submit(): a T"),
    A("arg_dict_prompt", "solver_call({'prompt': 'p'})\n", "error", error="TypeError: solver_call: prompt"),
    A("arg_lone_surrogate_label", "submit('\\ud800')\n", "invalid_submit"),
    A("arg_huge_label", "submit('A' * 1_000_000)\n", "invalid_submit"),
    # ------------------------------------------------------------------- cross-run persistence ---
    A("persist_globals", "import sys, json, builtins, guest_app\nsys.marker = json.marker = 'set'\n"
      "builtins.leak = 'set'\nguest_app.solver_call = None\nGLOBAL = 1\nsubmit('C')\n", "ok", answer="C",
      then=("import sys, json, builtins\nprint(getattr(sys, 'marker', None), getattr(json, 'marker', None),\n"
            "      getattr(builtins, 'leak', None), 'GLOBAL' in globals(), callable(solver_call))\n",
            "no_submit", "None None None False True\n")),
    A("persist_file", "try:\n    open('/persist', 'w').write('x')\nexcept OSError as e:\n    print(type(e).__name__)\n",
      "no_submit", stdout="FileNotFoundError\n",
      then=("try:\n    print(open('/persist').read())\nexcept OSError as e:\n    print(type(e).__name__)\n",
            "no_submit", "FileNotFoundError\n")),
    A("persist_item_and_random", "import random\nobject.__setattr__(ITEM, 'question', 'tampered')\nrandom.seed(99)\n"
      "type(ITEM).__repr__ = lambda self: 'evil'\n", "no_submit",
      then=("import random\nprint(ITEM.question, repr(ITEM).startswith('ITEM('), random.random() != "
            "random.Random(99).random())\n", "no_submit", "Which city is the capital of France? True True\n")),
]
assert len({a.id for a in ATTACKS}) == len(ATTACKS)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Secrets in this process's environment and in a host file; loopback TCP and UDP listeners."""
    mp = pytest.MonkeyPatch()
    mp.setenv(ENV_NAME, ENV_SECRET)
    path = tmp_path_factory.mktemp("host") / "secret.txt"
    path.write_text(FILE_SECRET)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(8)
    tcp.settimeout(0.05)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(0.05)
    seen: list = []
    done = threading.Event()

    def accept():
        while not done.is_set():
            try:
                conn, addr = tcp.accept()
                seen.append(("tcp", addr))
                conn.close()
            except OSError:
                pass

    def receive():
        while not done.is_set():
            try:
                seen.append(("udp", udp.recvfrom(65536)))
            except OSError:
                pass

    threads = [threading.Thread(target=accept, daemon=True), threading.Thread(target=receive, daemon=True)]
    for t in threads:
        t.start()
    # the listeners are real: a connection and a datagram from this process are seen
    socket.create_connection(tcp.getsockname(), timeout=2).close()
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"ping", udp.getsockname())
    deadline = time.monotonic() + 5
    while len(seen) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sorted(kind for kind, _ in seen) == ["tcp", "udp"]
    seen.clear()
    yield {"@PATH@": str(path), "@ENV@": ENV_NAME, "@PORT@": str(tcp.getsockname()[1]),
           "@UDP_PORT@": str(udp.getsockname()[1]), "seen": seen}
    done.set()
    for t in threads:
        t.join(timeout=2)
    tcp.close()
    udp.close()
    mp.undo()


def _fill(source: str, planted: dict) -> str:
    for key, value in planted.items():
        if key.startswith("@"):
            source = source.replace(key, value)
    return source


def _assert_no_leak(result, host: HostileHost) -> None:
    fields = {"stdout": result.stdout, "stderr": result.stderr, "error": result.error or "",
              "answer": result.answer or ""}
    for name, text in fields.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret} leaked into {name}"
    for secret in SECRETS:
        assert secret not in repr(host.seen), f"{secret} reached the host callback"


def test_the_table_is_big_enough():
    assert len(ATTACKS) >= 40
    assert {a.status for a in ATTACKS} == set(STATUSES)  # every status is exercised


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.id for a in ATTACKS])
def test_attack(sandbox, planted, attack: Attack):
    before_env = dict(os.environ)
    host = HostileHost()
    result = sandbox.run(_fill(attack.source, planted), ITEM, host, Limits(**attack.limits))
    assert result.status == attack.status, result
    if attack.stdout is not None:
        assert result.stdout == attack.stdout, result
    if attack.says is not None:
        assert attack.says in result.stdout, result
    if attack.error is not None:
        assert result.error is not None and result.error.startswith(attack.error), result
    assert result.answer == attack.answer, result
    if attack.calls is not None:
        assert result.solver_calls == attack.calls, result
    _assert_no_leak(result, host)
    assert dict(os.environ) == before_env  # the host's environment is untouched
    if attack.then is not None:
        source, status, stdout = attack.then
        second = sandbox.run(source, ITEM, host, Limits(**BASE))
        assert (second.status, second.stdout) == (status, stdout), second
        _assert_no_leak(second, host)
    if attack.net:
        time.sleep(0.05)
        assert planted["seen"] == [], "a loopback listener saw the guest"
    # the sandbox is still fine afterwards
    assert sandbox.run("submit('A')", ITEM, host).status == "ok"
