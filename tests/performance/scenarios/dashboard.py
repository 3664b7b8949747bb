"""People looking at the dashboard: summary, time series and post lists, with think time."""

from __future__ import annotations

import os
import random

from locust import between, task
from locust.contrib.fasthttp import FastHttpUser


def subreddits() -> list[str]:
    """The subreddits being collected (LOAD_SUBREDDITS, set by the runner)."""
    names = [s for s in os.environ.get("LOAD_SUBREDDITS", "").split(",") if s]
    return names or ["python"]


class DashboardViewer(FastHttpUser):
    weight = 1
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        self.subs = subreddits()

    def _sub(self) -> str:
        return random.choice(self.subs)

    @task(3)
    def summary(self) -> None:
        self.client.get("/api/v1/dashboard/summary", name="dashboard summary")

    @task(2)
    def sentiment_by_hour(self) -> None:
        self.client.get("/api/v1/dashboard/sentiment?bucket=hour", name="dashboard sentiment hour")

    @task(1)
    def sentiment_by_day(self) -> None:
        self.client.get("/api/v1/dashboard/sentiment?bucket=day", name="dashboard sentiment day")

    @task(1)
    def sentiment_of_one_subreddit(self) -> None:
        self.client.get(
            f"/api/v1/dashboard/sentiment?bucket=hour&subreddit={self._sub()}",
            name="dashboard sentiment subreddit",
        )

    @task(1)
    def newest_posts(self) -> None:
        self.client.get("/api/v1/posts?limit=25", name="dashboard posts newest")

    @task(1)
    def most_negative_posts(self) -> None:
        self.client.get(
            f"/api/v1/posts?subreddit={self._sub()}&sort=compound&order=asc&limit=10",
            name="dashboard posts most negative",
        )

    @task(1)
    def top_positive_posts(self) -> None:
        self.client.get(
            "/api/v1/posts?label=positive&sort=score&limit=10", name="dashboard posts top positive"
        )
