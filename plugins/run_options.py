"""Options shared by commands: the per-scaffold limits (one declaration for ``run`` and ``sandbox
run``) and ``KEY=VALUE`` pairs."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import click

from cgr.sandbox import FUEL_MAX, MAX_CALLS_MAX, MEMORY_MB_RANGE, OUTPUT_KB_RANGE, TIMEOUT_S_MAX, Limits


class _FiniteSeconds(click.FloatRange):
    """A positive, finite number of seconds up to TIMEOUT_S_MAX (NaN and inf are usage errors)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        value = super().convert(value, param, ctx)
        if not math.isfinite(value) or value <= 0:
            self.fail(f"{value} is not a positive, finite number of seconds", param, ctx)
        return value


_D = Limits()
_LIMIT_OPTIONS = (
    click.option(
        "--timeout",
        "timeout_s",
        type=_FiniteSeconds(0, TIMEOUT_S_MAX),
        default=_D.timeout_s,
        show_default=True,
        help="Per-scaffold wall clock in seconds (time inside solver calls not counted).",
    ),
    click.option(
        "--max-calls",
        type=click.IntRange(0, MAX_CALLS_MAX),
        default=_D.max_calls,
        show_default=True,
        help="Per-scaffold solver-call budget.",
    ),
    click.option(
        "--memory-mb",
        type=click.IntRange(*MEMORY_MB_RANGE),
        default=_D.memory_mb,
        show_default=True,
        help="Per-scaffold linear-memory cap.",
    ),
    click.option(
        "--max-output-kb",
        type=click.IntRange(*OUTPUT_KB_RANGE),
        default=_D.max_output_bytes // 1024,
        show_default=True,
        help="Per-scaffold cap on stdout and on stderr, each.",
    ),
    click.option(
        "--fuel",
        type=click.IntRange(1, FUEL_MAX),
        help="Per-scaffold CPU fuel (off by default). Exhausted: status fuel in a run's records; "
        "in `sandbox run` status timeout, error 'timeout: fuel limit of N exhausted'.",
    ),
)


def limit_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The per-scaffold limit options of ``run`` and ``sandbox run`` (one declaration): the command
    receives them as one ``limits: cgr.sandbox.Limits``."""

    @functools.wraps(fn)
    def wrapper(
        *args: Any,
        timeout_s: float,
        max_calls: int,
        memory_mb: int,
        max_output_kb: int,
        fuel: int | None,
        **kwargs: Any,
    ) -> Any:
        limits = Limits(
            timeout_s=timeout_s,
            max_calls=max_calls,
            memory_mb=memory_mb,
            max_output_bytes=max_output_kb * 1024,
            fuel=fuel,
        )
        return fn(*args, limits=limits, **kwargs)

    for option in reversed(_LIMIT_OPTIONS):
        wrapper = option(wrapper)
    return wrapper


def key_values(pairs: tuple[str, ...], hint: str = "--solver-option") -> dict[str, Any]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r}: expected KEY=VALUE", param_hint=hint)
        out[key.strip()] = value
    return out
