"""The compiled-artifact cache: integrity checks, rebuild of bad artifacts, concurrent first use."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cgr.sandbox import Sandbox, _cache


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


def test_every_guest_module_is_a_build_input(tmp_path, monkeypatch):
    """guest_app imports its sibling modules: each is hashed into the source key and copied into the build."""
    modules = sorted(p.name for p in _cache.GUEST_DIR.glob("*.py"))
    assert {"guest_app.py", "guest_io.py", "guest_doors.py"} <= set(modules)
    names = [name for name, _ in _cache.guest_sources()]
    assert [n for n in names if n.startswith("guest/")] == [f"guest/{m}" for m in modules]
    copy = tmp_path / "guest"
    shutil.copytree(_cache.GUEST_DIR, copy)
    monkeypatch.setattr(_cache, "GUEST_DIR", copy)
    key = _cache.source_key()
    for module in modules:
        path = copy / module
        original = path.read_bytes()
        path.write_bytes(original + b"\n# changed\n")
        assert _cache.source_key() != key, module  # a changed guest module means a new component
        path.write_bytes(original)
    assert _cache.source_key() == key


@pytest.mark.parametrize(
    "damage", ["flip", "truncate", "extend", "foreign_key", "no_manifest", "bad_manifest", "swapped_file"]
)
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


class _RebuildRequested(Exception):
    pass


@pytest.mark.parametrize("damage", ["flip", "truncate", "foreign", "signed_but_incompatible"])
def test_damaged_artifact_is_detected_and_rebuilt_never_loaded(sandbox, item, host, tmp_path, monkeypatch, damage):
    sandbox.warm(fuel=True)  # (before CGR_CACHE_DIR moves) the fuel variant's artifact, a foreign one
    fuel_path = Path(sandbox.load_info["fuel"]["path"])
    monkeypatch.setenv("CGR_CACHE_DIR", str(tmp_path / "cache"))
    cwasm = _copy_artifacts(sandbox, tmp_path / "cache", cwasm=True)
    manifest_path = cwasm.with_name(cwasm.name + ".json")
    key = json.loads(manifest_path.read_text())["key"]

    fresh = Sandbox()
    fresh.warm()
    assert fresh.load_info["default"]["how"] == "cached"
    assert fresh.load_info["default"]["path"] == str(cwasm)

    good = cwasm.read_bytes()
    if damage == "flip":  # one flipped byte of native code
        raw = bytearray(good)
        raw[len(raw) // 2] ^= 0x5A
        cwasm.write_bytes(raw)
    elif damage == "truncate":  # a crash mid-write, without the manifest noticing
        cwasm.write_bytes(good[: len(good) // 3])
    elif damage == "foreign":  # another configuration's artifact and manifest (the fuel variant's)
        shutil.copyfile(fuel_path, cwasm)
        shutil.copyfile(fuel_path.with_name(fuel_path.name + ".json"), manifest_path)
    else:  # bytes that pass the manifest check (size, sha256, key) but that this engine must refuse
        _cache.write_artifact(cwasm, fuel_path.read_bytes(), key)
    damaged = hashlib.sha256(cwasm.read_bytes()).hexdigest()

    loaded = []
    real_deserialize = _cache._deserialize

    def spy(engine, data):
        loaded.append(hashlib.sha256(data).hexdigest())
        return real_deserialize(engine, data)

    monkeypatch.setattr(_cache, "_deserialize", spy)
    if damage != "flip":
        # Detection is the point here; one real rebuild (flip, below) is enough for the suite's time.
        def no_compile(engine, wasm):
            raise _RebuildRequested

        monkeypatch.setattr(_cache.wc, "Component", no_compile)
        with pytest.raises(_RebuildRequested):
            Sandbox().warm()
        if damage == "signed_but_incompatible":  # offered to wasmtime, which refused it
            assert loaded == [damaged]
        else:
            assert loaded == []  # failed verification: never handed to wasmtime at all
        return

    rebuilt = Sandbox()
    rebuilt.warm()
    info = rebuilt.load_info["default"]
    assert info["how"] == "built" and info["wasm"] == "cached"
    assert loaded == []
    assert rebuilt.run("submit('B')", item, host).answer == "B"
    assert _cache.read_verified(cwasm, key) is not None  # the rebuilt artifact is valid

    again = Sandbox()
    again.warm()
    assert again.load_info["default"]["how"] == "cached"
    assert again.run("submit('A')", item, host).status == "ok"


_WARM = """
import json, sys
from cgr.sandbox import Sandbox
sb = Sandbox()
sb.warm()
r = sb.run("submit('A')", {"id": "x", "question": "q", "choices": ["a", "b"]}, lambda op, args: "")
info = sb.load_info["default"]
print(json.dumps([info["how"], info.get("wasm"), info["path"], r.status]))
"""


def test_concurrent_first_use_is_safe(tmp_path):
    # Two processes start at once on an empty cache (CGR_CACHE_DIR): one builds everything
    # (componentize-py + compile, ~10 s), the other waits on the lock and loads the result.
    env = dict(os.environ, CGR_CACHE_DIR=str(tmp_path / "cache"))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WARM], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for _ in range(2)
    ]
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        outs.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted((how, wasm, status) for how, wasm, _path, status in outs) == [
        ("built", "built", "ok"),
        ("cached", None, "ok"),
    ]  # exactly one build
    paths = {path for _how, _wasm, path, _status in outs}
    assert len(paths) == 1
    cwasm = Path(paths.pop())
    manifest = json.loads(cwasm.with_name(cwasm.name + ".json").read_text())
    assert _cache.read_verified(cwasm, manifest["key"]) is not None  # the artifact is valid
    wasm_dirs = [d for d in (tmp_path / "cache" / "sandbox").glob("wasm-*") if d.is_dir()]
    assert len(wasm_dirs) == 1 and _cache.read_verified(wasm_dirs[0] / "scaffold.wasm", _cache.source_key())
    leftovers = [p.name for p in (tmp_path / "cache" / "sandbox").rglob("*.tmp")]
    assert leftovers == []
