"""Build, compile and cache the sandbox component.

Two artifacts, each in its own directory under ``<cache root>/sandbox/``:

* ``wasm-<source key>/scaffold.wasm`` - the component built by componentize-py from the WIT
  world and the guest runner. Keyed by the guest sources, the WIT and the componentize-py
  version (it is portable wasm; shared by every engine configuration).
* ``<engine key>/component.cwasm`` - that component compiled by wasmtime for this machine and
  serialized. Keyed by the source key plus the wasmtime version, the Python version/platform
  and the engine's Config knobs. This is native code: it is only ever deserialized after its
  size and sha256 match the manifest that cgr wrote next to it.

Every artifact has a sidecar manifest (``<file>.json``: key, size, sha256). Files are written
to a temporary name and ``os.replace``d into place, the manifest last, so a crash leaves
either the old pair or a mismatch (which is detected and rebuilt). Build/load is serialized
across processes by ``fcntl.flock`` on ``<dir>.lock``. A corrupted, truncated or foreign file
fails verification and is rebuilt; so does one that wasmtime refuses to deserialize.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from importlib.metadata import version as _dist_version
from pathlib import Path
from typing import Any

import wasmtime
from wasmtime import _ffi as ffi
from wasmtime import component as wc

PACKAGE_DIR = Path(__file__).resolve().parent
GUEST_DIR = PACKAGE_DIR / "guest"
WIT_PATH = PACKAGE_DIR / "scaffold.wit"
WORLD = "scaffold"
APP_MODULE = "guest_app"
# Bump when the layout or the way artifacts are produced changes.
BUILD_FORMAT = 1
BUILD_TIMEOUT_S = 900


class BuildError(RuntimeError):
    """The component could not be built or compiled (an installation problem, not a scaffold's)."""


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """``cache_dir``, else ``$CGR_CACHE_DIR``, else ``$XDG_CACHE_HOME/cgr``, else ``~/.cache/cgr``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("CGR_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "cgr"
    return Path.home() / ".cache" / "cgr"


def _versions() -> dict[str, str]:
    return {"wasmtime": _dist_version("wasmtime"), "componentize-py": _dist_version("componentize-py")}


def guest_sources() -> list[tuple[str, bytes]]:
    """The files the component is built from (name, bytes), in a stable order."""
    files = [("scaffold.wit", WIT_PATH.read_bytes())]
    for path in sorted(GUEST_DIR.glob("*.py")):
        files.append((f"guest/{path.name}", path.read_bytes()))
    return files


def source_key() -> str:
    h = hashlib.sha256()
    h.update(f"cgr-sandbox-wasm/{BUILD_FORMAT}\0".encode())
    h.update(f"componentize-py={_versions()['componentize-py']}\0".encode())
    for name, data in guest_sources():
        h.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)
    return h.hexdigest()


def engine_key(src_key: str, knobs: dict[str, Any]) -> str:
    h = hashlib.sha256()
    h.update(f"cgr-sandbox-cwasm/{BUILD_FORMAT}\0{src_key}\0".encode())
    h.update(
        json.dumps(
            {
                "wasmtime": _versions()["wasmtime"],
                "python": sys.version,
                "implementation": sys.implementation.cache_tag,
                "platform": [sys.platform, platform.machine()],
                "knobs": knobs,
            },
            sort_keys=True,
        ).encode()
    )
    return h.hexdigest()


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Exclusive flock on ``lock_path`` (serializes build/load across processes and threads).

    If the cache directory cannot be written, proceed unlocked: the caller then builds in memory.
    """
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


#: Cache entries kept per kind (componentize-py outputs ``wasm-*``, compiled components) after a
#: build: each is 20-40 MB and every new cgr/wasmtime version adds one.
KEEP_ENTRIES = 4


def _touch(path: Path) -> None:
    try:
        os.utime(path)  # mtime = last use, for prune()
    except OSError:
        pass


def prune(sandbox_dir: Path, keep: int = KEEP_ENTRIES) -> list[str]:
    """Delete all but the ``keep`` most recently used entries of each kind; never one in use.

    An entry is in use while another process holds its lock (building or loading it); a process
    that already loaded a component holds its own copy in memory. Lock files (empty) stay.
    """
    removed: list[str] = []
    try:
        entries = [p for p in sandbox_dir.iterdir() if p.is_dir()]
    except OSError:
        return removed
    for wasm_kind in (True, False):
        group = [p for p in entries if p.name.startswith("wasm-") == wasm_kind]
        group.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        for old in group[keep:]:
            try:
                fd = os.open(old.with_name(old.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue  # in use elsewhere: keep it
            try:
                shutil.rmtree(old, ignore_errors=True)
                removed.append(old.name)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
    return removed


def _try_write(path: Path, data: bytes | bytearray, key: str, **extra: Any) -> bool:
    """write_artifact, but a read-only or full cache only costs the next process a rebuild."""
    try:
        write_artifact(path, data, key, **extra)
        return True
    except OSError as exc:
        warnings.warn(f"cgr.sandbox: could not cache {path}: {exc}", RuntimeWarning, stacklevel=3)
        return False


def _manifest_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def read_verified(path: Path, key: str) -> bytearray | None:
    """The artifact's bytes if its manifest (written by cgr) matches key, size and sha256."""
    try:
        manifest = json.loads(_manifest_path(path).read_text())
        if not isinstance(manifest, dict) or manifest.get("format") != BUILD_FORMAT or manifest.get("key") != key:
            return None
        size, digest = manifest.get("size"), manifest.get("sha256")
        if not isinstance(size, int) or not isinstance(digest, str):
            return None
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size != size:
                return None
            data = bytearray(size)
            if fh.readinto(data) != size:
                return None
    except (OSError, ValueError):
        return None
    if hashlib.sha256(data).hexdigest() != digest:
        return None
    return data


def _write_file_atomic(path: Path, data: bytes | bytearray) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_artifact(path: Path, data: bytes | bytearray, key: str, **extra: Any) -> None:
    """Write the artifact, then its manifest, each atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Drop the old manifest first: a crash between the two writes then leaves no manifest.
    with contextlib.suppress(FileNotFoundError):
        os.unlink(_manifest_path(path))
    _write_file_atomic(path, data)
    manifest = {
        "format": BUILD_FORMAT,
        "key": key,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "created": time.time(),
        **_versions(),
        **extra,
    }
    _write_file_atomic(_manifest_path(path), json.dumps(manifest, indent=1, sort_keys=True).encode())
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def componentize(out_path: Path) -> None:
    """Run componentize-py (in a subprocess, on a private copy of the guest) to build the component."""
    with tempfile.TemporaryDirectory(prefix="cgr-sandbox-build-") as tmp:
        tmpdir = Path(tmp)
        app_dir = tmpdir / "app"
        app_dir.mkdir()
        for path in GUEST_DIR.glob("*.py"):
            if path.name != "__init__.py":
                shutil.copy2(path, app_dir / path.name)
        shutil.copy2(WIT_PATH, tmpdir / "scaffold.wit")
        # componentize-py adds $VIRTUAL_ENV's (or python3's) site-packages to the guest's path;
        # point it at an empty directory so the guest sees the standard library only.
        (tmpdir / "novenv").mkdir()
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PIPENV_ACTIVE")}
        env["VIRTUAL_ENV"] = str(tmpdir / "novenv")
        cmd = [
            sys.executable,
            "-c",
            "import sys, componentize_py; sys.argv[0] = 'componentize-py'; componentize_py.script()",
            "-q",
            "-d",
            str(tmpdir / "scaffold.wit"),
            "-w",
            WORLD,
            "componentize",
            "-p",
            str(app_dir),
            APP_MODULE,
            "-o",
            str(out_path),
        ]
        try:
            proc = subprocess.run(cmd, cwd=tmpdir, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise BuildError(f"componentize-py timed out after {BUILD_TIMEOUT_S} s") from exc
        if proc.returncode != 0 or not out_path.exists():
            tail = (proc.stderr or proc.stdout or "").strip()[-2000:]
            raise BuildError(f"componentize-py failed (exit {proc.returncode}): {tail}")


def load_wasm(root: Path) -> tuple[bytearray, str]:
    """The componentize-py output, built if missing or invalid. Returns (bytes, 'cached'|'built')."""
    key = source_key()
    art_dir = root / "sandbox" / f"wasm-{key}"
    path = art_dir / "scaffold.wasm"
    with _locked(art_dir.with_name(art_dir.name + ".lock")):
        data = read_verified(path, key)
        if data is not None:
            _touch(art_dir)
            return data, "cached"
        with tempfile.TemporaryDirectory(prefix="cgr-sandbox-out-") as tmp:
            out = Path(tmp) / "scaffold.wasm"
            componentize(out)
            data = bytearray(out.read_bytes())
        _try_write(path, data, key, kind="component-wasm")
        return data, "built"


def _deserialize(engine: wasmtime.Engine, data: bytearray) -> wc.Component:
    # Same as Component.deserialize, without its extra copy of the (large) buffer.
    buf = (ctypes.c_uint8 * len(data)).from_buffer(data)
    ptr = ctypes.POINTER(ffi.wasmtime_component_t)()
    error = ffi.wasmtime_component_deserialize(engine.ptr(), buf, len(data), ctypes.byref(ptr))
    del buf
    if error:
        raise wasmtime.WasmtimeError._from_ptr(error)
    return wc.Component._from_ptr(ptr)


def load_component(engine: wasmtime.Engine, knobs: dict[str, Any], root: Path) -> tuple[wc.Component, dict[str, Any]]:
    """The compiled component for ``engine`` (whose Config is described by ``knobs``).

    Returns the component and an info dict: ``how`` ('cached' or 'built'), ``seconds``, ``key``,
    ``path``.
    """
    start = time.perf_counter()
    key = engine_key(source_key(), knobs)
    art_dir = root / "sandbox" / key
    path = art_dir / "component.cwasm"
    info: dict[str, Any] = {"key": key, "path": str(path)}
    with _locked(art_dir.with_name(art_dir.name + ".lock")):
        data = read_verified(path, key)
        if data is not None:
            try:
                component = _deserialize(engine, data)
            except wasmtime.WasmtimeError:
                component = None  # verified bytes wasmtime still refuses (e.g. CPU features): rebuild
            if component is not None:
                _touch(art_dir)
                info.update(how="cached", seconds=time.perf_counter() - start)
                return component, info
        wasm, wasm_how = load_wasm(root)
        try:
            component = wc.Component(engine, bytes(wasm))
        except wasmtime.WasmtimeError as exc:
            raise BuildError(f"wasmtime could not compile the sandbox component: {exc}") from exc
        cached = _try_write(path, component.serialize(), key, kind="component-cwasm", knobs=knobs)
        info.update(how="built", wasm=wasm_how, cached=cached, seconds=time.perf_counter() - start)
    info["pruned"] = prune(art_dir.parent)  # outside our lock: a new entry may retire old ones
    return component, info
