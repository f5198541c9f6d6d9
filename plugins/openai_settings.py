"""The ``openai`` solver's settings: ``SolverConfig.options``, else the environment, else the default.

The API key is no setting: it comes only from ``CGR_OPENAI_API_KEY`` or ``OPENAI_API_KEY`` (options
are recorded in the run's manifest; a key must never be).
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cgr.plugins.openai_http import OpenAIError

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
#: Setting -> environment variable (options win over the environment).
ENV = {
    "base_url": "CGR_OPENAI_BASE_URL",
    "mode": "CGR_OPENAI_MODE",
    "timeout_s": "CGR_OPENAI_TIMEOUT",
    "max_retries": "CGR_OPENAI_MAX_RETRIES",
}
API_KEY_ENV = ("CGR_OPENAI_API_KEY", "OPENAI_API_KEY")


class OpenAISettings(BaseModel):
    """The ``openai`` solver's settings (unknown option names are an error, not ignored)."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = DEFAULT_BASE_URL
    mode: Literal["chat", "completions"] = "chat"
    timeout_s: float = Field(60.0, gt=0, le=3600)
    max_retries: int = Field(3, ge=0, le=20)
    backoff_s: float = Field(0.5, ge=0, le=60)
    top_logprobs: int = Field(20, ge=1, le=1000)
    echo_top_logprobs: int = Field(100, ge=1, le=100_000)
    choice_method: Literal["auto", "score", "generate"] = "auto"
    echo_alignment: Literal["auto", "aligned", "shifted"] = "auto"

    @classmethod
    def resolve(cls, options: dict[str, Any]) -> OpenAISettings:
        """Options over environment over defaults; a bad value is one clear OpenAIError."""
        if "api_key" in options:
            raise OpenAIError(
                "openai solver: the API key is read from CGR_OPENAI_API_KEY or "
                "OPENAI_API_KEY only, never from options (options are recorded)"
            )
        values: dict[str, Any] = {k: os.environ[v] for k, v in ENV.items() if os.environ.get(v)}
        values.update(options)
        try:
            return cls(**values)
        except ValidationError as exc:
            err = exc.errors()[0]
            name = ".".join(map(str, err["loc"]))
            source = f" (from {ENV[name]})" if name in ENV and name not in options else ""
            raise OpenAIError(f"openai solver: {name}{source}: {err['msg']}") from None


def api_key() -> tuple[str | None, str | None]:
    """``(variable, key)`` of the first API-key variable set, else ``(None, None)``."""
    for name in API_KEY_ENV:
        if os.environ.get(name):
            return name, os.environ[name]
    return None, None
