"""Importing dump files into both stores: counts, scores, idempotence, filters, bad lines,
retention by origin, and hostile lines (Hypothesis)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from bench.dumpfile import things, write_dump, write_lines
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from reddit_sentiment.collection.analyzer import Analyzer, text_of
from reddit_sentiment.collection.importer import DumpImporter, ImportFilter
from reddit_sentiment.models import CollectionRun, Item, Kind, RunKind, RunStatus, UpsertResult
from reddit_sentiment.settings import Settings
from reddit_sentiment.store.base import DAY, HOUR, Store, hour_of
from reddit_sentiment.store.sqlite import SqliteStore
from tests.cosmos.fixture import CosmosServer
from tests.factories import make_item
from tests.invariants import assert_aggregates_match_items

SETTINGS = Settings(track_keywords="python,bug")


def run_import(store: Store, path: Path, keep: ImportFilter | None = None) -> DumpImporter:
    importer = DumpImporter(
        SETTINGS, store, Analyzer(SETTINGS.analyzer_max_chars, mode="inline"), keep=keep,
        batch_size=50,
    )  # fmt: skip
    importer.last_run = importer.run([path])  # type: ignore[attr-defined]
    return importer


def last_run(importer: DumpImporter) -> CollectionRun:
    run: CollectionRun = importer.last_run  # type: ignore[attr-defined]
    return run


# Items in the mixed dump: lines of three batches of `run_import` (50), the bad lines and the
# repeat among the first batch's.
MIXED = 120


def dump_with_repeats_and_bad_lines(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    objects = list(things(MIXED, seed=7, short=True))
    lines: list[str] = [json.dumps(o, ensure_ascii=False) for o in objects]
    lines.insert(10, "{not json")
    lines.insert(20, json.dumps({"title": "no id", "subreddit": "python", "created_utc": 1}))
    lines.insert(30, json.dumps(objects[5]))  # the same thing twice in one file
    lines.insert(40, json.dumps({"id": "zz9", "body": "no time", "subreddit": "python"}))
    return write_lines(tmp_path / "mixed.zst", lines, window_log=30), objects


async def test_import_counts_scores_and_a_second_import_adds_nothing(
    store: Store, tmp_path: Path
) -> None:
    path, objects = dump_with_repeats_and_bad_lines(tmp_path)
    first = run_import(store, path)
    run = last_run(first)
    assert run.kind is RunKind.IMPORT and run.status is RunStatus.SUCCEEDED
    assert first.progress.lines == MIXED + 4
    assert first.progress.new == MIXED  # the unique valid items
    assert first.progress.repeats == 1  # objects[5] again, within the same batch of lines
    assert first.progress.rejected == 3
    # bad lines are reported with their line numbers, in file order
    assert [(r.fullname, r.reason.split(":")[0]) for r in run.rejections] == [
        ("mixed.zst:11", "not valid JSON"),
        ("mixed.zst:21", "t3"),
        ("mixed.zst:41", "t1_zz9"),
    ]
    per_sub = {name: c.new for name, c in run.subreddits.items() if name != "*"}
    expected: dict[str, int] = {}
    for obj in objects:
        expected[obj["subreddit"].lower()] = expected.get(obj["subreddit"].lower(), 0) + 1
    assert per_sub == expected
    assert run.subreddits["*"].rejected == 3

    items = await assert_aggregates_match_items(store)
    assert len(items) == MIXED and all(item.imported for item in items)
    vader = SentimentIntensityAnalyzer()
    for item in items:
        if not item.truncated:
            assert item.compound == vader.polarity_scores(text_of(item))["compound"], item.id
    assert any(item.keywords == ["python"] for item in items)

    second = run_import(store, path)
    assert (second.progress.new, second.progress.updated, second.progress.repeats) == (0, MIXED, 1)
    again = await assert_aggregates_match_items(store)
    assert [(i.id, i.compound) for i in again] == [(i.id, i.compound) for i in items]
    listed = await store.list_runs(limit=10, kind=RunKind.IMPORT)
    assert [r.id for r in listed.runs] == [last_run(second).id, run.id]


async def test_filters_keep_only_what_was_asked(store: Store, tmp_path: Path) -> None:
    objects = list(things(240, seed=3, short=True))
    path = write_dump(tmp_path / "d.jsonl", objects)
    since, until = 1_546_300_800 + 90 * DAY, 1_546_300_800 + 200 * DAY
    keep = ImportFilter(
        subreddits=frozenset({"python", "askreddit"}), since=since, until=until, kind=Kind.COMMENT
    )
    importer = run_import(store, path, keep)
    wanted = [
        o
        for o in objects
        if o["subreddit"].lower() in {"python", "askreddit"}
        and "body" in o
        and since <= float(o["created_utc"]) < until
    ]
    assert wanted and importer.progress.new == len(wanted)
    assert importer.progress.skipped == 240 - len(wanted)
    items = await assert_aggregates_match_items(store)
    assert sorted(i.id for i in items) == sorted(f"t1_{o['id']}" for o in wanted)


async def test_what_the_collector_saw_is_not_stored_twice_and_becomes_imported(
    store: Store, tmp_path: Path
) -> None:
    collected = make_item(kind=Kind.COMMENT, created_utc=time.time() - HOUR, body="I love it")
    Analyzer(mode="inline").score(collected)
    store.upsert_items([collected])
    line = {
        "id": collected.id.removeprefix("t1_"),
        "subreddit": collected.subreddit,
        "created_utc": collected.created_utc,
        "body": "I love it",
    }
    importer = run_import(store, write_dump(tmp_path / "d.gz", [line]))
    assert (importer.progress.new, importer.progress.updated) == (0, 1)
    items = await assert_aggregates_match_items(store)
    assert [(i.id, i.imported) for i in items] == [(collected.id, True)]
    # and the collector seeing it again leaves it imported
    store.upsert_items([collected])
    stored = await store.get_item(collected.id)
    assert stored is not None and stored.imported


async def test_retention_keeps_imported_history_and_exact_aggregates(
    store: Store, tmp_path: Path
) -> None:
    now = time.time()
    hour = hour_of(now - 40 * DAY)
    # One hour holds collected and imported items alike, another only collected ones.
    old_collected = make_item(kind=Kind.COMMENT, created_utc=hour + 60, compound=0.5)
    only_collected = make_item(created_utc=hour - 5 * HOUR, compound=-0.5)
    recent = make_item(created_utc=now - HOUR, compound=0.3)
    store.upsert_items([old_collected, only_collected, recent])
    lines = [
        {"id": "imp1", "subreddit": "python", "created_utc": hour + 120, "body": "great stuff"},
        {"id": "imp2", "subreddit": "python", "created_utc": 1_546_300_800, "title": "2019"},
    ]
    run_import(store, write_dump(tmp_path / "d.zst", lines))
    await assert_aggregates_match_items(store)

    assert store.delete_older_than(now - 30 * DAY) == 2
    items = await assert_aggregates_match_items(store)
    assert sorted(i.id for i in items) == sorted(["t1_imp1", "t3_imp2", recent.id])
    (total,) = await store.aggregates()
    assert total.count == 3

    # A new collected item in the hour that holds imported history is counted, and goes
    # again at the next pass.
    late = make_item(kind=Kind.COMMENT, created_utc=hour + 300, compound=-0.2)
    store.upsert_items([late])
    await assert_aggregates_match_items(store)
    assert store.delete_older_than(now - 30 * DAY) == 1
    await assert_aggregates_match_items(store)

    # IMPORT_RETENTION_DAYS set: imported items go by their own cutoff.
    assert store.delete_older_than(now - 30 * DAY, now - 365 * DAY) == 1  # the 2019 post
    items = await assert_aggregates_match_items(store)
    assert sorted(i.id for i in items) == sorted(["t1_imp1", recent.id])
    assert store.delete_older_than(now - 30 * DAY, now - 30 * DAY) == 1
    items = await assert_aggregates_match_items(store)
    assert [i.id for i in items] == [recent.id]
    hours = await store.aggregates(bucket=None)
    assert [(a.subreddit, a.count) for a in hours] == [("python", 1)]


async def test_an_unreadable_file_is_an_error_of_the_run_and_the_next_file_is_read(
    store: Store, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.zst"
    bad.write_bytes(b"\x28\xb5\x2f\xfd" + b"garbage" * 10)
    cut = write_dump(tmp_path / "cut.zst", list(things(30, seed=2, short=True)))
    with cut.open("ab") as out:  # damage after a whole frame: its lines are kept
        out.write(b"\x28\xb5\x2f\xfd" + b"garbage" * 10)
    good = write_dump(tmp_path / "good.ndjson", list(things(12, seed=1, short=True)))
    importer = DumpImporter(SETTINGS, store, Analyzer(mode="inline"))
    run = importer.run([bad, cut, good])
    assert run.status is RunStatus.PARTIAL
    assert [(e.listing, e.error) for e in run.errors] == [
        ("bad.zst", "DumpUnreadable"),
        ("cut.zst", "DumpUnreadable"),
    ]
    assert importer.progress.new == 30  # things() of both seeds share the ids of their first 12
    assert importer.progress.updated == 12
    await assert_aggregates_match_items(store)


@pytest.mark.cosmos
async def test_cosmos_writes_of_an_import_go_per_partition_within_the_bound(
    cosmos_server: CosmosServer, tmp_path: Path
) -> None:
    """An import hands the store many subreddits at a time; the store sends its writes
    (grouped by partition) in parallel, never more than COSMOS_MAX_CONCURRENCY at once."""
    from tests.store.test_cosmos_specific import ScriptedTransport

    transport = ScriptedTransport(delay=0.005)
    store = cosmos_server.store(transport=transport, max_concurrency=3)
    store.open()
    batches: list[set[str]] = []
    upsert = store.upsert_items

    def recorded(items: Sequence[Item]) -> UpsertResult:
        batches.append({item.subreddit for item in items})
        return upsert(items)

    store.upsert_items = recorded  # type: ignore[method-assign]
    try:
        objects = list(things(80, seed=5, short=True))
        importer = run_import(store, write_dump(tmp_path / "d.jsonl", objects))
        assert importer.progress.new == len(objects)
        # One write of the whole import (IMPORT_WRITE_ITEMS): the store splits it by partition.
        assert batches == [{obj["subreddit"].lower() for obj in objects}]
        assert 2 <= transport.max_in_flight <= 3
        await assert_aggregates_match_items(store)
    finally:
        await store.aclose()


# -- hostile lines -----------------------------------------------------------------------------
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=30),
)
_FIELDS = st.sampled_from(
    [
        "id",
        "name",
        "subreddit",
        "created_utc",
        "title",
        "selftext",
        "body",
        "author",
        "score",
        "num_comments",
        "link_id",
        "parent_id",
        "permalink",
    ]
)
_VALUES = st.one_of(
    _SCALARS,
    st.lists(_SCALARS, max_size=2),
    st.dictionaries(st.text(max_size=3), _SCALARS, max_size=2),
)
_THING = st.dictionaries(_FIELDS, _VALUES, max_size=10)
_LINE = st.one_of(
    _THING.map(lambda d: json.dumps(d, ensure_ascii=False).encode("utf-8", "surrogatepass")),
    _THING.map(lambda d: json.dumps(d).encode()),  # lone surrogates escaped, as valid JSON
    st.binary(max_size=60),
    st.text(max_size=60).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


@pytest.mark.slow
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=st.lists(_LINE, max_size=12))
def test_hostile_lines_never_stop_an_import_and_every_line_is_counted_once(
    tmp_path: Path, lines: list[bytes]
) -> None:
    """Property: whatever the lines, the import ends `succeeded`; every non-empty line is
    counted exactly once, as an item stored or rejected with its line number; the store
    holds exactly the distinct ids stored, with aggregates equal to a recomputation."""
    import asyncio

    raw = b"\n".join(line.replace(b"\n", b" ").replace(b"\r", b" ") for line in lines)
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(raw)
    store = SqliteStore(tmp_path / f"h{time.monotonic_ns()}.db")
    store.open()
    try:
        importer = run_import(store, path)
        run = last_run(importer)
        assert run.status is RunStatus.SUCCEEDED
        progress = importer.progress
        non_empty = sum(1 for line in raw.split(b"\n") if line.strip())
        assert progress.lines == non_empty
        assert progress.new + progress.updated + progress.repeats + progress.rejected == non_empty
        for rejected in run.rejections:
            number = int(rejected.fullname.rsplit(":", 1)[1])
            assert 1 <= number <= len(raw.split(b"\n"))
        items = asyncio.run(assert_aggregates_match_items(store))
        assert len(items) == progress.new
    finally:
        store.close()
