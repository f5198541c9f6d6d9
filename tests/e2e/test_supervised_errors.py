"""`cgr run` as users start it (the console script, supervised: the command runs in a child
``python -m cgr.kernel.cli``): a plugin's one-line error stays one line there too."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def test_a_bad_experiment_file_is_one_line_under_the_supervisor(tmp_path: Path):
    cgr = shutil.which("cgr")
    if cgr is None:
        pytest.fail("the cgr console script is not installed")
    exp = tmp_path / "exp.toml"
    exp.write_text('limit = 2\n\n[[solvers]]\nplugin = "echo"\n\n[[generators]]\nstrategy = "letter"\ncolour = "red"\n')
    env = {k: v for k, v in os.environ.items() if k != "CGR_NO_SUPERVISOR"}
    done = subprocess.run(
        [cgr, "run", "--config", str(exp), "--out", str(tmp_path / "g")], capture_output=True, text=True, env=env
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"cgr: error: {exp}:8: generators[0].colour: unknown key; allowed: model, name, options, plugin, strategy"
    ]
    assert not (tmp_path / "g").exists()
