"""msgspec record structs: items, the three answer channels, audits, run manifest.

These are the on-disk contract (`records.jsonl`, `run.json`); JSON Schemas generated from them live
in `specs/schemas/` and a test fails when the two drift.
"""

from __future__ import annotations

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
    metadata: dict = {}

    def guest_view(self) -> dict:
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
    options: dict = {}
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
    """The solver answering the item from the direct solver prompt."""

    mode: str = "generate"
    prompt_version: str = ""


class AssistedChannel(Channel, kw_only=True):
    """The answer of a generated scaffold that ran in the sandbox."""

    status: str = "ok"
    program_sha256: str = ""
    program: str = ""
    stdout: str = ""
    stderr: str = ""
    trace: list[SolverCall] = []


class GeneratorChannel(Channel, kw_only=True):
    """The answer the generator itself gave or embedded (None when it gave none)."""


class BudgetChannel(Channel, kw_only=True):
    """Call-budget-matched baseline: the direct prompt sampled as often as the scaffold called the
    solver, majority vote (self-consistency), so assisted gains are not just more calls."""

    temperature: float = 0.7
    votes: dict[str, int] = {}


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
    schema_version: int = SCHEMA_VERSION


class RunManifest(msgspec.Struct, kw_only=True):
    """`run.json`: what produced a run (config, versions, model hashes, seeds)."""

    cgr_version: str
    schema_version: int = SCHEMA_VERSION
    created: str
    updated: str = ""
    config: dict
    bundle: dict
    solver: dict
    generator: dict
    extractors: list[str]
    auditors: list[str]
    versions: dict
    platform: dict = {}
    limits: dict = {}
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
    "item": Item,
    "record": Record,
    "run_manifest": RunManifest,
}


def json_schemas() -> dict[str, dict]:
    """JSON Schema of every on-disk struct, keyed by name (the source of `specs/schemas/*.json`)."""
    return {name: msgspec.json.schema(tp) for name, tp in SCHEMA_TYPES.items()}
