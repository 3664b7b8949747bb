"""A real Cosmos DB protocol server for the tests: `@vercel/cosmosdb-server` on loopback.

`cosmos_server` (session scope) starts tests/cosmos/server.js with node, waits for the port
it prints, creates a fresh database for the session and stops the server at the end. Each
store from `cosmos_test_store()` gets its own container prefix, so tests never share data.
Without node or node_modules the tests that need it are skipped with one line saying what to
run (tests/conftest.py), or fail where CI requires them.

The server speaks HTTPS with a self-signed certificate. The Python SDK skips certificate
verification by itself for the emulator hosts `localhost` and `127.0.0.1` (and only those),
so nothing needs switching off; urllib3's per-request warning about it is silenced here.
"""

from __future__ import annotations

import base64
import itertools
import os
import select
import shutil
import subprocess
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
from azure.cosmos import CosmosClient
from urllib3.exceptions import InsecureRequestWarning

from reddit_sentiment.store.cosmos import CosmosStore

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = Path(__file__).with_name("server.js")
PACKAGE = REPO / "node_modules" / "@vercel" / "cosmosdb-server" / "package.json"
START_TIMEOUT = 15.0
# The test server checks no signatures: any base64 text is accepted. Not a secret.
TEST_KEY = base64.b64encode(b"cosmosdb-server accepts any key").decode()

# pytest re-applies its configured filters around every test phase, so the filter is added to
# its configuration (for later phases) and to the filters in force now (for this one).
_QUIET = "ignore:Unverified HTTPS request is being made to host '127.0.0.1':" + (
    "urllib3.exceptions.InsecureRequestWarning"
)

_prefixes = itertools.count(1)
_current: CosmosServer | None = None


@dataclass
class CosmosServer:
    endpoint: str
    key: str
    database: str
    process: subprocess.Popen[str]
    log_path: Path

    def store(self, **options: Any) -> CosmosStore:
        """A store (not yet opened) on its own, never used container prefix, unless
        `container_prefix` names another store's (a second process on the same data)."""
        options.setdefault("container_prefix", f"t{next(_prefixes)}-{uuid.uuid4().hex[:8]}-")
        options.setdefault("max_concurrency", 4)
        return CosmosStore(self.endpoint, self.key, self.database, **options)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            if self.process.stdin is not None:
                self.process.stdin.close()  # the launcher exits when stdin closes
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()


def _missing_install(reason: str) -> NoReturn:
    pytest.fail(f"Cosmos DB test server unavailable: {reason}. Run `make install` "
                "(it runs `npm ci` for @vercel/cosmosdb-server; needs Node.js 20+).",
                pytrace=False)  # fmt: skip


def start_server(log_path: Path, timeout: float = START_TIMEOUT) -> CosmosServer:
    node = shutil.which("node")
    if node is None:
        _missing_install("`node` is not on PATH")
    if not PACKAGE.is_file():
        _missing_install(f"{PACKAGE.relative_to(REPO)} is missing")
    log = log_path.open("w")
    process = subprocess.Popen(
        [str(node), str(LAUNCHER), "0"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,  # a file, never a pipe nobody drains: the server logs every 500
        text=True,
        env={**os.environ, "NODE_ENV": "test"},
    )
    log.close()
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline() if ready else ""
    if not line.startswith("PORT "):
        process.kill()
        process.wait()
        tail = log_path.read_text()[-2000:]
        pytest.fail(f"cosmosdb-server did not start within {timeout:.0f}s "
                    f"(exit code {process.returncode}):\n{tail}", pytrace=False)  # fmt: skip
    endpoint = f"https://127.0.0.1:{int(line.split()[1])}/"
    server = CosmosServer(endpoint, TEST_KEY, f"test-{uuid.uuid4().hex[:12]}", process, log_path)
    try:
        # Answers at once (the port is bound before it prints); a fresh database per session.
        client = CosmosClient(endpoint, credential=TEST_KEY, connection_timeout=5)
        client.create_database(server.database)
        client.close()
    except Exception:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def cosmos_server(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[CosmosServer]:
    global _current
    pytestconfig.addinivalue_line("filterwarnings", _QUIET)
    warnings.filterwarnings("ignore", message=r".*host '127\.0\.0\.1'",
                            category=InsecureRequestWarning)  # fmt: skip
    server = start_server(tmp_path_factory.mktemp("cosmosdb-server") / "server.log")
    _current = server
    try:
        yield server
    finally:
        _current = None
        server.stop()


def cosmos_test_store(**options: Any) -> CosmosStore:
    """A store on the session's server with fresh containers (not yet opened)."""
    if _current is None:
        raise RuntimeError("no Cosmos DB test server: request the `cosmos_server` fixture first")
    return _current.store(**options)
