"""What only the Cosmos DB store has: its containers, TTLs, 429 retries and write concurrency,
keyset paging and id encoding.

Everything runs against the session's @vercel/cosmosdb-server (tests/cosmos/fixture.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.pipeline.transport import RequestsTransport, RequestsTransportResponse
from azure.cosmos import ContainerProxy, CosmosClient
from pydantic import SecretStr
from requests.structures import CaseInsensitiveDict

from reddit_sentiment.collection import trending
from reddit_sentiment.models import Item, Kind
from reddit_sentiment.settings import Settings, StorageBackend
from reddit_sentiment.store import cosmos
from reddit_sentiment.store.base import BLOCK, DAY, HOUR, Bucket, StoreUnavailable, hour_of
from reddit_sentiment.store.cosmos import (
    AUTHOR_HOURLY,
    DAILY,
    HOURLY,
    ITEMS,
    KEYWORD_HOURLY,
    LINKS,
    RUNS,
    TERM_COUNTS,
    TRENDING,
    CosmosStore,
)
from reddit_sentiment.store.verify import verify
from tests.cosmos.fixture import CosmosServer, start_server
from tests.factories import BASE_TIME, make_item


def tagged(keywords: list[str], **kwargs: Any) -> Item:
    item = make_item(**kwargs)
    item.keywords = keywords
    return item


@asynccontextmanager
async def opened(server: CosmosServer, **options: Any) -> AsyncIterator[CosmosStore]:
    store = server.store(**options)
    store.open()
    try:
        yield store
    finally:
        await store.aclose()


@pytest.fixture
def raw(cosmos_server: CosmosServer) -> Iterator[CosmosClient]:
    """A plain SDK client to look at what the store wrote."""
    client = CosmosClient(cosmos_server.endpoint, credential=cosmos_server.key)
    yield client
    client.close()


def container(
    raw: CosmosClient, server: CosmosServer, store: CosmosStore, base: str
) -> ContainerProxy:
    db = raw.get_database_client(server.database)
    return db.get_container_client(store.container_name(base))


class ScriptedTransport(RequestsTransport):  # type: ignore[misc]
    """The real transport, plus: fake 429s for item upserts, and a count of requests in flight."""

    def __init__(self, throttle: int = 0, retry_after_ms: int = 20, delay: float = 0.0) -> None:
        super().__init__()
        self.throttle = throttle  # how many item upserts answer 429 (-1: all of them)
        self.retry_after_ms = retry_after_ms
        self.delay = delay
        self.throttled = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    def send(self, request: Any, **kwargs: Any) -> Any:
        is_upsert = (
            request.method == "POST"
            and request.url.rstrip("/").endswith(f"{ITEMS}/docs")
            and str(request.headers.get("x-ms-documentdb-is-upsert", "")).lower() == "true"
        )
        with self._lock:
            if is_upsert and self.throttle != 0:
                self.throttle -= 1
                self.throttled += 1
                return self._too_many(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            return super().send(request, **kwargs)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _too_many(self, request: Any) -> RequestsTransportResponse:
        response = requests.Response()
        response.status_code = 429
        response.reason = "Too Many Requests"
        response.headers = CaseInsensitiveDict(
            {
                "content-type": "application/json",
                "x-ms-retry-after-ms": str(self.retry_after_ms),
                "x-ms-substatus": "3200",
            }
        )
        response._content = b'{"code":"TooManyRequests","message":"Request rate is large."}'
        return RequestsTransportResponse(request, response)


# -- containers ------------------------------------------------------------------------


async def test_containers_partition_keys_ttl_and_indexes(
    cosmos_server: CosmosServer, raw: CosmosClient
) -> None:
    async with opened(cosmos_server, retention_seconds=7 * DAY) as store:
        props = {
            b: container(raw, cosmos_server, store, b).read() for b in (ITEMS, HOURLY, DAILY, RUNS)
        }
    assert props[ITEMS]["partitionKey"]["paths"] == ["/subreddit"]
    assert props[HOURLY]["partitionKey"]["paths"] == ["/subreddit"]
    assert props[DAILY]["partitionKey"]["paths"] == ["/subreddit"]
    assert props[RUNS]["partitionKey"]["paths"] == ["/pk"]
    assert props[ITEMS]["defaultTtl"] == 7 * DAY
    assert props[HOURLY]["defaultTtl"] == props[DAILY]["defaultTtl"] == 7 * DAY
    assert {p["path"] for p in props[DAILY]["indexingPolicy"]["includedPaths"]} == {
        "/subreddit/?",
        "/day/?",
        "/keep/?",  # imported history's documents, which retention tells apart
    }
    assert props[RUNS].get("defaultTtl") is None  # runs are kept, as in SQLite

    policy = props[ITEMS]["indexingPolicy"]
    assert {"path": "/*"} in policy["excludedPaths"]  # bodies and titles are not indexed
    composites = {
        tuple((p["path"], p["order"]) for p in index) for index in policy["compositeIndexes"]
    }
    # One direction each: the service serves the reversed order from the same index.
    assert composites == {
        tuple((f"/{f}", "ascending") for f in (*fields, "id"))
        for fields in (
            ("kind", "created_utc"),
            ("kind", "score"),
            ("kind", "compound"),
            ("link_id", "created_utc"),
            ("created_utc",),  # iter_items without a kind
            ("reconcile_stage", "created_utc"),  # the reconcile pass's due items
        )
    }


async def test_keyword_and_trending_containers(
    cosmos_server: CosmosServer, raw: CosmosClient
) -> None:
    async with opened(cosmos_server, retention_seconds=7 * DAY) as store:
        keyword = container(raw, cosmos_server, store, KEYWORD_HOURLY).read()
        trending = container(raw, cosmos_server, store, TRENDING).read()
    # One keyword's time series is one logical partition.
    assert keyword["partitionKey"]["paths"] == ["/keyword"]
    assert keyword["defaultTtl"] == 7 * DAY  # expires with the items, like hourly
    policy = keyword["indexingPolicy"]
    assert {"path": "/*"} in policy["excludedPaths"]
    included = {p["path"] for p in policy["includedPaths"]}
    assert {"/keyword/?", "/subreddit/?", "/hour/?"} <= included
    assert trending["partitionKey"]["paths"] == ["/id"]
    assert trending.get("defaultTtl") is None  # replaced by the next run, never expired
    assert {"path": "/*"} in trending["indexingPolicy"]["excludedPaths"]


async def test_open_is_idempotent_and_updates_an_older_policy(
    cosmos_server: CosmosServer, raw: CosmosClient
) -> None:
    first = cosmos_server.store(retention_seconds=30 * DAY)
    first.open()
    first.upsert_items([make_item()])

    def reopen(retention_days: int) -> CosmosStore:
        store = cosmos_server.store(
            container_prefix=first.container_prefix, retention_seconds=retention_days * DAY
        )
        store.open()
        return store

    same, longer = reopen(30), None
    try:
        # Unchanged policy: the containers are left alone. (cosmosdb-server drops a container's
        # documents when it is replaced, so a needless replace would show here as lost data.)
        assert len(await same.aggregates()) == 1
        longer = reopen(60)  # a changed RETENTION_DAYS reaches the container's default TTL
        assert container(raw, cosmos_server, longer, ITEMS).read()["defaultTtl"] == 60 * DAY
        assert container(raw, cosmos_server, longer, HOURLY).read()["defaultTtl"] == 60 * DAY
    finally:
        for store in (first, same, longer):
            if store is not None:
                await store.aclose()


async def test_documents_expire_with_their_hour(
    cosmos_server: CosmosServer, raw: CosmosClient
) -> None:
    now = BASE_TIME + 2 * HOUR
    async with opened(cosmos_server, retention_seconds=3 * DAY, clock=lambda: now) as store:
        item = make_item(created_utc=BASE_TIME)
        store.upsert_items([item])
        expected = hour_of(BASE_TIME) + HOUR + 3 * DAY - now  # the retention job's cutoff
        doc = container(raw, cosmos_server, store, ITEMS).read_item(item.id, partition_key="python")
        hourly = container(raw, cosmos_server, store, HOURLY).read_item(
            str(hour_of(BASE_TIME)), partition_key="python"
        )
        assert doc["ttl"] == hourly["ttl"] == int(expected)


def everything(raw: CosmosClient, server: CosmosServer, store: CosmosStore, base: str) -> list[Any]:
    docs = container(raw, server, store, base).query_items(
        "SELECT * FROM c", enable_cross_partition_query=True
    )
    return [doc for doc in docs if doc.get("subreddit") != "~meta"]  # not the days marker


async def test_imported_history_never_expires_and_goes_by_its_own_retention(
    cosmos_server: CosmosServer, raw: CosmosClient
) -> None:
    """Imported items and the aggregate documents that count them carry no TTL; an hour that
    holds collected and imported items has a document per origin, so a collected item's TTL
    (or retention) takes off exactly what it added; IMPORT_RETENTION_DAYS deletes the rest."""
    now = BASE_TIME + 2 * HOUR
    aggregates = (HOURLY, DAILY, KEYWORD_HOURLY, AUTHOR_HOURLY, TERM_COUNTS)
    async with opened(cosmos_server, retention_seconds=3 * DAY, clock=lambda: now) as store:
        collected = tagged(["python"], created_utc=BASE_TIME, compound=0.5, body="great code")
        moved = make_item(created_utc=BASE_TIME + 120, body="fine")  # collected, then imported
        store.upsert_items([collected, moved])
        moved = replace(moved, imported=True)
        shared = tagged(["python"], kind=Kind.COMMENT, created_utc=BASE_TIME + 60,
                        link_id=collected.id, body="great answer")  # fmt: skip
        old = make_item(created_utc=BASE_TIME - 400 * DAY, body="history")
        for item in (shared, old):
            item.imported = True
        store.upsert_items([shared, old, moved])

        items = {d["id"]: d for d in everything(raw, cosmos_server, store, ITEMS)}
        assert items[collected.id]["ttl"] == int(hour_of(BASE_TIME) + HOUR + 3 * DAY - now)
        assert {items[i.id]["ttl"] for i in (shared, old, moved)} == {-1}
        assert items[shared.id]["imported"] and not items[collected.id]["imported"]
        for base in aggregates:
            docs = everything(raw, cosmos_server, store, base)
            assert {d.get("keep", False) for d in docs} == {True, False}, base
            for doc in docs:  # kept: no TTL; the others expire with their (last) hour
                assert (doc["ttl"] == -1) == bool(doc.get("keep")), (base, doc)
        hours = {d["id"]: d for d in everything(raw, cosmos_server, store, HOURLY)}
        hour = hour_of(BASE_TIME)
        assert (hours[str(hour)]["posts"], hours[str(hour)]["comments"]) == (1, 0)
        assert (hours[f"k{hour}"]["posts"], hours[f"k{hour}"]["comments"]) == (1, 1)
        links = {d["id"]: d for d in everything(raw, cosmos_server, store, LINKS)}
        link = links[collected.id]  # the collected post's, and its imported comment's
        assert (link["posts"], link["comments"], link["ttl"], link["keep"]) == (1, 1, -1, True)
        assert verify(store).ok

        # IMPORT_RETENTION_DAYS unset: retention takes the collected item only.
        assert store.delete_older_than(BASE_TIME + DAY) == 1
        left = {d["id"] for d in everything(raw, cosmos_server, store, ITEMS)}
        assert left == {shared.id, old.id, moved.id}
        for base in aggregates:
            assert all(d.get("keep") for d in everything(raw, cosmos_server, store, base)), base
        assert sum(a.count for a in await store.aggregates()) == 3
        report = verify(store)
        # hours: the shared one (both origins summed), and imported history's two alone
        assert report.ok and report.items == 3 and report.rows["hourly"] == 3

        # IMPORT_RETENTION_DAYS set: imported history goes too, with every document of it.
        assert store.delete_older_than(BASE_TIME + DAY, BASE_TIME + DAY) == 3
        for base in (ITEMS, *aggregates, LINKS):
            assert everything(raw, cosmos_server, store, base) == [], base
        assert await store.aggregates() == []
        assert verify(store).ok


async def test_verify_and_repair_cover_each_origins_term_documents_and_links(
    cosmos_server: CosmosServer, raw: CosmosClient
) -> None:
    """A collected and an imported item in one hour, sharing a term: verify compares the term
    documents of both origins summed ("h" + "kh", "b" + "kb", "d" + "kd") and imported
    history's alone,
    so a count planted in the imported document, or moved to the other origin's, is drift;
    `repair` writes each back into its own origin's document (kept, never expiring), and a
    link counting both origins back into its one document."""
    now = BASE_TIME + 2 * HOUR
    async with opened(cosmos_server, retention_seconds=3 * DAY, clock=lambda: now) as store:
        post = make_item(created_utc=BASE_TIME, body="rust compiler release")
        reply = make_item(kind=Kind.COMMENT, created_utc=BASE_TIME + 60, link_id=post.id,
                          body="rust compiler wins")  # fmt: skip
        reply.imported = True
        store.upsert_items([post, reply])
        hour, day = hour_of(BASE_TIME), int(BASE_TIME // DAY) * DAY
        block = int(BASE_TIME // BLOCK) * BLOCK
        terms = container(raw, cosmos_server, store, TERM_COUNTS)
        docs = {d["id"]: d for d in everything(raw, cosmos_server, store, TERM_COUNTS)}
        both = [f"h{hour}", f"kh{hour}", f"b{block}", f"kb{block}", f"d{day}", f"kd{day}"]
        assert set(both) <= docs.keys()
        shared = sorted(docs[f"h{hour}"]["terms"].keys() & docs[f"kh{hour}"]["terms"].keys())
        assert shared  # a term both origins count in the hour
        term = shared[0]
        report = verify(store)
        assert report.ok, report.drifts
        assert all(report.rows[k] for k in ("term_hourly", "term_block", "term_daily", "links"))
        summed = {row[2]: row[3] for row in store.aggregate_rows("term_hourly", hour)}
        assert summed[term] == 2  # "h" + "kh"
        own = {row[2]: row[3] for row in store.imported_rows("term_hourly") or ()}
        assert own == docs[f"kh{hour}"]["terms"] and own[term] == 1
        assert store.imported_rows("links") is None  # one document for both origins

        def planted(doc_id: str, change: dict[str, int]) -> None:
            doc = dict(docs[doc_id])
            doc["terms"] = {**doc["terms"], **change}
            terms.replace_item(doc_id, doc)

        # A count planted in imported history's hour document, an unknown term in its day and
        # a count taken off the collected block.
        planted(f"kh{hour}", {term: 5})
        planted(f"kd{day}", {"planted": 3})
        planted(f"b{block}", {term: 0})
        drifts = {(d.kind, d.key) for d in verify(store).drifts}
        assert drifts == {("term_hourly", ("python", hour, term)),
                          ("term_block", ("python", block, term)),
                          ("term_daily", ("python", day, "planted"))}  # fmt: skip
        assert store.rebuild_aggregates() >= 3
        after = {d["id"]: d for d in everything(raw, cosmos_server, store, TERM_COUNTS)}
        for doc_id in both:
            assert after[doc_id]["terms"] == docs[doc_id]["terms"], doc_id
            assert after[doc_id]["ttl"] == (-1 if doc_id.startswith("k") else docs[doc_id]["ttl"])
            assert after[doc_id].get("keep", False) == doc_id.startswith("k")
        assert verify(store).ok

        # A count moved to the collected document: the sum is right, imported history's is not.
        docs = after
        planted(f"kh{hour}", {term: 0})
        planted(f"h{hour}", {term: 2})
        drifts = {(d.kind, d.key) for d in verify(store).drifts}
        assert drifts == {("term_hourly", ("python", hour, term))}
        store.rebuild_aggregates()
        after = {d["id"]: d for d in everything(raw, cosmos_server, store, TERM_COUNTS)}
        assert after[f"h{hour}"]["terms"][term] == after[f"kh{hour}"]["terms"][term] == 1
        assert verify(store).ok

        # The link counting both: repaired into its one document, kept since a reply is imported.
        links = container(raw, cosmos_server, store, LINKS)
        link = links.read_item(post.id, partition_key="python")
        assert (link["posts"], link["comments"], link["keep"], link["ttl"]) == (1, 1, True, -1)
        links.replace_item(post.id, {**link, "comments": 4})
        assert {d.kind for d in verify(store).drifts} == {"links"}
        store.rebuild_aggregates()
        fixed = links.read_item(post.id, partition_key="python")
        assert (fixed["posts"], fixed["comments"], fixed["keep"], fixed["ttl"]) == (1, 1, True, -1)
        assert verify(store).ok


async def test_keyword_documents_expire_with_their_hour(
    cosmos_server: CosmosServer, raw: CosmosClient
) -> None:
    now = BASE_TIME + 2 * HOUR
    async with opened(cosmos_server, retention_seconds=3 * DAY, clock=lambda: now) as store:
        item = tagged(["c#", "ci/cd"], created_utc=BASE_TIME, compound=0.5)
        store.upsert_items([item])
        expected = int(hour_of(BASE_TIME) + HOUR + 3 * DAY - now)
        keyword_docs = container(raw, cosmos_server, store, KEYWORD_HOURLY)
        for keyword in item.keywords:  # characters an id could not hold are in the key only
            (doc,) = keyword_docs.query_items(
                "SELECT * FROM c WHERE c.keyword = @k",
                parameters=[{"name": "@k", "value": keyword}],
                partition_key=keyword,
            )
            assert doc["id"] == f"python:{hour_of(BASE_TIME)}"
            assert (doc["subreddit"], doc["hour"], doc["count"], doc["positive"]) == (
                "python",
                hour_of(BASE_TIME),
                1,
                1,
            )
            assert doc["ttl"] == expected
        stored = container(raw, cosmos_server, store, ITEMS).read_item(item.id, "python")
        assert stored["keywords"] == ["c#", "ci/cd"]


async def test_from_settings_maps_every_cosmos_setting() -> None:
    endpoint = "https://example.documents.azure.com:443/"
    settings = Settings(
        storage_backend=StorageBackend.COSMOS,
        cosmos_endpoint=endpoint,
        cosmos_key=SecretStr("a2V5"),
        cosmos_database="db",
        cosmos_container_prefix="p-",
        cosmos_max_concurrency=5,
        retention_days=9,
    )
    store = CosmosStore.from_settings(settings)  # no network until open()
    assert (store.endpoint, store.database_name, store.container_prefix) == (endpoint, "db", "p-")
    assert store.max_concurrency == 5 and store.retention_seconds == 9 * DAY
    assert "a2V5" not in repr(store)
    await store.aclose()


# -- 429s and concurrency -----------------------------------------------------------


async def test_retry_options_reach_both_clients(cosmos_server: CosmosServer) -> None:
    """The writers' budget on the sync client, the readers' short one on the async client."""
    async with opened(
        cosmos_server, retry_throttle_total=7, retry_throttle_backoff_max=12,
        read_retry_total=2, read_retry_backoff_max=3,
    ) as store:  # fmt: skip
        await store.ping()  # creates the async client
        for client, (total, wait) in ((store._client, (7, 12)), (store._aclient, (2, 3))):
            assert client is not None
            options = client.client_connection.connection_policy.RetryOptions
            assert options.MaxRetryAttemptCount == total
            assert options.MaxWaitTimeInSeconds == wait
            assert options.FixedRetryIntervalInMilliseconds is None  # honour x-ms-retry-after-ms


async def test_throttled_writes_are_retried_after_retry_after(cosmos_server: CosmosServer) -> None:
    transport = ScriptedTransport(throttle=2, retry_after_ms=60)
    async with opened(cosmos_server, transport=transport) as store:
        started = time.monotonic()
        result = store.upsert_items([make_item(compound=0.5)])
        elapsed = time.monotonic() - started
        assert (result.new, transport.throttled) == (1, 2)
        assert elapsed >= 0.12  # waited what the server asked, twice
        (agg,) = await store.aggregates()
        assert agg.posts == 1


async def test_exhausted_retries_raise_store_unavailable_and_roll_back(
    cosmos_server: CosmosServer,
) -> None:
    transport = ScriptedTransport(throttle=-1, retry_after_ms=5)
    async with opened(cosmos_server, transport=transport, retry_throttle_total=2) as store:
        item = tagged(["python"], compound=0.5)
        with pytest.raises(StoreUnavailable) as raised:
            store.upsert_items([item])
        assert "429" in str(raised.value) and cosmos_server.key not in str(raised.value)
        assert transport.throttled == 3  # the first try and two retries
        assert await store.get_item(item.id) is None
        assert await store.aggregates() == []  # its aggregate delta was taken back
        assert await store.keyword_aggregates() == []  # and its keyword delta

        transport.throttle = 0  # the service recovers: the retried batch counts once
        assert store.upsert_items([item]).new == 1
        (agg,) = await store.aggregates()
        assert (agg.posts, agg.positive) == (1, 1)
        (mentions,) = await store.keyword_aggregates()
        assert (mentions.keyword, mentions.count, mentions.positive) == ("python", 1, 1)


async def test_writes_run_in_parallel_within_the_bound(cosmos_server: CosmosServer) -> None:
    transport = ScriptedTransport(delay=0.005)
    async with opened(cosmos_server, transport=transport, max_concurrency=3) as store:
        items = [make_item(created_utc=BASE_TIME + i * HOUR, kind=Kind.POST) for i in range(30)]
        assert store.upsert_items(items).new == 30
    assert 2 <= transport.max_in_flight <= 3


# -- failures --------------------------------------------------------------------------


async def test_unreachable_store_raises_store_unavailable_without_the_key(
    tmp_path: Path, cosmos_server: CosmosServer
) -> None:
    server = start_server(tmp_path / "server.log")  # its own, stopped under the store
    store = server.store()
    store.open()
    store.upsert_items([make_item()])
    server.stop()
    try:
        # (The SDK retries a refused connection for ~2 s per call before giving up.)
        with pytest.raises(StoreUnavailable) as write_error:
            store.upsert_items([make_item()])
        with pytest.raises(StoreUnavailable) as read_error:
            await store.ping()
        for error in (write_error.value, read_error.value):
            assert str(error).startswith("Cosmos DB ") and server.endpoint in str(error)
            assert server.key not in str(error)
    finally:
        await store.aclose()


async def test_an_item_asked_with_its_subreddit_is_a_point_read(
    cosmos_server: CosmosServer,
) -> None:
    from tests.store.test_cosmos_indexes import AsyncCapturing, Capturing

    queries: set[tuple[str, str]] = set()
    async with opened(
        cosmos_server, transport=Capturing(set()), async_transport=AsyncCapturing(queries)
    ) as store:
        item = make_item(subreddit="python", compound=0.5)
        store.upsert_items([item])
        found = await store.get_item(item.id, "python")
        assert found is not None and found.id == item.id
        assert await store.get_item(item.id, "rust") is None  # not in that partition
        assert queries == set()  # read by id and partition key: no query sent
        assert (await store.get_item(item.id)) == found  # by id alone: a query
        assert [sql for _, sql in queries] == ["SELECT * FROM c WHERE c.id = @id"]


async def test_dashboard_reads_never_touch_items(
    cosmos_server: CosmosServer, raw: CosmosClient
) -> None:
    async with opened(cosmos_server) as store:
        store.upsert_items([make_item(compound=0.5), make_item(kind=Kind.COMMENT)])
        db = raw.get_database_client(cosmos_server.database)
        db.delete_container(store.container_name(ITEMS))  # gone: only the hourly docs remain
        (agg,) = await store.aggregates()
        assert (agg.posts, agg.comments, agg.positive) == (1, 1, 1)


async def test_keyword_reads_never_touch_items(
    cosmos_server: CosmosServer, raw: CosmosClient
) -> None:
    async with opened(cosmos_server) as store:
        store.upsert_items([tagged(["$TSLA"], compound=0.5), tagged(["$TSLA"], subreddit="rust")])
        db = raw.get_database_client(cosmos_server.database)
        db.delete_container(store.container_name(ITEMS))
        (agg,) = await store.keyword_aggregates(keyword="$TSLA")
        assert (agg.count, agg.positive, agg.neutral) == (2, 1, 1)


async def test_items_from_before_keywords_read_and_retag(
    cosmos_server: CosmosServer, raw: CosmosClient
) -> None:
    async with opened(cosmos_server) as store:
        item = make_item(compound=0.5)
        store.upsert_items([item])
        items = container(raw, cosmos_server, store, ITEMS)
        old = {k: v for k, v in items.read_item(item.id, "python").items() if k != "keywords"}
        items.replace_item(item.id, old)  # as an older version wrote it
        stored = await store.get_item(item.id)
        assert stored is not None and stored.keywords == []
        assert store.upsert_items([item]).updated == 1  # unchanged: no keyword write
        assert await store.keyword_aggregates() == []
        item.keywords = ["python"]
        store.upsert_items([item])
        assert [(a.keyword, a.count) for a in await store.keyword_aggregates()] == [("python", 1)]


# -- iter_items and trending -----------------------------------------------------------


@pytest.mark.parametrize("subreddit", [None, "python"])
async def test_iter_items_pages_by_keyset_through_ties(
    cosmos_server: CosmosServer, monkeypatch: pytest.MonkeyPatch, subreddit: str | None
) -> None:
    monkeypatch.setattr(cosmos, "_ITER_PAGE", 3)  # many pages, ties across page boundaries
    async with opened(cosmos_server) as store:
        items = [
            make_item(
                created_utc=BASE_TIME + i // 4,
                subreddit=("python", "rust")[i % 2],
                kind=(Kind.POST, Kind.COMMENT)[i % 3 == 0],
            )
            for i in range(20)
        ]
        store.upsert_items(items)
        ordered = sorted(items, key=lambda i: (i.created_utc, i.id))
        expected = [i.id for i in ordered if subreddit in (None, i.subreddit)]
        assert [i.id for i in store.iter_items(subreddit=subreddit)] == expected
        posts = [i.id for i in ordered if subreddit in (None, i.subreddit) and i.kind is Kind.POST]
        assert [i.id for i in store.iter_items(subreddit=subreddit, kind=Kind.POST)] == posts


async def test_trending_keys_any_characters(cosmos_server: CosmosServer, raw: CosmosClient) -> None:
    keys = ["24h|*", "24h|python", "7d|$TSLA", "a/b\\c?d#e", "x" * 300, "x" * 301]
    async with opened(cosmos_server) as store:
        for n, key in enumerate(keys):
            store.save_trending(key, {"n": n, "key": key})
        for n, key in enumerate(keys):
            assert await store.get_trending(key) == {"n": n, "key": key}
        assert await store.get_trending("24h|rust") is None
        docs = list(container(raw, cosmos_server, store, TRENDING).read_all_items())
    assert sorted(d["key"] for d in docs) == sorted(keys)  # readable, one document per key
    assert all(len(d["id"]) <= 255 and not set(d["id"]) & set("/\\?#") for d in docs)


# -- leases ----------------------------------------------------------------------------


async def test_lease_between_two_processes_with_a_clock(cosmos_server: CosmosServer) -> None:
    now = [BASE_TIME]
    async with opened(cosmos_server, clock=lambda: now[0]) as a:
        b = cosmos_server.store(container_prefix=a.container_prefix, clock=lambda: now[0])
        b.open()
        try:
            assert await a.lease_holder("collector") is None
            assert a.acquire_lease("collector", "a", 30)
            assert not b.acquire_lease("collector", "b", 30)  # held by a
            now[0] += 20
            assert a.acquire_lease("collector", "a", 30)  # renewed until +50
            now[0] += 25
            assert not b.acquire_lease("collector", "b", 30)
            holder = await b.lease_holder("collector")
            assert holder is not None and holder.owner == "a"
            assert holder.expires_at == BASE_TIME + 50

            now[0] += 10  # a stopped renewing: expired
            assert await b.lease_holder("collector") is None
            assert b.acquire_lease("collector", "b", 30)
            assert not a.acquire_lease("collector", "a", 30)

            a.release_lease("collector", "a")  # not a's any more: no effect
            assert (await a.lease_holder("collector")) is not None
            b.release_lease("collector", "b")
            assert await a.lease_holder("collector") is None
            assert a.acquire_lease("collector", "a", 30)  # free again at once
        finally:
            await b.aclose()


# -- day documents ---------------------------------------------------------------------

DAY0 = (BASE_TIME // DAY) * DAY


async def _days(store: CosmosStore) -> list[tuple[float | None, int]]:
    return [(a.bucket_start, a.count) for a in await store.aggregates(bucket=Bucket.DAY)]


def _add_posts(daily: ContainerProxy, day: float, posts: int) -> None:
    """Change a day document behind the store's back, to see whether a read used it."""
    daily.patch_item(
        str(int(day)),
        partition_key="python",
        patch_operations=[{"op": "incr", "path": "/posts", "value": posts}],
    )


def _marker(daily: ContainerProxy) -> dict[str, Any]:
    (doc,) = daily.query_items(
        "SELECT * FROM c WHERE c.subreddit = '~meta' AND c.id = @id",
        parameters=[{"name": "@id", "value": cosmos.DAYS_COMPLETE_FROM}],
        partition_key="~meta",
    )
    return dict(doc)


async def test_day_documents_expire_with_their_last_hour(
    cosmos_server: CosmosServer, raw: CosmosClient
) -> None:
    now = BASE_TIME + 2 * HOUR
    async with opened(cosmos_server, retention_seconds=3 * DAY, clock=lambda: now) as store:
        store.upsert_items([make_item(created_utc=BASE_TIME, compound=0.5)])
        doc = container(raw, cosmos_server, store, DAILY).read_item(str(int(DAY0)), "python")
        assert (doc["day"], doc["posts"], doc["positive"], doc["sum_compound"]) == (
            DAY0,
            1,
            1,
            0.5,
        )
        assert doc["ttl"] == int(DAY0 + DAY + 3 * DAY - now)


async def test_days_come_from_day_documents_only_where_they_hold_the_whole_day(
    cosmos_server: CosmosServer, raw: CosmosClient
) -> None:
    now = DAY0 + 3 * DAY + 5 * HOUR  # 3 days' retention may have expired day 0's first hours
    async with opened(cosmos_server, retention_seconds=3 * DAY, clock=lambda: now) as store:
        store.upsert_items([make_item(created_utc=DAY0 + d * DAY + 7 * HOUR) for d in range(4)])
        assert await _days(store) == [(DAY0 + d * DAY, 1) for d in range(4)]
        daily = container(raw, cosmos_server, store, DAILY)
        for d in range(4):
            _add_posts(daily, DAY0 + d * DAY, 10)
        # Day 0 is summed from its hours; days 1-3 are read from their documents.
        assert await _days(store) == [(DAY0, 1)] + [(DAY0 + d * DAY, 11) for d in (1, 2, 3)]
        # The days a window cuts at either end are summed from their hours too.
        window = await store.aggregates(
            bucket=Bucket.DAY, since=DAY0 + DAY + 6 * HOUR, until=DAY0 + 3 * DAY + 8 * HOUR
        )
        assert [(a.bucket_start, a.count) for a in window] == [
            (DAY0 + DAY, 1),
            (DAY0 + 2 * DAY, 11),
            (DAY0 + 3 * DAY, 1),
        ]
        assert _marker(daily)["day_from"] == 0  # a new deployment: day documents from the start


async def test_a_deployment_from_before_day_documents_reads_its_earlier_days_from_hours(
    cosmos_server: CosmosServer, raw: CosmosClient
) -> None:
    now = [DAY0 + 2 * DAY + 12 * HOUR]
    first = cosmos_server.store(clock=lambda: now[0])
    first.open()
    try:
        first.upsert_items([make_item(created_utc=DAY0 + d * DAY + HOUR) for d in range(3)])
        db = raw.get_database_client(cosmos_server.database)
        db.delete_container(first.container_name(DAILY))  # as written before day documents
    finally:
        await first.aclose()
    again = cosmos_server.store(container_prefix=first.container_prefix, clock=lambda: now[0])
    again.open()
    try:
        daily = container(raw, cosmos_server, again, DAILY)
        marker = _marker(daily)
        assert (marker["day_from"], marker["ttl"]) == (DAY0 + 3 * DAY, -1)  # never expires
        assert await _days(again) == [(DAY0 + d * DAY, 1) for d in range(3)]  # from hours
        now[0] = DAY0 + 3 * DAY + 2 * HOUR
        again.upsert_items([make_item(created_utc=DAY0 + 3 * DAY + 30)])
        _add_posts(daily, DAY0 + 3 * DAY, 10)
        # The first day written whole since is read from its document.
        assert await _days(again) == [(DAY0 + d * DAY, 1) for d in range(3)] + [
            (DAY0 + 3 * DAY, 11)
        ]
    finally:
        await again.aclose()


async def test_a_deployment_from_before_term_blocks_reads_its_earlier_blocks_as_hours(
    cosmos_server: CosmosServer, raw: CosmosClient
) -> None:
    """Term documents written before blocks (hours and days only): the store records the
    first block after it came into use (`BLOCKS_COMPLETE_FROM`, never expiring) and reads the
    hours of earlier blocks, so trending equals the recomputation and verify finds no drift
    at once; blocks written whole since are kept and verified (one changed behind the
    store's back is drift)."""
    now = [DAY0 + 2 * DAY + 13 * HOUR + 1800]
    words = ["rocket", "launch", "python", "crash"]
    items = [
        make_item(created_utc=DAY0 + n * 3001.0, body=f"{words[n % 4]} {words[(n + 1) % 4]}")
        for n in range(int((now[0] - DAY0) // 3001))
    ]
    first = cosmos_server.store(clock=lambda: now[0])
    first.open()
    try:
        first.upsert_items(items)
        terms = container(raw, cosmos_server, first, TERM_COUNTS)
        for doc in terms.query_items("SELECT * FROM c", enable_cross_partition_query=True):
            if doc["id"][0] == "b" or doc["id"] == cosmos.BLOCKS_COMPLETE_FROM:
                terms.delete_item(doc["id"], partition_key=doc["subreddit"])  # as written before
    finally:
        await first.aclose()
    again = cosmos_server.store(container_prefix=first.container_prefix, clock=lambda: now[0])
    again.open()
    try:
        (marker,) = terms.query_items(
            "SELECT * FROM c WHERE c.subreddit = '~meta' AND c.id = @id",
            parameters=[{"name": "@id", "value": cosmos.BLOCKS_COMPLETE_FROM}],
            partition_key="~meta",
        )
        assert (marker["block_from"], marker["ttl"]) == (DAY0 + 2 * DAY + 18 * HOUR, -1)
        assert verify(again).ok
        expected = trending.compute(again.iter_items(), now[0])
        assert trending.from_aggregates(again, now[0]) == expected
        assert expected["6h|*"]["terms"]  # the 6h window's previous span holds earlier blocks
        # A day on, the blocks written since are whole and read: one changed shows.
        now[0] += DAY
        again.upsert_items([make_item(created_utc=now[0] - 7 * HOUR, body="rocket launch")])
        block = int((now[0] - 7 * HOUR) // BLOCK) * BLOCK
        doc = terms.read_item(f"b{block}", partition_key="python")
        assert doc["terms"]["rocket"] == doc["terms"]["launch"] == 1
        assert verify(again).ok
        assert trending.from_aggregates(again, now[0]) == trending.compute(
            again.iter_items(), now[0]
        )
        terms.replace_item(doc["id"], {**doc, "terms": {**doc["terms"], "rocket": 5}})
        drifts = {(d.kind, d.key) for d in verify(again).drifts}
        assert drifts == {("term_block", ("python", block, "rocket"))}
    finally:
        await again.aclose()
