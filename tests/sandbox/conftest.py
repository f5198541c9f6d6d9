"""Fixtures for the sandbox tests: one real Sandbox (real wasmtime, real component) per session."""

from __future__ import annotations

import pytest

from cgr.sandbox import STATUSES, HostError, Limits, Sandbox, SandboxResult

ITEM = {
    "id": "toy-1",
    "question": "Which city is the capital of France?",
    "choices": ["Berlin", "Paris", "Rome"],
    "labels": ["A", "B", "C"],
    "context": None,
}


@pytest.fixture(scope="session")
def sandbox() -> Sandbox:
    """Built (first time, ~15 s) or loaded from the cache once per session."""
    sb = Sandbox()
    sb.warm()
    return sb


class EchoHost:
    """A fake kernel callback: solve echoes the prompt, logprobs scores by length, extract finds a label."""

    def __init__(self, labels=("A", "B", "C")):
        self.labels = labels
        self.calls: list[tuple[str, dict]] = []

    def __call__(self, op: str, args: dict):
        self.calls.append((op, args))
        if op == "solve":
            if args["prompt"] == "fail":
                raise HostError("model unavailable")
            if args["prompt"] == "crash":
                raise KeyError("no such model")
            if args["choices"]:
                return args["choices"][-1]
            return "echo: " + args["prompt"]
        if op == "logprobs":
            return [-float(len(c)) for c in args["continuations"]]
        if op == "extract":
            for label in self.labels:
                if f"answer is {label}" in args["text"]:
                    return label
            return None
        raise HostError(f"unknown op {op}")


@pytest.fixture
def host() -> EchoHost:
    return EchoHost()


@pytest.fixture
def item() -> dict:
    return dict(ITEM)


def run(sandbox: Sandbox, source: str, item: dict, host, **limits) -> SandboxResult:
    """``sandbox.run`` with ``Limits(**limits)``; checks that the result is typed and its status known."""
    result = sandbox.run(source, item, host, Limits(**limits) if limits else Limits())
    assert isinstance(result, SandboxResult)
    assert result.status in STATUSES
    return result
