"""The command line against real PRAW and the recorded Reddit: collect, export, stats."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakereddit import FakeReddit
from reddit_sentiment.cli import app
from reddit_sentiment.store.sqlite import SqliteStore

runner = CliRunner()


@pytest.fixture
def env(recorded_reddit: FakeReddit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "cli.db"
    for name, value in {
        "REDDIT_URL": recorded_reddit.url,
        "REDDIT_OAUTH_URL": recorded_reddit.url,
        "REDDIT_CLIENT_ID": "cli-id",
        "REDDIT_CLIENT_SECRET": "cli-secret",
        "SQLITE_PATH": str(db),
        "REDDIT_TIMEOUT_SECONDS": "2",
    }.items():
        monkeypatch.setenv(name, value)
    return db


def test_collect_export_and_stats(env: Path, tmp_path: Path) -> None:
    collected = runner.invoke(app, ["collect", "--subreddit", "askreddit", "--limit", "100"])
    assert collected.exit_code == 0, collected.output
    assert (
        "r/askreddit: fetched 294, new 294, updated 0, failed listings 0, rejected items 0"
        in collected.output
    )
    assert "succeeded" in collected.output

    jsonl = runner.invoke(app, ["export", "--format", "jsonl"])
    assert jsonl.exit_code == 0, jsonl.output
    rows = [json.loads(line) for line in jsonl.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 294 and len({r["id"] for r in rows}) == 294
    created = [r["created_utc"] for r in rows]
    assert created == sorted(created)  # oldest first

    target = tmp_path / "comments.csv"
    exported = runner.invoke(
        app, ["export", "-f", "csv", "--kind", "comment", "-s", "AskReddit", "-o", str(target)]
    )
    assert exported.exit_code == 0, exported.output
    table = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(table) == 100 and {r["kind"] for r in table} == {"comment"}
    cutoff = sorted(created)[150]
    iso = datetime.fromtimestamp(cutoff, UTC).isoformat()
    since = runner.invoke(app, ["export", "--since", iso])
    later = [json.loads(line) for line in since.stdout.splitlines() if line.startswith("{")]
    assert len(later) == sum(1 for c in created if c >= cutoff) and len(later) < 294
    bad = runner.invoke(app, ["export", "--since", f"@{cutoff}"])
    assert bad.exit_code != 0 and "ISO 8601" in bad.output

    stats = runner.invoke(app, ["stats"])
    assert stats.exit_code == 0, stats.output
    assert "askreddit" in stats.output and "194" in stats.output and "cli" in stats.output


def test_collect_refuses_while_another_process_collects(env: Path) -> None:
    store = SqliteStore(env)
    store.open()
    assert store.acquire_lease("collector", "service:1", ttl_seconds=60)
    store.close()
    result = runner.invoke(app, ["collect", "-s", "askreddit"])
    assert result.exit_code == 1
    assert "another process is collecting" in result.output


def test_collect_without_credentials_says_what_is_missing(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDDIT_CLIENT_SECRET")
    result = runner.invoke(app, ["collect", "-s", "askreddit"])
    assert result.exit_code == 2 and "REDDIT_CLIENT_SECRET" in result.output


def test_reading_a_database_that_does_not_exist_is_an_error_not_a_new_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "typo.db"
    monkeypatch.setenv("SQLITE_PATH", str(missing))
    for command in (["stats"], ["export", "--format", "jsonl"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 1, result.output
        assert f"no database at {missing} (SQLITE_PATH)" in result.output
        assert not missing.exists()


def test_every_command_says_which_store_it_read(env: Path) -> None:
    collected = runner.invoke(app, ["collect", "-s", "askreddit"])
    assert collected.exit_code == 0, collected.output
    for command in (["collect", "-s", "askreddit"], ["stats"], ["export"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, result.output
        assert f"store: SQLite file {env}" in result.output
