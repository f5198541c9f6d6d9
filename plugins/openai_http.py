"""HTTP for the ``openai`` solver: JSON requests with bounded retries and errors that say where.

Retries, with exponential backoff, on HTTP 408, 429 and 5xx and on transport failures (connection
refused or reset, timeouts); a ``Retry-After`` header (seconds or an HTTP date) replaces the backoff,
capped at ``max_retry_after_s``. Other statuses fail at once. No jitter: one client's schedule is
reproducible. The API key travels only in the ``Authorization`` header and is scrubbed from every
error message.

Whose failure it is decides the error, because the pipeline stops the run on a ``SolverError``
(``--resume`` retries the item) but records any other error as that item's and goes on; a
sandboxed scaffold chooses prompts and decoding options, so what it can provoke must not stop the run:

- ``OpenAIError`` (a ``SolverError``: the solver itself is unusable, stop the run): a transport
  failure or timeout after the retries; 408, 429 or 5xx after the retries (the server is overloaded
  or broken: a prompt the server merely dislikes gets a 4xx); a status that depends only on the URL,
  method, headers or key, which no prompt changes (``SOLVER_STATUSES``: 401, 403, 404, 405, 407,
  410, 415, 426); a success whose body is not a JSON object.
- ``OpenAIRequestError`` (a ``cgr.kernel.api.SolverRequestError``, not a ``SolverError``: this one
  request was refused, the item's error): every other 4xx, e.g. 400 (bad parameters, prompt over
  the context), 413 (body too large), 422 (validation). Not retried: the same request fails again.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from cgr.kernel.api import SolverError, SolverRequestError


class OpenAIError(SolverError):
    """An OpenAI-compatible server did not give a usable answer; the message names URL and status."""

    def __init__(self, message: str, *, url: str = "", status: int | None = None):
        super().__init__(message)
        self.url, self.status = url, status


class OpenAIRequestError(SolverRequestError):
    """The server refused this one request (HTTP 400, 413, 422…): the item's error, not the run's.

    The message names URL and status; ``url`` (without credentials) and ``status`` (None when the
    reply was fine over HTTP but unusable for this request's text) say the same.
    """

    def __init__(self, message: str, *, url: str = "", status: int | None = None):
        super().__init__(message)
        self.url, self.status = url, status


#: 4xx statuses about the endpoint or the credentials, never about one request's content.
SOLVER_STATUSES = frozenset({401, 403, 404, 405, 407, 410, 415, 426})


def public_url(url: str) -> str:
    """``url`` without user:password, fit for manifests and messages."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def retry_after_s(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or HTTP-date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def _retryable(status: int) -> bool:
    return status in (408, 429) or status >= 500


def about_request(status: int) -> bool:
    """Whether a final HTTP error status is this request's fault (see the module doc), not the server's."""
    return 400 <= status < 500 and status not in SOLVER_STATUSES and not _retryable(status)


@dataclass
class HttpClient:
    """One OpenAI-compatible endpoint: ``post("/completions", body) -> dict`` with retries."""

    base_url: str
    api_key: str | None = field(default=None, repr=False)  # never in a repr or a message
    timeout_s: float = 60.0
    max_retries: int = 3
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    max_retry_after_s: float = 60.0
    _client: httpx.Client = field(init=False, repr=False)

    def __post_init__(self) -> None:
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        self._client = httpx.Client(timeout=self.timeout_s, headers=headers)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def url(self, path: str) -> str:
        """The full URL of an endpoint path such as ``/completions``."""
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` as JSON and return the decoded JSON reply."""
        return self.request("POST", path, body)

    def get(self, path: str) -> dict[str, Any]:
        """GET a JSON document."""
        return self.request("GET", path, None)

    def request(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        """One logical request: up to ``1 + max_retries`` attempts; OpenAIError when none succeeds."""
        url = self.url(path)
        where = f"{method} {public_url(url)}"
        attempts = 1 + max(0, self.max_retries)
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            try:
                response = self._client.request(method, url, json=body)
            except httpx.TimeoutException as exc:
                if last:
                    raise OpenAIError(
                        f"{where}: timed out after {self.timeout_s:g} s ({type(exc).__name__}){_tries(attempts)}",
                        url=url,
                    ) from None
                self._sleep(attempt, None)
                continue
            except httpx.TransportError as exc:
                if last:
                    raise OpenAIError(
                        f"{where}: cannot connect ({type(exc).__name__}: {self._scrub(str(exc))})"
                        f"{_tries(attempts)}; is an OpenAI-compatible server running there? "
                        "(set CGR_OPENAI_BASE_URL)",
                        url=url,
                    ) from None
                self._sleep(attempt, None)
                continue
            status = response.status_code
            if status < 400:
                return self._decode(response, where, url)
            if _retryable(status) and not last:
                self._sleep(attempt, response.headers.get("retry-after"))
                continue
            error = OpenAIRequestError if about_request(status) else OpenAIError
            raise error(self._status_message(where, response, attempt), url=public_url(url), status=status)
        raise AssertionError("unreachable")  # the loop returns or raises on its last attempt

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        wait = retry_after_s(retry_after)
        if wait is None:
            wait = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
        time.sleep(min(wait, self.max_retry_after_s))

    def _decode(self, response: httpx.Response, where: str, url: str) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            raise OpenAIError(
                f"{where}: HTTP {response.status_code} but the body is not JSON: {self._snippet(response.text)!r}",
                url=url,
                status=response.status_code,
            ) from None
        if not isinstance(data, dict):
            raise OpenAIError(
                f"{where}: expected a JSON object, got {type(data).__name__}", url=url, status=response.status_code
            )
        return data

    def _status_message(self, where: str, response: httpx.Response, attempts: int) -> str:
        status = response.status_code
        detail = self._error_detail(response)
        msg = f"{where}: HTTP {status} {response.reason_phrase}".rstrip()
        if detail:
            msg += f": {detail}"
        msg += _tries(attempts)
        if status in (401, 403):
            msg += " (the API key comes from CGR_OPENAI_API_KEY or OPENAI_API_KEY)"
        elif status == 404:
            msg += " (check CGR_OPENAI_BASE_URL: it usually ends in /v1)"
        return msg

    def _error_detail(self, response: httpx.Response) -> str:
        try:
            data = response.json()
        except ValueError:
            return self._snippet(response.text)
        if isinstance(data, dict):
            err = data.get("error", data.get("detail", data))
            if isinstance(err, dict) and "message" in err:
                err = err["message"]
            return self._snippet(str(err))
        return self._snippet(str(data))

    def _snippet(self, text: str, limit: int = 300) -> str:
        text = self._scrub(" ".join(text.split()))
        return text if len(text) <= limit else text[:limit] + "…"

    def _scrub(self, text: str) -> str:
        return text.replace(self.api_key, "***") if self.api_key else text


def _tries(attempts: int) -> str:
    return f" (after {attempts} attempts)" if attempts > 1 else ""
