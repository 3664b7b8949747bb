"""Shared fixtures. Recorded Reddit responses are read from ../shared at test time."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from reddit_sentiment.settings import Settings
from reddit_sentiment.store.base import DAY, Store
from reddit_sentiment.store.sqlite import SqliteStore
from tests.cosmos.fixture import cosmos_server, cosmos_test_store
from tests.factories import BASE_TIME

__all__ = ["cosmos_server"]  # a session fixture: node + @vercel/cosmosdb-server

# A developer's own .env must not change what the tests see.
Settings.model_config["env_file"] = None

REPO = Path(__file__).resolve().parents[1]
SHM = Path("/dev/shm")
RECORDINGS = REPO.parent / "shared" / "reddit-recordings"


@pytest.fixture(scope="session")
def recordings_dir() -> Path:
    if not (RECORDINGS / "SubredditListings__test_hot.json").is_file():
        pytest.fail(
            f"recorded Reddit responses not found at {RECORDINGS} (../shared beside the repo)"
        )
    return RECORDINGS


# Cosmos reads a day from its daily documents only while retention keeps all of that day's
# hours, by the store's clock. The tests' items sit around BASE_TIME (2023), so the Cosmos
# store's clock runs at real speed from a week after it: days are read as in production.
_CLOCK_SHIFT = time.time() - (BASE_TIME + 7 * DAY)


def cosmos_clock() -> float:
    return time.time() - _CLOCK_SHIFT


def open_store(kind: str, tmp_path: Path) -> Store:
    if kind == "sqlite":
        store: Store = SqliteStore(tmp_path / "store.db")
    elif kind == "cosmos":  # needs the cosmos_server fixture; fresh containers per call
        store = cosmos_test_store(clock=cosmos_clock)
    else:  # pragma: no cover - other backends register here
        raise ValueError(kind)
    store.open()
    return store


STORE_KINDS = ["sqlite", "cosmos"]


@pytest.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "cosmos":
        request.getfixturevalue("cosmos_server")
    s = open_store(request.param, tmp_path)
    try:
        yield s
    finally:
        await s.aclose()


def _mapped_semaphores() -> set[str]:
    """The /dev/shm semaphores some live process has open (a named semaphore is mapped)."""
    names: set[str] = set()
    for maps in Path("/proc").glob("[0-9]*/maps"):
        try:
            text = maps.read_text()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        for line in text.splitlines():
            at = line.find(f"{SHM}/sem.")
            if at != -1:
                names.add(line[at + len(f"{SHM}/") :].split()[0])
    return names


@pytest.fixture(scope="session", autouse=True)
def _semaphores_left_by_killed_services() -> Iterator[None]:
    """Tests that SIGKILL a service's whole process group kill its multiprocessing resource
    tracker too, so the semaphores of its pools stay in /dev/shm. Remove the ones this run
    created that no process has open any more, so runs do not pile them up on the machine."""
    started = time.time() - 1
    yield
    if not SHM.is_dir():
        return
    candidates = []
    for path in SHM.glob("sem.mp-*"):
        try:
            if path.stat().st_mtime >= started:
                candidates.append(path)
        except OSError:
            continue
    # Looked at after listing them: a semaphore is mapped before its name appears, so one in
    # use by any process (another test run's included) is never taken away.
    mapped = _mapped_semaphores()
    for path in candidates:
        if path.name not in mapped:
            path.unlink(missing_ok=True)
