"""Both an editable install and a built wheel must import under the cgr.* namespace."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # built from a copy: an in-tree build leaves cgr.egg-info in the checkout, whose (soon stale)
    # entry points would shadow the installed ones for anything started from the checkout
    src = tmp_path_factory.mktemp("src") / "cgr"
    skip = shutil.ignore_patterns(".git", ".venv*", "build", "dist", "*.egg-info", "cgr-run*", ".gpukit", "__pycache__")
    shutil.copytree(ROOT, src, ignore=skip)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (whl,) = out.glob("cgr-*.whl")
    return whl


def test_wheel_holds_the_namespace_and_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "cgr/kernel/__init__.py",
        "cgr/kernel/cli.py",
        "cgr/plugins/llama_solver.py",
        "cgr/plugins/scaffolds/elimination.py",
        "cgr/sandbox/guest/guest_io.py",
        "cgr/sandbox/__init__.py",
        "cgr/sandbox/scaffold.wit",
        "cgr/sandbox/guest/guest_app.py",
        "cgr/kernel/data/sample/items.jsonl",
        "cgr/kernel/data/sample/manifest.json",
        "cgr/testing/plugin.py",
    ):
        assert needed in names, needed
    assert not any(n.startswith(("kernel/", "plugins/", "sandbox/", "tests/", "plugins.", "kernel.")) for n in names)
    assert "cgr/__init__.py" not in names  # cgr is a namespace: third parties may not need it, but no clash
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "cgr = cgr.kernel.cli:entry" in text and "[pytest11]" in text
    # the built-in plugins are ordinary entry points of group cgr
    assert "[cgr]\ncgr.plugins.audit_command = cgr.plugins.audit_command\n" in text


def test_wheel_imports(wheel, tmp_path):
    zipfile.ZipFile(wheel).extractall(tmp_path)
    code = (
        "import cgr.kernel, cgr.plugins, cgr.sandbox, cgr.testing, cgr.kernel.bundle as b;"
        "print(cgr.kernel.__file__); print(len(b.load_bundle().items))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    file, count = proc.stdout.split()
    assert file.startswith(str(tmp_path)) and int(count) >= 200
