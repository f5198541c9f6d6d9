"""Fewer doors: what guest_app removes from the snapshot stays removed, and what it offers still works.

The removed modules (bytecode/code-object tooling, the marshal loader, an importer, crash/signal
helpers, C parsers, raw memory) must fail to import by every route a scaffold has, the ``_imp``
functions that create modules or code objects must be gone, and no object of a removed module may
survive in the guest's heap. The module list documented in specs/scaffold_api.md must equal what the
guest offers (``guest_app.AVAILABLE_MODULES``) and what actually imports. Defence in depth only: the
host checks everything that matters.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cgr.sandbox import Limits

SPEC = Path(__file__).resolve().parents[2] / "specs" / "scaffold_api.md"

REMOVED = (
    "dis",
    "opcode",
    "_opcode",
    "_opcode_metadata",
    "marshal",
    "zipimport",
    "faulthandler",
    "_signal",
    "_sqlite3",
    "pyexpat",
    "_elementtree",
    "ctypes",
    "_ctypes",
)
REMOVED_IMP = ("create_builtin", "get_frozen_object", "init_frozen")
LIMITS = Limits(timeout_s=10, max_output_bytes=1 << 20)

# Each route prints one line: "<route> <outcome>".
ROUTES = r"""
import importlib, importlib._bootstrap as bootstrap, importlib.machinery as m, sys
NAME = @NAME@

def attempt(route, fn):
    try:
        result = fn()
    except BaseException as exc:
        print(route, type(exc).__name__)
    else:
        print(route, 'value' if result is not None else 'None')

def import_statement():
    exec(f'import {NAME}', {})

attempt('import', import_statement)
attempt('__import__', lambda: __import__(NAME))
attempt('import_module', lambda: importlib.import_module(NAME))
attempt('_find_spec', lambda: bootstrap._find_spec(NAME, None))
attempt('sys.modules', lambda: sys.modules[NAME])
attempt('BuiltinImporter.find_spec', lambda: m.BuiltinImporter.find_spec(NAME))
attempt('FrozenImporter.find_spec', lambda: m.FrozenImporter.find_spec(NAME))
attempt('PathFinder.find_spec', lambda: m.PathFinder.find_spec(NAME))
attempt('BuiltinImporter.create_module',
        lambda: m.BuiltinImporter.create_module(m.ModuleSpec(NAME, m.BuiltinImporter, origin='built-in')))
print('builtin_module_names', NAME in sys.builtin_module_names)
"""
ROUTES_EXPECTED = """\
import ModuleNotFoundError
__import__ ModuleNotFoundError
import_module ModuleNotFoundError
_find_spec None
sys.modules KeyError
BuiltinImporter.find_spec None
FrozenImporter.find_spec None
PathFinder.find_spec None
BuiltinImporter.create_module ImportError
builtin_module_names False
"""


def documented_modules() -> list[str]:
    """The standard-library module list of specs/scaffold_api.md (*Environment*)."""
    match = re.search(r"Standard-library modules available to `import`[^`]*`([^`]+)`", SPEC.read_text())
    assert match, "module list not found in specs/scaffold_api.md"
    return match.group(1).split()


def run(sandbox, host, item, source):
    return sandbox.run(source, item, host, LIMITS)


@pytest.mark.parametrize("name", REMOVED)
def test_removed_module_cannot_be_imported(sandbox, host, item, name):
    result = run(sandbox, host, item, ROUTES.replace("@NAME@", repr(name)))
    assert result.status == "no_submit", result
    assert result.stdout == ROUTES_EXPECTED, result.stdout


def test_imp_create_builtin_and_friends_are_gone(sandbox, host, item):
    source = (
        "import _imp, sys, importlib.machinery as m\n"
        f"print([n for n in {REMOVED_IMP!r} if hasattr(_imp, n)])\n"
        "try:\n    _imp.create_builtin(m.ModuleSpec('marshal', None, origin='built-in'))\n"
        "except AttributeError as e:\n    print('AttributeError', e)\n"
        "print(_imp.find_frozen('zipimport'), _imp.find_frozen('os'), bool(_imp.is_builtin('marshal')),\n"
        "      bool(_imp.is_builtin('posix')))\n"
        "print([h for h in sys.path_hooks if 'zipimport' in repr(h)])\n"
        "try:\n    _imp.create_dynamic(m.ModuleSpec('marshal', None, origin='libpython3.14.so'))\n"
        "except ImportError:\n    print('create_dynamic ImportError')\n"
    )
    result = run(sandbox, host, item, source)
    assert result.status == "no_submit", result
    assert result.stdout == (
        "[]\n"
        "AttributeError module '_imp' has no attribute 'create_builtin'\n"
        "None None False True\n"
        "[]\n"
        "create_dynamic ImportError\n"
    ), result


def test_nothing_of_a_removed_module_is_left_in_the_heap(sandbox, host, item):
    """No module object, function, class or module dict of a removed module is alive (gc sees all)."""
    source = (
        "import gc, sys, types, inspect, importlib._bootstrap_external as ext\n"
        f"REMOVED = set({REMOVED!r})\n"
        "def removed(name):\n    return isinstance(name, str) and name.partition('.')[0] in REMOVED\n"
        "gc.unfreeze()\ngc.collect()\nleft = []\n"
        "for o in gc.get_objects():\n"
        "    if isinstance(o, types.ModuleType) and removed(o.__name__):\n        left.append(repr(o))\n"
        "    elif isinstance(o, (types.FunctionType, type)) and removed(o.__module__):\n        left.append(repr(o))\n"
        "    elif isinstance(o, types.BuiltinFunctionType) and isinstance(o.__self__, types.ModuleType) \\\n"
        "            and removed(o.__self__.__name__):\n        left.append(repr(o))\n"
        "    elif isinstance(o, dict) and removed(o.get('__name__')) and '__spec__' in o:\n"
        "        left.append('namespace of ' + o['__name__'])\n"
        "print(len(gc.get_objects()) > 10000, left)\n"
        "print('marshal' in vars(ext), isinstance(inspect.dis, types.ModuleType))\n"
    )
    result = run(sandbox, host, item, source)
    assert result.status == "no_submit", result
    assert result.stdout == "True []\nFalse False\n", result


def test_documented_modules_are_exactly_the_importable_offered_ones(sandbox, host, item):
    documented = documented_modules()
    assert len(documented) > 40 and len(set(documented)) == len(documented)
    assert not set(documented) & set(REMOVED)
    source = (
        "import guest_app\n"
        "print(' '.join(guest_app.AVAILABLE_MODULES))\n"
        f"for name in {documented!r}:\n"
        "    try:\n        __import__(name)\n        print(name, 'ok')\n"
        "    except BaseException as e:\n        print(name, type(e).__name__, e)\n"
    )
    result = run(sandbox, host, item, source)
    assert result.status == "no_submit", result
    offered, *lines = result.stdout.splitlines()
    assert offered.split() == documented
    assert lines == [f"{name} ok" for name in documented]


def test_builtin_modules_kept_on_purpose_still_import(sandbox, host, item):
    kept = ("_socket", "select", "_suggestions", "atexit", "_tracemalloc", "inspect", "posix", "gc", "_thread")
    source = (
        "import sys\n"
        f"for name in {kept!r}:\n"
        "    __import__(name)\n"
        "    print(name, name in sys.modules)\n"
        "print(all(n in sys.modules for n in sys.builtin_module_names))\n"
    )
    result = run(sandbox, host, item, source)
    assert result.status == "no_submit", result
    assert result.stdout == "".join(f"{name} True\n" for name in kept) + "True\n", result


def test_a_normal_scaffold_still_works(sandbox, host, item):
    source = (
        "import dataclasses, inspect, json, math, random, re, traceback, typing\n"
        "data = json.loads(json.dumps({'q': ITEM.question, 'n': [1, 2.5, None]}))\n"
        "print(data['n'], re.findall(r'[A-Z][a-z]+', data['q']), math.isqrt(99), round(math.pi, 4))\n"
        "print(random.random() == random.Random(0).random())\n"
        "@dataclasses.dataclass(frozen=True)\nclass P:\n    x: int\n    y: int = 2\n"
        "print(P(1), P.__doc__, isinstance(3, typing.SupportsInt))\n"
        "print(inspect.stack()[0].function, inspect.signature(P))\n"
        "try:\n    json.loads('{')\nexcept ValueError:\n    print(traceback.format_exc().splitlines()[-1])\n"
        "reply = solver_call('Answer: ' + ITEM.question, choices=list(ITEM.labels))\n"
        "submit(extract_choice('the answer is ' + reply))\n"
    )
    result = run(sandbox, host, item, source)
    assert (result.status, result.answer, result.error, result.stderr) == ("ok", "C", None, ""), result
    assert result.stdout == (
        "[1, 2.5, None] ['Which', 'France'] 9 3.1416\n"
        "True\n"
        "P(x=1, y=2) P(x: int, y: int = 2) True\n"
        "<module> (x: int, y: int = 2) -> None\n"
        "json.decoder.JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)\n"
    ), result


def test_a_traceback_still_shows_the_scaffold(sandbox, host, item):
    source = "import json\n\ndef parse(text):\n    return json.loads(text)\n\nparse('{')\n"
    result = run(sandbox, host, item, source)
    assert result.status == "error", result
    assert result.error == (
        "json.decoder.JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
    ), result
    assert result.stderr.startswith("Traceback (most recent call last):\n"), result.stderr
    assert 'File "<scaffold>", line 4, in parse\n    return json.loads(text)\n' in result.stderr, result.stderr
    assert result.stderr.endswith(
        "json.decoder.JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)\n"
    ), result.stderr
    hint = run(sandbox, host, item, "values = [1]\nprint(valeus)\n")
    assert hint.status == "error" and hint.error == "NameError: name 'valeus' is not defined", hint
    assert hint.stderr.endswith("NameError: name 'valeus' is not defined. Did you mean: 'values'?\n"), hint.stderr
