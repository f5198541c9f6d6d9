"""Run configuration (pydantic): what ``cgr run`` was asked to do, validated up front."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DirectMode = Literal["generate", "grammar", "logprobs"]


# Bounds of the per-scaffold limits, shared by the config model and the CLI options.
TIMEOUT_S_MAX = 3600.0
MEMORY_MB_RANGE = (16, 4096)  # wasm32 linear memory tops out at 4 GiB
MAX_CALLS_MAX = 10_000
OUTPUT_KB_RANGE = (1, 16 * 1024)


class SandboxLimits(BaseModel):
    """Per-scaffold limits (mirrors ``cgr.sandbox.Limits``)."""

    model_config = ConfigDict(extra="forbid")

    timeout_s: float = Field(30.0, gt=0, le=TIMEOUT_S_MAX, allow_inf_nan=False)
    memory_mb: int = Field(256, ge=MEMORY_MB_RANGE[0], le=MEMORY_MB_RANGE[1])
    max_output_bytes: int = Field(64 * 1024, ge=OUTPUT_KB_RANGE[0] * 1024, le=OUTPUT_KB_RANGE[1] * 1024)
    max_calls: int = Field(64, ge=0, le=MAX_CALLS_MAX)
    fuel: int | None = Field(None, ge=1)  # CPU fuel (roughly wasm instructions); None = off


class RunConfig(BaseModel):
    """Everything that selects what a run does."""

    model_config = ConfigDict(extra="forbid")

    bundle: Path | None = None  # None = the shipped sample bundle
    limit: int | None = Field(None, ge=1)
    tasks: list[str] | None = None  # only items of these tasks (before ``limit``); None = all
    out: Path = Path("cgr-run")
    solver: str = "llama"
    model: str | None = None
    solver_options: dict[str, str] = {}
    gpu_layers: int | None = None
    n_threads: int | None = Field(None, ge=1, le=256)  # solver CPU threads; None = the CPUs this process may use
    n_ctx: int = Field(2048, ge=256)
    generator: str = "template"
    strategy: str | None = None
    generator_model: str | None = None
    direct_mode: DirectMode = "generate"
    direct_max_tokens: int = Field(8, ge=1, le=512)
    budget_baseline: bool = False  # also run the call-budget-matched self-consistency baseline
    budget_temperature: float = Field(0.7, gt=0, le=2)
    seed: int = 0
    workers: int = Field(1, ge=1, le=64)  # items processed at once (records still in bundle order)
    limits: SandboxLimits = SandboxLimits()
    resume: bool = False
