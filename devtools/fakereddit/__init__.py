"""A local fake Reddit API for tests, demos and load tests (real PRAW talks to it)."""

from .server import FakeReddit, Fault, Interaction, RequestRecord

__all__ = ["FakeReddit", "Fault", "Interaction", "RequestRecord"]
