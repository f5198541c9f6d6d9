"""``cgr.sandbox.Limits``: one set of defaults and the bounds every field is checked against (no sandbox)."""

from __future__ import annotations

import math

import pytest

import cgr.sandbox
from cgr.sandbox import MAX_CALLS_MAX, MEMORY_MB_RANGE, OUTPUT_KB_RANGE, TIMEOUT_S_MAX, Limits


def test_the_bounds_are_public():
    assert TIMEOUT_S_MAX == 3600.0
    assert MEMORY_MB_RANGE == (16, 4096)
    assert MAX_CALLS_MAX == 10_000
    assert OUTPUT_KB_RANGE == (1, 16 * 1024)
    assert {"TIMEOUT_S_MAX", "MEMORY_MB_RANGE", "MAX_CALLS_MAX", "OUTPUT_KB_RANGE"} <= set(cgr.sandbox.__all__)


def test_the_defaults_are_within_the_bounds():
    limits = Limits()
    assert limits.timeout_s == 20.0
    assert 0 < limits.timeout_s <= TIMEOUT_S_MAX
    assert MEMORY_MB_RANGE[0] <= limits.memory_mb <= MEMORY_MB_RANGE[1]
    assert OUTPUT_KB_RANGE[0] * 1024 <= limits.max_output_bytes <= OUTPUT_KB_RANGE[1] * 1024
    assert 0 <= limits.max_calls <= MAX_CALLS_MAX


@pytest.mark.parametrize(
    "field, value",
    [
        ("timeout_s", TIMEOUT_S_MAX),
        ("timeout_s", 0.001),
        ("timeout_s", 1),
        ("memory_mb", MEMORY_MB_RANGE[0]),
        ("memory_mb", MEMORY_MB_RANGE[1]),
        ("max_output_bytes", OUTPUT_KB_RANGE[0] * 1024),
        ("max_output_bytes", OUTPUT_KB_RANGE[1] * 1024),
        ("max_calls", 0),
        ("max_calls", MAX_CALLS_MAX),
        ("max_prompt_chars", 1),
        ("fuel", None),
        ("fuel", 1),
        ("fuel", 10**12),
    ],
)
def test_values_at_the_bounds_are_accepted(field, value):
    assert getattr(Limits(**{field: value}), field) == value


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("timeout_s", 0, "Limits.timeout_s must be a positive number up to 3600, got 0"),
        ("timeout_s", -1.0, "Limits.timeout_s must be a positive number up to 3600, got -1.0"),
        ("timeout_s", TIMEOUT_S_MAX + 0.5, "Limits.timeout_s must be a positive number up to 3600, got 3600.5"),
        ("timeout_s", math.inf, "got inf"),
        ("timeout_s", math.nan, "got nan"),
        ("timeout_s", 10**400, "Limits.timeout_s must be a positive number up to 3600"),
        ("timeout_s", "20", "got '20'"),
        ("timeout_s", None, "got None"),
        ("memory_mb", MEMORY_MB_RANGE[0] - 1, "Limits.memory_mb must be an int in 16..4096, got 15"),
        ("memory_mb", MEMORY_MB_RANGE[1] + 1, "Limits.memory_mb must be an int in 16..4096, got 4097"),
        ("memory_mb", -1, "got -1"),
        ("memory_mb", 256.0, "got 256.0"),
        ("memory_mb", True, "got True"),
        ("max_output_bytes", 1023, "Limits.max_output_bytes must be an int in 1024..16777216, got 1023"),
        ("max_output_bytes", 16 * 1024 * 1024 + 1, "got 16777217"),
        ("max_output_bytes", 0, "got 0"),
        ("max_calls", -1, "Limits.max_calls must be an int in 0..10000, got -1"),
        ("max_calls", MAX_CALLS_MAX + 1, "Limits.max_calls must be an int in 0..10000, got 10001"),
        ("max_calls", False, "got False"),
        ("max_prompt_chars", 0, "Limits.max_prompt_chars must be a positive int, got 0"),
        ("max_prompt_chars", "many", "got 'many'"),
        ("fuel", 0, "Limits.fuel must be None or an int in 1..9223372036854775807, got 0"),
        ("fuel", 2**64, "Limits.fuel must be None or an int in 1..9223372036854775807, got 18446744073709551616"),
        ("fuel", -5, "got -5"),
        ("fuel", 1.5, "got 1.5"),
        ("fuel", True, "got True"),
    ],
)
def test_values_outside_the_bounds_are_refused(field, value, message):
    with pytest.raises(ValueError, match="^Limits\\." + field) as info:
        Limits(**{field: value})
    assert message in str(info.value)
