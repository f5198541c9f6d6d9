"""The README's Python API block runs as written (in a scratch directory) and prints what it says."""

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_python_api_block_runs(tmp_path, monkeypatch):
    section = README.read_text().split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md (Python API)", "exec"), {"__name__": "readme"})
    lines = out.getvalue().splitlines()
    assert lines[-1] == "ok B 1"  # what the block's last comment promises
    macro, written = lines[0].split()
    assert 0.0 <= float(macro) <= 1.0 and written == "6"
    assert (tmp_path / "api-run" / "records.jsonl").read_text().count("\n") == 6
