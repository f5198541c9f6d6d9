"""Fuzzed command lines (issue 14): ``cgr bundle check``, ``cgr bundle convert`` and the options of
``cgr run`` that are checked before a solver is made. Every outcome is a success, one ``cgr: error:``
line naming the file (exit 1) or click's usage error naming the option (exit 2); never a traceback,
never an unexpected exception type, and ``cgr run`` never gets as far as making a solver when an
option is out of range. No model loads: making a solver is where these tests stop ``cgr run``.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st

from cgr.kernel.cli import main
from cgr.kernel.manager import Plugins
from cgr.sandbox import MAX_CALLS_MAX, MEMORY_MB_RANGE, OUTPUT_KB_RANGE, TIMEOUT_S_MAX
from tests.test_fuzz_support import broken, bundles, check_outcome, fuzz, json_values, jsonl, msgpack_values, text

#: The most fuel a wasmtime store holds (u64; more wraps around to 0): the highest sane --fuel.
FUEL_MAX = 2**63 - 1


def cgr(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def check_failure(res: Result, *files: Path) -> None:
    """Exit 1 with one ``cgr: error:`` line naming one of ``files`` (when given), or click's usage
    error (exit 2); no traceback, no unexpected exception type."""
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output, res.output
    assert res.exit_code in (1, 2), (res.exit_code, res.output)
    if res.exit_code == 2:
        assert "Error: " in res.stderr, res.stderr
        return
    lines = res.stderr.splitlines()
    errors = [line for line in lines if line.startswith("cgr: error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], res.stderr
    assert "run with --debug" not in errors[0], f"an unexpected exception, not a named error: {errors[0]}"
    if files:
        assert errors[0].startswith(tuple(f"cgr: error: {f}" for f in files)), errors[0]


@contextmanager
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


#: Bundle files of every kind: garbage, lines of any JSON, valid bundles with one item broken.
@st.composite
def bundle_bytes(draw: st.DrawFn) -> bytes:
    rows = draw(bundles(max_size=3))
    kind = draw(st.sampled_from(["valid", "broken", "lines", "garbage", "nasty"]))
    if kind == "broken":
        k = draw(st.integers(0, len(rows) - 1))
        rows[k], _ = draw(broken(rows[k]))
    if kind in ("valid", "broken"):
        return jsonl(rows, ascii=draw(st.booleans()), crlf=draw(st.booleans()), bom=draw(st.booleans()))
    if kind == "lines":
        return b"\n".join(json.dumps(v).encode() for v in draw(st.lists(json_values, max_size=4)))
    if kind == "nasty":
        return draw(st.sampled_from([b"[" * 5_000 + b"\n", b"9" * 5_000, b'{"\\n": 1}', b"", b"\n\n"]))
    return draw(st.binary(max_size=100))


# ----------------------------------------------------------------------------- bundle check ---
@fuzz(50)
@given(
    data=bundle_bytes(),
    manifest=st.one_of(st.none(), st.binary(max_size=30), json_values.map(lambda v: json.dumps(v).encode())),
    as_json=st.booleans(),
)
def test_bundle_check_of_any_file(data, manifest, as_json):
    with workdir() as tmp:
        path = tmp / "b.jsonl"
        path.write_bytes(data)
        if manifest is not None:
            (tmp / "manifest.json").write_bytes(manifest)
        res = cgr("bundle", "check", str(path), *(["--json"] if as_json else []))
        if res.exit_code != 0:
            check_failure(res, path, tmp / "manifest.json")
            assert res.exit_code == 1, res.output
        elif as_json:
            assert json.loads(res.stdout)["count"] >= 1
        else:
            assert res.stdout.startswith(f"{path}: "), res.stdout


# --------------------------------------------------------------------------- bundle convert ---
def options(*names: str) -> st.SearchStrategy[str]:
    """``--option`` values: well-formed for ``names``, unknown keys, no '=', an empty key."""
    return st.one_of(
        st.sampled_from([f"{n}={v}" for n in names for v in ("context", "drop", "")] or ["x=1"]),
        text.filter(lambda s: "\x00" not in s),
        st.just("=drop"),
    )


@fuzz(40)
@given(
    rows=st.one_of(
        bundles(max_size=2),
        st.lists(st.dictionaries(st.sampled_from(["id", "question", "choices", "answer", "metadata"]),
                                 msgpack_values, max_size=5), min_size=1, max_size=2),
    ),
    src_suffix=st.sampled_from([".jsonl", ".msgpack", ".json"]),
    fmt=st.sampled_from(["cgr", "mmlu", "sciq", "arc", "openbookqa", "mmlu-csv", "nope", ""]),
    opts=st.lists(options("support"), max_size=2),
    out_suffix=st.sampled_from([".jsonl", ".json", ".msgpack", ".csv", ".parquet", ""]),
    skip=st.booleans(),
)  # fmt: skip
def test_bundle_convert_with_any_source_and_options(rows, src_suffix, fmt, opts, out_suffix, skip):
    """What convert writes always loads back; what it refuses is one line (or a usage error)."""
    if src_suffix == ".msgpack":
        blob = msgspec.msgpack.encode(rows)
    else:
        plain = json.loads(msgspec.json.encode(rows, enc_hook=repr)) if rows else rows
        blob = jsonl(plain) if src_suffix == ".jsonl" else json.dumps(plain).encode()
    with workdir() as tmp:
        src, out = tmp / f"src{src_suffix}", tmp / "out" / f"b{out_suffix}"
        src.write_bytes(blob)
        args = ["bundle", "convert", str(src), "--from", fmt, "--out", str(out)]
        args += [a for o in opts for a in ("--option", o)] + (["--skip-invalid"] if skip else [])
        res = cgr(*args)
        if res.exit_code == 0:
            assert out.is_file(), res.output
            check_outcome(out, unit={".json": "item", ".msgpack": "item"}.get(out_suffix, "line"))
        else:
            check_failure(res, src, out)


# ---------------------------------------------------------------------------- run options ----
class ReachedTheSolver(BaseException):
    """Raised where ``cgr run`` would make its solver (load a model): the options were accepted."""


@pytest.fixture
def stop_at_the_solver(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Plugins, family: str, name: str, *args: Any, **kwargs: Any) -> Any:
        if family == "solver":
            raise ReachedTheSolver(name)
        return original(self, family, name, *args, **kwargs)

    original = Plugins.get
    monkeypatch.setattr(Plugins, "get", refuse)
    monkeypatch.setattr(Plugins, "solver", lambda self, name: refuse(self, "solver", name))


def as_int(s: str) -> int | None:
    try:
        return int(s)
    except ValueError:
        return None


def as_float(s: str) -> float | None:
    try:
        return float(s)
    except ValueError:
        return None


def in_range(low: float, high: float) -> Any:
    return lambda s: (v := as_int(s)) is not None and low <= v <= high


#: option -> (values to try, whether click must accept the value). Values are numbers near and
#: beyond the bounds, huge ones, unicode digits, NaN and infinity, text.
NUMBER = st.one_of(
    st.integers(-3, 20).map(str), st.integers().map(str), st.floats().map(str), text,
    st.sampled_from(["٣", "1_0", " 5 ", "0x10", "1e3", "9" * 5_000, "nan", "inf", "-0", "", str(2**64), str(2**63)]),
)  # fmt: skip
OPTIONS: dict[str, Any] = {
    "--limit": in_range(1, math.inf),
    "--workers": in_range(1, 64),
    "--threads": in_range(1, 256),
    "--max-calls": in_range(0, MAX_CALLS_MAX),
    "--memory-mb": in_range(*MEMORY_MB_RANGE),
    "--max-output-kb": in_range(*OUTPUT_KB_RANGE),
    "--fuel": in_range(1, FUEL_MAX),
    "--seed": in_range(-math.inf, math.inf),
    "--gpu-layers": in_range(-math.inf, math.inf),
    "--timeout": lambda s: (v := as_float(s)) is not None and 0 < v <= TIMEOUT_S_MAX,
}
PAIR = st.one_of(st.just("n_ctx=512"), st.just("=x"), st.just(" =x"), st.just("novalue"), text)


def pair_ok(s: str) -> bool:
    key, sep, _ = s.partition("=")
    return bool(sep and key.strip())


@fuzz(80)
@given(
    chosen=st.dictionaries(st.sampled_from(sorted(OPTIONS)), NUMBER, max_size=3),
    pairs=st.lists(st.tuples(st.sampled_from(["--solver-option", "--generator-option"]), PAIR), max_size=2),
    modes=st.lists(st.sampled_from(["generate", "cloze", "logprobs", "grammar", "cloze_raw", "bogus", ""]), max_size=2),
    tasks=st.lists(st.sampled_from(["geo", "sci", "nope", ""]), max_size=2),
    data=bundle_bytes(),
    out_is_a_file=st.booleans(),
)  # fmt: skip
def test_run_options_fail_before_the_solver_or_are_all_in_range(
    stop_at_the_solver, chosen, pairs, modes, tasks, data, out_is_a_file
):
    """Out-of-range limits, malformed KEY=VALUE, unknown modes or tasks, a bad bundle, --out that is
    a file: one line, before any solver is made. Only a run whose every option is valid gets there."""
    with workdir() as tmp:
        bundle = tmp / "b.jsonl"
        bundle.write_bytes(data)
        out = tmp / "out"
        if out_is_a_file:
            out.write_text("")
        args = ["run", "--quiet", "--bundle", str(bundle), "--out", str(out)]
        args += [a for opt, value in chosen.items() for a in (opt, value)]
        args += [a for opt, pair in pairs for a in (opt, pair)]
        args += [a for m in modes for a in ("--direct-mode", m)] + [a for t in tasks for a in ("--task", t)]
        try:
            res = cgr(*args)
        except ReachedTheSolver:
            bad = [o for o, v in chosen.items() if not OPTIONS[o](v)] + [p for _, p in pairs if not pair_ok(p)]
            assert not bad, f"reached the solver with {bad}"
            assert not out_is_a_file and set(modes) <= {"generate", "cloze", "logprobs", "grammar", "cloze_raw"}
            return
        check_failure(res, bundle)
        assert not (out / "records.jsonl").exists(), "a failed run wrote records"
        if res.exit_code == 1:  # options were fine: the bundle or a --task is at fault
            assert res.stderr.startswith(f"cgr: error: {bundle}"), res.stderr


@pytest.mark.parametrize("fuel", [str(2**64), str(2**64 + 5), str(FUEL_MAX + 1)])
def test_fuel_beyond_what_the_sandbox_holds_is_refused(stop_at_the_solver, tmp_path, toy_bundle, fuel):
    """wasmtime wraps a fuel of 2**64 to 0: such a --fuel must be a usage error, not a run whose
    every scaffold is out of fuel at once (h4_fixes.md, fix 6)."""
    try:
        res = cgr("run", "--quiet", "--bundle", str(toy_bundle), "--out", str(tmp_path / "o"), "--fuel", fuel)
    except ReachedTheSolver:
        pytest.fail(f"--fuel {fuel} was accepted")
    assert res.exit_code == 2 and "--fuel" in res.stderr, res.output
