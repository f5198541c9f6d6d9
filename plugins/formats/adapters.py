"""Adapters: one source row of a known multiple-choice dataset -> one item of the bundle interface.

Each adapter is the one conversion of its source (``cgr bundle convert --from NAME`` and the sample
builder alike) and names the field when a row cannot be mapped (``RowError``). Where users need a
different meaning, the adapter takes an explicit option (``ctx.options``, ``--option KEY=VALUE``),
declared with :func:`takes` so that a misspelt option or value is refused before any row is read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from cgr.kernel.api import RowContext, RowError
from cgr.kernel.bundle import DEFAULT_LABELS

F = TypeVar("F", bound=Callable[..., Any])


def takes(**options: tuple[str, ...]) -> Callable[[F], F]:
    """Declare an adapter's options: name -> its values, the first being the default. An adapter
    without the declaration receives whatever options it is given, unchecked."""

    def mark(fn: F) -> F:
        fn.options = dict(options)  # type: ignore[attr-defined]
        return fn

    return mark


def declared_options(fn: object) -> dict[str, tuple[str, ...]] | None:
    """The options ``fn`` declared with :func:`takes` (None: undeclared, anything goes)."""
    options = getattr(fn, "options", None)
    return dict(options) if isinstance(options, Mapping) else None


def _text(row: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = row.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RowError(key, "missing or empty")
        return ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise RowError(key, f"expected text, got {type(value).__name__}")
    return str(value).strip()


def _relettered(texts: list[str], original: list[str], key: str) -> tuple[list[str], str, dict[str, Any]]:
    """Choices keep their order; labels become A, B, …; the gold follows its original label."""
    _at_most_26(texts)
    if key not in original:
        raise RowError("answerKey", f"{key!r} is not one of the choice labels {original}")
    labels = list(DEFAULT_LABELS[: len(texts)])
    return labels, labels[original.index(key)], {"original_labels": original, "original_answer": key}


def _labelled_choices(row: dict[str, Any], question_key: str) -> tuple[str, list[str], list[str], str, dict[str, Any]]:
    question = _text(row, question_key)
    choices = row.get("choices")
    if (
        not isinstance(choices, dict)
        or not isinstance(choices.get("text"), list)
        or not isinstance(choices.get("label"), list)
    ):
        raise RowError("choices", 'expected {"text": [...], "label": [...]}')
    texts = [str(t).strip() for t in choices["text"]]
    original = [str(lbl).strip() for lbl in choices["label"]]
    if len(texts) != len(original):
        raise RowError("choices", f"{len(texts)} texts for {len(original)} labels")
    if len(set(original)) != len(original):
        raise RowError("choices", f"duplicate labels {original}")
    labels, answer, meta = _relettered(texts, original, _text(row, "answerKey"))
    return question, texts, labels, answer, meta


@takes()
def arc(row: dict[str, Any], ctx: RowContext) -> dict[str, Any]:
    """ARC (allenai/ai2_arc): id, question, choices{text,label}, answerKey; labels re-lettered A, B, ..."""
    question, texts, labels, answer, meta = _labelled_choices(row, "question")
    return {"id": _text(row, "id"), "question": question, "choices": texts, "labels": labels, "answer": answer,
            "metadata": meta}  # fmt: skip


@takes()
def openbookqa(row: dict[str, Any], ctx: RowContext) -> dict[str, Any]:
    """OpenBookQA: id, question_stem, choices{text,label}, answerKey [, fact1 as context]"""
    question, texts, labels, answer, meta = _labelled_choices(row, "question_stem")
    fact = _text(row, "fact1", required=False)  # the "additional" config's supporting fact
    return {"id": _text(row, "id"), "question": question, "choices": texts, "labels": labels, "answer": answer,
            "context": fact or None, "metadata": meta}  # fmt: skip


@takes(support=("context", "drop"))
def sciq(row: dict[str, Any], ctx: RowContext) -> dict[str, Any]:
    """SciQ: question, correct_answer, distractor1-3 [, support as context]; options shuffled per item with --seed"""
    question, correct = _text(row, "question"), _text(row, "correct_answer")
    options = [correct] + [_text(row, f"distractor{i}") for i in (1, 2, 3)]
    for i, text in enumerate(options[1:], start=1):
        if text in options[:i]:
            raise RowError(f"distractor{i}", f"{text!r} repeats another option (the gold would be ambiguous)")
    item_id = _text(row, "id", required=False) or f"sciq-{ctx.number:05d}"
    # A deterministic per-item shuffle (the source always lists the correct answer first):
    # options ordered by sha256("<seed>:<item id>:<index>:<text>").
    order = sorted(range(4), key=lambda i: hashlib.sha256(f"{ctx.seed}:{item_id}:{i}:{options[i]}".encode()).digest())
    choices = [options[i] for i in order]
    # support=drop: no context (the paragraph is long, often empty, and usually states the answer
    # outright, which turns the question into reading comprehension).
    support = _text(row, "support", required=False) if ctx.options.get("support", "context") == "context" else ""
    return {"id": item_id, "question": question, "choices": choices,
            "answer": DEFAULT_LABELS[choices.index(correct)], "context": support or None,
            "metadata": {"original_answer": correct, "shuffle_seed": ctx.seed}}  # fmt: skip


def _at_most_26(choices: list[str]) -> None:
    if len(choices) > len(DEFAULT_LABELS):
        raise RowError("choices", f"{len(choices)} options; at most {len(DEFAULT_LABELS)} can be lettered")


def _gold_index(value: object, n: int, key: str) -> int:
    if isinstance(value, bool) or value is None:
        raise RowError(key, f"expected an option index or letter, got {value!r}")
    text = value.strip() if isinstance(value, str) else ""
    if isinstance(value, int):
        index = value
    elif text.isascii() and text.isdigit() and len(text) <= 9:  # not "²" (a digit int() refuses), not 5000 digits
        index = int(text)
    elif text.upper() in DEFAULT_LABELS[:n]:
        index = DEFAULT_LABELS.index(text.upper())
    else:
        raise RowError(key, f"expected an option index or letter, got {value!r}")
    if not 0 <= index < n:
        raise RowError(key, f"index {index} is out of range for {n} choices")
    return index


@takes()
def mmlu(row: dict[str, Any], ctx: RowContext) -> dict[str, Any]:
    """MMLU (cais/mmlu): question, subject (the task), choices[], answer (index or letter)"""
    question = _text(row, "question")
    raw = row.get("choices")
    if not isinstance(raw, list):
        raise RowError("choices", f"expected a list, got {type(raw).__name__}")
    choices = [str(c).strip() for c in raw]
    _at_most_26(choices)
    subject = _text(row, "subject", required=False)
    item_id = _text(row, "id", required=False) or f"{subject or 'mmlu'}-{ctx.number:05d}"
    return {"id": item_id, "task": subject or None, "question": question, "choices": choices,
            "answer": DEFAULT_LABELS[_gold_index(row.get("answer"), len(choices), "answer")],
            "metadata": {"original_answer": row.get("answer")}}  # fmt: skip


@takes()
def mmlu_csv(row: dict[str, Any], ctx: RowContext) -> dict[str, Any]:
    """MMLU's original CSV files: question,A,B,C,D,answer (no header); the task is the file's subject"""
    cells = row.get("cells")
    if not isinstance(cells, list):
        raise RowError("row", "expected a CSV record (mmlu-csv reads MMLU's original .csv files)")
    if len(cells) != 6:
        raise RowError("row", f"expected 6 columns (question, A, B, C, D, answer), got {len(cells)}")
    subject = ctx.source.stem.removesuffix("_test").removesuffix("_dev").removesuffix("_val")
    return {"id": f"{subject}-{ctx.number:05d}", "task": subject, "question": str(cells[0]).strip(),
            "choices": [str(c).strip() for c in cells[1:5]],
            "answer": DEFAULT_LABELS[_gold_index(cells[5], 4, "answer")]}  # fmt: skip


@takes()
def cgr(row: dict[str, Any], ctx: RowContext) -> dict[str, Any]:
    """cgr items (validate and re-encode; e.g. JSONL to msgpack)"""
    return row


#: name -> (adapter, default dataset of its items); registered by ``register_bundle_formats``.
#: Dataset "" (``cgr``): the rows are complete items, only ``--dataset``/``--task`` apply.
ADAPTERS: dict[str, tuple[Callable[[dict[str, Any], RowContext], dict[str, Any]], str]] = {
    "cgr": (cgr, ""),
    "arc": (arc, "ai2_arc"),
    "openbookqa": (openbookqa, "openbookqa"),
    "sciq": (sciq, "sciq"),
    "mmlu": (mmlu, "mmlu"),
    "mmlu-csv": (mmlu_csv, "mmlu"),
}
