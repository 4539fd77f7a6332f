"""Per-key rate limits and the request body limit.

The rate limit is a token bucket per API key (per client address with ``--open``), held in each
worker process: with ``--workers N`` a key may get up to N times the rate in the worst case.
The body limit wraps the ASGI ``receive`` channel, so no route, multipart parser included,
ever reads more than the limit: a declared ``Content-Length`` over it is refused before the
first byte, a chunked body as soon as it passes it.
"""

from __future__ import annotations

import math
import threading
import time


class ServiceError(Exception):
    """A request the service refuses: an HTTP status, a stable code and a sentence."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


class RateLimiter:
    """``rate`` requests a second on average, ``burst`` at once, per key."""

    def __init__(self, rate: float, burst: int):
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last time)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 if the request may go ahead, else the seconds until it could."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate

    def check(self, key: str) -> None:
        wait = self.take(key)
        if wait:
            raise ServiceError(429, "rate_limited",
                               f"rate limit of {self.rate:g} requests/s (burst {self.burst}) "
                               f"reached; retry in {math.ceil(wait)} s",
                               headers={"Retry-After": str(math.ceil(wait))})


def too_large(limit: int) -> ServiceError:
    return ServiceError(413, "too_large", f"request body is over the {limit} byte limit")


class BodyLimit:
    """ASGI middleware: refuse any request body over ``limit`` bytes, reading at most that."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        over = declared is not None and declared.isdigit() and int(declared) > limit
        seen = limit + 1 if over else 0  # refused at the first read, before any byte

        async def limited():
            nonlocal seen
            if seen > limit:
                raise too_large(limit)
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise too_large(limit)
            return message

        await self.app(scope, limited, send)
