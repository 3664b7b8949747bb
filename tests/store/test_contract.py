"""One contract for every storage backend: same inputs, same answers."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest

from reddit_sentiment.collection.analyzer import label_for
from reddit_sentiment.models import Item, Kind, Label, RunKind, RunStatus
from reddit_sentiment.store.base import (
    DAY,
    HOUR,
    Aggregate,
    Bucket,
    InvalidCursor,
    ItemQuery,
    Sort,
    Store,
    hour_of,
)
from reddit_sentiment.store.rendered import series_texts
from tests.factories import BASE_TIME, make_alert, make_item, make_run
from tests.invariants import assert_aggregates_match_items


async def all_pages(store: Store, query: ItemQuery) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        page = await store.list_items(dataclasses.replace(query, cursor=cursor))
        assert len(page.items) <= query.limit
        ids.extend(i.id for i in page.items)
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


async def test_upsert_is_idempotent_by_fullname(store: Store) -> None:
    items = [make_item(compound=0.5), make_item(compound=-0.5), make_item(kind=Kind.COMMENT)]
    first = store.upsert_items(items)
    assert (first.new, first.updated) == (3, 0)

    items[0].score = 99
    second = store.upsert_items(items)
    assert (second.new, second.updated) == (0, 3)

    stored = await store.get_item(items[0].id)
    assert stored is not None and stored.score == 99
    totals = await store.aggregates()
    assert [(a.posts, a.comments) for a in totals] == [(2, 1)]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("author", None),  # deleted since
        ("title", "edited title"),
        ("body", "edited body"),
        ("score", 1234),
        ("num_comments", 56),
        ("truncated", True),
        ("keywords", ["python"]),
    ],
)
async def test_a_seen_again_item_keeps_every_change(
    store: Store, field: str, value: object
) -> None:
    item = make_item(compound=0.4)
    store.upsert_items([item])
    setattr(item, field, value)
    item.collected_at += 3600
    assert store.upsert_items([item]).updated == 1
    stored = await store.get_item(item.id)
    assert stored is not None
    assert getattr(stored, field) == value
    assert stored.collected_at == item.collected_at


async def test_an_unchanged_item_seen_again_is_only_marked_seen(store: Store) -> None:
    item, other = make_item(compound=0.4), make_item(compound=-0.2)
    store.upsert_items([item, other])
    seen = item.collected_at + 3600
    item.collected_at = seen
    result = store.upsert_items([item])
    assert (result.new, result.updated) == (0, 1)
    stored = await store.get_item(item.id)
    assert stored is not None
    # SQLite records when it was seen (an in-place UPDATE of one column); Cosmos DB writes
    # nothing, since any write of the document costs about what the upsert would: there,
    # collected_at is the last collection that changed the item.
    marked = seen if store.name == "sqlite" else seen - 3600
    assert (stored.collected_at, stored.score, stored.compound) == (marked, 1, 0.4)
    (agg,) = await store.aggregates()  # counted once, not again
    assert (agg.posts, agg.positive, agg.negative) == (2, 1, 1)


async def test_duplicates_inside_one_batch_count_once(store: Store) -> None:
    item = make_item(compound=0.6)
    result = store.upsert_items([item, item])
    assert (result.new, result.updated) == (1, 0)
    (agg,) = await store.aggregates()
    assert agg.posts == 1 and agg.positive == 1


async def test_aggregates_follow_rescored_items(store: Store) -> None:
    item = make_item(compound=0.8)
    store.upsert_items([item, make_item(compound=-0.3, subreddit="python")])
    item.compound, item.label = -0.9, Label.NEGATIVE  # the text was edited
    store.upsert_items([item])
    (agg,) = await store.aggregates()
    assert (agg.positive, agg.neutral, agg.negative) == (0, 0, 2)
    assert agg.sum_compound == pytest.approx(-1.2)


async def test_aggregates_per_subreddit_and_label(store: Store) -> None:
    store.upsert_items(
        [
            make_item(subreddit="python", compound=0.5),
            make_item(subreddit="python", compound=0.0, kind=Kind.COMMENT),
            make_item(subreddit="rust", compound=-0.4),
            make_item(subreddit="rust", compound=-0.2, kind=Kind.COMMENT),
            make_item(subreddit="rust", compound=0.9, kind=Kind.COMMENT),
        ]
    )
    by_sub = {a.subreddit: a for a in await store.aggregates()}
    assert list(by_sub) == ["python", "rust"]
    assert (by_sub["python"].posts, by_sub["python"].comments) == (1, 1)
    assert (by_sub["python"].positive, by_sub["python"].neutral) == (1, 1)
    assert (by_sub["rust"].posts, by_sub["rust"].comments) == (1, 2)
    assert (by_sub["rust"].positive, by_sub["rust"].negative) == (1, 2)
    assert by_sub["rust"].sum_compound == pytest.approx(0.3)
    only_rust = await store.aggregates(subreddit="rust")
    assert [a.subreddit for a in only_rust] == ["rust"]


async def test_time_buckets_hour_and_day(store: Store) -> None:
    day0 = (BASE_TIME // DAY) * DAY
    store.upsert_items(
        [
            make_item(created_utc=day0 + 10, compound=0.5),
            make_item(created_utc=day0 + 20, compound=-0.5),
            make_item(created_utc=day0 + HOUR + 5, compound=0.5),
            make_item(created_utc=day0 + DAY + 5, compound=0.5),
        ]
    )
    hours = await store.aggregates(bucket=Bucket.HOUR)
    assert [(a.bucket_start, a.count) for a in hours] == [
        (day0, 2),
        (day0 + HOUR, 1),
        (day0 + DAY, 1),
    ]
    assert hours[0].sum_compound == pytest.approx(0.0)
    days = await store.aggregates(bucket=Bucket.DAY)
    assert [(a.bucket_start, a.count) for a in days] == [(day0, 3), (day0 + DAY, 1)]
    window = await store.aggregates(bucket=Bucket.HOUR, since=day0 + HOUR, until=day0 + DAY)
    assert [(a.bucket_start, a.count) for a in window] == [(day0 + HOUR, 1)]


def _by_day(hours: list[Aggregate]) -> list[Aggregate]:
    """Hour buckets summed per subreddit and UTC day: what day buckets must say."""
    days: dict[tuple[str, float], Aggregate] = {}
    for a in hours:
        assert a.bucket_start is not None
        key = (a.subreddit, (a.bucket_start // DAY) * DAY)
        days[key] = days.get(key, Aggregate(*key)).plus(a)
    return _days([days[key] for key in sorted(days)])


def _days(aggs: list[Aggregate]) -> list[Aggregate]:
    """Comparable: sums of compound scores added in another order differ in the last bits."""
    return [a._replace(sum_compound=round(a.sum_compound, 9)) for a in aggs]


DAY0 = (BASE_TIME // DAY) * DAY
# Windows of the series reads: whole days, days cut at either end, open ends, empty.
WINDOWS: list[tuple[float | None, float | None]] = [
    (None, None),
    (DAY0, DAY0 + 5 * DAY),  # whole days
    (DAY0 + 7 * HOUR + 30, DAY0 + 3 * DAY + 2 * HOUR),  # cut at both ends
    (DAY0 + 2 * DAY + HOUR, DAY0 + 2 * DAY + 9 * HOUR + 0.5),  # inside one day
    (DAY0 + 2 * DAY, DAY0 + 3 * DAY),  # exactly one day
    (DAY0 + 3 * DAY - HOUR, DAY0 + 3 * DAY + HOUR),  # across one midnight
    (None, DAY0 + 3 * DAY + 11 * HOUR),
    (DAY0 + 2 * DAY + 13 * HOUR, None),
    (DAY0 + 4 * DAY, DAY0 + 2 * DAY),  # empty
]
RETENTION_CUTOFF = DAY0 + DAY + 5 * HOUR + 17  # inside a day: it keeps only its later hours


def _five_days_edited_and_trimmed(store: Store) -> list[Item]:
    """Items over every hour of five days in three subreddits; a fifth of them rescored
    after the first write (moving between labels), then retention inside the second day."""
    items = [
        make_item(
            created_utc=DAY0 + (i * 7919) % (5 * DAY),
            subreddit=("python", "rust", "go")[i % 3],
            kind=Kind.COMMENT if i % 4 == 0 else Kind.POST,
            compound=((i * 37) % 21 - 10) / 10,
        )
        for i in range(300)
    ]
    store.upsert_items(items)
    for item in items[::5]:
        item.compound = -item.compound
        item.label = label_for(item.compound)
    store.upsert_items(items[::5])
    store.delete_older_than(RETENTION_CUTOFF)
    return items


async def test_day_buckets_are_the_hours_summed_for_any_window(store: Store) -> None:
    items = _five_days_edited_and_trimmed(store)
    for subreddit in (None, "rust"):
        for since, until in WINDOWS:
            hours = await store.aggregates(
                subreddit=subreddit, since=since, until=until, bucket=Bucket.HOUR
            )
            days = await store.aggregates(
                subreddit=subreddit, since=since, until=until, bucket=Bucket.DAY
            )
            assert _days(days) == _by_day(hours), (subreddit, since, until)
    every_day = await store.aggregates(bucket=Bucket.DAY)
    assert [a.bucket_start for a in every_day if a.subreddit == "go"] == [
        DAY0 + d * DAY for d in range(1, 5)
    ]
    assert sum(a.count for a in every_day) == sum(
        1 for i in items if i.created_utc >= RETENTION_CUTOFF - 17
    )


async def test_sentiment_series_is_the_buckets_rendered(store: Store) -> None:
    _five_days_edited_and_trimmed(store)
    for bucket in Bucket:
        for subreddit in (None, "rust", "nosuchsub"):
            for since, until in WINDOWS:
                args = {"subreddit": subreddit, "since": since, "until": until, "bucket": bucket}
                series = await store.sentiment_series(**args)  # type: ignore[arg-type]
                buckets = await store.aggregates(**args)  # type: ignore[arg-type]
                assert series == series_texts(buckets), args
                assert [s.subreddit for s in series] == sorted({a.subreddit for a in buckets})
    hours = await store.sentiment_series(since=DAY0 + 2 * DAY, until=DAY0 + 2 * DAY + 3 * HOUR)
    assert [s.subreddit for s in hours] == ["go", "python", "rust"]
    for one in hours:  # a JSON array's inside, each bucket an hour of the window, in order
        starts = [b["start"] for b in json.loads(f"[{one.buckets}]")]
        assert starts == sorted(starts) and len(starts) == len(set(starts)) >= 1
        assert all(s.startswith("2023-11-") and s.endswith(":00:00Z") for s in starts)


@pytest.mark.parametrize(
    ("sort", "descending"),
    [(Sort.NEW, True), (Sort.NEW, False), (Sort.SCORE, True), (Sort.COMPOUND, False)],
)
async def test_paging_visits_every_post_once_in_order(
    store: Store, sort: Sort, descending: bool
) -> None:
    items = [
        make_item(created_utc=BASE_TIME + (i % 7) * 60, score=i % 5, compound=((i % 9) - 4) / 5)
        for i in range(23)
    ]
    store.upsert_items([*items, make_item(kind=Kind.COMMENT)])
    ids = await all_pages(store, ItemQuery(sort=sort, descending=descending, limit=5))
    key = {
        Sort.NEW: lambda i: (i.created_utc, i.id),
        Sort.SCORE: lambda i: (i.score, i.id),
        Sort.COMPOUND: lambda i: (i.compound, i.id),
    }[sort]
    expected = [i.id for i in sorted(items, key=key, reverse=descending)]
    assert ids == expected


async def test_filters_subreddit_label_and_link(store: Store) -> None:
    post = make_item(subreddit="python", compound=0.7)
    store.upsert_items(
        [
            post,
            make_item(subreddit="python", compound=-0.7),
            make_item(subreddit="rust", compound=0.7),
            make_item(kind=Kind.COMMENT, link_id=post.id, created_utc=BASE_TIME + 2),
            make_item(kind=Kind.COMMENT, link_id=post.id, created_utc=BASE_TIME + 1),
            make_item(kind=Kind.COMMENT, link_id="t3_other"),
        ]
    )
    positive_python = await store.list_items(
        ItemQuery(subreddit="python", label=Label.POSITIVE, limit=10)
    )
    assert [i.id for i in positive_python.items] == [post.id]
    comments = await store.list_items(
        ItemQuery(kind=Kind.COMMENT, link_id=post.id, descending=False, limit=10)
    )
    assert [i.created_utc for i in comments.items] == [BASE_TIME + 1, BASE_TIME + 2]


async def test_creation_time_window_bounds_the_items(store: Store) -> None:
    items = [make_item(created_utc=BASE_TIME + n * 600, score=n) for n in range(6)]
    store.upsert_items(items)
    window = ItemQuery(since=BASE_TIME + 600, until=BASE_TIME + 3000, limit=2)
    assert await all_pages(store, window) == [i.id for i in reversed(items[1:5])]
    by_score = ItemQuery(since=BASE_TIME + 1200, sort=Sort.SCORE, limit=10)
    assert [i.score for i in (await store.list_items(by_score)).items] == [5, 4, 3, 2]
    empty = ItemQuery(since=BASE_TIME + 3600)
    assert (await store.list_items(empty)).items == []


async def test_runs_filter_by_kind(store: Store) -> None:
    for n, kind in enumerate([RunKind.COLLECT, RunKind.IMPORT, RunKind.RECONCILE] * 2):
        run = make_run(f"run-{n}", BASE_TIME + n)
        run.kind = kind
        store.save_run(run)
    imports = await store.list_runs(limit=1, kind=RunKind.IMPORT)
    assert [r.id for r in imports.runs] == ["run-4"]
    rest = await store.list_runs(limit=5, cursor=imports.next_cursor, kind=RunKind.IMPORT)
    assert [(r.id, r.kind) for r in rest.runs] == [("run-1", RunKind.IMPORT)]
    everything = await store.list_runs(limit=10)
    assert [r.id for r in everything.runs] == [f"run-{n}" for n in range(5, -1, -1)]
    got = await store.get_run("run-2")
    assert got is not None and got.kind is RunKind.RECONCILE


async def test_alerts_newest_first_with_paging_and_rule_filter(store: Store) -> None:
    # a1 and a2 fire in the same second: the id orders them, and no page repeats or skips one
    fired = [BASE_TIME, BASE_TIME + 1, BASE_TIME + 1, BASE_TIME + 2, BASE_TIME + 3]
    for n, at in enumerate(fired):
        store.save_alert(make_alert(f"a{n}", at, "r1" if n % 2 else "r2"))
    seen: list[str] = []
    cursor = None
    while True:
        page = await store.list_alerts(2, cursor)
        assert len(page.alerts) <= 2
        seen += [a.id for a in page.alerts]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ["a4", "a3", "a2", "a1", "a0"]
    first = await store.list_alerts(1, None, "r1")
    assert [a.id for a in first.alerts] == ["a3"]
    rest = await store.list_alerts(5, first.next_cursor, "r1")
    assert [a.id for a in rest.alerts] == ["a1"] and rest.next_cursor is None
    with pytest.raises(InvalidCursor):
        await store.list_alerts(5, "x" * 40)


async def test_invalid_cursor_is_rejected(store: Store) -> None:
    with pytest.raises(InvalidCursor):
        await store.list_items(ItemQuery(cursor="not-a-cursor"))
    with pytest.raises(InvalidCursor):
        await store.list_runs(limit=5, cursor="x" * 40)


async def test_missing_item_is_none(store: Store) -> None:
    assert await store.get_item("t3_missing") is None
    assert await store.get_item("t3_missing", "python") is None
    assert await store.get_run("missing") is None


async def test_an_item_is_found_in_its_own_subreddit_only(store: Store) -> None:
    item = make_item(subreddit="python", compound=0.5)
    store.upsert_items([item, make_item(subreddit="rust")])
    found = await store.get_item(item.id, "python")
    assert found is not None and (found.id, found.subreddit, found.compound) == (
        item.id,
        "python",
        0.5,
    )
    assert await store.get_item(item.id, "rust") is None


async def test_runs_newest_first_with_paging_and_updates(store: Store) -> None:
    for n in range(7):
        store.save_run(make_run(f"run-{n}", BASE_TIME + n))
    running = make_run("run-7", BASE_TIME + 7, RunStatus.RUNNING)
    store.save_run(running)
    first = await store.list_runs(limit=5)
    assert [r.id for r in first.runs] == ["run-7", "run-6", "run-5", "run-4", "run-3"]
    second = await store.list_runs(limit=5, cursor=first.next_cursor)
    assert [r.id for r in second.runs] == ["run-2", "run-1", "run-0"]
    assert second.next_cursor is None

    running.status = RunStatus.PARTIAL
    store.save_run(running)
    got = await store.get_run("run-7")
    assert got is not None and got.status is RunStatus.PARTIAL
    assert got.subreddits["python"].new == 2


async def test_interrupted_runs_are_marked(store: Store) -> None:
    store.save_run(make_run("a", BASE_TIME, RunStatus.RUNNING))
    store.save_run(make_run("b", BASE_TIME + 1))
    assert store.interrupt_running_runs() == 1
    a = await store.get_run("a")
    b = await store.get_run("b")
    assert a is not None and a.status is RunStatus.INTERRUPTED
    assert a.finished_at is not None
    assert [e.error for e in a.errors] == ["Interrupted"]
    assert b is not None and b.status is RunStatus.SUCCEEDED
    assert b.errors == []


async def test_only_runs_started_before_the_cutoff_are_marked_stalled(store: Store) -> None:
    old = make_run("old", BASE_TIME, RunStatus.RUNNING)
    young = make_run("young", BASE_TIME + 100, RunStatus.RUNNING)
    store.save_run(old)
    store.save_run(young)
    store.save_run(make_run("done", BASE_TIME - 100))
    assert store.interrupt_running_runs(started_before=BASE_TIME + 50) == 1
    stalled = await store.get_run("old")
    assert stalled is not None and stalled.status is RunStatus.INTERRUPTED
    assert stalled.finished_at is not None and stalled.finished_at > BASE_TIME + 100
    assert [e.error for e in stalled.errors] == ["Stalled"]
    assert stalled.subreddits == old.subreddits  # what it counted is kept
    running = await store.get_run("young")
    assert running is not None and running.status is RunStatus.RUNNING
    assert running.finished_at is None and running.errors == []
    done = await store.get_run("done")
    assert done is not None and done.status is RunStatus.SUCCEEDED and done.errors == []

    assert store.interrupt_running_runs(started_before=BASE_TIME + 50) == 0  # nothing left
    assert store.interrupt_running_runs() == 1  # no cutoff: every run left running
    ended = await store.get_run("young")
    assert ended is not None and ended.status is RunStatus.INTERRUPTED
    assert [e.error for e in ended.errors] == ["Interrupted"]


async def test_retention_deletes_old_items_and_their_aggregates(store: Store) -> None:
    old = make_item(created_utc=BASE_TIME - 40 * DAY, compound=0.5)
    new = make_item(created_utc=BASE_TIME, compound=-0.5)
    store.upsert_items([old, new])
    assert store.delete_older_than(BASE_TIME - 30 * DAY) == 1
    assert await store.get_item(old.id) is None
    assert await store.get_item(new.id) is not None
    (agg,) = await store.aggregates()
    assert (agg.posts, agg.positive, agg.negative) == (1, 0, 1)


async def test_ping_answers(store: Store) -> None:
    await store.ping()


async def test_lease_is_exclusive_renewable_and_expires(store: Store) -> None:
    assert store.acquire_lease("collector", "a", ttl_seconds=30) is True
    assert store.acquire_lease("collector", "b", ttl_seconds=30) is False
    assert store.acquire_lease("collector", "a", ttl_seconds=30) is True  # renewal
    holder = await store.lease_holder("collector")
    assert holder is not None and holder.owner == "a"
    store.release_lease("collector", "b")  # not b's to release
    assert (await store.lease_holder("collector")).owner == "a"  # type: ignore[union-attr]
    store.release_lease("collector", "a")
    assert await store.lease_holder("collector") is None
    assert store.acquire_lease("collector", "b", ttl_seconds=0.05) is True
    await asyncio.sleep(0.1)
    assert await store.lease_holder("collector") is None  # expired
    assert store.acquire_lease("collector", "a", ttl_seconds=30) is True  # takeover
    assert store.acquire_lease("other", "b", ttl_seconds=30) is True  # leases are independent


def tagged(keywords: list[str], **kwargs: object) -> Item:
    item = make_item(**kwargs)  # type: ignore[arg-type]
    item.keywords = keywords
    return item


async def test_keyword_aggregates_follow_writes(store: Store) -> None:
    day0 = (BASE_TIME // DAY) * DAY
    edited = tagged(["$TSLA"], compound=0.5, created_utc=day0 + 10)
    store.upsert_items(
        [
            edited,
            tagged(
                ["$TSLA", "python"], compound=-0.5, created_utc=day0 + HOUR + 1, subreddit="rust"
            ),
            tagged(["python"], kind=Kind.COMMENT, compound=0.0, created_utc=day0 + 20),
            tagged([], compound=0.9, created_utc=day0 + 30),
        ]
    )
    totals = {a.keyword: a for a in await store.keyword_aggregates()}
    assert list(totals) == ["$TSLA", "python"]
    assert (totals["$TSLA"].count, totals["$TSLA"].positive, totals["$TSLA"].negative) == (2, 1, 1)
    assert totals["$TSLA"].sum_compound == pytest.approx(0.0)
    assert totals["$TSLA"].last_hour == day0 + HOUR
    hourly = await store.keyword_aggregates(keyword="$TSLA", bucket=Bucket.HOUR)
    assert [(a.bucket_start, a.count) for a in hourly] == [(day0, 1), (day0 + HOUR, 1)]
    only_rust = await store.keyword_aggregates(subreddit="rust")
    assert [(a.keyword, a.count) for a in only_rust] == [("$TSLA", 1), ("python", 1)]

    edited.keywords = ["python"]  # the text was edited: no longer mentions $TSLA
    store.upsert_items([edited])
    totals = {a.keyword: a for a in await store.keyword_aggregates()}
    assert (totals["$TSLA"].count, totals["python"].count) == (1, 3)
    stored = await store.get_item(edited.id)
    assert stored is not None and stored.keywords == ["python"]

    assert store.delete_older_than(day0 + HOUR) == 3
    assert [(a.keyword, a.count) for a in await store.keyword_aggregates()] == [
        ("$TSLA", 1),
        ("python", 1),
    ]


async def test_iter_items_streams_oldest_first_with_filters(store: Store) -> None:
    items = [
        make_item(
            created_utc=BASE_TIME + (i * 7) % 25,
            subreddit="python" if i % 3 else "rust",
            kind=Kind.COMMENT if i % 4 == 0 else Kind.POST,
        )
        for i in range(25)
    ]
    store.upsert_items(items)
    streamed = list(store.iter_items())
    assert [i.id for i in streamed] == [
        i.id for i in sorted(items, key=lambda i: (i.created_utc, i.id))
    ]
    window = list(
        store.iter_items(
            since=BASE_TIME + 5, until=BASE_TIME + 10, subreddit="python", kind=Kind.POST
        )
    )
    expected = [
        i.id
        for i in sorted(items, key=lambda i: (i.created_utc, i.id))
        if BASE_TIME + 5 <= i.created_utc < BASE_TIME + 10
        and i.subreddit == "python"
        and i.kind is Kind.POST
    ]
    assert [i.id for i in window] == expected and expected


async def test_trending_results_round_trip(store: Store) -> None:
    assert await store.get_trending("24h|*") is None
    payload = {"window": "24h", "terms": [{"term": "python", "count": 4}], "computed_at": "x"}
    store.save_trending("24h|*", payload)
    store.save_trending("24h|*", {**payload, "computed_at": "y"})
    got = await store.get_trending("24h|*")
    assert got == {**payload, "computed_at": "y"}


async def test_known_scores_return_stored_versions_with_their_text_hash(store: Store) -> None:
    stored = [make_item(compound=0.6), make_item(kind=Kind.COMMENT, compound=-0.4)]
    stored[0].text_hash, stored[1].text_hash = "a" * 24, "b" * 24
    store.upsert_items(stored)
    unknown = make_item()
    known = store.known_scores([*stored, unknown])
    assert set(known) == {stored[0].id, stored[1].id}
    for item in stored:
        again = known[item.id]
        assert (again.text_hash, again.compound, again.label, again.kind) == (
            item.text_hash,
            item.compound,
            item.label,
            item.kind,
        )
    # A rescored text's fingerprint replaces the old one.
    stored[0].text_hash, stored[0].compound = "c" * 24, -0.6
    stored[0].label = label_for(-0.6)
    store.upsert_items([stored[0]])
    assert store.known_scores([stored[0]])[stored[0].id].text_hash == "c" * 24


async def test_rejections_and_their_counts_round_trip(store: Store) -> None:
    run = make_run("20240102T000000-rrrr", 1_704_153_600.0)
    run.reject("python", "t3_bad", "created_utc is missing")
    run.reject("python", "t1", "no valid Reddit id")
    store.save_run(run)
    again = await store.get_run(run.id)
    assert again is not None
    assert again.subreddits["python"].rejected == 2
    assert [(r.fullname, r.reason) for r in again.rejections] == [
        ("t3_bad", "created_utc is missing"),
        ("t1", "no valid Reddit id"),
    ]


async def test_an_item_seen_with_another_creation_time_keeps_the_aggregates_true(
    store: Store,
) -> None:
    first = make_item(item_id="t3_moved", compound=0.5)
    store.upsert_items([first])
    again = make_item(item_id="t3_moved", compound=-0.5, created_utc=BASE_TIME + 3 * HOUR)
    store.upsert_items([again])
    (stored,) = [i for i in store.iter_items() if i.id == "t3_moved"]
    assert stored.compound == -0.5
    await assert_aggregates_match_items(store)


async def test_an_item_moved_to_another_hour_with_the_same_score_moves_its_bucket(
    store: Store,
) -> None:
    store.upsert_items([make_item(item_id="t3_late", compound=0.5)])
    store.upsert_items(
        [make_item(item_id="t3_late", compound=0.5, created_utc=BASE_TIME + 5 * HOUR)]
    )
    await assert_aggregates_match_items(store)


async def test_hour_extent_is_the_first_and_last_non_empty_hour(store: Store) -> None:
    assert await store.hour_extent() is None
    oldest = BASE_TIME - 400 * DAY
    store.upsert_items(
        [
            make_item(subreddit="python", created_utc=oldest + 30),
            make_item(subreddit="python", created_utc=BASE_TIME),
            make_item(subreddit="rust", kind=Kind.COMMENT, created_utc=BASE_TIME + 5 * HOUR),
        ]
    )
    assert await store.hour_extent() == (hour_of(oldest), hour_of(BASE_TIME + 5 * HOUR))
    assert await store.hour_extent(subreddit="python") == (hour_of(oldest), hour_of(BASE_TIME))
    assert await store.hour_extent(subreddit="rust") == (hour_of(BASE_TIME + 5 * HOUR),) * 2
    assert await store.hour_extent(subreddit="golang") is None


async def test_hour_extent_follows_retention(store: Store) -> None:
    old = make_item(created_utc=BASE_TIME - 40 * DAY)
    store.upsert_items([old, make_item(created_utc=BASE_TIME - 2 * HOUR)])
    assert await store.hour_extent() == (hour_of(old.created_utc), hour_of(BASE_TIME - 2 * HOUR))
    store.delete_older_than(BASE_TIME - 30 * DAY)
    assert await store.hour_extent() == (hour_of(BASE_TIME - 2 * HOUR),) * 2
    store.delete_older_than(BASE_TIME)
    assert await store.hour_extent() is None
