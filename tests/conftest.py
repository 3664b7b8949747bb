"""Shared fixtures, and the test groups that need something from outside the repository.

Recorded Reddit responses are read from ../shared at test time. Each group below is marked
(`pytest -m "not cosmos"` leaves it out) and, where what it needs is missing, skipped with one
line saying what to provide. CI sets REQUIRE_TEST_GROUPS (comma-separated, or `all`) so that a
group it should run fails the session instead of being skipped.

`make test` runs the suite in two phases (see the Makefile): `--phase parallel` under
pytest-xdist, then `--phase serial` in one process for the tests marked `serial`: those that
assert a wall-clock bound a busy neighbour would break, or the idle scheduling class the
service gives its children (true of every process in the parallel phase, see
`_share_the_cores_evenly`). Without `--phase` every test runs.
"""

from __future__ import annotations

import contextlib
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
# Marked by the tests themselves: they need nothing outside, but take time or start processes
# (`serial`: they assert a wall-clock bound or the idle class, so run alone: `--phase serial`).
PLAIN_MARKERS = ("processes", "slow", "serial")
PHASES = ("parallel", "serial")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--phase",
        choices=PHASES,
        default=None,
        help="parallel: leave out the tests marked serial; serial: run only them "
        "(make test runs both: the first under xdist, then the second)",
    )


def pytest_configure(config: pytest.Config) -> None:
    for name in (*GROUPS, *PLAIN_MARKERS):
        config.addinivalue_line("markers", f"{name}: see tests/conftest.py")
    if hasattr(config, "workerinput"):  # an xdist worker
        _share_the_cores_evenly()


def _share_the_cores_evenly() -> None:
    """Move this xdist worker, and so every process its tests start, to the idle scheduling
    class the service gives its cycle and scoring children (collection/workers.py).

    An idle-class process runs only when no normal one wants the core. With the workers in
    the normal class, one worker's busy test (a Hypothesis run against its Cosmos DB test
    server takes a core) starved another worker's cycle child: its cycle took many times as
    long as alone, and waits for a cycle timed out (figures: README, "Tests"). In one class
    every process of every worker gets its fair share, as the service and its children would
    on a machine of their own. What the idle class is for (health answering before the
    children's work), and that the children have it, is asserted by the `serial` tests, which
    run in the normal class, alone."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux, or not allowed
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


def _required_groups() -> set[str]:
    required = {g.strip() for g in os.environ.get("REQUIRE_TEST_GROUPS", "").split(",")}
    return set(GROUPS) if "all" in required else required & set(GROUPS)


@pytest.hookimpl(tryfirst=True)  # before xdist starts its workers
def pytest_sessionstart(session: pytest.Session) -> None:
    """Under xdist the controller collects nothing: the workers do, and a UsageError raised in
    a worker's collection ends the run as a crash without its message. So the controller
    checks every required group before any worker starts (whether or not the selection has
    tests of it), with the same message; without xdist the check below does it, per group
    with tests selected."""
    config = session.config
    if hasattr(config, "workerinput") or getattr(config.option, "dist", "no") == "no":
        return  # a worker, or no xdist
    for group in sorted(_required_groups()):
        reason = GROUPS[group][0]()
        if reason is not None:
            raise pytest.UsageError(
                f"{group} tests cannot run here, and REQUIRE_TEST_GROUPS asks for them: {reason}"
            )


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by the markers given here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    required = _required_groups()
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
    phase = config.getoption("phase")
    if phase is not None:
        serial = phase == "serial"
        keep, drop = [], []
        for item in items:
            (keep if (item.get_closest_marker("serial") is not None) == serial else drop).append(
                item
            )
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep


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
