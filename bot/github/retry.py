"""A requests adapter that retries what GitHub asks to be retried, and nothing else.

Retried: secondary rate limits (403/429 with Retry-After or the documented
message), an exhausted primary limit (x-ratelimit-remaining: 0), and 502/503/504
or a dropped connection for idempotent methods. A POST that fails with a 5xx is
not replayed here: GitHub may have processed it, so the callers that create
things (comments, check runs) look before they create again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
TRANSIENT = frozenset({500, 502, 503, 504})


def is_rate_limited(status: int, headers: Mapping[str, str], body: str) -> bool:
    if status not in (403, 429):
        return False
    if status == 429 or "retry-after" in {k.lower() for k in headers}:
        return True
    if headers.get("x-ratelimit-remaining") == "0":
        return True
    return "secondary rate limit" in body.lower() or "abuse" in body.lower()


def wait_seconds(headers: Mapping[str, str], attempt: int, base: float, now: float) -> float:
    """Retry-After wins, then the primary limit's reset time, then exponential backoff."""
    retry_after = headers.get("retry-after")
    if retry_after is not None and retry_after.strip().isdigit():
        return float(int(retry_after.strip()))
    reset = headers.get("x-ratelimit-reset")
    if headers.get("x-ratelimit-remaining") == "0" and reset and reset.isdigit():
        return max(0.0, float(reset) - now)
    return float(base * 2**attempt)


class RetryAdapter(HTTPAdapter):
    def __init__(
        self,
        retries: int = 4,
        backoff: float = 1.0,
        max_wait: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        log: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__()
        self.retries, self.backoff, self.max_wait = retries, backoff, max_wait
        self.sleep, self.log = sleep, log

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        kwargs: dict[str, Any] = {
            "stream": stream,
            "timeout": timeout,
            "verify": verify,
            "cert": cert,
            "proxies": proxies,
        }
        method = (request.method or "GET").upper()
        attempt = 0
        while True:
            try:
                response = super().send(request, **kwargs)
            except (requests.ConnectionError, requests.Timeout):
                if method not in IDEMPOTENT or attempt >= self.retries:
                    raise
                self._pause(self.backoff * 2**attempt, f"{method} connection failed", attempt)
                attempt += 1
                continue
            status = response.status_code
            limited = status in (403, 429) and is_rate_limited(
                status, response.headers, response.text[:2000]
            )
            transient = status in TRANSIENT and method in IDEMPOTENT
            if not (limited or transient) or attempt >= self.retries:
                return response
            wait = wait_seconds(response.headers, attempt, self.backoff, time.time())
            if wait > self.max_wait:
                return response  # the caller reports the limit rather than hang a CI job
            reason = "rate limited" if limited else f"HTTP {status}"
            response.close()
            self._pause(wait, f"{method} {reason}", attempt)
            attempt += 1

    def _pause(self, seconds: float, why: str, attempt: int) -> None:
        if self.log:
            self.log(f"{why}; retry {attempt + 1}/{self.retries} in {seconds:.1f}s")
        self.sleep(seconds)
