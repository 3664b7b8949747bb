"""A circuit breaker for the Reddit upstream, so a dead endpoint does not eat a cycle's budget.

Only failures that say "Reddit is not answering" count (5xx after prawcore's retries, timeouts,
connection errors, 429 after our retries, refused credentials). A 404 or 403 is about one
subreddit, not the upstream, and resets nothing. Used only from the collector thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import prawcore

_UPSTREAM_ERRORS: tuple[type[BaseException], ...] = (
    prawcore.exceptions.ServerError,
    prawcore.exceptions.RequestException,
    prawcore.exceptions.TooManyRequests,
    prawcore.exceptions.OAuthException,
)


def is_upstream_failure(error: BaseException) -> bool:
    if isinstance(error, _UPSTREAM_ERRORS):
        return True
    response = getattr(error, "response", None)
    return getattr(response, "status_code", 0) == 401


class CircuitOpen(Exception):
    """Raised instead of calling Reddit while the breaker is open."""


class CircuitBreaker:
    def __init__(
        self,
        threshold: int,
        cooldown_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self.consecutive_failures = 0
        self.opened_at: float | None = None

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self._cooled_down() else "open"

    def _cooled_down(self) -> bool:
        return self.opened_at is not None and (
            self._clock() - self.opened_at >= self.cooldown_seconds
        )

    def check(self) -> None:
        """Raise CircuitOpen while open; after the cooldown one trial call goes through."""
        if self.opened_at is not None and not self._cooled_down():
            remaining = self.cooldown_seconds - (self._clock() - self.opened_at)
            raise CircuitOpen(
                f"Reddit failed {self.consecutive_failures} times in a row; "
                f"not calling it for another {remaining:.0f}s"
            )

    def allow_trial(self) -> None:
        """A new cycle always tries once: the interval since the last one was a cooldown too."""
        if self.opened_at is not None:
            self.opened_at = self._clock() - self.cooldown_seconds

    def record_success(self) -> None:
        self.consecutive_failures = 0
        self.opened_at = None

    def record_failure(self, error: BaseException) -> None:
        if not is_upstream_failure(error):
            return
        self.consecutive_failures += 1
        if self.consecutive_failures >= self.threshold or self.opened_at is not None:
            self.opened_at = self._clock()  # (re)open; a failed half-open trial restarts it
