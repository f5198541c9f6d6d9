"""TEST HELPER: the real ``python -m llama_cpp.server`` serving the default embedded model."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.plugins_builtin.openai_stub import free_port

SERVER_MODULES = ("fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings", "yaml")


@contextmanager
def llama_server(log_dir: Path, n_ctx: int = 2048) -> Iterator[tuple[str, int]]:
    """``(url, port)`` of a started server (``url`` ends in ``/v1``); skips the test without the
    ``[server]`` extra, fails it (with the server's log) when the server exits or is not ready in 90 s.
    One thread: robust on a busy machine."""
    missing = [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"llama_cpp.server needs the [server] extra (missing: {', '.join(missing)})")
    from cgr.plugins.llama_solver import resolve_model

    model = resolve_model(None)[1]
    port = free_port()
    log = log_dir / "server.log"
    args = ["--model", str(model), "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx)]
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", *args, "--n_threads", "1"], stdout=sink, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server not ready in 90 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.25)
        yield url, port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
