"""Fuzzed runs (issue 14, "never a partial record"): ``cgr run --solver echo`` (the built-in
diagnostic solver, no model) over small fuzzed bundles with fuzzed limits, in the real sandbox.

Whatever the bundle and options: either a complete run (exit 0, run.json ``complete``, one valid
record per selected item in bundle order) or a clean error (one ``cgr: error:`` line or a usage
error) after which every line of records.jsonl is a complete, valid record — and a bundle that does
not load leaves no records.jsonl at all. Heavy: it builds (or reuses) the sandbox.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import msgspec
from click.testing import CliRunner
from hypothesis import event, given
from hypothesis import strategies as st

from cgr.kernel.bundle import BundleError, load_bundle
from cgr.kernel.cli import main
from cgr.kernel.records import Record
from tests.test_fuzz_support import broken, fuzz, jsonl

#: Item text a template, a prompt or a scaffold might trip on: format placeholders, quotes that end
#: a Python string literal, NUL, bidi overrides, shell and printf syntax, line separators.
HOSTILE = st.sampled_from(
    ["{question}", "{0}", "{", "}", "'''", '"""', "\\", "\x00", "submit('A')", "\u202e", "%s", "$(id)", "\u2028",
     "\r\n", "é", "𝔘", "\ufeff"]
)  # fmt: skip
word = st.lists(st.one_of(HOSTILE, st.text(min_size=1, max_size=5)), min_size=1, max_size=4).map("".join)
option = word.filter(str.strip)


@st.composite
def small_bundle(draw: st.DrawFn) -> tuple[list[dict], bytes]:
    """1-3 items with hostile text, 2-5 options, sometimes one item broken."""
    ids = draw(st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=3, unique=True))
    rows = []
    for i in ids:
        n = draw(st.integers(2, 5))
        choices = draw(st.lists(option, min_size=n, max_size=n))
        row = {"id": i, "dataset": "fz", "task": draw(st.sampled_from(["a", "b"])), "question": draw(word),
               "choices": choices, "answer": "ABCDE"[draw(st.integers(0, n - 1))]}  # fmt: skip
        if draw(st.booleans()):
            row["context"] = draw(word)
        rows.append(row)
    if draw(st.integers(0, 3)) == 3:  # (hypothesis favours small integers)
        k = draw(st.integers(0, len(rows) - 1))
        rows[k], _ = draw(broken(rows[k]))
    return rows, jsonl(rows, ascii=draw(st.booleans()))


@fuzz(20)
@given(
    bundle=small_bundle(),
    limit=st.none() | st.integers(1, 3),
    task=st.none() | st.sampled_from(["a", "b"]),
    timeout=st.sampled_from(["0.5", "5", "20"]),
    max_calls=st.sampled_from(["0", "1", "64"]),
    output_kb=st.sampled_from(["1", "64"]),
    workers=st.sampled_from(["1", "2"]),
    strategy=st.none() | st.sampled_from(["per_option", "letter", "elimination", "vote"]),
)
def test_a_fuzzed_run_is_complete_or_a_clean_error_with_only_whole_records(
    bundle, limit, task, timeout, max_calls, output_kb, workers, strategy
):
    rows, data = bundle
    with tempfile.TemporaryDirectory() as tmp:
        path, out = Path(tmp) / "b.jsonl", Path(tmp) / "out"
        path.write_bytes(data)
        args = ["run", "--quiet", "--solver", "echo", "--bundle", str(path), "--out", str(out), "--timeout", timeout,
                "--max-calls", max_calls, "--max-output-kb", output_kb, "--workers", workers]  # fmt: skip
        args += (["--limit", str(limit)] if limit else []) + (["--task", task] if task else [])
        args += ["--strategy", strategy] if strategy else []
        res = CliRunner().invoke(main, args)
        assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
        assert "Traceback" not in res.output, res.output

        try:
            items = load_bundle(path, warn=None).items
        except BundleError:
            event("the bundle does not load")
            assert res.exit_code == 1 and res.stderr.startswith(f"cgr: error: {path}"), res.output
            assert not (out / "records.jsonl").exists(), "a bundle that does not load left records"
            return
        selected = [it for it in items if task is None or it.task == task][:limit]

        records_file = out / "records.jsonl"
        lines = records_file.read_bytes().splitlines(keepends=True) if records_file.exists() else []
        records = []
        for n, line in enumerate(lines, start=1):
            assert line.endswith(b"\n"), f"records.jsonl:{n} is a partial record: {line[:200]!r}"
            records.append(msgspec.json.decode(line, type=Record))  # a complete, valid record
        ids = [r.item_id for r in records]
        assert len(set(ids)) == len(ids) and set(ids) <= {it.id for it in selected}, ids

        event(f"exit {res.exit_code}, {len(records)} record(s)")
        if res.exit_code == 0:
            assert ids == [it.id for it in selected], "a complete run has one record per item, in order"
            assert json.loads((out / "run.json").read_text())["status"] == "complete"
            for record, item in zip(records, selected, strict=True):
                assert record.gold == item.answer and record.task == item.task
        else:  # a clean error: one line (or click's usage error), whatever was written is whole
            assert res.exit_code in (1, 2), res.output
            errors = [line for line in res.stderr.splitlines() if line.startswith("cgr: error: ")]
            assert res.exit_code == 2 or len(errors) == 1, res.stderr
            assert not errors or "run with --debug" not in errors[0], errors
