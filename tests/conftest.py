"""Shared fixtures, and the test groups that need something from outside the repository.

Recorded Reddit responses are read from ../shared at test time. Each group below is marked
(`pytest -m "not cosmos"` leaves it out) and, where what it needs is missing, skipped with one
line saying what to provide. CI sets REQUIRE_TEST_GROUPS (comma-separated, or `all`) so that a
group it should run fails the session instead of being skipped.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from reddit_sentiment.settings import Settings
from reddit_sentiment.store.base import DAY, Store
from reddit_sentiment.store.sqlite import SqliteStore
from tests.cosmos.fixture import PACKAGE as COSMOS_PACKAGE
from tests.cosmos.fixture import cosmos_server, cosmos_test_store
from tests.factories import BASE_TIME
from tests.invariants import assert_verified

__all__ = ["cosmos_server"]  # a session fixture: node + @vercel/cosmosdb-server

# A developer's own .env must not change what the tests see.
Settings.model_config["env_file"] = None
# Tests read what they just wrote: no cached store figures unless a test asks for them (the
# child processes they start inherit this too).
os.environ.setdefault("STORE_CACHE_SECONDS", "0")

REPO = Path(__file__).resolve().parents[1]
SHM = Path("/dev/shm")
RECORDINGS = REPO.parent / "shared" / "reddit-recordings"


CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))


def _missing_recordings() -> str | None:
    if (RECORDINGS / "SubredditListings__test_hot.json").is_file():
        return None
    return f"recorded Reddit responses not found at {RECORDINGS} (put ../shared beside the repo)"


def _missing_cosmos_server() -> str | None:
    if shutil.which("node") and COSMOS_PACKAGE.is_file():
        return None
    return "the Cosmos DB test server needs Node.js 20+ and `make install-node`"


def _missing_chromium() -> str | None:
    if CHROMIUM.is_file():
        return None
    return f"{CHROMIUM} not found: apt-get install -y chromium (or set CHROMIUM_PATH)"


# Marker -> what the group needs (None when it is there), and which tests belong to it without
# saying so themselves: those that use a fixture of the group.
GROUPS: dict[str, tuple[Callable[[], str | None], frozenset[str]]] = {
    "recorded": (_missing_recordings, frozenset({"recordings_dir", "recorded_reddit"})),
    "cosmos": (_missing_cosmos_server, frozenset({"cosmos_server"})),
    "browser": (_missing_chromium, frozenset({"browser_context"})),
}
# Marked by the tests themselves: they need nothing outside, but take time or start processes.
PLAIN_MARKERS = ("processes", "slow")


def pytest_configure(config: pytest.Config) -> None:
    for name in (*GROUPS, *PLAIN_MARKERS):
        config.addinivalue_line("markers", f"{name}: see tests/conftest.py")


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by the markers given here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    required = {g.strip() for g in os.environ.get("REQUIRE_TEST_GROUPS", "").split(",")}
    if "all" in required:
        required = set(GROUPS)
    for group, (missing, fixtures) in GROUPS.items():
        members = [i for i in items if i.get_closest_marker(group) or fixtures & set(
            getattr(i, "fixturenames", ()))]  # fmt: skip
        reason = missing() if members else None
        for item in members:
            item.add_marker(getattr(pytest.mark, group))
            if reason is not None:
                item.add_marker(pytest.mark.skip(reason=f"{group}: {reason}"))
        if reason is not None and group in required:
            raise pytest.UsageError(
                f"{len(members)} {group} tests cannot run here, and REQUIRE_TEST_GROUPS asks "
                f"for them: {reason}"
            )


@pytest.fixture(scope="session")
def recordings_dir() -> Path:
    return RECORDINGS


# A store's clock says which days Cosmos reads from its daily documents (retention keeps all
# of their hours) and from when on both count terms (`terms_from`: trending's reach). The
# tests' items sit around BASE_TIME (2023), so the stores' clock runs at real speed from a
# week after it: days are read, and terms counted, as in production.
_CLOCK_SHIFT = time.time() - (BASE_TIME + 7 * DAY)


def store_clock() -> float:
    return time.time() - _CLOCK_SHIFT


def open_store(kind: str, tmp_path: Path) -> Store:
    if kind == "sqlite":
        store: Store = SqliteStore(tmp_path / "store.db", clock=store_clock)
    elif kind == "cosmos":  # needs the cosmos_server fixture; fresh containers per call
        store = cosmos_test_store(clock=store_clock)
    else:  # pragma: no cover - other backends register here
        raise ValueError(kind)
    store.open()
    return store


STORE_KINDS = ["sqlite", pytest.param("cosmos", marks=pytest.mark.cosmos)]


@pytest.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "cosmos":
        request.getfixturevalue("cosmos_server")
    s = open_store(request.param, tmp_path)
    try:
        yield s
        # Every test that writes through this fixture ends with its aggregates verified.
        await assert_verified(s)
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
