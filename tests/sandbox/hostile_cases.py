"""The hostile scaffolds' shared parts: planted secrets, the item, limits, the host callback and
the table row type (the rows: hostile_escapes.py, hostile_abuses.py; the test: test_hostile.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from cgr.sandbox import HostError
from cgr.sandbox._api import MAX_REPLY_CHARS

ENV_NAME = "CGR_HOSTILE_SECRET"
ENV_SECRET = "env-secret-6b1f0c2e"
FILE_SECRET = "file-secret-93d2aa71"
GOLD_SECRET = "gold-secret-4e7d1105"
SECRETS = (ENV_SECRET, FILE_SECRET, GOLD_SECRET)

ITEM = {
    "id": "hostile-1",
    "question": "Which city is the capital of France?",
    "choices": ["Berlin", "Paris", "Rome"],
    "labels": ["A", "B", "C"],
    "context": None,
    # never shown to the guest:
    "answer": GOLD_SECRET,
    "gold": GOLD_SECRET,
    "metadata": {"answer": GOLD_SECRET, "note": GOLD_SECRET},
}

BASE = dict(timeout_s=5, memory_mb=128, max_calls=8, max_prompt_chars=2000, max_output_bytes=16 * 1024)
QUICK = dict(BASE, timeout_s=0.5)


class HostileHost:
    """The host callback: echoes, and misbehaves on request (prompt HUGE / FAIL / CRASH)."""

    def __init__(self):
        self.seen: list[tuple[str, dict]] = []

    def __call__(self, op, args):
        self.seen.append((op, args))
        if op == "solve":
            prompt = args["prompt"]
            if prompt == "HUGE":
                return "x" * (MAX_REPLY_CHARS + 1)
            if prompt == "FAIL":
                raise HostError("solver unavailable")
            if prompt == "CRASH":
                raise KeyError("boom")
            return args["choices"][0] if args["choices"] else "echo"
        if op == "logprobs":
            return [-1.0] * len(args["continuations"])
        if op == "extract":
            return "A" if "A" in args["text"] else None
        raise HostError(op)


@dataclass
class Attack:
    id: str
    source: str
    status: str
    limits: dict = field(default_factory=lambda: dict(BASE))
    stdout: str | None = None  # exact stdout
    says: str | None = None  # a substring of stdout
    error: str | None = None  # prefix of SandboxResult.error
    answer: str | None = None
    calls: int | None = None
    then: tuple[str, str, str] | None = None  # (second source, its status, its exact stdout)
    net: bool = False  # check the loopback listeners afterwards


A = Attack
