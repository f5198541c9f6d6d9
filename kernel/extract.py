"""The extractor chain: free text to one of an item's labels, or None."""

from __future__ import annotations

from typing import Iterable

from cgr.kernel.manager import Entry


def extract_label(chain: Iterable[Entry], text: str, labels: list[str], choices: list[str]):
    """Run the extractor chain: ``(label, extractor_name)`` of the first hit, else ``(None, None)``."""
    for entry in chain:
        label = entry.obj(text, labels, choices)
        if label is not None:
            if label not in labels:  # a buggy extractor must not invent labels
                continue
            return label, entry.name
    return None, None
