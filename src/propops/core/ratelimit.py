"""Fixed-window rate limiting behind one interface (``RateLimitStore``, ``PROPOPS_RATE_LIMIT_BACKEND``).

``MemoryRateLimitStore`` serves one process (the embedded default); ``propops.infra.ratelimit_redis``
shares the counters between every worker process, which is what several workers need. The store is
chosen by ``propops.main.create_app``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class RateLimitResult:
    limit: int
    remaining: int
    reset_at: int  # unix seconds at which the window resets

    @property
    def exceeded(self) -> bool:
        return self.remaining < 0

    @property
    def retry_after(self) -> int:
        return max(1, self.reset_at - int(time.time()))

    def tighter(self, other: RateLimitResult | None) -> RateLimitResult:
        if other is None:
            return self
        return other if other.remaining < self.remaining else self


class RateLimitStore(Protocol):
    async def hit(self, key: str, limit: int, window_seconds: int) -> RateLimitResult: ...

    async def close(self) -> None: ...


def window(window_seconds: int) -> tuple[int, int]:
    now = time.time()
    start = int(math.floor(now / window_seconds) * window_seconds)
    return start, start + window_seconds


class MemoryRateLimitStore:
    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, int]] = {}

    async def hit(self, key: str, limit: int, window_seconds: int) -> RateLimitResult:
        start, reset = window(window_seconds)
        prev_start, count = self._counts.get(key, (start, 0))
        count = count + 1 if prev_start == start else 1
        self._counts[key] = (start, count)
        if len(self._counts) > 100_000:  # bounded memory: drop stale windows
            self._counts = {k: v for k, v in self._counts.items() if v[0] == start}
        return RateLimitResult(limit=limit, remaining=limit - count, reset_at=reset)

    async def close(self) -> None:
        self._counts.clear()
