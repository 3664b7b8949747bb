"""Reuse the integration fixtures (fake Reddit servers)."""

from tests.integration.conftest import recorded_reddit, sample_reddit

__all__ = ["recorded_reddit", "sample_reddit"]
