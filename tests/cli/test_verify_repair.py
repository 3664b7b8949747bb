"""`verify` and `repair` from the command line, on both stores: drift written straight into
the aggregate rows (SQL on SQLite, a document edit on Cosmos DB) is found with its key and
numbers and exit code 1; `repair` refuses while another owner holds the collector lease, and
otherwise rebuilds the aggregates so that `verify` passes again."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reddit_sentiment.cli import app
from reddit_sentiment.models import COLLECTOR_LEASE, Item, Kind
from reddit_sentiment.store.base import DAY, Store, hour_of
from reddit_sentiment.store.cosmos import CosmosStore
from reddit_sentiment.store.sqlite import SqliteStore
from tests.cosmos.fixture import CosmosServer
from tests.factories import make_item

runner = CliRunner()
# Within any retention window, by the real clock the command line's store uses.
HOUR_START = hour_of(time.time() - DAY)
DAY_START = (HOUR_START // DAY) * DAY


def items() -> list[Item]:
    def tagged(item: Item, keywords: list[str]) -> Item:
        item.keywords = keywords
        return item

    at = HOUR_START + 600
    return [
        tagged(make_item(subreddit="alpha", compound=0.5, created_utc=at), ["python"]),
        make_item(subreddit="alpha", compound=-0.5, created_utc=at),
        make_item(
            subreddit="beta", compound=0.0, created_utc=at, kind=Kind.COMMENT, link_id="t3_x"
        ),
    ]


Inject = Callable[[], None]


def _sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Store, Inject]:
    path = tmp_path / "verify.db"
    monkeypatch.setenv("SQLITE_PATH", str(path))
    store = SqliteStore(path)

    def inject() -> None:
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE hourly SET posts = posts + 2 WHERE subreddit = 'alpha'")
            conn.execute("UPDATE keyword_hourly SET sum_compound = sum_compound + 0.25")
            conn.execute("DELETE FROM daily WHERE subreddit = 'beta'")

    return store, inject


def _cosmos(server: CosmosServer, monkeypatch: pytest.MonkeyPatch) -> tuple[Store, Inject]:
    prefix = f"cli-{uuid.uuid4().hex[:8]}-"
    for name, value in {
        "STORAGE_BACKEND": "cosmos",
        "COSMOS_ENDPOINT": server.endpoint,
        "COSMOS_KEY": server.key,
        "COSMOS_DATABASE": server.database,
        "COSMOS_CONTAINER_PREFIX": prefix,
    }.items():
        monkeypatch.setenv(name, value)
    store = server.store(container_prefix=prefix)

    def doc(s: CosmosStore, base: str, subreddit: str) -> dict[str, object]:
        found = s._sync(base).query_items(
            "SELECT * FROM c WHERE c.subreddit = @s",
            parameters=[{"name": "@s", "value": subreddit}],
            enable_cross_partition_query=True,
        )
        return next(iter(found))

    def inject() -> None:
        hourly = doc(store, "hourly", "alpha")
        hourly["posts"] = int(hourly["posts"]) + 2  # type: ignore[call-overload]
        store._sync("hourly").upsert_item(hourly)
        keyword = doc(store, "keyword_hourly", "alpha")
        keyword["sum_compound"] = float(keyword["sum_compound"]) + 0.25  # type: ignore[arg-type]
        store._sync("keyword_hourly").upsert_item(keyword)
        daily = doc(store, "daily", "beta")
        store._sync("daily").delete_item(daily["id"], partition_key="beta")

    return store, inject


@pytest.fixture(params=["sqlite", pytest.param("cosmos", marks=pytest.mark.cosmos)])
def written(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Store, Inject]]:
    if request.param == "cosmos":
        store, inject = _cosmos(request.getfixturevalue("cosmos_server"), monkeypatch)
    else:
        store, inject = _sqlite(tmp_path, monkeypatch)
    store.open()
    store.upsert_items(items())
    try:
        yield store, inject
    finally:
        asyncio.run(store.aclose())


def test_verify_finds_injected_drift_and_repair_removes_it(written: tuple[Store, Inject]) -> None:
    store, inject = written
    clean = runner.invoke(app, ["verify"])
    assert clean.exit_code == 0, clean.output
    assert "store: " in clean.output and "verified 3 items" in clean.output
    assert "no drift" in clean.output

    inject()
    drifted = runner.invoke(app, ["verify"])
    assert drifted.exit_code == 1, drifted.output
    lines = [line for line in drifted.output.splitlines() if "]: stored" in line]
    assert sorted(lines) == sorted([
        f"hourly [subreddit=alpha, hour={HOUR_START}]: stored posts=4 comments=0 "
        "sum_compound=0 positive=1 neutral=0 negative=1 expected posts=2 comments=0 "
        "sum_compound=0 positive=1 neutral=0 negative=1",
        f"keyword_hourly [keyword=python, subreddit=alpha, hour={HOUR_START}]: stored count=1 "
        "sum_compound=0.750000 positive=1 neutral=0 negative=0 expected count=1 "
        "sum_compound=0.500000 positive=1 neutral=0 negative=0",
        f"daily [subreddit=beta, day={DAY_START}]: stored (no row) expected posts=0 comments=1 "
        "sum_compound=0 positive=0 neutral=1 negative=0",
    ]), drifted.output  # fmt: skip
    assert "3 rows differ" in drifted.output

    # A running service holds the lease: repair refuses in one line and changes nothing.
    assert store.acquire_lease(COLLECTOR_LEASE, "service:elsewhere", ttl_seconds=60)
    refused = runner.invoke(app, ["repair"])
    assert refused.exit_code == 1
    assert (
        refused.output.strip()
        .splitlines()[-1]
        .startswith("another process holds the collector lease")
    )
    assert "Traceback" not in refused.output
    assert runner.invoke(app, ["verify"]).exit_code == 1
    store.release_lease(COLLECTOR_LEASE, "service:elsewhere")

    repaired = runner.invoke(app, ["repair"])
    assert repaired.exit_code == 0, repaired.output
    assert "no drift" in repaired.output
    again = runner.invoke(app, ["verify"])
    assert again.exit_code == 0 and "no drift" in again.output
    assert asyncio.run(store.lease_holder(COLLECTOR_LEASE)) is None  # repair let it go


@pytest.mark.parametrize("command", ["verify", "repair"])
def test_a_store_that_cannot_be_read_is_one_line(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "not-a-database.db"
    path.write_bytes(b"this is no SQLite file" * 100)
    monkeypatch.setenv("SQLITE_PATH", str(path))
    result = runner.invoke(app, [command])
    assert result.exit_code == 2
    last = result.output.strip().splitlines()[-1]
    assert last.startswith(f"{command} failed: ") and "not a database" in last
    assert "Traceback" not in result.output
