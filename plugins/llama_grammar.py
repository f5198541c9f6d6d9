"""GBNF grammars that restrict a llama.cpp reply to exactly one of a list of choices.

``complete(..., choices=[...])`` of the llama solver decodes under ``choices_grammar(choices)``:
the sampler may only pick tokens that keep the reply a prefix of some choice, and ends it when a
choice is complete. At temperature 0 that is greedy constrained decoding; above it, a sample among
the choices. The choices come from scaffolds (hostile): every character is escaped, and the grammar
is built only for a bounded list.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

#: Most choices one grammar takes, and most UTF-8 bytes of all of them together.
MAX_CHOICES = 256
MAX_CHOICE_BYTES = 64 * 1024

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def gbnf_literal(text: str) -> str:
    """``text`` as a GBNF string literal: quotes, backslashes and control characters escaped."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02X}")
        elif 0xD800 <= ord(ch) <= 0xDFFF:  # a lone surrogate has no UTF-8 form: not a valid choice
            raise ValueError("a choice holds a lone surrogate")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def choices_gbnf(choices: list[str]) -> str:
    """The GBNF text of ``root ::= choice_1 | choice_2 | ...`` (duplicates once)."""
    if not choices:
        raise ValueError("choices must not be empty")
    if len(choices) > MAX_CHOICES:
        raise ValueError(f"{len(choices)} choices: at most {MAX_CHOICES} can constrain a reply")
    if sum(len(c.encode("utf-8", "surrogatepass")) for c in choices) > MAX_CHOICE_BYTES:
        raise ValueError(f"the choices hold more than {MAX_CHOICE_BYTES} bytes")
    unique = list(dict.fromkeys(choices))
    return "root ::= " + " | ".join(gbnf_literal(c) for c in unique) + "\n"


_CACHE: OrderedDict[tuple[str, ...], tuple[Any, int]] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def choices_grammar(choices: list[str]) -> tuple[Any, int]:
    """``(LlamaGrammar, longest choice in UTF-8 bytes)`` for ``choices`` (the last 64 are cached:
    the same labels come with every item)."""
    from llama_cpp import LlamaGrammar

    key = tuple(choices)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    grammar = LlamaGrammar.from_string(choices_gbnf(choices), verbose=False)
    entry = (grammar, max(len(c.encode("utf-8")) for c in choices))
    with _CACHE_LOCK:
        _CACHE[key] = entry
        while len(_CACHE) > 64:
            _CACHE.popitem(last=False)
    return entry
