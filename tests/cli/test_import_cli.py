"""`import` in-process (CliRunner): the filters as typed on the command line, the summary."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from bench.dumpfile import START, write_dump
from typer.testing import CliRunner

from reddit_sentiment.cli import app
from reddit_sentiment.models import RunKind
from reddit_sentiment.store.sqlite import SqliteStore

runner = CliRunner()


def line(n: int, sub: str, hours: int, kind: str = "body") -> dict[str, object]:
    return {"id": f"x{n}", "subreddit": sub, "created_utc": START + hours * 3600, kind: "good"}


def test_filters_from_the_command_line_and_the_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "cli.db"
    monkeypatch.setenv("SQLITE_PATH", str(db))
    monkeypatch.setenv("ANALYZER_MODE", "inline")
    path = write_dump(
        tmp_path / "d.ndjson",
        [
            line(1, "Python", 1),
            line(2, "Python", 30),  # after --until
            line(3, "rust", 2),  # another subreddit
            line(4, "python", 3, "title"),  # a post: --kind comment
            line(5, "python", 4),
        ],
    )
    with path.open("ab") as out:  # a broken last line, not newline-terminated
        out.write(b'{"id": "x6", "body": ')
    result = runner.invoke(
        app,
        ["import", str(path), "-s", "r/PYTHON", "--until", "2019-01-02T00:00:00Z",
         "--since", "2019-01-01", "--kind", "comment"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "r/python: read 2, new 2, updated 0, rejected 0" in result.output
    assert "stored 2 (new 2, updated 0, repeated 0), skipped by filter 3, rejected 1" in (
        result.output
    )
    assert "rejected d.ndjson:6: not valid JSON" in result.output
    store = SqliteStore(db)
    store.open()
    try:
        runs = asyncio.run(store.list_runs(limit=5, kind=RunKind.IMPORT)).runs
        assert [(r.status.value, r.subreddits["python"].new) for r in runs] == [("succeeded", 2)]
        assert sorted(i.id for i in store.iter_items()) == ["t1_x1", "t1_x5"]
    finally:
        store.close()


def test_a_bad_date_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SQLITE_PATH", str(tmp_path / "cli.db"))
    path = write_dump(tmp_path / "d.jsonl", [line(1, "python", 1)])
    result = runner.invoke(app, ["import", str(path), "--since", "yesterday"])
    assert result.exit_code == 2
    assert "--since must be an ISO 8601 date-time, got 'yesterday'" in result.output
