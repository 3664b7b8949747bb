"""A start-up failure is one line naming the cause and the setting, and a non-zero exit: no
traceback, no signal death, no process left behind. Real processes on a port that is taken."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.processes


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        yield int(taken.getsockname()[1])


def run_cli(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("REDDIT_", "DEMO_"))}
    environ.update({"SQLITE_PATH": str(tmp_path / "s.db"), "HOST": "127.0.0.1", **env})
    return subprocess.run(
        [sys.executable, "-m", "reddit_sentiment", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,
    )


def assert_one_line(done: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    for text in expected:
        assert text in lines[0]


def test_serve_on_a_busy_port_says_so_in_one_line(busy_port: int, tmp_path: Path) -> None:
    done = run_cli(
        ["serve"],
        tmp_path,
        PORT=str(busy_port),
        REDDIT_CLIENT_ID="x",
        REDDIT_CLIENT_SECRET="y",
        SUBREDDITS="python",
    )
    assert_one_line(done, f"127.0.0.1:{busy_port}", "in use", "PORT")
    assert not (tmp_path / "s.db").exists()  # nothing was started before the port was checked


def test_demo_with_a_busy_fake_reddit_port_says_so_in_one_line(
    busy_port: int, tmp_path: Path
) -> None:
    done = run_cli(["demo"], tmp_path, DEMO_REDDIT_PORT=str(busy_port))
    assert_one_line(done, f"127.0.0.1:{busy_port}", "in use", "DEMO_REDDIT_PORT")


def test_serve_with_a_database_path_that_cannot_be_created_says_so_in_one_line(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = str(probe.getsockname()[1])
    done = run_cli(["serve"], tmp_path, PORT=free, SQLITE_PATH=str(blocker / "sub" / "s.db"))
    assert_one_line(done, "cannot open the store", str(blocker), "SQLITE_PATH")
