"""Run configuration (pydantic): what ``cgr run`` was asked to do, validated up front."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cgr.sandbox import Limits

#: The per-scaffold limits are the sandbox's own type, with its defaults and bounds (one of each).
SandboxLimits = Limits


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
    generator_options: dict[str, str] = {}  # generator-specific (llm: solver=openai, base_url=…)
    direct_mode: str = "generate"  # the primary mode: ``Record.direct`` (a registered direct mode)
    direct_modes: list[str] = []  # extra modes: ``Record.direct_modes`` (the primary and repeats dropped)
    direct_max_tokens: int = Field(8, ge=1, le=512)
    budget_baseline: bool = False  # also answer each item with the run's baseline (``Record.budget_matched``)
    baseline: str = "budget_matched"  # the registered baseline used when ``budget_baseline`` is on
    budget_temperature: float = Field(0.7, gt=0, le=2)
    seed: int = 0
    workers: int = Field(1, ge=1, le=64)  # items processed at once (records still in bundle order)
    executor: str = "local"  # the registered executor that processes the items
    executor_options: dict[str, str] = {}  # --executor-option KEY=VALUE (not part of a resumed run's identity)
    limits: Limits = Field(default_factory=Limits)
    resume: bool = False

    @model_validator(mode="after")
    def _extra_modes(self) -> RunConfig:
        """``direct_modes`` without the primary mode and without repeats, in the order given."""
        extra = [m for m in dict.fromkeys(self.direct_modes) if m != self.direct_mode]
        if extra != self.direct_modes:
            self.direct_modes = extra
        return self
