"""Property tests (hypothesis) of experiment files: any mutation of a valid file, as TOML text or as
data, is a valid experiment or one clear line naming the file, the line and the key; never a traceback."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from cgr.plugins.grid_experiment import ExperimentError, parse_experiment, unique_slugs
from tests.test_grid_experiment import GOOD

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is not installed (the test extra has it)")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@given(st.lists(st.text(max_size=120), max_size=30))
def test_any_names_give_unique_safe_slugs(names):
    slugs = unique_slugs(names)
    assert len(set(slugs)) == len(slugs)
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9._-]*", s) and len(s) <= 96 for s in slugs)


# ----------------------------------------------------------------- hostile experiment files -------
KEYS = ["limit", "seed", "solvers", "plugin", "model", "options", "bundles", "path", "limits", "timeout_s", "x"]
VALUES = st.one_of(
    st.integers(-5, 10**6),
    st.text(string.printable, max_size=8),
    st.booleans(),
    st.floats(allow_nan=True),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.sampled_from(KEYS), st.integers(), max_size=3),
)


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(v), repr(v))
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    return str(v)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    lines=st.lists(st.integers(0, len(GOOD.splitlines()) - 1), max_size=3),
    key=st.sampled_from(KEYS),
    value=VALUES,
    where=st.integers(0, len(GOOD.splitlines())),
    garbage=st.text(max_size=20),
    garbage_at=st.integers(-1, len(GOOD.splitlines())),
)
def test_any_mutation_is_valid_or_one_clear_line(lines, key, value, where, garbage, garbage_at):
    """Delete lines, add a key with any value anywhere, insert garbage: never a traceback, always a
    valid experiment or one line naming the file (and, for a schema problem, the key path)."""
    rows = [r for i, r in enumerate(GOOD.splitlines()) if i not in lines]
    rows.insert(min(where, len(rows)), f"{key} = {_toml_value(value)}")
    if garbage_at >= 0:
        rows.insert(min(garbage_at, len(rows)), garbage)
    text = "\n".join(rows) + "\n"
    try:
        exp = parse_experiment(text, Path("exp.toml"))
    except ExperimentError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith("exp.toml")
        assert re.match(r"exp\.toml(:\d+)?: (invalid TOML: |[\w\[\].()]+( level\))?: )", message), message
        line = re.match(r"exp\.toml:(\d+): ([\w\[\].]+): ", message)
        if line:  # the line named holds the key, or the table it is in
            assert 1 <= int(line[1]) <= len(rows)
            names = re.findall(r"[A-Za-z_]\w*", line[2])
            assert any(name in rows[int(line[1]) - 1] for name in names), (message, rows[int(line[1]) - 1])
        return
    slugs = [c.slug for c in exp.cells(Path("out"))]
    assert len(set(slugs)) == len(slugs)


def _mutate(data: object, path: list[int], value: object, action: int) -> object:
    """``data`` with one change at the node ``path`` picks: replace it, delete it, or add a key."""
    if not path or not isinstance(data, dict | list) or not data:
        return value
    keys = list(data) if isinstance(data, dict) else list(range(len(data)))
    k = keys[path[0] % len(keys)]
    copy: dict | list = dict(data) if isinstance(data, dict) else list(data)
    if len(path) == 1 and action == 1:
        del copy[k]  # type: ignore[arg-type]
    elif len(path) == 1 and action == 2 and isinstance(copy, dict):
        copy[KEYS[path[0] % len(KEYS)]] = value
    else:
        copy[k] = _mutate(copy[k], path[1:], value, action)  # type: ignore[index]
    return copy


@settings(max_examples=300, deadline=None)
@given(path=st.lists(st.integers(0, 20), min_size=1, max_size=4), value=VALUES, action=st.integers(0, 2))
def test_any_dict_mutation_is_valid_or_one_clear_line(path, value, action):
    import tomllib

    data = _mutate(tomllib.loads(GOOD), path, value, action)
    if not isinstance(data, dict):
        return
    text = "".join(f"{k} = {_toml_value(v)}\n" for k, v in data.items())
    try:
        parse_experiment(text, Path("exp.toml"))
    except ExperimentError as exc:
        message = str(exc)
        assert "\n" not in message
        assert re.match(r"exp\.toml(:\d+)?: [\w\[\].]+: \S", message) or "invalid TOML" in message, message
