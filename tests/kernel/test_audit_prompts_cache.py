"""The stand-in's remembered prompt readings are the readings themselves, and the memory is bounded."""

from __future__ import annotations

from cgr.plugins import audit_prompts
from cgr.plugins.audit_prompts import READ_CACHE_CHARS, READ_CACHE_ENTRIES, ItemFacts, _read_prompt, read_prompt
from cgr.plugins.audit_runs import Session, _parses, skip_reason

VIEW = {
    "id": "t1",
    "question": "Which gas do plants take in for photosynthesis?",
    "choices": ["oxygen", "carbon dioxide", "nitrogen", "helium"],
    "labels": ["A", "B", "C", "D"],
    "context": None,
}
PROMPTS = [
    "Question: Which gas do plants take in for photosynthesis?\nAnswer:",
    "A. oxygen\nB. carbon dioxide\nC. nitrogen\nD. helium\nThe answer is B. Which option is correct?",
    "Is 'nitrogen' the right answer? Answer yes or no.",
    "Which option is wrong? Eliminate one: oxygen, helium.",
    "Say OK",
]


def test_a_remembered_reading_equals_a_fresh_one():
    facts = ItemFacts(VIEW)
    for prompt in PROMPTS * 2:
        assert read_prompt(facts, prompt) == _read_prompt(ItemFacts(VIEW), prompt)
    assert set(facts.readings) == set(PROMPTS)


def test_the_memory_is_bounded(monkeypatch):
    facts = ItemFacts(VIEW)
    for i in range(READ_CACHE_ENTRIES + 10):
        read_prompt(facts, f"prompt {i} about oxygen")
    assert len(facts.readings) == READ_CACHE_ENTRIES
    long = "oxygen " * (READ_CACHE_CHARS // 7 + 1)
    assert read_prompt(ItemFacts(VIEW), long) == _read_prompt(ItemFacts(VIEW), long)
    fresh = ItemFacts(VIEW)
    read_prompt(fresh, long)
    assert fresh.readings == {}
    assert audit_prompts.READ_CACHE_CHARS < audit_prompts.READ_HEAD + audit_prompts.READ_TAIL


def test_a_session_shows_each_rotation_with_one_view_and_facts():
    s = Session("submit('A')", VIEW)
    view, facts = s.shown(1)
    assert s.shown(1) == (view, facts) and s.shown(1)[1] is facts
    assert view["choices"] == ["carbon dioxide", "nitrogen", "helium", "oxygen"]
    assert view["labels"] == VIEW["labels"]
    assert s.shown(0)[0]["choices"] == VIEW["choices"]


def test_skip_reason_parses_once_and_still_tells_a_broken_program():
    assert _parses("x = 1\n") and not _parses("def (:\n")
    assert skip_reason("def (:\n", VIEW, None) == "not run: the program does not parse"
    assert skip_reason("x = 1\n", VIEW, None) is None
