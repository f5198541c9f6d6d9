"""Template strategies where the program does work the small model cannot (for the ``template`` generator).

Each strategy is a readable scaffold, ``plugins/scaffolds/<name>.py`` (package data of
``cgr.plugins``: the canonical copy, the one that runs), documented at its top with what it costs
in solver calls. ``specs/scaffolds/<name>.py`` is a generated copy for readers of the protocol
(``python -m cgr.plugins.template_strategies specs/scaffolds`` rewrites it; a test fails when the
two drift).

- ``elimination``: judge each option alone (Yes/No), drop the rejected, decide among the rest.
- ``decomposition``: two-option sub-questions combined by a round robin (or a knockout).
- ``numeric``: numeric options: the value asked for several times, median, nearest option.
- ``vote``: a budgeted vote over reworded, option-rotated prompts.

``STRATEGIES`` maps name -> scaffold source; ``MAX_CALLS[name](n)`` is the most solver calls the
scaffold makes for an item with ``n`` options (the documented cost, checked by the tests).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path

NAMES = ("elimination", "decomposition", "numeric", "vote")
ROUND_ROBIN_MAX = 6  # decomposition.py's constant
VOTE_BUDGET, VOTE_MIN_ROUNDS = 8, 4  # vote.py's constants
NUMERIC_SAMPLES = 5  # numeric.py's constant


def read_scaffold(name: str) -> str:
    """The source of the packaged scaffold ``name`` (``plugins/scaffolds/<name>.py``)."""
    return (resources.files("cgr.plugins") / "scaffolds" / f"{name}.py").read_text(encoding="utf-8")


def describe(name: str) -> str:
    """The scaffold's leading comment block (what it does and what it costs), without the ``#``."""
    lines = []
    for line in read_scaffold(name).splitlines():
        if not line.startswith("#") or line.startswith("# ruff:"):
            break
        lines.append(line[2:] if line.startswith("# ") else line[1:])
    return "\n".join(lines).strip()


def _decomposition_calls(n: int) -> int:
    return n * (n - 1) // 2 + 1 if n <= ROUND_ROBIN_MAX else n - 1


def _vote_calls(n: int) -> int:
    n = max(1, n)
    return min(VOTE_BUDGET, n * math.ceil(VOTE_MIN_ROUNDS / n)) + 1


#: name -> most solver calls (``solver_call`` + ``solver_logprobs``) for an item with n options.
MAX_CALLS: dict[str, Callable[[int], int]] = {
    "elimination": lambda n: n + 1,
    "decomposition": _decomposition_calls,
    "numeric": lambda n: NUMERIC_SAMPLES + 1,
    "vote": _vote_calls,
}

STRATEGIES: dict[str, str] = {name: read_scaffold(name) for name in NAMES}


def write_specs(directory: Path) -> list[Path]:
    """Write ``<name>.py`` for every strategy under ``directory`` (the generated ``specs/scaffolds``)."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for name, source in STRATEGIES.items():
        path = directory / f"{name}.py"
        path.write_text(source, encoding="utf-8")
        out.append(path)
    return out


if __name__ == "__main__":  # pragma: no cover
    for written in write_specs(Path(sys.argv[1] if len(sys.argv) > 1 else "specs/scaffolds")):
        print(written)
