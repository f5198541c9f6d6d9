"""Hostile scaffolds that try to get out: the filesystem, the environment, the network, processes
and native code, and introspection of the guest (rows of test_hostile.py)."""

from __future__ import annotations

from .hostile_cases import A, Attack

ESCAPES: list[Attack] = [
    # ---------------------------------------------------------------------------- filesystem ---
    A("fs_read_host_file", "print(open('@PATH@').read())\n", "error", error="FileNotFoundError"),
    A(
        "fs_os_open_low_level",
        "import os\nfd = os.open('@PATH@', os.O_RDONLY)\nprint(os.read(fd, 99))\n",
        "error",
        error="FileNotFoundError",
    ),
    A("fs_fileio_class", "import _io\nprint(_io.FileIO('@PATH@').read())\n", "error", error="FileNotFoundError"),
    A("fs_path_traversal", "print(open('../../../../../..@PATH@').read())\n", "error", error="FileNotFoundError"),
    A("fs_listdir_root", "import os\nprint(os.listdir('/'))\n", "error", error="FileNotFoundError"),
    A(
        "fs_walk_everything",
        "import os\nprint(os.getcwd(), list(os.walk('/')), list(os.walk('.')))\n",
        "no_submit",
        stdout="/ [] []\n",
    ),
    A("fs_write_tmp", "open('/tmp/cgr-hostile', 'w').write('x')\n", "error", error="FileNotFoundError"),
    A("fs_proc_self_environ", "print(open('/proc/self/environ', 'rb').read())\n", "error", error="FileNotFoundError"),
    A(
        "fs_guess_preopen_fds",
        "import os\nn = 0\nfor fd in range(3, 256):\n    try:\n        os.fstat(fd)\n        n += 1\n"
        "    except OSError:\n        pass\nprint(n)\n",
        "no_submit",
        stdout="0\n",
    ),
    A(
        "fs_sqlite_file",
        "import _sqlite3\n_sqlite3.connect('@PATH@')\n",
        "error",
        error="ModuleNotFoundError: No module named '_sqlite3'",
    ),  # removed from the guest (test_doors.py)
    # --------------------------------------------------------------------------- environment ---
    A("env_environ", "import os\nprint(dict(os.environ), os.environb)\n", "no_submit", stdout="{} environ({})\n"),
    A(
        "env_getenv_secret",
        "import os\nprint(os.getenv('@ENV@'), os.getenv('HOME'), os.getenv('PATH'))\n",
        "no_submit",
        stdout="None None None\n",
    ),
    A(
        "env_argv_stdin",
        "import sys\nprint(sys.argv, sys.orig_argv, sys.stdin.buffer.read())\n",
        "no_submit",
        stdout="[] [] b''\n",
    ),
    A(
        "env_putenv_host",
        "import os\nos.environ['@ENV@'] = 'overwritten'\nos.putenv('@ENV@', 'x')\nprint(os.getenv('@ENV@'))\n",
        "no_submit",
        stdout="overwritten\n",
    ),  # the guest's own copy only
    # ------------------------------------------------------------------------------- network ---
    A(
        "net_tcp_connect_loopback",
        "import _socket\ns = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)\ns.connect(('127.0.0.1', @PORT@))\n",
        "error",
        error="PermissionError",
        net=True,
    ),
    A(
        "net_tcp_connect_ipv6",
        "import _socket\ns = _socket.socket(_socket.AF_INET6, _socket.SOCK_STREAM)\ns.connect(('::1', @PORT@))\n",
        "error",
        error="PermissionError",
        net=True,
    ),
    A(
        "net_udp_sendto_loopback",
        "import _socket\ns = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)\n"
        "s.sendto(b'@ENV@', ('127.0.0.1', @UDP_PORT@))\n",
        "error",
        error="PermissionError",
        net=True,
    ),
    A(
        "net_bind_listen",
        "import _socket\ns = _socket.socket()\ns.bind(('0.0.0.0', 0))\ns.listen()\n",
        "error",
        error="PermissionError",
        net=True,
    ),
    A(
        "net_dns_lookup",
        "import _socket\nprint(_socket.getaddrinfo('localhost', @PORT@))\n",
        "error",
        error="LookupError",
        net=True,
    ),
    A("net_socket_module", "import socket\n", "error", error="ModuleNotFoundError: No module named 'socket'"),
    A("net_urllib", "import urllib.request\n", "error", error="ModuleNotFoundError: No module named 'urllib'"),
    # ----------------------------------------------------------- processes, threads, native ---
    A("proc_os_system", "import os\nos.system('id')\n", "error", error="AttributeError"),
    A("proc_fork", "import os\nos.fork()\n", "error", error="AttributeError"),
    A("proc_exec", "import os\nos.execl('/bin/sh', 'sh', '-c', 'id')\n", "error", error="NameError"),
    A("proc_popen", "import os\nos.popen('id')\n", "error", error="ModuleNotFoundError: No module named 'subprocess'"),
    A("proc_subprocess", "import subprocess\n", "error", error="ModuleNotFoundError: No module named 'subprocess'"),
    A("proc_signal", "import signal\n", "error", error="ModuleNotFoundError: No module named 'signal'"),
    A(
        "proc_thread",
        "import _thread\n_thread.start_new_thread(print, ('x',))\n",
        "error",
        error="RuntimeError: can't start new thread",
    ),
    A("native_ctypes", "import ctypes\n", "error", error="ModuleNotFoundError: No module named 'ctypes'"),
    A(
        "native_dynamic_load",
        "import _imp, importlib.machinery as m\n"
        "_imp.create_dynamic(m.ModuleSpec('evil', None, origin='/lib/x86_64-linux-gnu/libc.so.6'))\n",
        "error",
        error="ImportError",
    ),
    # --------------------------------------------------------------------------- introspection ---
    A(
        "intro_subclasses",
        "seen, todo = set(), [object]\nwhile todo:\n    c = todo.pop()\n    for s in type.__subclasses__(c):\n"
        "        if s not in seen:\n            seen.add(s)\n            todo.append(s)\n"
        "names = {f'{c.__module__}.{c.__qualname__}' for c in seen}\n"
        "bad = sorted(n for n in names if any(w in n for w in ('Popen', 'CDLL', 'subprocess'))"
        " or n == 'socket.socket')\n"
        "opened = 0\nfor c in seen:\n    if c.__name__ in ('FileIO', 'BufferedReader', 'TextIOWrapper'):\n"
        "        try:\n            c('@PATH@')\n            opened += 1\n        except Exception:\n            pass\n"
        "print(len(seen) > 200, bad, opened)\n",
        "no_submit",
        stdout="True [] 0\n",
    ),
    A(
        "intro_frames_and_locals",
        "import sys\nf, lines = sys._getframe(), []\nwhile f is not None:\n"
        "    lines += [f'{f.f_code.co_name} {k} {v!r}' for k, v in list(f.f_locals.items())]\n    f = f.f_back\n"
        "print('\\n'.join(lines)[:12000])\nprint('item_json' in '\\n'.join(lines))\n",
        "no_submit",
        says="True\n",
    ),
    A(
        "intro_gc_every_string",
        "import gc\ngc.unfreeze()\nhits = set()\nfor o in gc.get_objects():\n    for x in gc.get_referents(o):\n"
        "        if isinstance(x, str) and ('secret-' in x or 'gold' in x.lower()):\n            hits.add(x[:80])\n"
        "print(sorted(h for h in hits if 'hits' not in h))\n",
        "no_submit",
    ),
    A(
        "intro_sys_modules",
        "import sys\nvals = []\nfor name, mod in list(sys.modules.items()):\n"
        "    for k, v in list(vars(mod).items()):\n        if isinstance(v, (str, bytes)):\n"
        "            vals.append(v)\n"
        "print(len(sys.modules) > 50, [v for v in vals if 'secret-' in str(v)][:5])\n",
        "no_submit",
        stdout="True []\n",
    ),
    A(
        "intro_item_internals",
        "print(ITEM.__slots__, [getattr(ITEM, k) for k in ITEM.__slots__])\nprint(ITEM['answer'])\n",
        "error",
        error="KeyError: 'answer'",
    ),
    A(
        "intro_trampoline_bad_args",
        "import componentize_py_runtime as r\nr.call_import(7, [object()])\n",
        "error",
        error="guest trap",
    ),
    A(
        "intro_trampoline_raw_submit",
        "import componentize_py_runtime as r\nprint(r.call_import(0, ['submit', '{\"label\": \"Z\"}']))\n",
        "invalid_submit",
        error="ValueError: submit(): 'Z'",
    ),
    A(
        "intro_bindings_bypass_budget",
        "import json, wit_world\nfrom componentize_py_types import Err\nreq = json.dumps({'prompt': 'p'})\n"
        "for i in range(20):\n    try:\n        wit_world.host_call('solve', req)\n    except Err:\n        pass\n",
        "call_budget",
        calls=8,
    ),
    A(
        "intro_bindings_bad_requests",
        "import json, wit_world\nfrom componentize_py_types import Err\n"
        "for op, payload in (('solve', 'not json'), ('solve', '[1]'), ('nope', '{}'), ('solve', 'x' * (9 << 20)),\n"
        "                    ('submit', '{\"label\": 5}'), ('sleep', '{\"seconds\": -1}')):\n"
        "    try:\n        wit_world.host_call(op, payload)\n        print('accepted')\n"
        "    except Err as e:\n        print(json.loads(e.value)['type'])\n",
        "invalid_submit",
        stdout="ValueError\n" * 6,
    ),
]
