"""A few seconds' memory of the store's figures for the summary and /metrics.

Every open dashboard and every scraper asks for the same totals; within STORE_CACHE_SECONDS
they share one answer, and concurrent askers share one read in flight. A failed read is not
kept: the next asker tries again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class StoreCache:
    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._kept: dict[Hashable, tuple[float, asyncio.Future[Any]]] = {}

    async def get(self, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
        if self.seconds <= 0:
            return await fetch()
        now = self._clock()
        kept = self._kept.get(key)
        if kept is None or kept[0] <= now or _failed(kept[1]):
            future: asyncio.Future[T] = asyncio.ensure_future(fetch())
            self._kept[key] = (now + self.seconds, future)
            if len(self._kept) > 256:  # keys are few (per subreddit filter); keep it so
                self._kept = {k: v for k, v in self._kept.items() if v[0] > now}
            kept = self._kept[key]
        result: T = await asyncio.shield(kept[1])
        return result


def _failed(future: asyncio.Future[Any]) -> bool:
    return future.done() and (future.cancelled() or future.exception() is not None)
