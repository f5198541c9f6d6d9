"""Where a run's bundle is now: the provenance ``cgr replay``, ``cgr audit``, ``cgr export`` and ``cgr show``
need (the bundle a run was made from, checked against the sha256 in its ``run.json``)."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from cgr.kernel.api import Reader
from cgr.kernel.bundle import Bundle, load_bundle, sample_bundle_path
from cgr.kernel.records import RunManifest
from cgr.kernel.store import MANIFEST, StoreError, read_manifest


def _warn(message: str) -> None:
    print(f"cgr: warning: {message}", file=sys.stderr)


def bundle_candidates(directory: Path | str, manifest: RunManifest) -> list[Path]:
    """Where a run's bundle may be, best first: the path ``run.json`` records (absolute since
    cgr 0.1; older runs recorded it as given, relative to where ``cgr run`` was started). A
    relative one is tried from that directory, worked out from the run's ``--out`` as given and
    where the run directory is now (``cd ~/w && cgr run --out runs/a`` puts it in ``~/w``), then
    from the current directory."""
    recorded = manifest.bundle.get("path")
    if not isinstance(recorded, str) or not recorded:
        return []
    path = Path(recorded)
    if path.is_absolute():
        return [path]
    out: list[Path] = []
    given = manifest.config.get("out")
    if isinstance(given, str) and given and not Path(given).is_absolute():
        tail = Path(os.path.normpath(given)).parts
        here = Path(os.path.normpath(Path(directory).absolute())).parts
        if ".." not in tail and len(here) > len(tail) and here[len(here) - len(tail) :] == tail:
            out.append(Path(*here[: len(here) - len(tail)]) / path)
    out.append(Path.cwd() / path)
    return list(dict.fromkeys(out))


def load_run_bundle(
    directory: Path | str,
    bundle: Path | str | None = None,
    *,
    readers: Mapping[str, Reader] | None = None,
    warn: Callable[[str], None] | None = _warn,
) -> Bundle:
    """The bundle a run was made from, checked against the sha256 in its ``run.json``.

    ``bundle`` (``--bundle PATH``) overrides where to look; otherwise :func:`bundle_candidates`,
    then the shipped sample if it is the run's bundle (an install moved elsewhere). A StoreError
    (one line, ending in ``pass --bundle PATH``) when none of them is the run's bundle.
    """
    run_json = Path(directory) / MANIFEST
    manifest = read_manifest(directory)
    want = manifest.bundle.get("sha256")

    def mismatch(path: Path | str, got: str) -> StoreError:
        return StoreError(
            f"{path}: not the bundle of this run (sha256 {got[:12]}… vs {str(want)[:12]}… in {run_json}); "
            "pass --bundle PATH"
        )

    if bundle is not None:
        loaded = load_bundle(bundle, readers=readers, warn=warn)
        if want and loaded.sha256 != want:
            raise mismatch(bundle, loaded.sha256)
        return loaded
    candidates = bundle_candidates(directory, manifest)
    if not candidates:
        raise StoreError(f"{run_json}: names no bundle; pass --bundle PATH")
    wrong: list[tuple[Path, str]] = []
    sample = [sample_bundle_path()] if want else []  # only ever by its hash
    for path in [*candidates, *sample]:
        try:
            got = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            continue
        if want and got != want:
            if path not in sample:
                wrong.append((path, got))
            continue
        return load_bundle(path, readers=readers, warn=warn)
    if wrong:
        raise mismatch(*wrong[0])
    looked = ", ".join(str(p) for p in candidates)
    raise StoreError(
        f"{manifest.bundle['path']}: the run's bundle (named in {run_json}) is not there "
        f"(looked in {looked}); pass --bundle PATH"
    )
