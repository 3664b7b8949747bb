"""Real service processes (python -m reddit_sentiment serve) against an in-test fake Reddit."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fakereddit import FakeReddit


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    def __init__(self, env: dict[str, str], workers: int, log: Path) -> None:
        self.port = int(env["PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._log_file = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "reddit_sentiment", "serve", "--workers", str(workers)],
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_healthy(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"service exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"service not healthy in {timeout}s: {self.log.read_text()[-3000:]}")

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log_file.close()


@pytest.fixture
def service_env(tmp_path: Path) -> Iterator[tuple[dict[str, str], FakeReddit]]:
    with FakeReddit.generated(subreddits=2, posts=120, comments=200, seed=3).start() as fake:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "PORT": str(free_port()),
            "HOST": "127.0.0.1",
            "SQLITE_PATH": str(tmp_path / "svc.db"),
            "REDDIT_URL": fake.url,
            "REDDIT_OAUTH_URL": fake.url,
            "REDDIT_CLIENT_ID": "proc-client",
            "REDDIT_CLIENT_SECRET": "proc-secret-value",
            "SUBREDDITS": ",".join(sorted(fake.subreddit_names())),
            "COLLECTION_LIMIT": "200",
            "COLLECTION_START_DELAY_SECONDS": "0",
            "REDDIT_TIMEOUT_SECONDS": "2",
            "ADMIN_API_KEY": "proc-admin-key",
            "LOG_LEVEL": "INFO",
        }
        yield env, fake


def runs(db: Path, kind: str = "collect") -> list[sqlite3.Row]:
    """The runs of `kind` (collection cycles: a reconcile pass follows each), oldest first."""
    conn = sqlite3.connect(db, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(
            "SELECT * FROM runs WHERE kind = ? ORDER BY started_at", (kind,)
        ).fetchall()
    finally:
        conn.close()


def wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def wait_for_a_running_cycle(db: Path) -> None:
    wait_for(
        lambda: db.exists() and any(r["status"] == "running" for r in runs(db)),
        20,
        "a running cycle",
    )
