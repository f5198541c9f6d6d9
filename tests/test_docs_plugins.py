"""docs/plugins.md shows the prompts a solver receives exactly as cgr renders them, and every
template strategy."""

from __future__ import annotations

from pathlib import Path

from cgr.kernel.prompts import render_direct, render_generator
from cgr.plugins.template_generator import LETTER, STRATEGIES
from cgr.testing import SAMPLE_ITEM

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def test_the_page_shows_the_rendered_prompts():
    text = DOC.read_text(encoding="utf-8")
    assert f"```text\n{render_direct(SAMPLE_ITEM)}\n```" in text
    assert f"````text\n{render_generator(SAMPLE_ITEM)}\n````" in text
    assert f"```text\nQuestion: {SAMPLE_ITEM['question']}\nAnswer:\n```" in text  # the cloze prompt


def test_the_page_shows_the_letter_prompt_and_every_strategy():
    text = DOC.read_text(encoding="utf-8")
    # the letter scaffold's prompt, as its f-string builds it for the sample item (no context)
    assert (
        'prompt = f"{context}Question: {ITEM.question}\\n{options}\\nAnswer with the letter only.\\nAnswer:"' in LETTER
    )
    assert "reply = solver_call(prompt, max_tokens=2, choices=list(ITEM.labels))" in LETTER
    options = "\n".join(f"{lab}. {c}" for lab, c in zip(SAMPLE_ITEM["labels"], SAMPLE_ITEM["choices"]))
    assert (
        f"```text\nQuestion: {SAMPLE_ITEM['question']}\n{options}\nAnswer with the letter only.\nAnswer:\n```" in text
    )
    for name in STRATEGIES:
        assert f"| `{name}`" in text
