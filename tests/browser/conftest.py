"""The real service (a uvicorn subprocess) on the bundled sample data, and Debian's chromium.

The browser is the system chromium (`apt-get install chromium`), driven by Playwright over CDP;
no browser is downloaded. CHROMIUM_PATH points elsewhere if needed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, sync_playwright

from fakereddit import FakeReddit

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FINISHED = {"succeeded", "partial", "failed"}


@dataclass(frozen=True)
class Service:
    url: str
    subreddits: list[str]
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_first_collection(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"service exited: {log.read_text()[-3000:]}")
        try:
            response = httpx.get(f"{url}/api/v1/collections?limit=1", timeout=2)
            items = response.json()["items"] if response.status_code == 200 else []
            if items and items[0]["status"] in FINISHED:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"no finished collection within 20 s: {log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("browser-service")
    with FakeReddit.sample().start() as fake:
        subreddits = sorted(fake.subreddit_names())
        port = _free_port()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp),
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "SQLITE_PATH": str(tmp / "dashboard.db"),
            "REDDIT_URL": fake.url,
            "REDDIT_OAUTH_URL": fake.url,
            "REDDIT_CLIENT_ID": "x",
            "REDDIT_CLIENT_SECRET": "x",
            "SUBREDDITS": ",".join(subreddits),
            "COLLECTION_START_DELAY_SECONDS": "0",
            "TRACK_KEYWORDS": "python,data",
            "LOG_LEVEL": "INFO",
        }
        log = tmp / "service.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "reddit_sentiment", "serve"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_first_collection(proc, url, log)
            yield Service(url=url, subreddits=subreddits, log=log)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(10)


@pytest.fixture
def browser_context(tmp_path: Path) -> Iterator[BrowserContext]:
    """A Playwright BrowserContext on Debian's chromium with a fresh profile."""
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1440, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()
