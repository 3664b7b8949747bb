"""`python -m reddit_sentiment import` as a real process: Ctrl-C (SIGINT) mid-import leaves a
finalised run and the same command resumes without storing anything twice; the collector
lease is refused with one line beside a collecting service. Both stores."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bench.dumpfile import things, write_dump

from reddit_sentiment.models import COLLECTOR_LEASE, RunKind, RunStatus
from reddit_sentiment.store.base import Store
from reddit_sentiment.store.sqlite import SqliteStore
from tests.cosmos.fixture import CosmosServer
from tests.invariants import assert_aggregates_match_items

pytestmark = pytest.mark.processes

# Long enough that Ctrl-C comes while the import runs, on a busy machine too (the Cosmos test
# server stores far fewer items a second), and that what is in flight when it comes (stored
# before the process exits: IMPORT_WRITE_ITEMS plus the batches at the scorer, see `target`)
# leaves lines unstored for the rerun.
LINES = {"sqlite": 10_000, "cosmos": 1000}


@pytest.fixture(scope="module")
def dumps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("dump")
    # A day of history: the hours a real extract would hold, and a Cosmos test server that
    # keeps up with the writes.
    return {
        kind: write_dump(
            folder / f"RC_2019_{lines}.zst",
            things(lines, seed=11, span=86400, short=True),
            window_log=31,
        )
        for kind, lines in LINES.items()
    }


@pytest.fixture(params=["sqlite", pytest.param("cosmos", marks=pytest.mark.cosmos)])
def target(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[dict[str, str], Store]]:
    """The environment of an import process and the store it writes, read from the test (on
    one event loop for the whole test: the Cosmos reader binds to the loop it first ran in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SQLITE_", "COSMOS_"))}
    env["LOG_LEVEL"] = "WARNING"
    env["IMPORT_BATCH_SIZE"] = "50"  # progress is saved between batches: several per test
    env["IMPORT_WRITE_ITEMS"] = "100"  # in flight at a stop: this, and the scorer's batches
    if request.param == "sqlite":
        env["SQLITE_PATH"] = str(tmp_path / "import.db")
        store: Store = SqliteStore(tmp_path / "import.db")
    else:
        server: CosmosServer = request.getfixturevalue("cosmos_server")
        store = server.store()
        env.update(
            # the test server's self-signed certificate: one warning per request otherwise
            PYTHONWARNINGS="ignore:Unverified HTTPS request",
            STORAGE_BACKEND="cosmos",
            COSMOS_ENDPOINT=server.endpoint,
            COSMOS_KEY=server.key,
            COSMOS_DATABASE=server.database,
            COSMOS_CONTAINER_PREFIX=store.container_prefix,  # type: ignore[attr-defined]
        )
    store.open()
    global _loop
    _loop = asyncio.new_event_loop()
    try:
        yield env, store
    finally:
        _loop.run_until_complete(store.aclose())
        _loop.close()


_loop: asyncio.AbstractEventLoop


def wait(awaitable: Any) -> Any:
    return _loop.run_until_complete(awaitable)


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "reddit_sentiment", "import", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigint_leaves_an_interrupted_run_and_a_rerun_resumes_without_duplicates(
    dumps: dict[str, Path], target: tuple[dict[str, str], Store]
) -> None:
    env, store = target
    kind = "cosmos" if env.get("STORAGE_BACKEND") == "cosmos" else "sqlite"
    dump, lines = dumps[kind], LINES[kind]
    proc = start(env, str(dump))
    deadline = time.monotonic() + 60
    while True:  # until the run record shows items stored (it is saved as it goes)
        assert proc.poll() is None, proc.communicate()
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"no progress recorded in 60 s: {proc.communicate()}")
        runs = wait(store.list_runs(limit=5, kind=RunKind.IMPORT)).runs
        if runs and sum(c.new for c in runs[0].subreddits.values()) > 0:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    (run,) = wait(store.list_runs(limit=5, kind=RunKind.IMPORT)).runs
    assert run.status is RunStatus.INTERRUPTED and run.finished_at is not None
    assert [e.error for e in run.errors] == ["Interrupted"]
    first = sum(c.new for c in run.subreddits.values())
    stored = wait(assert_aggregates_match_items(store))
    assert 0 < first == len(stored) < lines
    assert wait(store.lease_holder(COLLECTOR_LEASE)) is None  # released on the way out

    resumed = start(env, str(dump))
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert f"stored {lines} (new {lines - first}, updated {first}" in out
    runs = wait(store.list_runs(limit=5, kind=RunKind.IMPORT)).runs
    assert [r.status for r in runs] == [RunStatus.SUCCEEDED, RunStatus.INTERRUPTED]
    items = wait(assert_aggregates_match_items(store))
    assert len(items) == len({i.id for i in items}) == lines


def test_the_lease_is_refused_beside_a_collecting_service_unless_no_lease(
    target: tuple[dict[str, str], Store], tmp_path: Path
) -> None:
    env, store = target
    assert store.acquire_lease(COLLECTOR_LEASE, "service:1", ttl_seconds=600)
    small = write_dump(tmp_path / "small.jsonl", things(20, seed=2))
    refused = start(env, str(small))
    _, err = refused.communicate(timeout=60)
    assert refused.returncode == 1
    assert err.strip().splitlines()[-1] == (
        "another process is collecting (it holds the collector lease): stop it, or pass "
        "--no-lease if that service only serves the API"
    )
    assert wait(store.list_runs(limit=5, kind=RunKind.IMPORT)).runs == []

    allowed = start(env, str(small), "--no-lease", "--kind", "comment")
    _, err = allowed.communicate(timeout=120)
    assert allowed.returncode == 0, err
    (run,) = wait(store.list_runs(limit=5, kind=RunKind.IMPORT)).runs
    assert run.status is RunStatus.SUCCEEDED
    holder = wait(store.lease_holder(COLLECTOR_LEASE))
    assert holder is not None and holder.owner == "service:1"  # untouched


def test_a_missing_file_is_one_line(target: tuple[dict[str, str], Store], tmp_path: Path) -> None:
    env, _ = target
    proc = start(env, str(tmp_path / "nope.zst"))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.strip() == f"no such dump file: {tmp_path / 'nope.zst'}"
