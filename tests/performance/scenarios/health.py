"""Load balancers and orchestrators: liveness often, readiness now and then."""

from __future__ import annotations

from locust import between, task
from locust.contrib.fasthttp import FastHttpUser


class HealthChecker(FastHttpUser):
    """Most of the traffic: a probe every few hundred milliseconds per user."""

    weight = 3
    wait_time = between(0.2, 0.6)

    @task(10)
    def health(self) -> None:
        self.client.get("/api/v1/health", name="health")

    @task(1)
    def ready(self) -> None:
        self.client.get("/api/v1/health/ready", name="ready")
