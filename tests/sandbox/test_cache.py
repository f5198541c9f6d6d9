"""The compiled-artifact cache: integrity checks, rebuild of bad artifacts, concurrent first use."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cgr.sandbox import Sandbox
from cgr.sandbox import _cache


def test_cache_root_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("CGR_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _cache.cache_root() == tmp_path / "xdg" / "cgr"
    monkeypatch.setenv("CGR_CACHE_DIR", str(tmp_path / "explicit"))
    assert _cache.cache_root() == tmp_path / "explicit"
    assert _cache.cache_root(tmp_path / "arg") == tmp_path / "arg"


def test_keys_cover_sources_and_knobs():
    key = _cache.source_key()
    assert key == _cache.source_key() and len(key) == 64
    base = _cache.engine_key(key, {"consume_fuel": False})
    assert base != _cache.engine_key(key, {"consume_fuel": True})
    assert base != _cache.engine_key("0" * 64, {"consume_fuel": False})
    names = [name for name, _ in _cache.guest_sources()]
    assert "scaffold.wit" in names and "guest/guest_app.py" in names


@pytest.mark.parametrize("damage", ["flip", "truncate", "extend", "foreign_key", "no_manifest", "bad_manifest",
                                    "swapped_file"])
def test_read_verified_detects_damage(tmp_path, damage):
    path = tmp_path / "a" / "component.cwasm"
    data = bytes(range(256)) * 64
    _cache.write_artifact(path, data, "key-1")
    assert _cache.read_verified(path, "key-1") == data
    manifest = path.with_name(path.name + ".json")
    if damage == "flip":
        raw = bytearray(path.read_bytes())
        raw[1000] ^= 0xFF
        path.write_bytes(raw)
    elif damage == "truncate":
        path.write_bytes(data[:-1])
    elif damage == "extend":
        path.write_bytes(data + b"\0")
    elif damage == "foreign_key":
        assert _cache.read_verified(path, "key-2") is None
        return
    elif damage == "no_manifest":
        manifest.unlink()
    elif damage == "bad_manifest":
        manifest.write_text("{not json")
    elif damage == "swapped_file":  # a same-size file that cgr did not write
        path.write_bytes(bytes(len(data)))
    assert _cache.read_verified(path, "key-1") is None


def _copy_artifacts(sandbox: Sandbox, dest: Path, *, cwasm: bool) -> Path:
    """Seed ``dest`` with the session's built artifacts (so tests pay for a compile, not a componentize)."""
    info = sandbox.load_info["default"]
    src_root = Path(info["path"]).parents[2]
    wasm_dir = src_root / "sandbox" / f"wasm-{_cache.source_key()}"
    (dest / "sandbox").mkdir(parents=True)
    shutil.copytree(wasm_dir, dest / "sandbox" / wasm_dir.name)
    if cwasm:
        cwasm_dir = Path(info["path"]).parent
        shutil.copytree(cwasm_dir, dest / "sandbox" / cwasm_dir.name)
    return dest / "sandbox" / info["key"] / "component.cwasm"


def test_corrupted_artifact_is_rebuilt(sandbox, item, host, tmp_path, monkeypatch):
    monkeypatch.setenv("CGR_CACHE_DIR", str(tmp_path / "cache"))
    cwasm = _copy_artifacts(sandbox, tmp_path / "cache", cwasm=True)

    fresh = Sandbox()
    fresh.warm()
    assert fresh.load_info["default"]["how"] == "cached"
    assert fresh.load_info["default"]["path"] == str(cwasm)

    raw = bytearray(cwasm.read_bytes())
    raw[len(raw) // 2] ^= 0x5A  # one flipped bit of native code
    cwasm.write_bytes(raw)

    rebuilt = Sandbox()
    rebuilt.warm()
    info = rebuilt.load_info["default"]
    assert info["how"] == "built" and info["wasm"] == "cached"
    assert rebuilt.run("submit('B')", item, host).answer == "B"
    manifest = json.loads(cwasm.with_name(cwasm.name + ".json").read_text())
    assert manifest["size"] == cwasm.stat().st_size

    again = Sandbox()
    again.warm()
    assert again.load_info["default"]["how"] == "cached"
    assert again.run("submit('A')", item, host).status == "ok"


_WARM = """
import json, sys
from cgr.sandbox import Sandbox
sb = Sandbox(sys.argv[1])
sb.warm()
r = sb.run("submit('A')", {"id": "x", "question": "q", "choices": ["a", "b"]}, lambda op, args: "")
print(json.dumps([sb.load_info["default"]["how"], r.status]))
"""


def test_concurrent_first_use_is_safe(sandbox, tmp_path):
    # Two processes find no compiled artifact at once: one compiles, the other waits and loads it.
    _copy_artifacts(sandbox, tmp_path / "cache", cwasm=False)
    procs = [subprocess.Popen([sys.executable, "-c", _WARM, str(tmp_path / "cache")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        outs.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(outs) == [["built", "ok"], ["cached", "ok"]]
    leftovers = [p.name for p in (tmp_path / "cache" / "sandbox").rglob("*.tmp")]
    assert leftovers == []
