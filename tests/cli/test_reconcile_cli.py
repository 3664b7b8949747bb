"""`reconcile` on the command line, against real PRAW and the fake Reddit: a purged item's
text is gone from the exports and from the SQLite file's bytes (the WAL included)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakereddit import FakeReddit
from reddit_sentiment.cli import app
from reddit_sentiment.collection import trending
from reddit_sentiment.models import COLLECTOR_LEASE, ItemState
from reddit_sentiment.store.sqlite import SqliteStore
from tests.integration.test_reconcile import (
    DELETED_AUTHOR,
    DELETED_TEXT,
    DELETED_TITLE,
    REMOVED_BODY,
    lifecycle_data,
)
from tests.invariants import assert_aggregates_match_items

runner = CliRunner()
PURGED = (DELETED_TITLE, DELETED_TEXT, REMOVED_BODY, DELETED_AUTHOR)


@pytest.fixture
def fake() -> Iterator[FakeReddit]:
    with FakeReddit.from_dataset(lifecycle_data()).start() as server:
        yield server


@pytest.fixture
def db(fake: FakeReddit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "lifecycle.db"
    for name, value in {
        "REDDIT_URL": fake.url,
        "REDDIT_OAUTH_URL": fake.url,
        "REDDIT_CLIENT_ID": "cli-id",
        "REDDIT_CLIENT_SECRET": "cli-secret",
        "SQLITE_PATH": str(path),
        "REDDIT_TIMEOUT_SECONDS": "2",
        "ANALYZER_MODE": "inline",
    }.items():
        monkeypatch.setenv(name, value)
    return path


def file_bytes(db: Path) -> bytes:
    """Everything SQLite keeps on disk for this database."""
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


def exported(fmt: str) -> str:
    result = runner.invoke(app, ["export", "--format", fmt])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_reconcile_purges_deleted_text_from_exports_and_the_file(
    fake: FakeReddit, db: Path
) -> None:
    collected = runner.invoke(app, ["collect", "--subreddit", "python"])
    assert collected.exit_code == 0, collected.output
    store = SqliteStore(db)
    store.open()
    trending.refresh(store)  # stored results that name the posts
    store.close()
    before = file_bytes(db)
    assert all(text.encode() in before for text in PURGED)  # the check below can fail
    assert DELETED_TITLE in exported("jsonl") and REMOVED_BODY in exported("csv")

    fake.revise("t3_lc2", state="deleted")
    fake.revise("t1_lcc3", state="removed")
    fake.revise("t3_lc1", score=321)
    fake.clear_requests()
    result = runner.invoke(app, ["reconcile", "--older-than", "0"])
    assert result.exit_code == 0, result.output
    # All 12 items, one request for them; the 1 h old post is re-checked too (--older-than 0).
    assert "r/python: checked 12, updated 3, rescored 0, deleted 2, missing 0" in result.output
    assert fake.request_count(r"/api/info") == 1

    for fmt in ("jsonl", "csv"):
        out = exported(fmt)
        assert not [text for text in PURGED if text in out], fmt
        assert "deleted" in out and "removed" in out  # the state column
    after = file_bytes(db)
    assert [text for text in PURGED if text.encode() in after] == []

    store = SqliteStore(db)
    store.open()
    try:
        items = {i.id: i for i in asyncio.run(assert_aggregates_match_items(store))}
        assert items["t3_lc1"].score == 321 and items["t3_lc0"].checked_at is not None
        assert items["t3_lc2"].state is ItemState.DELETED
    finally:
        store.close()


def test_reconcile_by_subreddit_and_age_and_its_refusals(fake: FakeReddit, db: Path) -> None:
    assert runner.invoke(app, ["collect", "--subreddit", "python"]).exit_code == 0
    fake.clear_requests()
    # Only items at least 40 h old: lc4 and lc5 (41 h, 51 h) with their comments.
    result = runner.invoke(app, ["reconcile", "--older-than", "40h", "--subreddit", "Python"])
    assert result.exit_code == 0, result.output
    assert "r/python: checked 4, updated 0" in result.output
    nothing = runner.invoke(app, ["reconcile", "--subreddit", "nosuchsub"])
    assert nothing.exit_code == 0 and "checked" not in nothing.output

    bad = runner.invoke(app, ["reconcile", "--older-than", "soon"])
    assert bad.exit_code == 2 and "not a duration" in bad.output

    store = SqliteStore(db)
    store.open()
    try:
        assert store.acquire_lease(COLLECTOR_LEASE, "service:1", ttl_seconds=60)
    finally:
        store.close()
    held = runner.invoke(app, ["reconcile"])
    assert held.exit_code == 1 and "holds the collector lease" in held.output
