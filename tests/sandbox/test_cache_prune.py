"""Old cache entries are pruned after a build: the newest few of each kind stay, busy ones too."""

import fcntl
import os

from cgr.sandbox._cache import prune


def make(root, name, age_s):
    d = root / name
    d.mkdir()
    (d / "component.cwasm").write_bytes(b"x" * 10)
    t = 1_700_000_000 - age_s
    os.utime(d, (t, t))
    return d


def test_prune_keeps_the_newest_of_each_kind_and_busy_entries(tmp_path):
    compiled = [make(tmp_path, f"{i:064x}", age_s=i * 100) for i in range(6)]  # 0 newest
    wasm = [make(tmp_path, f"wasm-{i:060x}", age_s=i * 100) for i in range(3)]
    busy = compiled[5]
    fd = os.open(busy.with_name(busy.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another "process" is loading the oldest entry
    try:
        removed = prune(tmp_path, keep=2)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    assert sorted(removed) == sorted(p.name for p in compiled[2:5] + wasm[2:])
    assert all(p.exists() for p in compiled[:2] + [busy] + wasm[:2])
    assert not any(p.exists() for p in compiled[2:5] + wasm[2:])


def test_prune_of_a_missing_directory_is_a_no_op(tmp_path):
    assert prune(tmp_path / "nope") == []
