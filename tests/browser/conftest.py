"""The real service on the bundled sample data, and Debian's chromium (harness.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, sync_playwright

from fakereddit import FakeReddit

from .harness import chromium, collected, fake_reddit_env, served


@dataclass(frozen=True)
class Service:
    url: str
    subreddits: list[str]
    log: Path


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The service once its first collection over the sample data has finished."""
    tmp = tmp_path_factory.mktemp("browser-service")
    with FakeReddit.sample().start() as fake:
        env = {
            **fake_reddit_env(fake),
            "SQLITE_PATH": str(tmp / "dashboard.db"),
            "TRACK_KEYWORDS": "python,data",
            "LOG_LEVEL": "INFO",
        }
        with served(tmp, env, collected) as running:
            yield Service(url=running.url, subreddits=sorted(fake.subreddit_names()),
                          log=running.log)  # fmt: skip


@pytest.fixture
def browser_context(tmp_path: Path) -> Iterator[BrowserContext]:
    """A Playwright BrowserContext on Debian's chromium with a fresh profile."""
    with sync_playwright() as playwright:
        context = chromium(
            playwright, tmp_path / "profile", viewport={"width": 1440, "height": 900}
        )
        try:
            yield context
        finally:
            context.close()
