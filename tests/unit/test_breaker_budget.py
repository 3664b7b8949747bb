"""The circuit breaker's states and the Reddit rate-budget arithmetic."""

from __future__ import annotations

import prawcore
import pytest

from reddit_sentiment.collection.breaker import CircuitBreaker, CircuitOpen
from reddit_sentiment.settings import Settings, rate_budget


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def upstream_error() -> BaseException:
    return prawcore.exceptions.RequestException(TimeoutError("read timed out"), (), {})


def test_opens_after_threshold_and_half_opens_after_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=3, cooldown_seconds=60, clock=clock)
    for _ in range(2):
        breaker.check()
        breaker.record_failure(upstream_error())
    assert breaker.state == "closed"
    breaker.record_failure(upstream_error())
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen, match="3 times in a row"):
        breaker.check()
    clock.now += 60
    assert breaker.state == "half-open"
    breaker.check()  # the trial call may go
    breaker.record_failure(upstream_error())  # trial failed: open again for a full cooldown
    with pytest.raises(CircuitOpen):
        breaker.check()
    clock.now += 60
    breaker.check()
    breaker.record_success()
    assert breaker.state == "closed" and breaker.consecutive_failures == 0


def test_subreddit_errors_do_not_count() -> None:
    breaker = CircuitBreaker(threshold=1, cooldown_seconds=60)
    breaker.record_failure(ValueError("not an upstream failure"))
    assert breaker.state == "closed"


def test_new_cycle_gets_one_trial() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, cooldown_seconds=600, clock=clock)
    breaker.record_failure(upstream_error())
    with pytest.raises(CircuitOpen):
        breaker.check()
    breaker.allow_trial()
    breaker.check()


def test_rate_budget_fits_and_warns() -> None:
    small = rate_budget(Settings(subreddits="a1,b2", collection_limit=100))
    assert small["requests_per_cycle"] == 6 and small["fits"] is True
    assert small["allowed_per_interval"] == 1500
    big = rate_budget(
        Settings(
            subreddits=",".join(f"sub{i}" for i in range(30)),
            collection_limit=1000,
            collection_interval_seconds=60,
        )
    )
    assert big["requests_per_cycle"] == 30 * 3 * 10 and big["fits"] is False
    assert "raise COLLECTION_INTERVAL_SECONDS" in str(big["message"])
