"""Reading dump files: every compression, long windows, line numbers, and what a line is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import zstandard
from bench.dumpfile import write_dump, write_lines

from reddit_sentiment.collection import dumps
from reddit_sentiment.collection.dumps import DumpReader, DumpUnreadable, parse_line, thing_kind

COMMENT = {"id": "c1", "subreddit": "python", "created_utc": 1_546_300_800, "body": "nice"}
POST = {"id": "p1", "subreddit": "python", "created_utc": 1_546_300_800, "title": "hello"}


@pytest.mark.parametrize("name", ["d.zst", "d.gz", "d.jsonl", "d.ndjson"])
def test_each_format_reads_the_same_records_with_line_numbers(tmp_path: Path, name: str) -> None:
    path = write_lines(
        tmp_path / name, [json.dumps(COMMENT), "", "not json", json.dumps(POST), "[1]"]
    )
    with DumpReader(path) as reader:
        records = list(reader.records())
        assert reader.bytes_read == path.stat().st_size
    assert [(r.line, r.thing_kind) for r in records] == [(1, "t1"), (3, None), (4, "t3"), (5, None)]
    assert records[1].error is not None and records[1].error.startswith("not valid JSON")
    assert records[3].error == "a JSON list, not an object"


def test_a_window_of_2_gib_is_read_and_the_default_reader_would_refuse_it(tmp_path: Path) -> None:
    # window_log 31 is what the largest dumps use; zstandard's default limit is 2**27.
    path = write_dump(tmp_path / "long.zst", [COMMENT] * 3, window_log=31)
    header = zstandard.get_frame_parameters(path.read_bytes())
    assert header.window_size == 2**31
    with pytest.raises(zstandard.ZstdError):
        zstandard.ZstdDecompressor().stream_reader(path.open("rb")).read()
    with DumpReader(path) as reader:
        assert [r.data for r in reader.records()] == [COMMENT] * 3


def test_lines_split_across_chunks_and_a_last_line_without_newline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dumps, "CHUNK_BYTES", 7)
    path = tmp_path / "d.jsonl"
    path.write_bytes(b"\n".join(json.dumps({**COMMENT, "id": f"c{i}"}).encode() for i in range(9)))
    with DumpReader(path) as reader:
        records = list(reader.records())
    assert [(r.line, r.data["id"] if r.data else None) for r in records] == [
        (i + 1, f"c{i}") for i in range(9)
    ]


def test_a_line_too_long_is_reported_once_and_reading_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dumps, "CHUNK_BYTES", 64)
    monkeypatch.setattr(dumps, "MAX_LINE_BYTES", 100)
    path = write_lines(tmp_path / "d.jsonl", [json.dumps(COMMENT), "x" * 1000, json.dumps(POST)])
    with DumpReader(path) as reader:
        records = list(reader.records())
    assert [(r.line, r.thing_kind, r.error) for r in records] == [
        (1, "t1", None),
        (2, None, "line longer than 100 bytes"),
        (3, "t3", None),
    ]


def test_a_missing_or_corrupt_file_is_unreadable_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(DumpUnreadable, match="No such file"):
        DumpReader(tmp_path / "missing.zst")
    bad = tmp_path / "bad.zst"
    bad.write_bytes(b"\x28\xb5\x2f\xfd" + b"garbage" * 10)
    with DumpReader(bad) as reader, pytest.raises(DumpUnreadable, match="cannot decompress"):
        list(reader.records())


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        ({"name": "t3_abc", "body": "x"}, "t3"),  # the fullname wins over the fields
        ({"name": "t1_abc", "title": "x"}, "t1"),
        ({"title": "x", "selftext": ""}, "t3"),
        ({"body": "x"}, "t1"),
        ({"name": "t5_abc", "body": "x"}, "t1"),  # not a thing we keep: the fields decide
        ({"name": 3, "id": "x"}, None),
        ({}, None),
    ],
)
def test_submissions_and_comments_are_told_apart_per_line(
    data: dict[str, object], kind: str
) -> None:
    assert thing_kind(data) == kind


def test_invalid_utf8_and_deep_nesting_are_reasons_not_exceptions() -> None:
    assert (parse_line(1, b'{"body": "\xff"}').error or "").startswith("not valid JSON")
    assert (parse_line(2, b"[" * 100_000).error or "").startswith("not valid JSON")
