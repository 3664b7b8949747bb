"""Locust users for `make load`; `locustfile.py` only imports them.

Request names group the statistics: `health`, `ready`, and `dashboard ...` for every dashboard
read. The runner's verdict reads these names (see `CATEGORIES`).
"""

from __future__ import annotations

CATEGORIES = {"health": "health", "ready": "ready", "dashboard": "dashboard"}


def category(name: str) -> str:
    """`health`, `ready` or `dashboard` for a request name (its first word)."""
    return CATEGORIES.get(name.split(" ", 1)[0], "other")
