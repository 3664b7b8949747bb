"""What every browser test starts: the real service (`python -m reddit_sentiment serve`, a
uvicorn process in its own process group) on a free port, and Debian's chromium driven by
Playwright over CDP (no browser is downloaded; CHROMIUM_PATH points elsewhere if needed)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import BrowserContext, Playwright

from fakereddit import FakeReddit
from tests.conftest import CHROMIUM

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
RESULTS = Path(__file__).resolve().parents[2] / "results" / "browser"  # screenshots
TIMEOUT_MS = 15_000
READY_SECONDS = 20
FINISHED = {"succeeded", "partial", "failed"}


@dataclass(frozen=True)
class Running:
    url: str
    log: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fake_reddit_env(fake: FakeReddit) -> dict[str, str]:
    """The settings that make the service collect every subreddit of `fake` at once."""
    return {
        "REDDIT_URL": fake.url,
        "REDDIT_OAUTH_URL": fake.url,
        "REDDIT_CLIENT_ID": "x",
        "REDDIT_CLIENT_SECRET": "x",
        "SUBREDDITS": ",".join(sorted(fake.subreddit_names())),
        "COLLECTION_START_DELAY_SECONDS": "0",
    }


def healthy(url: str) -> bool:
    return httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200


def collected(url: str) -> bool:
    """The first collection has finished (whatever its outcome)."""
    response = httpx.get(f"{url}/api/v1/collections?limit=1", timeout=2)
    items = response.json()["items"] if response.status_code == 200 else []
    return bool(items) and items[0]["status"] in FINISHED


@contextmanager
def served(tmp: Path, env: dict[str, str], ready: Callable[[str], bool]) -> Iterator[Running]:
    """`serve` with `env` (HOME in `tmp`, its log in tmp/service.log), once `ready(url)`
    holds; stopped (its whole process group) on exit."""
    port = free_port()
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        **env,
    }
    log = tmp / "service.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "reddit_sentiment", "serve"],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_SECONDS
        while not _answers(ready, url):
            if proc.poll() is not None:
                raise AssertionError(f"service exited: {log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"service not {ready.__name__} in {READY_SECONDS} s: {log.read_text()[-3000:]}"
                )
            time.sleep(0.1)
        yield Running(url=url, log=log)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def _answers(ready: Callable[[str], bool], url: str) -> bool:
    try:
        return ready(url)
    except httpx.HTTPError:  # not listening yet
        return False


def chromium(playwright: Playwright, profile: Path, **options: Any) -> BrowserContext:
    """Debian's chromium with a fresh profile in `profile` (`options`: viewport, time zone)."""
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, **options
    )
