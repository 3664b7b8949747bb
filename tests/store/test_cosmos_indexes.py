"""A guard for the real service's index rules, which the local test server does not enforce.

Every SQL string the Cosmos DB store can send is captured on the wire (both clients, every
read and write method, every filter and sort combination) and checked against the indexing
policy the store declares for that container, by Azure Cosmos DB's documented rules:

* a filter on a path excluded from indexing is refused (unless the query opts into a scan,
  which this store never does); ``id`` is always indexed;
* an ORDER BY on one property needs a range index on it;
* an ORDER BY on several properties needs a composite index with the same paths in the same
  order, its directions either exactly those of the ORDER BY or all of them reversed.

The checker is written here from those rules, not taken from the store's code, so a mistake
in one is not repeated in the other.
"""

from __future__ import annotations

import inspect
import itertools
import json
import re
from typing import Any

import pytest
from azure.core.pipeline.transport import AioHttpTransport, RequestsTransport

from reddit_sentiment.models import Kind, Label
from reddit_sentiment.store.base import (
    DAY,
    HOUR,
    Bucket,
    ItemQuery,
    Sort,
    Store,
    encode_cursor,
)
from reddit_sentiment.store.cosmos import SCHEMA, CosmosStore
from tests.cosmos.fixture import CosmosServer
from tests.factories import BASE_TIME, make_alert, make_item

_POLICIES = {spec.base: spec.policy for spec in SCHEMA}


def _query_of(request: Any) -> str | None:
    body = getattr(request, "data", None) or getattr(request, "body", None)
    if isinstance(body, bytes):
        body = body.decode()
    if not isinstance(body, str) or '"query"' not in body:
        return None
    try:
        return str(json.loads(body)["query"])
    except (ValueError, KeyError, TypeError):
        return None


def _container(url: str) -> str:
    match = re.search(r"/colls/([^/]+)/", url)
    return match.group(1) if match else ""


class Capturing(RequestsTransport):  # type: ignore[misc]
    def __init__(self, seen: set[tuple[str, str]]) -> None:
        super().__init__()
        self.seen = seen

    def send(self, request: Any, **kwargs: Any) -> Any:
        query = _query_of(request)
        if query is not None:
            self.seen.add((_container(request.url), query))
        return super().send(request, **kwargs)


class AsyncCapturing(AioHttpTransport):  # type: ignore[misc]
    def __init__(self, seen: set[tuple[str, str]]) -> None:
        super().__init__()
        self.seen = seen

    async def send(self, request: Any, **kwargs: Any) -> Any:
        query = _query_of(request)
        if query is not None:
            self.seen.add((_container(request.url), query))
        return await super().send(request, **kwargs)


# -- the rules ---------------------------------------------------------------------------

_FIELD = r'c(?:\.(\w+)|\["(\w+)"\])'
_ORDER = re.compile(rf"{_FIELD}(?:\s+(ASC|DESC))?", re.IGNORECASE)


def _indexed(policy: dict[str, Any], field: str) -> bool:
    if field == "id":  # always indexed in consistent mode
        return True
    included = {p["path"] for p in policy["includedPaths"]}
    excluded = {p["path"] for p in policy["excludedPaths"]}
    own = {f"/{field}/?", f"/{field}/*"}
    if own & included:
        return True
    return "/*" in included and not own & excluded


def violations(sql: str, policy: dict[str, Any]) -> list[str]:
    """What Azure Cosmos DB would refuse in `sql` under `policy` (empty: nothing)."""
    problems: list[str] = []
    head, order_by = _split_order(sql)
    where = re.split(r"\s+WHERE\s+", head, maxsplit=1, flags=re.I)
    if len(where) == 2:
        for a, b in re.findall(_FIELD, where[1]):
            field = a or b
            if not _indexed(policy, field):
                problems.append(f"filter on /{field}, which is not indexed")
    if order_by:
        terms = [
            (f"/{a or b}", "descending" if (d or "ASC").upper() == "DESC" else "ascending")
            for a, b, d in _ORDER.findall(order_by)
        ]
        if len(terms) == 1:
            if not _indexed(policy, terms[0][0][1:]):
                problems.append(f"ORDER BY {terms[0][0]}, which has no range index")
        else:
            flip = {"ascending": "descending", "descending": "ascending"}
            reverse = [(path, flip[order]) for path, order in terms]
            composites = [
                [(p["path"], p.get("order", "ascending")) for p in index]
                for index in policy["compositeIndexes"]
            ]
            if terms not in composites and reverse not in composites:
                problems.append(f"ORDER BY {terms} has no composite index (exact or reversed)")
    return problems


def _split_order(sql: str) -> tuple[str, str]:
    """The query before its ORDER BY, and the ORDER BY's terms ("" without one)."""
    parts = re.split(r"\s+ORDER\s+BY\s+", sql, maxsplit=1, flags=re.IGNORECASE)
    return (parts[0], parts[1]) if len(parts) == 2 else (parts[0], "")


# -- every query the store sends ------------------------------------------------------

# Store methods that send no query (point operations, writes by id) or are exercised below.
_EXERCISED = {
    "open", "aclose", "close", "upsert_items", "known_scores", "save_run",
    "interrupt_running_runs", "delete_older_than", "acquire_lease", "release_lease", "ping",
    "aggregates", "sentiment_series", "list_items", "get_item", "list_runs", "get_run",
    "lease_holder", "keyword_aggregates", "iter_items", "save_trending", "get_trending",
    "snapshot", "kept_aggregates", "aggregate_rows", "imported_rows", "rebuild_aggregates",
    "distinct_authors", "save_alert_rule", "delete_alert_rule", "list_alert_rules",
    "get_alert_rule", "save_alert", "list_alerts", "due_items", "checkpoint", "state_counts",
    "hour_extent", "trending_terms", "trending_subreddits", "trending_links", "posts_by_id",
    "terms_from",
}  # fmt: skip


def test_every_store_method_is_exercised() -> None:
    """A method added to the Store protocol must be added to the capture below."""
    protocol = {
        name for name, member in inspect.getmembers(Store)
        if not name.startswith("_") and callable(member)
    }  # fmt: skip
    assert protocol - _EXERCISED == set()


async def _send_everything(store: CosmosStore) -> None:
    from reddit_sentiment.models import AlertRule, CollectionRun, ItemState, RunKind, RunStatus

    items = [make_item(subreddit="python", compound=0.5), make_item(subreddit="rust")]
    imported = make_item(subreddit="python", created_utc=BASE_TIME - 500 * DAY)
    imported.imported = True  # imported history's own documents
    store.upsert_items([*items, imported])
    store.upsert_items(items)  # the read-before-upsert of known items
    store.known_scores(items)
    run = CollectionRun(id="r1", started_at=BASE_TIME, finished_at=None,
                        status=RunStatus.RUNNING, trigger="test")  # fmt: skip
    store.save_run(run)
    store.interrupt_running_runs()
    store.interrupt_running_runs(started_before=BASE_TIME + 1)
    store.acquire_lease("collector", "me", 60)
    store.release_lease("collector", "me")
    store.save_trending("24h|*", {"terms": []})
    await store.ping()
    await store.get_item(items[0].id)
    await store.get_run("r1")
    await store.lease_holder("collector")
    await store.get_trending("24h|*")
    for cursor, run_kind in itertools.product(
        (None, encode_cursor(BASE_TIME, "r1")), (None, *RunKind)
    ):
        await store.list_runs(10, cursor, run_kind)
    windows = [(None, None), (BASE_TIME - 3 * DAY + HOUR, None), (None, BASE_TIME + DAY),
               (BASE_TIME - 3 * DAY - 5 * HOUR, BASE_TIME + 2 * DAY + 3 * HOUR)]  # fmt: skip
    for subreddit, (since, until), bucket in itertools.product(
        (None, "python"), windows, (None, Bucket.HOUR, Bucket.DAY)
    ):
        await store.aggregates(subreddit=subreddit, since=since, until=until, bucket=bucket)
        if bucket is not None:
            await store.sentiment_series(subreddit=subreddit, since=since, until=until,
                                         bucket=bucket)  # fmt: skip
    for keyword, subreddit, (since, until), bucket in itertools.product(
        (None, "python"), (None, "python"), windows[:2], (None, Bucket.HOUR, Bucket.DAY)
    ):
        await store.keyword_aggregates(keyword=keyword, subreddit=subreddit, since=since,
                                       until=until, bucket=bucket)  # fmt: skip
    for kind, sort, descending, subreddit, label, link_id, cursor, window in itertools.product(
        Kind, Sort, (True, False), (None, "python"), (None, Label.POSITIVE),
        (None, "t3_x"), (None, encode_cursor(1.0, "t3_a")), windows[::3],
    ):  # fmt: skip
        await store.list_items(ItemQuery(kind=kind, sort=sort, descending=descending,
                                         subreddit=subreddit, label=label, link_id=link_id,
                                         cursor=cursor, since=window[0],
                                         until=window[1]))  # fmt: skip
    for state, subreddit in itertools.product(ItemState, (None, "python")):
        await store.list_items(ItemQuery(state=state, subreddit=subreddit))
    for since, until, subreddit, kind in itertools.product(
        (None, BASE_TIME - DAY), (None, BASE_TIME + DAY), (None, "python"), (None, *Kind)
    ):
        list(store.iter_items(since=since, until=until, subreddit=subreddit, kind=kind))
    rule = AlertRule(id="r1", name="r", metric="mentions", window="1h",
                     condition={"above": 1.0}, notify=["json://localhost"])  # fmt: skip
    store.save_alert_rule(rule)
    await store.list_alert_rules()
    await store.get_alert_rule("r1")
    store.save_alert(make_alert("a1", BASE_TIME))
    for cursor, rule_id in itertools.product((None, encode_cursor(BASE_TIME, "a1")), (None, "r1")):
        await store.list_alerts(10, cursor, rule_id)
    store.delete_alert_rule("r1")
    for subreddit, keyword, (since, until) in itertools.product(
        (None, "python"), (None, "python"), windows
    ):
        await store.distinct_authors(subreddit=subreddit, keyword=keyword, since=since,
                                     until=until)  # fmt: skip
    for stage, after, subreddit in itertools.product(
        (0, 1), (None, BASE_TIME - DAY), (None, "python")
    ):
        store.due_items(stage=stage, created_after=after, created_until=BASE_TIME,
                        subreddit=subreddit)  # fmt: skip
    store.checkpoint()
    hour = int(BASE_TIME // HOUR) * HOUR
    spans = [(hour - 7 * DAY, None), (hour - 14 * DAY, hour - 7 * DAY), (hour - HOUR, hour + HOUR)]
    store.trending_terms(spans)
    store.trending_subreddits(spans)
    store.trending_links(hour - 7 * DAY, 10, 2)
    store.trending_links(hour - HOUR, 10, 2)
    store.trending_links(hour - HOUR, 20, 2, ["python", "rust"])
    store.posts_by_id([items[0].id, "t3_missing"])
    for subreddit in (None, "python"):
        await store.state_counts(subreddit)
        await store.hour_extent(subreddit=subreddit)
    with store.snapshot():
        for aggregate_kind, since in store.kept_aggregates().items():
            list(store.aggregate_rows(aggregate_kind, since))
            list(store.imported_rows(aggregate_kind) or ())
    store.rebuild_aggregates()
    store.delete_older_than(BASE_TIME - 400 * DAY)
    store.delete_older_than(BASE_TIME - 400 * DAY, BASE_TIME - 800 * DAY)  # and imported ones


async def test_every_query_the_store_sends_is_served_by_its_indexes(
    cosmos_server: CosmosServer,
) -> None:
    seen: set[tuple[str, str]] = set()
    store = cosmos_server.store(transport=Capturing(seen), async_transport=AsyncCapturing(seen))
    store.open()
    try:
        await _send_everything(store)
    finally:
        await store.aclose()
    by_base = {store.container_name(base): base for base in _POLICIES}
    problems = []
    for container, sql in sorted(seen):
        base = by_base[container]
        problems += [f"{base}: {sql}: {p}" for p in violations(sql, _POLICIES[base])]
    assert problems == []
    # The capture saw what it should: every container with a query, the sorted reads.
    assert {by_base[c] for c, _ in seen} >= {"items", "hourly", "daily", "keyword_hourly",
                                              "runs"}  # fmt: skip
    order_bys = {sql.split("ORDER BY", 1)[1].strip() for _, sql in seen if "ORDER BY" in sql}
    # (kind, sort, id) x 3 sorts x 2 directions, (link_id, created_utc, id) x 2, runs, iter_items
    assert len(order_bys) >= 10


# -- the guard catches what the local server lets through -------------------------------

ITEMS_POLICY = _POLICIES["items"]


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        # Mixed directions: neither the exact nor the reversed order of any composite index.
        ("SELECT * FROM c WHERE c.kind = @k ORDER BY c.kind ASC, c.score DESC, c.id ASC",
         "no composite index"),
        # The right fields in another order.
        ("SELECT * FROM c ORDER BY c.score DESC, c.kind DESC, c.id DESC", "no composite index"),
        # A filter and a sort on bodies and titles, which are not indexed.
        ("SELECT * FROM c WHERE c.body = @b", "filter on /body"),
        ("SELECT * FROM c WHERE c.kind = @k ORDER BY c.title", "ORDER BY /title"),
    ],
)  # fmt: skip
def test_the_guard_refuses_what_azure_would(sql: str, problem: str) -> None:
    found = violations(sql, ITEMS_POLICY)
    assert found and problem in found[0]


def test_the_guard_accepts_the_reversed_order_of_an_index() -> None:
    for sql in (
        "SELECT * FROM c WHERE c.kind = @k ORDER BY c.kind ASC, c.score ASC, c.id ASC",
        "SELECT * FROM c WHERE c.kind = @k ORDER BY c.kind DESC, c.score DESC, c.id DESC",
        "SELECT * FROM c WHERE c.id IN (@id0, @id1) AND c.subreddit = @s",
    ):
        assert violations(sql, ITEMS_POLICY) == []


async def test_the_local_server_accepts_queries_the_guard_refuses(
    cosmos_server: CosmosServer,
) -> None:
    """Why the guard exists: these run on the test server, and Azure would refuse them."""
    store = cosmos_server.store()
    store.open()
    try:
        store.upsert_items([make_item(body="b")])
        container = store._sync("items")
        for sql in ("SELECT * FROM c WHERE c.kind = 'post' ORDER BY c.title",
                    "SELECT * FROM c WHERE c.body = 'b'"):  # fmt: skip
            docs = list(container.query_items(sql, enable_cross_partition_query=True))
            assert len(docs) == 1  # served locally ...
            assert violations(sql, ITEMS_POLICY)  # ... refused by the guard
    finally:
        await store.aclose()
