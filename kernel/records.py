"""msgspec record structs: items, the three answer channels, audits, run manifest.

These are the on-disk contract (`records.jsonl`, `run.json`); JSON Schemas generated from them live
in `specs/schemas/` and a test fails when the two drift.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

SCHEMA_VERSION = 1

#: Typed outcomes of the assisted channel: the sandbox statuses, `fuel` (the sandbox reports CPU-fuel
#: exhaustion as a timeout; the record tells them apart) and `generator_error` (no scaffold could be
#: produced; the record is still written).
ASSISTED_STATUSES = (
    "ok",
    "no_submit",
    "invalid_submit",
    "error",
    "syntax",
    "timeout",
    "fuel",
    "memory",
    "output_cap",
    "call_budget",
    "generator_error",
)


class Item(msgspec.Struct, frozen=True, kw_only=True):
    """One normalized multiple-choice item (DESIGN.md, item interface)."""

    id: str
    dataset: str
    task: str
    question: str
    choices: list[str]
    labels: list[str]
    answer: str
    context: str | None = None
    metadata: dict[str, Any] = {}

    def guest_view(self) -> dict[str, Any]:
        """The read-only view given to scaffolds and generators: never the gold answer."""
        return {
            "id": self.id,
            "question": self.question,
            "choices": list(self.choices),
            "labels": list(self.labels),
            "context": self.context,
        }


#: The trace bound (one record): each prompt, reply and option list is kept up to TRACE_TEXT_CHARS
#: characters, and all of a record's trace text up to MAX_TRACE_CHARS; beyond, text is cut with a
#: marker and the call keeps the sha256 of what it really was (``truncated``, ``sha256``).
TRACE_TEXT_CHARS = 16 * 1024
MAX_TRACE_CHARS = 1024 * 1024


class SolverCall(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One solver crossing made by a scaffold, kept so a run can be replayed and re-audited."""

    op: str  # "solve" | "logprobs" | "extract"
    prompt: str = ""
    options: dict[str, Any] = {}
    reply: str | list[float] | None = None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    truncated: bool = False  # text cut to the trace bound (a cut call cannot be replayed)
    sha256: str | None = None  # of the whole call as made (op, prompt, options, reply) when truncated


class Channel(msgspec.Struct, kw_only=True):
    """Fields shared by the three answer channels."""

    answer: str | None
    correct: bool
    calls: int
    raw: str = ""
    method: str | None = None  # how `answer` was obtained (extractor name, "submit", "logprobs", …)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    error: str | None = None  # why this channel has no answer (solver refused the item, …)


class DirectChannel(Channel, kw_only=True):
    """The solver answering the item without a scaffold, in one registered direct mode (the built-ins:
    ``plugins/direct_modes.py``)."""

    mode: str = "generate"
    prompt_version: str = ""
    #: ``logprobs``: each label's log-probability; ``cloze``/``cloze_raw``: each option's total
    #: log-likelihood (unnormalised, in option order); None for the generating modes.
    scores: list[float] | None = None
    #: ``generate``: the option whose text the reply states ("C. Mandibular nerve" -> the label of the
    #: option "Mandibular nerve"), None when the reply states no option's text.
    text_answer: str | None = None
    #: ``generate``: the reply's letter (``answer``) and its option text (``text_answer``) name
    #: different options; ``answer`` stays the letter.
    disagreement: bool = False


class AssistedChannel(Channel, kw_only=True):
    """The answer of a generated scaffold that ran in the sandbox."""

    status: str = "ok"
    program_sha256: str = ""
    program: str = ""
    stdout: str = ""
    stderr: str = ""
    trace: list[SolverCall] = []


class GeneratorChannel(Channel, kw_only=True):
    """The answer the generator itself gave or embedded (None when it gave none), and how the
    generation ended: ``outcome`` is one of ok, no_code, syntax_error, refusal, timeout, api_error,
    empty (``error``: the generator raised), with the ``retries`` it spent."""

    outcome: str = "ok"
    retries: int = 0


class BudgetChannel(Channel, kw_only=True):
    """The run's baseline: a registered one, by default ``budget_matched`` (``plugins/budget_baseline.py``):
    as many solver calls as the scaffold made, of the same kinds (scoring, constrained, free
    generation), each greedy; the first is the greedy direct answer of that kind, scoring calls form a
    summed cloze ensemble, replies vote, ties go to greedy. No aggregate guarantee of being at least
    greedy: the report shows ``greedy`` beside it."""

    temperature: float = 0.7  # 0.0: every call is greedy (older records: the samples' temperature)
    votes: dict[str, int] = {}
    greedy: str | None = None  # the first call's answer: the baseline with a budget of one call
    calls_by_kind: dict[str, int] = {}  # {"score": n, "choice": n, "generate": n}, as the scaffold's


class Audit(msgspec.Struct, kw_only=True):
    """One auditor's finding on one scaffold."""

    auditor: str
    verdict: str  # "pass" | "flag"
    reason: str = ""


class Record(msgspec.Struct, kw_only=True):
    """One result per (item, solver, generator)."""

    item_id: str
    dataset: str
    task: str
    solver: str
    generator: str
    gold: str
    direct: DirectChannel
    assisted: AssistedChannel
    generator_side: GeneratorChannel
    audits: list[Audit] = []
    budget_matched: BudgetChannel | None = None  # only with --budget-baseline
    #: why ``budget_matched`` is None although the baseline ran (e.g. the scaffold made no solver call)
    budget_matched_reason: str | None = None
    #: the run's extra direct modes (``RunConfig.direct_modes``), keyed by mode; ``direct`` is the primary
    direct_modes: dict[str, DirectChannel] = {}
    schema_version: int = SCHEMA_VERSION


class RunManifest(msgspec.Struct, kw_only=True):
    """`run.json`: what produced a run (config, versions, model hashes, seeds)."""

    cgr_version: str
    schema_version: int = SCHEMA_VERSION
    created: str
    updated: str = ""
    config: dict[str, Any]
    bundle: dict[str, Any]
    solver: dict[str, Any]
    generator: dict[str, Any]
    extractors: list[str]
    auditors: list[str]
    versions: dict[str, Any]
    platform: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    status: str = "running"  # "running" | "complete"
    records: int = 0


def encode_record(record: Record) -> bytes:
    """Record -> one JSON line (without the newline)."""
    return _ENCODER.encode(record)


def decode_record(line: bytes | str) -> Record:
    """One JSON line -> Record (raises msgspec.ValidationError on a malformed line)."""
    return _RECORD_DECODER.decode(line)


_ENCODER = msgspec.json.Encoder()
_RECORD_DECODER = msgspec.json.Decoder(Record)

SCHEMA_TYPES: dict[str, type] = {
    "record": Record,
    "run_manifest": RunManifest,
}


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of every on-disk struct, keyed by name (the source of `specs/schemas/*.json`)."""
    return {name: msgspec.json.schema(tp) for name, tp in SCHEMA_TYPES.items()}


class TraceBound:
    """Keeps one record's solver-call trace within the documented bound (see records.TRACE_TEXT_CHARS).

    Applied to each call as soon as it is made, so host memory stays bounded during the run, not
    only on disk: whatever the scaffold sends or the solver replies, a record's trace holds at
    most MAX_TRACE_CHARS characters of text plus a marker per call.
    """

    def __init__(self) -> None:
        self.left = MAX_TRACE_CHARS

    def keep(self, call: SolverCall) -> None:
        """Cut ``call``'s text in place where it is over the bound, marking and hashing it."""
        strings = _option_strings(call.options)
        reply = call.reply if isinstance(call.reply, str) else ""
        sizes = (len(call.prompt), len(reply), sum(map(len, strings)))
        if sum(sizes) <= self.left and max(sizes) <= TRACE_TEXT_CHARS:
            self.left -= sum(sizes)
            return
        whole = msgspec.json.encode([call.op, call.prompt, call.options, call.reply])
        call.sha256, call.truncated = hashlib.sha256(whole).hexdigest(), True
        room = min(TRACE_TEXT_CHARS, max(0, self.left) // 3)  # for each of prompt, reply, options
        call.prompt = _cut(call.prompt, room)
        if reply:
            call.reply = _cut(reply, room)
        if sizes[2] > room:  # option lists are kept whole or not at all (the hash stands for them)
            call.options = {k: v for k, v in call.options.items() if not isinstance(v, (str, list))}
        self.left -= (
            len(call.prompt)
            + len(call.reply if isinstance(call.reply, str) else "")
            + sum(map(len, _option_strings(call.options)))
        )


def _option_strings(options: dict[str, Any]) -> list[str]:
    out = []
    for value in options.values():
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, list):
            out.extend(v for v in value if isinstance(v, str))
    return out


def _cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters: its head and an ASCII marker saying how long it was, or
    nothing at all when there is no room (``truncated`` and ``sha256`` still say what it was)."""
    if len(text) <= limit:
        return text
    marker = f"...[cut by cgr: {len(text)} chars]"
    return text[: limit - len(marker)] + marker if limit > len(marker) else ""


def valid_record(record: Record) -> Record:
    """``record`` if it reads back as a Record; else the same record with a host-made assisted error.

    Much of the assisted channel is shaped by the scaffold; whatever it managed, the record written
    must be one every reader accepts (the run directory must stay readable).
    """
    try:
        decode_record(encode_record(record))
        return record
    except Exception as exc:  # noqa: BLE001 - any encode/validation failure
        problem = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    a = record.assisted
    record.assisted = AssistedChannel(
        answer=None,
        correct=False,
        calls=a.calls if isinstance(a.calls, int) else 0,
        status="error",
        program_sha256=a.program_sha256 if isinstance(a.program_sha256, str) else "",
        program=a.program if isinstance(a.program, str) else "",
        error=f"cgr: the assisted outcome failed validation ({problem}) and was replaced by this error",
    )
    return record
