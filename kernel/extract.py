"""The extractor chain: free text to one of an item's labels, or None."""

from __future__ import annotations

from typing import Iterable

from cgr.kernel.manager import Entry

#: The most text any extractor sees. Guest output is hostile and unbounded; a scaffold's final
#: answer line is at the end of its output, so longer text is cut to its last this-many characters.
MAX_EXTRACT_CHARS = 32_000


def extract_label(chain: Iterable[Entry], text: str, labels: list[str], choices: list[str]):
    """Run the extractor chain: ``(label, extractor_name)`` of the first hit, else ``(None, None)``.

    Text longer than ``MAX_EXTRACT_CHARS`` is cut to its last ``MAX_EXTRACT_CHARS`` characters
    before any extractor runs, which bounds the work per call even for a third-party extractor.
    """
    text = text[-MAX_EXTRACT_CHARS:]
    for entry in chain:
        label = entry.obj(text, labels, choices)
        if label is not None:
            if label not in labels:  # a buggy extractor must not invent labels
                continue
            return label, entry.name
    return None, None
