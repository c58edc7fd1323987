"""A small JSON-over-HTTP client with retries, on the standard library only.

urllib is enough for a handful of JSON POSTs per second, and keeps the base install free of
an HTTP stack; connection reuse would matter only at far higher request rates than a
teacher model can serve.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from trainer.models.base import ModelError

# Worth another try: the server was busy, restarting, or a proxy timed out.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class HTTPStatusError(ModelError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_retry_after_s: float = 120.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be >= 1")

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number attempt+1 (attempt counts from 0).

        Exponential backoff with full jitter (so a fleet of runners does not retry in
        lockstep), and never sooner than the server's Retry-After.
        """
        backoff = rng.uniform(0, min(self.max_delay_s, self.base_delay_s * 2**attempt))
        if retry_after is None:
            return backoff
        return max(min(retry_after, self.max_retry_after_s), backoff)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class JSONClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 600.0,
        retry: RetryPolicy | None = None,
        api_key: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        self.api_key = api_key
        self._sleep = sleep
        self._rng = rng or random.Random()

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body)

    def request(self, method: str, path: str, body: Any = None) -> Any:
        url = self.base_url + path
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        for attempt in range(self.retry.attempts):
            retry_after = None
            last = attempt == self.retry.attempts - 1
            request = urllib.request.Request(url, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as exc:
                message = f"{method} {url}: HTTP {exc.code}: {_error_message(exc)}"
                if exc.code not in RETRY_STATUSES or last:
                    raise HTTPStatusError(exc.code, _attempts(message, attempt)) from None
                retry_after = parse_retry_after(exc.headers.get("Retry-After"))
            except (
                urllib.error.URLError,
                TimeoutError,
                ConnectionError,
                http.client.HTTPException,
            ) as exc:
                if last:
                    reason = getattr(exc, "reason", exc)
                    raise ModelError(_attempts(f"{method} {url}: {reason}", attempt)) from None
            except json.JSONDecodeError as exc:
                raise ModelError(f"{method} {url}: response is not JSON: {exc}") from None
            self._sleep(self.retry.delay(attempt, retry_after, self._rng))
        raise AssertionError("unreachable: the last attempt returns or raises")


def _attempts(message: str, attempt: int) -> str:
    return f"{message} (after {attempt + 1} attempts)" if attempt else message


def _error_message(exc: urllib.error.HTTPError) -> str:
    try:
        payload = json.loads(exc.read() or b"null")
    except (ValueError, OSError):
        return str(exc.reason)
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    if isinstance(payload, dict) and isinstance(payload.get("message"), str):
        return str(payload["message"])  # vLLM's older error shape
    return str(exc.reason)
