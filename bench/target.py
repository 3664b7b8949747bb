"""Processes under test: the fake Reddit and the real service (uvicorn, one process).

Shared by the benchmark (`python -m bench`) and the load test runner
(`python -m tests.performance.run_load`). Every process runs from a scratch working directory
so a developer's `.env` cannot change what is measured, and is stopped by its own pid.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

REPO = Path(__file__).resolve().parents[1]
ADMIN_KEY = "bench-admin-key"
HEALTH = "/api/v1/health"

# A data set that is fixed in time: retention must never delete it while it is served.
NO_RETENTION = {"RETENTION_DAYS": "36500", "RETENTION_INTERVAL_SECONDS": "86400"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Process:
    """A child process with its output collected in the background."""

    def __init__(self, argv: list[str], env: Mapping[str, str], cwd: Path) -> None:
        self.argv = argv
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self.lines: list[str] = []
        self._first_line = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())
            self._first_line.set()
        self._first_line.set()

    def wait_for_line(self, pattern: str, timeout: float) -> re.Match[str]:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                found = regex.search(line)
                if found:
                    return found
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.02)
        raise RuntimeError(f"{self.argv[2:4]}: no line matching {pattern!r}\n" + self.output())

    def output(self, last: int = 40) -> str:
        return "\n".join(self.lines[-last:])

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(2)
        return self.proc.returncode


class _StartStop:
    """`with` starts the process and stops it, whatever happens inside."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> object:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class FakeRedditProcess(_StartStop):
    """`python -m fakereddit --generate S,P,C` on a free port."""

    def __init__(
        self, subreddits: int, posts: int, comments: int, seed: int = 1, latency: float = 0.0
    ) -> None:
        self.subreddits = [f"sub{i}" for i in range(subreddits)]
        self.spec = (subreddits, posts, comments, seed, latency)
        self._proc: _Process | None = None
        self.url = ""

    def start(self) -> Self:
        subs, posts, comments, seed, latency = self.spec
        argv = [
            sys.executable,
            "-m",
            "fakereddit",
            "--port",
            "0",
            "--generate",
            f"{subs},{posts},{comments}",
            "--seed",
            str(seed),
            "--latency",
            str(latency),
            # It stands in for Reddit's servers, whose CPU is not on the machine under test.
            "--background",
        ]
        self._proc = _Process(argv, os.environ, Path(tempfile.gettempdir()))
        found = self._proc.wait_for_line(r"(http://\S+)", timeout=120)
        self.url = found.group(1)
        return self

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.stop()
            self._proc = None


@dataclass
class ServiceProcess(_StartStop):
    """The real service: `python -m reddit_sentiment serve`, one uvicorn process.

    `env` is the service's configuration (the variables of `.env.example`); HOST, PORT and a
    quiet log level are filled in. `app` runs another ASGI app (`module:attr`) under uvicorn
    with the same server settings, e.g. the bare FastAPI app of the web-overhead ratio.
    """

    env: dict[str, str] = field(default_factory=dict)
    app: str | None = None
    argv: list[str] | None = None
    workdir: Path | None = None
    port: int = 0
    startup_seconds: float = 0.0
    _proc: _Process | None = None
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> Self:
        """Start and wait for the first 200 from /api/v1/health; record how long it took."""
        if self.workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="bench-service-")
            self.workdir = Path(self._tmp.name)
        self.port = self.port or free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("REDDIT_", "SUBREDDITS"))},
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "LOG_LEVEL": "WARNING",
            "SQLITE_PATH": str(self.workdir / "service.db"),
            **self.env,
        }
        if self.argv is not None:
            argv = self.argv
        elif self.app is None:
            argv = [sys.executable, "-m", "reddit_sentiment", "serve"]
        else:
            argv = [
                sys.executable,
                "-m",
                "uvicorn",
                self.app,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--no-access-log",
            ]
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        self._proc = _Process(argv, env, self.workdir)
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.proc.poll() is not None:
                raise RuntimeError(f"service exited at start-up:\n{self._proc.output()}")
            if _answers_200(self.port):
                self.startup_seconds = time.perf_counter() - self._proc.started_at
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("service did not answer /api/v1/health in time")
            time.sleep(0.002)

    def stop(self) -> int | None:
        code = None
        if self._proc is not None:
            code = self._proc.stop()
            self._proc = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self.workdir = None
        return code

    def output(self) -> str:
        return "" if self._proc is None else self._proc.output()


def _answers_200(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
        try:
            conn.request("GET", HEALTH)
            return conn.getresponse().status == 200
        finally:
            conn.close()
    except OSError:
        return False


def collector_env(fake: FakeRedditProcess, **extra: str) -> dict[str, str]:
    """Service settings that collect from the fake, only when asked (POST /collections)."""
    return {
        "REDDIT_CLIENT_ID": "bench",
        "REDDIT_CLIENT_SECRET": "bench-secret",
        "REDDIT_URL": fake.url,
        "REDDIT_OAUTH_URL": fake.url,
        "SUBREDDITS": ",".join(fake.subreddits),
        "COLLECTION_LIMIT": "1000",
        "COLLECTION_START_DELAY_SECONDS": "86400",
        "COLLECTION_INTERVAL_SECONDS": "86400",
        "ADMIN_API_KEY": ADMIN_KEY,
        **extra,
    }


class Client:
    """One keep-alive HTTP/1.1 connection; `get` returns (status, seconds, parsed body)."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        found = re.match(r"http://([^:/]+):(\d+)", base_url)
        if not found:
            raise ValueError(base_url)
        self.host, self.port = found.group(1), int(found.group(2))
        self.timeout = timeout
        self._conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(
        self, method: str, path: str, headers: Mapping[str, str] | None = None
    ) -> tuple[int, float, bytes]:
        for attempt in (1, 2):
            start = time.perf_counter()
            try:
                self._conn.request(method, path, headers=dict(headers or {}))
                response = self._conn.getresponse()
                body = response.read()
                return response.status, time.perf_counter() - start, body
            except (http.client.HTTPException, ConnectionError):
                self._conn.close()
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def get(self, path: str) -> tuple[int, float, bytes]:
        return self.request("GET", path)

    def json(self, method: str, path: str, headers: Mapping[str, str] | None = None) -> Any:
        status, _, body = self.request(method, path, headers)
        return status, json.loads(body) if body else None

    def close(self) -> None:
        self._conn.close()


def start_collection(client: Client) -> str | None:
    """POST /api/v1/collections: the new run id, or None when one is running already."""
    status, body = client.json("POST", "/api/v1/collections", {"X-API-Key": ADMIN_KEY})
    if status == 202:
        run_id: str = body["id"]
        return run_id
    if status == 409:
        return None
    raise RuntimeError(f"POST /api/v1/collections answered {status}: {body}")


def get_run(client: Client, run_id: str) -> dict[str, Any]:
    """The run record; a run not recorded yet (its cycle is being built) reads as starting."""
    status, body = client.json("GET", f"/api/v1/collections/{run_id}")
    if status == 404:
        return {"id": run_id, "status": "starting"}
    if status != 200:
        raise RuntimeError(f"GET run {run_id} answered {status}: {body}")
    run: dict[str, Any] = body
    return run


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation): p99 of 1000 samples is the 10th worst."""
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]
