"""Azure Cosmos DB store (NoSQL API): the same protocol as SQLite, for hosted deployments.

Layout: one database and ten containers (names prefixed by COSMOS_CONTAINER_PREFIX):

* ``items``  - one document per submission/comment, ``id`` = Reddit fullname, partition key
  ``/subreddit``. Every dashboard filter names at most one subreddit, so a filtered list is a
  single-partition query; the collector writes a subreddit's batch into one partition. The
  item's tracked ``keywords`` are stored on it (not indexed: nothing filters items by them).
* ``hourly`` - one document per subreddit x hour (``id`` = the hour as a string), partition key
  ``/subreddit``: the pre-aggregates the dashboard reads, kept in step on every write exactly
  like SQLite's ``hourly`` table. A dashboard read costs one small document per subreddit-hour
  and never touches ``items``.
* ``daily`` - the hourly documents summed per subreddit x UTC day (``id`` = the day as a
  string), partition key ``/subreddit``, kept in step by the same writes: a month of day
  buckets reads 30 documents per subreddit instead of 720 hourly ones. A day is read from
  them only when they hold all of it: from the day the container was first used by a
  deployment that already had hourly documents (``DAYS_COMPLETE_FROM``, a marker document
  that never expires), and not for the days that retention may have started to expire
  (their hourly documents go one by one; a day document only with its last hour). Any other
  day, and the days a window cuts at either end, are summed from hourly documents.
* ``keyword_hourly`` - one document per keyword x subreddit x hour (``id`` =
  ``"<subreddit>:<hour>"``, safe because subreddit names are ``[A-Za-z0-9_]``), partition key
  ``/keyword``: the keyword pre-aggregates, kept in step on write like ``hourly``. The keyword
  page reads one keyword's time series (optionally narrowed to a subreddit), which is then a
  single-partition query; only the "all keywords" overview fans out, over a few tracked
  keywords. A keyword's partition stays small (subreddits x retention hours, ~300 B each:
  50 subreddits x 30 days is ~36k documents, ~11 MB, far below 20 GB). ``/subreddit`` would
  make the per-keyword series cross-partition instead, and the keyword is in the key rather
  than in ``id`` because keywords may contain characters ids cannot (``c#``, ``ci/cd``).
* ``author_hourly`` - one document per (keyword or "" for all items) x subreddit x hour x
  author with that author's item count (``id`` = a hash of keyword, hour and author, which may
  hold characters ids cannot), partition key ``/subreddit``: distinct authors in a window,
  which alert rules ask for. Kept on write and expired like ``hourly``.
* ``alert_rules`` / ``alerts`` - alert rules and fired alerts, partition key ``/pk`` with a
  constant value each (``"rule"``, ``"alert"``): a handful of rules and a few alerts a day,
  read whole or newest first, like ``runs``.
* ``term_counts`` - trending's term aggregates (store/deltas.py), partition key
  ``/subreddit``: per subreddit x hour (``id`` ``h<hour>``), x 6-hour block (``b<block>``)
  and x UTC day (``d<day>``) one document whose ``terms`` map counts the items mentioning
  each term. A delta changes many terms at once and a patch takes at most 10 operations, so
  these documents are read, added to and replaced conditionally on their etag. A refresh
  reads the days, edge blocks and a few edge hours of two 7-day windows: subreddits x ~20
  documents, whatever the item count. Blocks came after hours and days: a deployment that
  had term documents before reads blocks from the first one after that
  (``BLOCKS_COMPLETE_FROM``, a marker document like ``DAYS_COMPLETE_FROM``), hours before.
* ``links`` - trending's per post figures (``id`` = the post's fullname, ``[a-z0-9_]``),
  partition key ``/subreddit``, patched like ``hourly``: the post's own (posts, its hour,
  compound, engagement) and its comments' (count, summed compound). They expire by the
  container's ttl from their last write; retention takes deleted items off them.
* ``runs``   - collection runs, partition key ``/pk`` with the constant value ``"run"``. There
  are only a few runs an hour (a year is ~35k documents of ~1 KB, far below the 20 GB
  logical-partition limit) and they are written by one collector, so one logical partition
  costs nothing in throughput while making "newest first" paging and the "still running"
  lookup single-partition queries served by one composite index (``/id`` as the key would
  make both fan out to every physical partition).
* ``leases`` - named leases (the collector's leader lease), partition key ``/id``: each lease
  is one small document read and written on its own, conditionally on its etag.
* ``trending`` - the trending job's result per key (window and subreddit, e.g. ``24h|*``),
  partition key ``/id``: each result is written and read whole, on its own. Keys may contain
  characters a Cosmos ``id`` cannot (``/ \\ ? #``), so ``id`` is the key in URL-safe base64
  and the readable key is kept in a ``key`` field.

Writes (the collector's executor thread) use the synchronous SDK client through a thread pool
of COSMOS_MAX_CONCURRENCY workers; reads (API handlers) use one ``azure.cosmos.aio`` client
for the store's life, so no read blocks the event loop. Throttled requests (429) are retried
by the SDK after the server's ``x-ms-retry-after-ms``; the retry budget is configured on both
clients (``retry_throttle_total`` / ``retry_throttle_backoff_max``). ``iter_items`` (the
trending job, CLI export) is synchronous too and pages through ``items`` by keyset.

Retention: the four data containers have ``default_ttl`` = RETENTION_DAYS and every document
carries its own ``ttl`` measured from the end of its creation hour (a day document: of its
last hour), so Cosmos expires an item and its hourly and keyword aggregates together (a plain
container TTL counts from the last write, which would keep an often re-collected post alive
forever). ``delete_older_than`` deletes the same documents explicitly, for parity with
SQLite, and takes the deleted hours of the day its cutoff falls in off that day's document.

Imported history (``import``, issue 20) must not expire by TTL: an imported item has
``ttl`` -1, and counts only in aggregate documents of its own, marked ``keep`` with ``ttl``
-1 (ids ``k...``; term_counts kinds ``kh``/``kb``/``kd``), beside the bucket's document of collected
items. So a collected item's TTL takes off exactly what it added, and a bucket holding both
keeps the imported figures; reads sum a bucket's documents. An item once imported stays
imported (it moves from the collected documents to the kept ones). A ``links`` document stays
one per post, kept (``ttl`` -1) once an imported item counts in it. Retention of each origin
is the same pass: items before its cutoff, then its own documents before it
(``IMPORT_RETENTION_DAYS`` unset: imported history is never deleted). ``verify`` compares the
kept documents alone for all time (`imported_rows`; term documents too, not links, which
have none of their own), all of them from where TTL has not begun.

Testing: the suite runs against ``@vercel/cosmosdb-server`` (tests/cosmos/server.js). Where
code here avoids one of its gaps, a comment says ``cosmosdb-server:``; the code path stays the
one that is correct for real Cosmos DB.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any, TypeVar

import requests
from azure.core import MatchConditions
from azure.core.credentials import TokenCredential
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import AzureError, ServiceRequestError
from azure.core.pipeline.transport import AsyncHttpTransport, HttpTransport, RequestsTransport
from azure.cosmos import (
    ContainerProxy,
    CosmosClient,
    DatabaseProxy,
    PartitionKey,
    ThroughputProperties,
)
from azure.cosmos.aio import ContainerProxy as AsyncContainerProxy
from azure.cosmos.aio import CosmosClient as AsyncCosmosClient
from azure.cosmos.exceptions import (
    CosmosAccessConditionFailedError,
    CosmosHttpResponseError,
    CosmosResourceExistsError,
    CosmosResourceNotFoundError,
)
from urllib3.util.retry import Retry

from ..models import (
    Alert,
    AlertRule,
    CollectionRun,
    Item,
    ItemState,
    Kind,
    Label,
    ListingError,
    RejectedItem,
    RunKind,
    RunStatus,
    SubredditCounts,
    UpsertResult,
)
from ..settings import Settings, ThroughputMode
from .base import (
    BLOCK,
    DAY,
    HOUR,
    Aggregate,
    AlertPage,
    Bucket,
    Dated,
    ItemPage,
    ItemQuery,
    KeywordAggregate,
    Lease,
    LinkFigures,
    RejectedByStore,
    RunPage,
    SeriesText,
    ShownPost,
    Sort,
    Span,
    StoreThrottled,
    StoreUnavailable,
    alert_doc,
    alert_of,
    bucket_seconds,
    ceil_day,
    day_ranges,
    decode_cursor,
    hour_of,
    interrupted,
    item_page,
    newest_first_page,
    rule_doc,
    rule_of,
    shared_pieces,
)
from .deltas import (
    ALL_ITEMS,
    FIGURES,
    KEYWORD_FIGURES,
    KINDS,
    LINK_FIGURES,
    TERM_KINDS,
    TERM_WIDTHS,
    AggregateKind,
    Deltas,
    Row,
    Version,
    author_of,
    counted_terms,
    engagement_of,
    item_change,
    terms_from,
)
from .rendered import series_texts
from .verify import Drift, compare

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
D = TypeVar("D", bound=Dated)  # a run or an alert
Doc = dict[str, Any]

ITEMS = "items"
HOURLY = "hourly"
DAILY = "daily"
KEYWORD_HOURLY = "keyword_hourly"
AUTHOR_HOURLY = "author_hourly"
ALERT_RULES = "alert_rules"
ALERTS = "alerts"
RULE_PK = "rule"
ALERT_PK = "alert"
TERM_COUNTS = "term_counts"
LINKS = "links"
RUNS = "runs"
LEASES = "leases"
TRENDING = "trending"
RUN_PK = "run"

_READ_CHUNK = 100  # ids per "which of these exist" query
_ITER_PAGE = 500  # items per iter_items page
_DELETE_BATCH = 1000  # documents per retention query
_WRITE_ATTEMPTS = 5  # create/patch races on one hourly document
_IDEMPOTENT_ATTEMPTS = 3  # an upsert or delete whose reply was lost is simply sent again
_SETTLE_ATTEMPTS = 3  # rebuilds of the buckets a write with an unknown outcome touched
_UNCHANGED = MatchConditions.IfNotModified  # etag-conditioned write
NO_TTL = -1  # a document's ttl that never expires (imported history, see the docstring)
_SORT_PATH = {Sort.NEW: "created_utc", Sort.SCORE: "score", Sort.COMPOUND: "compound"}
_COUNTERS = FIGURES  # the engine's row figures are the documents' counters, in its order
_KEYWORD_COUNTERS = KEYWORD_FIGURES
# The counters of the aggregate containers whose figures are not `_COUNTERS`.
_COUNTERS_OF = {
    KEYWORD_HOURLY: _KEYWORD_COUNTERS,
    AUTHOR_HOURLY: KINDS[AUTHOR_HOURLY].figures,
    LINKS: LINK_FIGURES,
}
# The partition key field of each aggregate container (what its documents are deleted by).
_PK_FIELD = {ITEMS: "subreddit", HOURLY: "subreddit", DAILY: "subreddit", KEYWORD_HOURLY: "keyword",
             AUTHOR_HOURLY: "subreddit", LINKS: "subreddit", TERM_COUNTS: "subreddit"}  # fmt: skip
# The time field of each aggregate container.
_TIME_FIELD = {HOURLY: "hour", DAILY: "day", KEYWORD_HOURLY: "hour", AUTHOR_HOURLY: "hour"}
# In `daily`, under a partition no subreddit can have ([A-Za-z0-9_]): the first day its
# documents hold whole. A document without `day`, so no day query ever returns it.
DAYS_COMPLETE_FROM = "days-complete-from"
BLOCKS_COMPLETE_FROM = "blocks-complete-from"
_META_PARTITION = "~meta"
# What the aggregate deltas of an item need of its stored version (`_version`).
_DELTA_FIELDS = (
    "c.id, c.kind, c.subreddit, c.created_utc, c.compound, c.label, c.keywords, c.author, "
    "c.counted, c.title, c.body, c.link_id, c.score, c.num_comments"
)
_ITEM_FIELDS = (
    "id", "kind", "subreddit", "author", "created_utc", "title", "body", "permalink", "score",
    "num_comments", "parent_id", "link_id", "compound", "pos", "neu", "neg", "label",
    "truncated", "collected_at", "keywords",
)  # fmt: skip


def _composite(*paths: str) -> list[list[dict[str, str]]]:
    """One composite index, ascending: Cosmos DB serves an ORDER BY from a composite index in
    its exact or fully reversed order, so one entry serves both directions. (cosmosdb-server
    only took the exact one; tests/cosmos/server.js gives it the service's rule.)"""
    return [[{"path": f"/{p}", "order": "ascending"} for p in paths]]


def _policy(paths: Iterable[str], composites: list[list[dict[str, str]]]) -> dict[str, Any]:
    """Index only what queries filter on (opt-in): long bodies and titles cost no write RUs."""
    return {
        "indexingMode": "consistent",
        "automatic": True,
        "includedPaths": [{"path": f"/{p}/?"} for p in paths],
        "excludedPaths": [{"path": "/*"}],
        "compositeIndexes": composites,
    }


ITEMS_POLICY = _policy(
    (
        "subreddit",
        "kind",
        "label",
        "link_id",
        "created_utc",
        "score",
        "compound",
        "state",
        "reconcile_stage",
        "imported",  # retention finds each origin's old items by it
    ),
    _composite("kind", "created_utc", "id")
    + _composite("kind", "score", "id")
    + _composite("kind", "compound", "id")
    + _composite("link_id", "created_utc", "id")
    + _composite("created_utc", "id")  # iter_items without a kind filter
    + _composite("reconcile_stage", "created_utc", "id"),  # the reconcile pass's due items
)
# `keep`: retention and verify tell imported history's documents from the others by it.
HOURLY_POLICY = _policy(("subreddit", "hour", "posts", "comments", "keep"), [])  # hour_extent
DAILY_POLICY = _policy(("subreddit", "day", "keep"), [])
KEYWORD_HOURLY_POLICY = _policy(("keyword", "subreddit", "hour", "keep"), [])
AUTHOR_HOURLY_POLICY = _policy(("keyword", "subreddit", "hour", "count", "keep"), [])
ALERT_RULES_POLICY = _policy(("pk",), [])
ALERTS_POLICY = _policy(("pk", "rule_id", "fired_at"), _composite("fired_at", "id"))
LEASES_POLICY = _policy(("expires_at",), [])
TERM_COUNTS_POLICY = _policy(("subreddit", "hour", "block", "day", "keep"), [])  # not terms
LINKS_POLICY = _policy(("subreddit", "posts", "post_hour"), [])
TRENDING_POLICY = _policy(("key",), [])  # read by id; the readable key for listings
RUNS_POLICY = _policy(("pk", "status", "kind", "started_at"), _composite("started_at", "id"))


@dataclass(frozen=True)
class ContainerSpec:
    """One container the store needs: its partition key, indexes, and whether its documents
    expire (then its default TTL is RETENTION_DAYS, and each document carries its own)."""

    base: str
    partition_key: str
    policy: dict[str, Any]
    expires: bool


SCHEMA = (
    ContainerSpec(ITEMS, "/subreddit", ITEMS_POLICY, True),
    ContainerSpec(HOURLY, "/subreddit", HOURLY_POLICY, True),
    ContainerSpec(DAILY, "/subreddit", DAILY_POLICY, True),
    ContainerSpec(KEYWORD_HOURLY, "/keyword", KEYWORD_HOURLY_POLICY, True),
    ContainerSpec(AUTHOR_HOURLY, "/subreddit", AUTHOR_HOURLY_POLICY, True),
    ContainerSpec(TERM_COUNTS, "/subreddit", TERM_COUNTS_POLICY, True),
    ContainerSpec(LINKS, "/subreddit", LINKS_POLICY, True),
    ContainerSpec(ALERT_RULES, "/pk", ALERT_RULES_POLICY, False),
    ContainerSpec(ALERTS, "/pk", ALERTS_POLICY, False),
    ContainerSpec(RUNS, "/pk", RUNS_POLICY, False),
    ContainerSpec(LEASES, "/id", LEASES_POLICY, False),
    ContainerSpec(TRENDING, "/id", TRENDING_POLICY, False),
)


def _indexed(policy: Mapping[str, Any], field: str) -> bool:
    """Whether a deployed indexing policy keeps a range index on `/field` (what a filter or a
    one-field ORDER BY on it needs): included by its own path or by `/*` and not excluded."""
    if policy.get("indexingMode", "consistent") == "none":
        return False
    included = {p["path"] for p in policy.get("includedPaths", [])}
    excluded = {p["path"] for p in policy.get("excludedPaths", [])}
    own = {f"/{field}/?", f"/{field}/*"}
    return bool(own & included) or ("/*" in included and not own & excluded)


def _has_composite(policy: Mapping[str, Any], wanted: Sequence[tuple[str, str]]) -> bool:
    """Whether a composite index serves an ORDER BY on `wanted` (path, order) pairs: the
    same paths in the same order, every direction the same or every one reversed."""
    flip = {"ascending": "descending", "descending": "ascending"}
    for index in policy.get("compositeIndexes", []):
        have = [(p["path"], p.get("order", "ascending")) for p in index]
        if have in (list(wanted), [(path, flip[order]) for path, order in wanted]):
            return True
    return False


def schema_gaps(spec: ContainerSpec, props: Mapping[str, Any]) -> list[str]:
    """What a deployed container lacks of what the code needs (empty: nothing)."""
    gaps: list[str] = []
    paths = props.get("partitionKey", {}).get("paths")
    if paths != [spec.partition_key]:
        gaps.append(f"partition key {paths}, expected [{spec.partition_key}]")
    if spec.expires and props.get("defaultTtl") is None:
        gaps.append("time to live is off (documents would never expire)")
    policy = props.get("indexingPolicy", {})
    for entry in spec.policy["includedPaths"]:
        field = entry["path"].removeprefix("/").removesuffix("/?")
        if not _indexed(policy, field):
            gaps.append(f"no index on /{field}")
    for index in spec.policy["compositeIndexes"]:
        wanted = [(p["path"], p["order"]) for p in index]
        if not _has_composite(policy, wanted):
            gaps.append(f"no composite index ({', '.join(p for p, _ in wanted)})")
    return gaps


@dataclass(frozen=True)
class Throughput:
    """What the database is created with: shared by all its containers (they get none of their
    own), manual RU/s or an autoscale maximum, or nothing on a serverless account."""

    mode: ThroughputMode = ThroughputMode.MANUAL
    request_units: int = 400

    def offer(self) -> int | ThroughputProperties | None:
        if self.mode is ThroughputMode.SERVERLESS:
            return None
        if self.mode is ThroughputMode.AUTOSCALE:
            return ThroughputProperties(auto_scale_max_throughput=self.request_units)
        return self.request_units


def _retry_after(error: CosmosHttpResponseError) -> float:
    """The wait a 429 asked for, in seconds (x-ms-retry-after-ms); 1 s when it names none."""
    headers = getattr(error.response, "headers", None) or {}
    try:
        return max(0.0, float(headers.get("x-ms-retry-after-ms", 1000)) / 1000)
    except (TypeError, ValueError):
        return 1.0


def _policy_key(policy: Mapping[str, Any]) -> tuple[frozenset[str], frozenset[str], Any]:
    """What open() compares with the deployed policy (the service adds defaults to it)."""
    return (
        frozenset(p["path"] for p in policy.get("includedPaths", [])),
        frozenset(p["path"] for p in policy.get("excludedPaths", []) if p["path"] != '/"_etag"/?'),
        sorted(
            tuple((p["path"], p.get("order", "ascending")) for p in index)
            for index in policy.get("compositeIndexes", [])
        ),
    )


# -- documents -------------------------------------------------------------------------


def _item_doc(item: Item, ttl: int) -> Doc:
    return {
        "id": item.id, "kind": item.kind.value, "subreddit": item.subreddit,
        "author": item.author, "created_utc": item.created_utc, "title": item.title,
        "body": item.body, "permalink": item.permalink, "score": item.score,
        "num_comments": item.num_comments, "parent_id": item.parent_id,
        "link_id": item.link_id, "compound": item.compound, "pos": item.pos, "neu": item.neu,
        "neg": item.neg, "label": item.label.value, "truncated": item.truncated,
        "collected_at": item.collected_at, "keywords": list(item.keywords),
        "text_hash": item.text_hash, "upvote_ratio": item.upvote_ratio,
        "edited_at": item.edited_at, "state": item.state.value, "state_at": item.state_at,
        "checked_at": item.checked_at, "reconcile_stage": item.reconcile_stage,
        "counted": item.counted, "imported": item.imported, "ttl": ttl,
    }  # fmt: skip


def _doc_to_item(doc: Mapping[str, Any]) -> Item:
    return Item(
        id=doc["id"],
        kind=Kind(doc["kind"]),
        subreddit=doc["subreddit"],
        author=doc.get("author"),
        created_utc=float(doc["created_utc"]),
        title=doc.get("title"),
        body=doc["body"],
        permalink=doc["permalink"],
        score=int(doc["score"]),
        num_comments=doc.get("num_comments"),
        parent_id=doc.get("parent_id"),
        link_id=doc.get("link_id"),
        compound=float(doc["compound"]),
        pos=float(doc["pos"]),
        neu=float(doc["neu"]),
        neg=float(doc["neg"]),
        label=Label(doc["label"]),
        truncated=bool(doc["truncated"]),
        collected_at=float(doc["collected_at"]),
        keywords=list(doc.get("keywords") or []),  # absent on items from before keywords
        text_hash=str(doc.get("text_hash") or ""),  # absent on items from before it
        # The lifecycle's fields are absent on items from before it: live, never checked.
        upvote_ratio=doc.get("upvote_ratio"),
        edited_at=doc.get("edited_at"),
        state=ItemState(doc.get("state") or ItemState.LIVE),
        state_at=doc.get("state_at"),
        checked_at=doc.get("checked_at"),
        reconcile_stage=int(doc.get("reconcile_stage") or 0),
        counted=bool(doc.get("counted", True)),
        imported=bool(doc.get("imported")),  # absent on items from before imports
    )


def _run_doc(run: CollectionRun) -> Doc:
    return {
        "id": run.id, "pk": RUN_PK, "started_at": run.started_at,
        "finished_at": run.finished_at, "status": run.status.value, "trigger": run.trigger,
        "owner": run.owner,
        "subreddits": {name: asdict(c) for name, c in run.subreddits.items()},
        "errors": [asdict(e) for e in run.errors],
        "rejections": [asdict(r) for r in run.rejections], "kind": run.kind.value,
    }  # fmt: skip


def _doc_to_run(doc: Mapping[str, Any]) -> CollectionRun:
    return CollectionRun(
        id=doc["id"],
        started_at=float(doc["started_at"]),
        finished_at=None if doc.get("finished_at") is None else float(doc["finished_at"]),
        status=RunStatus(doc["status"]),
        trigger=doc["trigger"],
        owner=doc.get("owner", ""),
        subreddits={k: SubredditCounts(**v) for k, v in doc.get("subreddits", {}).items()},
        errors=[ListingError(**e) for e in doc.get("errors", [])],
        rejections=[RejectedItem(**r) for r in doc.get("rejections", [])],
        kind=RunKind(doc.get("kind", RunKind.COLLECT)),  # absent on runs from before kinds
    )


def _id_list(ids: Sequence[str]) -> tuple[str, list[dict[str, Any]]]:
    """`c.id IN (...)` placeholders for these ids, and their parameters."""
    marks = ", ".join(f"@id{i}" for i in range(len(ids)))
    return marks, _params(**{f"id{i}": v for i, v in enumerate(ids)})


def _unknown(error: BaseException) -> bool:
    """Whether a failed write may have been applied all the same: its reply was lost (a client
    timeout, a dropped connection) or the service timed out or failed (408, 5xx), and the SDK
    retries none of these for writes. A refusal (other 4xx, 429 after the SDK's retries) or a
    request never sent (ServiceRequestError) was not applied."""
    if isinstance(error, CosmosHttpResponseError):
        return error.status_code is None or error.status_code == 408 or error.status_code >= 500
    return not isinstance(error, ServiceRequestError | StoreUnavailable | RejectedByStore)


def _refused(error: BaseException) -> bool:
    """Cosmos DB answered that the document itself is wrong (bad request, too large), which
    no retry changes, as opposed to being unreachable, throttled or timing out."""
    return isinstance(error, CosmosHttpResponseError) and error.status_code in (400, 413)


def _params(**values: Any) -> list[dict[str, Any]]:
    return [{"name": f"@{name}", "value": value} for name, value in values.items()]


def _scope(partition: str | None) -> dict[str, Any]:
    """A query's reach: one partition, or (None) across partitions."""
    if partition is None:
        return {"enable_cross_partition_query": True}
    return {"partition_key": partition}


def _trending_id(key: str) -> str:
    """A Cosmos id for a trending key: ids cannot contain ``/ \\ ? #`` and stop at 255 chars."""
    encoded = base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")
    if len(encoded) <= 255:
        return encoded
    return "sha256." + hashlib.sha256(key.encode()).hexdigest()  # "." is not base64url


# An aggregate document: (container, partition key value, subreddit, hour, kept); for
# author_hourly the third is `_author_key` (keyword and author). `kept`: the document of
# imported history, which counts imported items only and never expires (module docstring).
_Key = tuple[str, str, str, int, bool]
# Signed counters to add to aggregate documents (in `_COUNTERS` / `_KEYWORD_COUNTERS` order).
_Patches = dict[_Key, list[float]]


def _version(doc: Mapping[str, Any], terms_since: int) -> Version:
    """What the aggregates count of a stored item document (its terms from `terms_since`)."""
    return Version(doc["subreddit"], doc["created_utc"], doc["kind"], doc["compound"],
                   doc["label"], tuple(doc.get("keywords") or []),
                   author_of(doc.get("author")),
                   bool(doc.get("counted", True)),
                   counted_terms(doc["kind"], doc.get("title"), doc.get("body") or "",
                                 doc["created_utc"], terms_since), doc["id"],
                   doc.get("link_id"),
                   engagement_of(doc["kind"], doc.get("score") or 0, doc.get("num_comments")),
                   )  # fmt: skip


def _of_origin(kept: bool) -> str:
    """The condition on an aggregate document's origin (True: imported history's, `keep`)."""
    return "IS_DEFINED(c.keep)" if kept else "NOT IS_DEFINED(c.keep)"


def _bucket_filter(
    time_field: str | None,
    subreddit: str | None,
    since: float | None,
    until: float | None,
    kept: bool | None,
) -> tuple[list[str], dict[str, Any]]:
    """Conditions on aggregate documents and their parameters: of one origin (`kept`), of one
    subreddit, with a bucket start (`time_field`: none for an all-time kind) in [since, until);
    None leaves that one out."""
    where: list[str] = []
    values: dict[str, Any] = {}
    if kept is not None:
        where.append(_of_origin(kept))
    if subreddit is not None:
        where.append("c.subreddit = @subreddit")
        values["subreddit"] = subreddit
    for op, name, bound in ((">=", "since", since), ("<", "until", until)):
        if bound is not None and time_field is not None:
            where.append(f'c["{time_field}"] {op} @{name}')
            values[name] = bound
    return where, values


def _author_key(keyword: str, author: str) -> str:
    return json.dumps([keyword, author])


def _author_id(key: str, hour: int) -> str:
    """An author_hourly id: keywords and author names may hold characters ids cannot."""
    return f"{hour}.{hashlib.sha256(key.encode()).hexdigest()[:32]}"


def _unchanged(stored: Mapping[str, Any] | None, item: Item) -> bool:
    """Whether writing `item` over `stored` would change nothing but its collection time."""
    if stored is None:
        return False
    doc = _item_doc(item, 0)
    absent = {"imported": False}  # items stored before imports lack it
    return all(
        stored.get(k, absent.get(k)) == v
        for k, v in doc.items()
        if k not in ("collected_at", "ttl")
    )


def _doc_key(kind: str, key: Row, kept: bool = False) -> _Key:
    """The aggregate document of a row key of one of `KINDS` kept here."""
    fields = dict(zip(KINDS[kind].key, key, strict=True))
    if kind == LINKS:  # no bucket: the link's fullname has the third slot (`kept`: the one
        # document of both origins never expires, an imported item counting in it)
        return (LINKS, str(fields["subreddit"]), str(fields["link_id"]), 0, kept)
    third = (
        _author_key(fields["keyword"], fields["author"])
        if kind == AUTHOR_HOURLY
        else str(fields["subreddit"])
    )
    return (kind, str(fields[_PK_FIELD[kind]]), third, int(fields[_TIME_FIELD[kind]]), kept)


def _doc_id(key: _Key) -> str:
    base, _, third, start, kept = key
    if base == LINKS:  # the link's fullname has the third slot; one document for both origins
        return third
    mark = "k" if kept else ""  # imported history's own document of the bucket
    if base == AUTHOR_HOURLY:
        return mark + _author_id(third, start)
    return f"{mark}{third}:{start}" if base == KEYWORD_HOURLY else f"{mark}{start}"


def _documents(deltas: Deltas, kept: bool = False) -> _Patches:
    """The aggregate documents the engine's rows change: hourly, daily and keyword_hourly
    (Cosmos keeps no totals: they are read as the daily documents summed); `kept`: those of
    imported history."""
    patches: _Patches = {}
    for subreddit, hour, *figures in deltas.hourly_rows():
        patches[(HOURLY, subreddit, subreddit, hour, kept)] = figures
    for subreddit, day, *figures in deltas.daily_rows():
        patches[(DAILY, subreddit, subreddit, day, kept)] = figures
    for keyword, subreddit, hour, *figures in deltas.keyword_rows():
        patches[(KEYWORD_HOURLY, keyword, subreddit, hour, kept)] = figures
    for keyword, subreddit, hour, author, count in deltas.author_rows():
        patches[(AUTHOR_HOURLY, subreddit, _author_key(keyword, author), hour, kept)] = [count]
    for subreddit, link_id, *figures in deltas.link_rows():  # the link in `subreddit`'s slot
        patches[(LINKS, subreddit, link_id, 0, kept)] = figures
    return patches


def _by_origin(by_origin: Mapping[bool, Deltas]) -> tuple[_Patches, _TermPatches]:
    """The aggregate and term documents of deltas split by origin (True: imported)."""
    patches: _Patches = {}
    terms: _TermPatches = {}
    for kept, deltas in by_origin.items():
        patches.update(_documents(deltas, kept))
        terms.update(_term_documents(deltas, kept))
    return patches, terms


def _changes(before: Mapping[str, Any] | None, item: Item, terms_since: int) -> dict[bool, Deltas]:
    """What writing `item` over its stored version moves, by the origin of the documents it
    goes to (True: imported history's). An item is imported for good: one collected and then
    imported moves from the collected documents to the kept ones."""
    after = Version.of(item, terms_since)
    if before is None or bool(before.get("imported")) == item.imported:
        change = item_change(None if before is None else _version(before, terms_since), after)
        return {} if change is None else {item.imported: change}
    gone, came = Deltas(), Deltas()
    gone.add(_version(before, terms_since), -1)
    came.add(after, +1)
    return {False: gone, True: came}


# A term_counts document: (subreddit, its slot, its start) -> signed counts per term. A slot
# is the letter of one of the engine's TERM_KINDS ("h", "b", "d"; imported history's after
# a "k"), and names the field holding the start and the seconds the document covers.
_TermKey = tuple[str, str, int]
_TermPatches = dict[_TermKey, dict[str, int]]
_TERM_LETTERS = {"term_hourly": "h", "term_block": "b", "term_daily": "d"}
_TERM_SLOTS = {
    _TERM_LETTERS[kind]: (KINDS[kind].time or "", width) for kind, width in TERM_WIDTHS.items()
}
_TERM_FIELDS = {width: field for field, width in _TERM_SLOTS.values()}


def _term_documents(deltas: Deltas, kept: bool = False) -> _TermPatches:
    """The term_counts documents the engine's term rows change, of every width (`kept`:
    imported history's, whose slots start with "k")."""
    mark = "k" if kept else ""
    patches: _TermPatches = {}
    for kind, letter in _TERM_LETTERS.items():
        for subreddit, start, term, count in deltas.rows(kind):
            patches.setdefault((subreddit, f"{mark}{letter}", start), {})[term] = count
    return patches


def _negated(patches: _TermPatches) -> _TermPatches:
    return {key: {t: -n for t, n in counts.items()} for key, counts in patches.items()}


class CosmosStore:
    """The Store protocol on Azure Cosmos DB (see the module docstring for the layout)."""

    name = "cosmos"

    def __init__(
        self,
        endpoint: str,
        key: str,
        database: str,
        *,
        container_prefix: str = "",
        max_concurrency: int = 8,
        retention_seconds: int = 30 * DAY,
        retry_throttle_total: int = 9,
        retry_throttle_backoff_max: int = 30,
        read_retry_total: int = 1,
        read_retry_backoff_max: int = 2,
        connection_timeout: float = 5.0,
        manage_schema: bool = True,
        throughput: Throughput | None = None,
        transport: HttpTransport[Any, Any] | None = None,
        async_transport: AsyncHttpTransport[Any, Any] | None = None,
        credential: TokenCredential | None = None,
        async_credential: AsyncTokenCredential | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`key` empty: Microsoft Entra ID, with `credential`/`async_credential` or else
        azure-identity's DefaultAzureCredential (created by open() and the first read)."""
        if not endpoint:
            raise ValueError("CosmosStore needs an endpoint")
        self.endpoint = endpoint
        self.database_name = database
        self.container_prefix = container_prefix
        self.max_concurrency = max_concurrency
        self.retention_seconds = retention_seconds
        self.retry_throttle_total = retry_throttle_total
        self.retry_throttle_backoff_max = retry_throttle_backoff_max
        self.read_retry_total = read_retry_total
        self.read_retry_backoff_max = read_retry_backoff_max
        self.connection_timeout = connection_timeout
        self.manage_schema = manage_schema
        self.throughput = throughput or Throughput()
        self._key = key
        self._transport = transport
        self._async_transport = async_transport
        self._credential = credential
        self._async_credential = async_credential
        self._owned: list[Any] = []  # credentials this store created, closed with it
        self._clock = clock
        self._client: CosmosClient | None = None
        self._containers: dict[str, ContainerProxy] = {}
        self._aclient: AsyncCosmosClient | None = None
        self._acontainers: dict[str, AsyncContainerProxy] = {}
        self._concurrency = max_concurrency
        self._pool = self._new_pool()
        self._closed = False
        # The sync SDK's query path shares a response-headers dict across threads: two
        # queries at once raise "OrderedDict mutated during iteration" (issue 16, item 8).
        self._query_lock = threading.Lock()
        self._days_complete_from: float | None = None  # read by open(); None: trust no day
        self._blocks_from = 0  # read by open(): the first whole term_counts block
        # (subreddit, day) aggregates and (subreddit, link_id) links to rebuild from the
        # items before the next write.
        self._unsettled: set[tuple[str, int]] = set()
        self._unsettled_links: set[tuple[str, str]] = set()

    @classmethod
    def from_settings(cls, settings: Settings) -> CosmosStore:
        return cls(
            settings.cosmos_endpoint,
            settings.cosmos_key.get_secret_value(),
            settings.cosmos_database,
            container_prefix=settings.cosmos_container_prefix,
            max_concurrency=settings.cosmos_max_concurrency,
            retention_seconds=settings.retention_days * DAY,
            read_retry_total=settings.cosmos_read_retry_total,
            read_retry_backoff_max=settings.cosmos_read_retry_max_wait_seconds,
            manage_schema=settings.cosmos_manage_schema,
            throughput=Throughput(settings.cosmos_throughput_mode, settings.cosmos_request_units),
        )

    def __repr__(self) -> str:  # never the key
        return f"CosmosStore(endpoint={self.endpoint!r}, database={self.database_name!r})"

    def container_name(self, base: str) -> str:
        return f"{self.container_prefix}{base}"

    # -- clients -----------------------------------------------------------------------
    def client_options(self) -> dict[str, Any]:
        """Options of the writers' (sync) client: 429 retry budget and timeouts.

        Without ``retry_fixed_interval`` the SDK waits what the server asks for in
        ``x-ms-retry-after-ms`` before each retry, up to ``retry_throttle_total`` retries and
        ``retry_throttle_backoff_max`` seconds of waiting in total per request.
        """
        return {
            "retry_throttle_total": self.retry_throttle_total,
            "retry_throttle_backoff_max": self.retry_throttle_backoff_max,
            "connection_timeout": self.connection_timeout,
            "user_agent_suffix": "reddit-sentiment",
        }

    def read_client_options(self) -> dict[str, Any]:
        """The readers' (async) client: a short 429 budget, so a dashboard request answers
        503 with Retry-After instead of waiting out the writers' budget."""
        return {
            **self.client_options(),
            "retry_throttle_total": self.read_retry_total,
            "retry_throttle_backoff_max": self.read_retry_backoff_max,
        }

    def _sync_credential(self) -> str | TokenCredential:
        if self._key:
            return self._key
        if self._credential is None:
            from azure.identity import DefaultAzureCredential

            self._credential = DefaultAzureCredential()
            self._owned.append(self._credential)
        return self._credential

    def _read_credential(self) -> str | AsyncTokenCredential:
        if self._key:
            return self._key
        if self._async_credential is None:
            from azure.identity.aio import DefaultAzureCredential

            self._async_credential = DefaultAzureCredential()
            self._owned.append(self._async_credential)
        return self._async_credential

    def _sync_transport(self) -> RequestsTransport:
        """requests' default pool keeps 10 connections per host; size it to the writers."""
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=4,
            pool_maxsize=self.max_concurrency + 2,
            max_retries=Retry(total=False, redirect=False, raise_on_status=False),
        )
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return RequestsTransport(session=session, session_owner=True)

    def _error(self, what: str, error: Exception) -> StoreUnavailable:
        """A StoreUnavailable naming the operation and the cause, never the key; a throttled
        request (429 after the retries) is a StoreThrottled carrying the server's wait."""
        if isinstance(error, CosmosHttpResponseError):
            detail = f"HTTP {error.status_code}"
            sub = getattr(error, "sub_status", None)
            if sub:
                detail += f"/{sub}"
            if error.status_code == 429:
                detail += " (throttled; request units exhausted after the SDK's retries)"
            message = (str(error.message or "").strip().splitlines() or [""])[0]
        else:
            detail = type(error).__name__
            message = (str(error).strip().splitlines() or [""])[0]
        if self._key:
            message = message.replace(self._key, "***")
        message = message[:300]
        text = f"Cosmos DB {what} failed at {self.endpoint}: {detail}"
        text = f"{text}: {message}" if message else text
        if isinstance(error, CosmosHttpResponseError) and error.status_code == 429:
            return StoreThrottled(text, _retry_after(error))
        return StoreUnavailable(text)

    def _sync(self, base: str) -> ContainerProxy:
        if self._client is None:
            raise StoreUnavailable("CosmosStore.open() has not been called")
        return self._containers[base]

    def _async(self, base: str) -> AsyncContainerProxy:
        if self._aclient is None:
            # Created on first use, inside the event loop that will use it (aiohttp binds to it).
            options = self.read_client_options()
            if self._async_transport is not None:
                options["transport"] = self._async_transport
            self._aclient = AsyncCosmosClient(self.endpoint, credential=self._read_credential(),
                                              **options)  # fmt: skip
        if base not in self._acontainers:
            db = self._aclient.get_database_client(self.database_name)
            self._acontainers[base] = db.get_container_client(self.container_name(base))
        return self._acontainers[base]

    # -- lifecycle ---------------------------------------------------------------------
    def open(self) -> None:
        """Connect; with COSMOS_MANAGE_SCHEMA create the database and containers if missing
        (or update their policy), without it only check that they are as the code needs."""
        if self._closed:  # an app restarted with the same store (tests, schemathesis)
            self._pool, self._closed = self._new_pool(), False
        try:
            self._client = CosmosClient(
                self.endpoint,
                credential=self._sync_credential(),
                transport=self._transport or self._sync_transport(),
                **self.client_options(),
            )
            if self.manage_schema:
                db = self._client.create_database_if_not_exists(
                    self.database_name, offer_throughput=self.throughput.offer()
                )
                for spec in SCHEMA:
                    self._containers[spec.base] = self._ensure_container(db, spec)
            else:
                self._verify_schema()
            self._days_complete_from = self._complete_from(
                DAILY, DAYS_COMPLETE_FROM, "day_from", DAY, HOURLY, "SELECT TOP 1 c.id FROM c"
            )
            self._blocks_from = int(self._complete_from(
                TERM_COUNTS, BLOCKS_COMPLETE_FROM, "block_from", BLOCK, TERM_COUNTS,
                "SELECT TOP 1 c.id FROM c WHERE IS_DEFINED(c.hour)",
            ))  # fmt: skip
        except AzureError as error:
            raise self._error("open", error) from error

    def _new_pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=self._concurrency, thread_name_prefix="cosmos-write")

    def _ttl_of(self, spec: ContainerSpec) -> int | None:
        return self.retention_seconds if spec.expires else None

    def _verify_schema(self) -> None:
        """Read (never write) the database and containers; one StoreUnavailable naming
        everything missing. Needs only data-plane read access to metadata."""
        assert self._client is not None
        hint = "(COSMOS_MANAGE_SCHEMA=false: create it with the infrastructure, see README)"
        db = self._client.get_database_client(self.database_name)
        try:
            db.read()
        except CosmosResourceNotFoundError:
            raise StoreUnavailable(
                f"Cosmos DB database {self.database_name} does not exist at {self.endpoint} " + hint
            ) from None
        gaps: list[str] = []
        for spec in SCHEMA:
            name = self.container_name(spec.base)
            container = db.get_container_client(name)
            try:
                props = container.read()
            except CosmosResourceNotFoundError:
                gaps.append(f"container {name} is missing")
                continue
            gaps += [f"container {name}: {gap}" for gap in schema_gaps(spec, props)]
            self._containers[spec.base] = container
        if gaps:
            raise StoreUnavailable(
                f"Cosmos DB database {self.database_name} lacks what the store needs {hint}: "
                + "; ".join(gaps)
            )

    def _complete_from(
        self, base: str, marker: str, field: str, width: int, before: str, probe: str
    ) -> float:
        """The first bucket (`width` seconds) whose documents a kind holds whole, recorded once
        per deployment in the `marker` document of container `base`: the beginning of time
        for a new deployment, else the first bucket after the kind came into use (one under
        way, or before, lacks what was written to it earlier). `probe`: a query on container
        `before` that finds a document written before the kind (daily: any hourly one; term
        blocks: any term hour)."""
        container = self._sync(base)
        for _ in range(2):
            try:
                return float(container.read_item(marker, _META_PARTITION)[field])
            except CosmosResourceNotFoundError:
                pass
            earlier = list(self._sync(before).query_items(probe, enable_cross_partition_query=True))
            start = -(-int(self._clock()) // width) * width if earlier else 0
            try:
                container.create_item({"id": marker, "subreddit": _META_PARTITION,
                                       field: start, "ttl": -1})  # fmt: skip
                return float(start)
            except CosmosResourceExistsError:
                continue  # another process recorded it first: read theirs
        raise StoreUnavailable(f"Cosmos DB: the marker {marker} cannot be read")

    def _ensure_container(self, db: DatabaseProxy, spec: ContainerSpec) -> ContainerProxy:
        name, pk_path, policy, ttl = (
            self.container_name(spec.base),
            spec.partition_key,
            spec.policy,
            self._ttl_of(spec),
        )
        # No throughput of its own: the containers share the database's (Throughput).
        container = db.create_container_if_not_exists(
            name, PartitionKey(path=pk_path), indexing_policy=policy, default_ttl=ttl
        )
        props = container.read()
        if props.get("partitionKey", {}).get("paths") != [pk_path]:
            raise StoreUnavailable(
                f"Cosmos DB container {name} exists with partition key "
                f"{props.get('partitionKey', {}).get('paths')}, expected [{pk_path}]; "
                "use another COSMOS_CONTAINER_PREFIX or migrate the data"
            )
        if props.get("defaultTtl") != ttl or _policy_key(props.get("indexingPolicy", {})) != (
            _policy_key(policy)
        ):
            # An older deployment's policy: bring it to this version's (an online operation).
            log.info("updating indexing policy / TTL of Cosmos DB container %s", name)
            container = db.replace_container(
                name, PartitionKey(path=pk_path), indexing_policy=policy, default_ttl=ttl
            )
        return container

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._closed = True
        if self._client is not None:
            self._client.close()
            self._client = None
        for credential in [c for c in self._owned if hasattr(c, "close")]:
            if not asyncio.iscoroutinefunction(credential.close):
                credential.close()
                self._owned.remove(credential)

    async def aclose(self) -> None:
        if self._aclient is not None:
            client, self._aclient = self._aclient, None
            self._acontainers.clear()
            await client.close()
        for credential in list(self._owned):
            if asyncio.iscoroutinefunction(getattr(credential, "close", None)):
                await credential.close()
                self._owned.remove(credential)
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    # -- write path --------------------------------------------------------------------
    def _ttl(self, created_utc: float) -> int:
        """Seconds until retention removes this hour: the same cutoff as delete_older_than."""
        expires = hour_of(created_utc) + HOUR + self.retention_seconds
        return max(1, int(expires - self._clock()))

    def _run_all(self, fn: Callable[[T], R], args: Sequence[T]) -> list[R | BaseException]:
        """fn(arg) for every arg on the write pool (at most max_concurrency at once).

        Returns each result or the exception it raised, in order; waits for all of them.
        """
        futures: list[Future[R]] = [self._pool.submit(fn, arg) for arg in args]
        done: list[R | BaseException] = []
        for future in futures:
            error = future.exception()
            done.append(future.result() if error is None else error)
        return done

    def _existing(self, subreddit: str, ids: list[str]) -> list[Doc]:
        """The stored versions of these items in one partition (whole: the aggregates need
        some fields, and the unchanged-item check all of them)."""
        marks, params = _id_list(ids)
        # The partition filter is redundant with partition_key on real Cosmos.
        # cosmosdb-server: rejects a partitioned query whose WHERE lacks the partition key.
        query = f"SELECT * FROM c WHERE c.subreddit = @subreddit AND c.id IN ({marks})"
        params += _params(subreddit=subreddit)
        return self._listed(self._sync(ITEMS), query, parameters=params, partition_key=subreddit)

    def _apply_bucket(self, key: _Key, values: list[float]) -> None:
        """Add signed counters to one aggregate document: patch `incr`, create when missing."""
        base, partition, *_ = key
        container = self._sync(base)
        doc = self._bucket_doc(key, values)
        ttl, doc_id = doc.get("ttl"), doc["id"]
        counters = _COUNTERS_OF.get(base, _COUNTERS)
        ops: list[dict[str, Any]] = [
            {"op": "incr", "path": f"/{name}", "value": value}
            for name, value in zip(counters, values, strict=True)
            if value
        ]
        if ttl is not None:  # links: the container's ttl from the last write (see open())
            ops.append({"op": "set", "path": "/ttl", "value": ttl})
        if doc.get("keep"):  # a link of collected items that now counts an imported one too
            ops.append({"op": "set", "path": "/keep", "value": True})
        for _ in range(_WRITE_ATTEMPTS):
            try:
                patched = container.patch_item(
                    doc_id, partition_key=partition, patch_operations=ops
                )
                if base == AUTHOR_HOURLY and not patched.get("count"):
                    self._forget_author(container, patched)
                if (
                    base == LINKS
                    and patched.get("keep")
                    and not (patched.get("posts") or patched.get("comments"))
                ):  # kept for no item any more (retention): it would never expire
                    self._forget_author(container, patched)
                return
            except CosmosResourceNotFoundError:
                pass
            try:
                container.create_item(doc)
                return
            except CosmosResourceExistsError:
                continue  # created concurrently: patch it
        raise StoreUnavailable(
            f"{base} aggregate {partition}/{doc_id} kept changing under the write"
        )

    @staticmethod
    def _forget_author(container: ContainerProxy, doc: Mapping[str, Any]) -> None:
        """An author row counted down to nothing goes: a purged item's author name must not
        stay behind in it (an emptied kept link, too). Only if unchanged since (a concurrent
        +1 keeps it)."""
        with contextlib.suppress(CosmosResourceNotFoundError, CosmosAccessConditionFailedError):
            container.delete_item(
                doc["id"],
                partition_key=doc["subreddit"],
                etag=doc["_etag"],
                match_condition=MatchConditions.IfNotModified,
            )

    def _bucket_doc(self, key: _Key, values: Sequence[float]) -> Doc:
        """An aggregate document holding `values`, expiring with its (last) hour; imported
        history's (`kept`) never."""
        base, partition, subreddit, start, kept = key
        ttl = self._ttl(start + DAY - HOUR if base == DAILY else start)  # with its last hour
        counters = _COUNTERS_OF.get(base, _COUNTERS)
        if base == LINKS:  # no bucket: the container's ttl from its last write (see open())
            doc: Doc = {"id": _doc_id(key), "subreddit": partition, "link_id": subreddit}
            if kept:
                doc.update(ttl=NO_TTL, keep=True)
            doc.update(zip(counters, values, strict=True))
            return doc
        doc = {"id": _doc_id(key), "subreddit": subreddit, _TIME_FIELD[base]: start,
               "ttl": NO_TTL if kept else ttl}  # fmt: skip
        if kept:
            doc["keep"] = True
        if base == KEYWORD_HOURLY:
            doc["keyword"] = partition
        if base == AUTHOR_HOURLY:  # the key's third part is the keyword and the author
            doc["keyword"], doc["author"] = json.loads(subreddit)
            doc["subreddit"] = partition
        doc.update(zip(counters, values, strict=True))
        return doc

    def _apply_terms(self, patches: _TermPatches) -> tuple[_TermPatches, list[BaseException]]:
        """Add signed term counts to term_counts documents; what was applied, the errors."""
        docs = [(key, counts) for key, counts in patches.items() if any(counts.values())]
        results = self._run_all(lambda kv: self._apply_term_doc(*kv), docs)
        applied = {
            key: counts
            for (key, counts), outcome in zip(docs, results, strict=True)
            if not isinstance(outcome, BaseException)
        }
        return applied, [r for r in results if isinstance(r, BaseException)]

    def _apply_term_doc(
        self, key: _TermKey, counts: dict[str, int], absolute: bool = False
    ) -> None:
        """Read, add to (or, `absolute`, set terms of) and replace one term_counts document on
        its etag (create if missing). Terms whose count drops to zero leave the map, so it
        holds only what is counted."""
        subreddit, slot, start = key
        container = self._sync(TERM_COUNTS)
        doc_id = f"{slot}{start}"
        field, width = _TERM_SLOTS[slot[-1]]
        kept = slot.startswith("k")  # imported history's: never expires
        ttl = NO_TTL if kept else self._ttl(start + width - HOUR)  # with its last hour
        query = "SELECT * FROM c WHERE c.subreddit = @pk AND c.id = @id"
        for _ in range(_WRITE_ATTEMPTS):
            # cosmosdb-server: a point read of a missing document answers 500, so a query by id.
            found = self._listed(container, query, parameters=_params(pk=subreddit, id=doc_id),
                                 partition_key=subreddit)  # fmt: skip
            terms: dict[str, int] = dict(found[0]["terms"]) if found else {}
            for term, count in counts.items():
                total = count if absolute else terms.get(term, 0) + count
                if total:
                    terms[term] = total
                else:
                    terms.pop(term, None)
            doc: Doc = {"id": doc_id, "subreddit": subreddit, field: start, "terms": terms,
                        "ttl": ttl}  # fmt: skip
            if kept:
                doc["keep"] = True
            try:
                if found:
                    container.replace_item(doc_id, doc, etag=found[0]["_etag"],
                                           match_condition=_UNCHANGED)  # fmt: skip
                else:
                    container.create_item(doc)
                return
            except (CosmosAccessConditionFailedError, CosmosResourceExistsError):
                continue  # written concurrently: read it again
        raise StoreUnavailable(f"term counts {subreddit}/{doc_id} kept changing under the write")

    def _apply(self, patches: _Patches) -> tuple[_Patches, list[BaseException]]:
        """Apply every document's counters; return what was applied and the errors."""
        buckets = [(key, values) for key, values in patches.items() if any(values)]
        results = self._run_all(lambda kv: self._apply_bucket(*kv), buckets)
        applied: _Patches = {}
        for (key, values), outcome in zip(buckets, results, strict=True):
            if not isinstance(outcome, BaseException):
                applied[key] = values
        return applied, [r for r in results if isinstance(r, BaseException)]

    def known_scores(self, items: Sequence[Item]) -> dict[str, Item]:
        # Across partitions: a response may name another subreddit for a known item, and the
        # cycle must find where it is stored, or it would be written twice.
        ids = [item.id for item in items]
        chunks = [ids[start : start + _READ_CHUNK] for start in range(0, len(ids), _READ_CHUNK)]

        def stored(chunk: list[str]) -> list[Doc]:
            marks, params = _id_list(chunk)
            return self._listed(self._sync(ITEMS), f"SELECT * FROM c WHERE c.id IN ({marks})",
                                parameters=params, enable_cross_partition_query=True)  # fmt: skip

        try:
            found = list(self._pool.map(stored, chunks))
        except AzureError as error:
            raise self._error("read of known items", error) from error
        return {doc["id"]: _doc_to_item(doc) for docs in found for doc in docs}

    def _upsert_item(self, item: Item) -> None:
        doc = _item_doc(item, NO_TTL if item.imported else self._ttl(item.created_utc))
        self._idempotent(lambda: self._sync(ITEMS).upsert_item(doc))

    @staticmethod
    def _idempotent(write: Callable[[], object]) -> None:
        """A write that may be sent again (an upsert of the same body, a delete): after an
        unknown outcome it is simply repeated."""
        for attempt in range(1, _IDEMPOTENT_ATTEMPTS + 1):
            try:
                write()
                return
            except AzureError as error:
                if attempt == _IDEMPOTENT_ATTEMPTS or not _unknown(error):
                    raise

    def upsert_items(self, items: Sequence[Item]) -> UpsertResult:
        """Upsert by fullname and move the hourly and keyword aggregates by exactly the change.

        Cosmos has no transaction across containers, so the order is chosen to be repairable:
        the aggregate deltas are applied first (patch increments), then the items. A write
        that failed for sure (refused, throttled past the SDK's retries, never sent) was not
        applied: the deltas applied for what did not get written are subtracted again before
        StoreUnavailable is raised, so a retried batch counts every item once. A write whose
        outcome is unknown (its reply lost: a timeout, 408, 5xx, a dropped connection; the SDK
        retries none of them for writes) may have been applied: an item upsert is then sent
        again (idempotent), and an increment is not (it would count twice); instead, once the
        batch's writes are done, every (subreddit, day) the batch touched is rebuilt from the
        items (`_settle`), so the aggregates equal the items whatever was applied. Correct for
        one writer at a time (the collector, under its lease).
        """
        if self._unsettled or self._unsettled_links:  # a rebuild that could not be done then
            self._settle(set(self._unsettled), set(self._unsettled_links))
        result = UpsertResult()
        unique = list({item.id: item for item in items}.values())
        by_sub: dict[str, list[Item]] = {}
        for item in unique:
            by_sub.setdefault(item.subreddit, []).append(item)
        lookups = [
            (sub, [i.id for i in group[start : start + _READ_CHUNK]])
            for sub, group in by_sub.items()
            for start in range(0, len(group), _READ_CHUNK)
        ]
        try:
            found = list(self._pool.map(lambda args: self._existing(*args), lookups))
        except AzureError as error:
            raise self._error("read before upsert", error) from error
        old = {doc["id"]: doc for docs in found for doc in docs}

        per_item: dict[str, dict[bool, Deltas]] = {}
        since = self.terms_from()
        total = {False: Deltas(), True: Deltas()}  # by origin (True: imported history)
        touched: set[tuple[str, int]] = set()  # (subreddit, day) the batch's deltas move
        for item in unique:
            before = old.get(item.id)
            result.count(item.subreddit, new=before is None)
            if before is not None:
                item.imported = item.imported or bool(before.get("imported"))  # for good
            changes = _changes(before, item, since)
            if changes:
                per_item[item.id] = changes
                for kept, change in changes.items():
                    total[kept].merge(change)
                touched.add((item.subreddit, _day(item.created_utc)))
                if before is not None:
                    touched.add((before["subreddit"], _day(before["created_utc"])))

        patches, term_patches = _by_origin(total)
        applied, errors = self._apply(patches)
        terms_applied: _TermPatches = {}
        if all(_unknown(e) for e in errors):  # no definite failure: the terms too
            terms_applied, term_errors = self._apply_terms(term_patches)
            errors += term_errors
        if errors and not any(_unknown(e) for e in errors):
            failure = self._failure("aggregate update", errors)
            if not self._compensate(applied, terms_applied):
                self._settle(touched, set(total[False].links) | set(total[True].links))
            raise failure
        unsettled = bool(errors)  # an increment may or may not have been applied

        # An item seen again with nothing changed is not written (its ttl still counts from
        # its last write, so it expires as it would have); `collected_at` then stays at the
        # last collection that changed it.
        writes = [item for item in unique if not _unchanged(old.get(item.id), item)]
        results = self._run_all(self._upsert_item, writes)
        item_errors = [r for r in results if isinstance(r, BaseException)]
        failed = [i for i, r in zip(writes, results, strict=True) if isinstance(r, BaseException)]
        if failed and not unsettled:
            if any(_unknown(e) for e in item_errors):
                unsettled = True  # the item may be stored: its deltas must stay if it is
            else:
                undo = {False: Deltas(), True: Deltas()}
                for item in failed:
                    for kept, change in per_item.get(item.id, {}).items():
                        undo[kept].merge(change)
                unsettled = not self._compensate(*_by_origin(undo))
        if unsettled:
            self._settle(touched, set(total[False].links) | set(total[True].links))
        if failed:
            what = f"upsert of {len(failed)} of {len(unique)} items"
            first = item_errors[0]
            if isinstance(first, Exception) and all(_refused(e) for e in item_errors):
                raise RejectedByStore(str(self._error(what, first)))
            raise self._failure(what, item_errors)
        return result

    def _compensate(self, applied: _Patches, terms: _TermPatches | None = None) -> bool:
        """Take applied deltas back; False when some may not have been (see `_settle`)."""
        _, errors = self._apply({key: [0 - v for v in values] for key, values in applied.items()})
        errors += self._apply_terms(_negated(terms or {}))[1]
        if errors:
            log.warning("Cosmos DB: taking back %d aggregate deltas failed (%s); rebuilding "
                        "the buckets from the items", len(errors), errors[0])  # fmt: skip
        return not errors

    def _settle(self, days: set[tuple[str, int]], links: set[tuple[str, str]]) -> None:
        """Rebuild these (subreddit, day) aggregates (their terms included) and these
        (subreddit, link_id) links from the items, after a write whose outcome is unknown.
        Its writes are absolute (idempotent), so it is simply tried again; what cannot be
        rebuilt now is remembered and rebuilt before the next batch, and StoreUnavailable is
        raised (`repair` rebuilds everything)."""
        pending = set(days)
        pending_links = set(links)
        self._unsettled |= pending
        self._unsettled_links |= pending_links
        error: Exception | None = None
        for _ in range(_SETTLE_ATTEMPTS):
            for subreddit, day in sorted(pending):
                try:
                    self._rebuild(subreddit, day, day + DAY)
                except (AzureError, StoreUnavailable) as failed:
                    error = failed
                    continue
                pending.discard((subreddit, day))
                self._unsettled.discard((subreddit, day))
            if pending_links:
                try:
                    self._rebuild_links(pending_links)
                except (AzureError, StoreUnavailable) as failed:
                    error = failed
                else:
                    self._unsettled_links -= pending_links
                    pending_links = set()
            if not pending and not pending_links:
                log.info("Cosmos DB: rebuilt %d subreddit-days and %d links after a write with "
                         "an unknown outcome", len(days), len(links))  # fmt: skip
                return
        assert error is not None
        raise StoreUnavailable(
            f"Cosmos DB: the aggregates of {len(pending)} subreddit-days and "
            f"{len(pending_links)} links may be off after a write with an unknown outcome, and "
            f"rebuilding them failed ({error}); they are rebuilt before the next write, or run "
            "`python -m reddit_sentiment repair`"
        ) from error

    def _failure(self, what: str, errors: Sequence[BaseException]) -> StoreUnavailable:
        first = errors[0]
        if isinstance(first, StoreUnavailable):
            return first
        if isinstance(first, Exception):
            return self._error(what, first)
        raise first  # KeyboardInterrupt and friends

    def checkpoint(self) -> None:
        """Nothing: a replaced document's old version is not kept where anyone can read it."""

    def due_items(
        self,
        *,
        stage: int,
        created_after: float | None,
        created_until: float,
        subreddit: str | None = None,
        limit: int = 100,
    ) -> list[Item]:
        # Items from before the lifecycle have no stage: they are at stage 0.
        matches = "c.reconcile_stage = @stage"
        if stage == 0:
            matches = f"({matches} OR NOT IS_DEFINED(c.reconcile_stage))"
        where = [matches, "c.created_utc <= @until"]
        values: dict[str, Any] = {"stage": stage, "until": created_until, "n": limit}
        if created_after is not None:
            where.append("c.created_utc > @after")
            values["after"] = created_after
        if subreddit is not None:
            where.append("c.subreddit = @sub")
            values["sub"] = subreddit
        sql = (
            f"SELECT TOP @n * FROM c WHERE {' AND '.join(where)} "
            "ORDER BY c.created_utc ASC, c.id ASC"
        )
        scope = _scope(subreddit or None)
        try:
            docs = list(self._sync(ITEMS).query_items(sql, parameters=_params(**values), **scope))
        except AzureError as error:
            raise self._error("read of due items", error) from error
        return [_doc_to_item(doc) for doc in docs]

    def save_run(self, run: CollectionRun) -> None:
        try:
            self._sync(RUNS).upsert_item(_run_doc(run))
        except AzureError as error:
            raise self._error("save run", error) from error

    def interrupt_running_runs(self, started_before: float | None = None) -> int:
        container = self._sync(RUNS)
        try:
            running = list(container.query_items(
                "SELECT * FROM c WHERE c.pk = @pk AND c.status = @status",
                parameters=_params(pk=RUN_PK, status=RunStatus.RUNNING.value),
                partition_key=RUN_PK,
            ))  # fmt: skip
            count = 0
            for doc in running:
                if started_before is not None and float(doc["started_at"]) >= started_before:
                    continue
                changed = {k: v for k, v in doc.items() if not k.startswith("_")}
                changed.update(_run_doc(interrupted(_doc_to_run(doc), started_before)))
                try:
                    container.replace_item(doc["id"], changed, etag=doc["_etag"],
                                           match_condition=_UNCHANGED)  # fmt: skip
                except CosmosAccessConditionFailedError:
                    continue  # its owner is alive and just wrote it
                count += 1
            return count
        except AzureError as error:
            raise self._error("interrupt running runs", error) from error

    def delete_older_than(self, cutoff_utc: float, imported_cutoff_utc: float | None = None) -> int:
        """Delete collected items before the cutoff's hour and their aggregate documents
        (TTL's job too), and with `imported_cutoff_utc` imported items before its hour and
        imported history's documents (no TTL expires those); return the items deleted."""
        origins = [(False, hour_of(cutoff_utc))]
        if imported_cutoff_utc is not None:
            origins.append((True, hour_of(imported_cutoff_utc)))
        try:
            deleted = sum(self._expire(cutoff, kept) for kept, cutoff in origins)
            since = self.terms_from()  # and what trending can no longer reach (deltas.py)
            for kept in (False, True):
                self._expire_terms(since, since, kept)
            return deleted
        except AzureError as error:
            raise self._error("retention delete", error) from error

    def _expire(self, cutoff: int, kept: bool) -> int:
        """One origin's retention (`kept`: imported history): its items before the cutoff,
        and its own aggregate documents before it, which counted only those items."""
        first_day = (cutoff // DAY) * DAY  # days before it go whole; it loses its early hours
        of_items = "c.imported = true"
        if not kept:  # items from before imports have no `imported`
            of_items = "(NOT IS_DEFINED(c.imported) OR c.imported = false)"
        of_docs = _of_origin(kept)
        deleted = 0
        for base, field, bound in ((ITEMS, "created_utc", cutoff), (HOURLY, "hour", cutoff),
                                   (DAILY, "day", first_day),
                                   (KEYWORD_HOURLY, "hour", cutoff),
                                   (AUTHOR_HOURLY, "hour", cutoff)):  # fmt: skip
            container = self._sync(base)
            pk = _PK_FIELD[base]
            extra = "".join(f", c.{n}" for n in ("hour", *_COUNTERS)) if base == HOURLY else ""
            if base == ITEMS:  # what their links count of them
                extra = ", " + _DELTA_FIELDS.replace("c.id, ", "")
            query = (f"SELECT TOP @n c.id, c.{pk} AS pk{extra} FROM c WHERE c.{field} < @cutoff "
                     f"AND {of_items if base == ITEMS else of_docs}")  # fmt: skip
            for gone in self._delete_matching(container, query, bound):
                if base == HOURLY:
                    self._trim_day(first_day, gone, kept)
                if base == ITEMS:
                    deleted += len(gone)
                    self._unlink(gone)
        self._expire_terms(cutoff, first_day, kept)
        return deleted

    def _unlink(self, deleted: list[Doc]) -> None:
        """Take deleted items off their links (a post's comments may outlive it), after they
        are gone, so a retried retention run takes nothing off twice."""
        deltas, since = Deltas(), self.terms_from()
        for doc in deleted:
            deltas.add(_version(doc, since), -1)
        links = {key: v for key, v in _documents(deltas).items() if key[0] == LINKS}
        _, errors = self._apply(links)
        if errors:
            raise self._failure("retention of links", errors)

    def _delete_matching(
        self, container: ContainerProxy, query: str, cutoff: float
    ) -> Iterator[list[Doc]]:
        """Delete what `query` (with @n and @cutoff; it selects `id` and the partition key as
        `pk`) finds, a batch at a time; yield each batch's documents this call deleted."""
        while True:  # re-query after each batch: nothing to get wrong in continuations
            docs = list(container.query_items(
                query, parameters=_params(n=_DELETE_BATCH, cutoff=cutoff),
                enable_cross_partition_query=True, max_item_count=_DELETE_BATCH,
            ))  # fmt: skip
            results = self._run_all(partial(self._delete, container), docs)
            failures = [r for r in results if isinstance(r, BaseException)]
            if failures:
                raise self._failure("retention delete", failures)
            yield [doc for doc, gone in zip(docs, results, strict=True) if gone is True]
            if len(docs) < _DELETE_BATCH:
                return

    def _expire_terms(self, cutoff: int, first_day: int, kept: bool = False) -> None:
        """Term documents (of one origin): hours before the cutoff go (those of the cutoff's
        block and day taken off its block and day documents after they are gone, so a retry
        takes nothing off twice), then blocks before that block and days before that day."""
        container = self._sync(TERM_COUNTS)
        of_docs = _of_origin(kept)
        mark = "k" if kept else ""
        first_block = (cutoff // BLOCK) * BLOCK
        wholes = ((f"{mark}b", first_block), (f"{mark}d", first_day))
        for field, bound in (("hour", cutoff), ("block", first_block), ("day", first_day)):
            query = (f"SELECT TOP @n c.id, c.subreddit AS pk, c.{field} AS start, c.terms "
                     f"FROM c WHERE c.{field} < @cutoff AND {of_docs}")  # fmt: skip
            for gone in self._delete_matching(container, query, bound):
                trimmed: _TermPatches = {}
                for doc in gone:
                    for slot, first in wholes if field == "hour" else ():
                        if doc["start"] >= first:
                            whole = trimmed.setdefault((doc["pk"], slot, first), {})
                            for term, count in doc["terms"].items():
                                whole[term] = whole.get(term, 0) - count
                _, errors = self._apply_terms(trimmed)
                if errors:
                    raise self._failure("retention of a block's or day's terms", errors)

    def _trim_day(self, day: int, hours: list[Doc], kept: bool = False) -> None:
        """Take deleted hours of `day` off its daily documents. Each hour is taken off after it
        is gone, so a retention run retried after a failure takes nothing off twice."""
        if not kept and (self._days_complete_from is None or day < self._days_complete_from):
            return  # a day its documents never held whole: read from its hours anyway
        trimmed: _Patches = {}
        for doc in hours:
            if doc["hour"] >= day:
                row = trimmed.setdefault((DAILY, doc["pk"], doc["pk"], day, kept),
                                         [0, 0, 0.0, 0, 0, 0])  # fmt: skip
                for index, name in enumerate(_COUNTERS):
                    row[index] -= doc.get(name, 0)
        _, errors = self._apply(trimmed)
        if errors:
            raise self._failure("retention of a day's hours", errors)

    @staticmethod
    def _delete(container: ContainerProxy, doc: Doc) -> bool:
        try:
            container.delete_item(doc["id"], partition_key=doc["pk"])
        except CosmosResourceNotFoundError:
            return False  # expired by TTL meanwhile
        return True

    def _lease_doc(self, name: str) -> Doc | None:
        try:
            return dict(self._sync(LEASES).read_item(name, partition_key=name))
        except CosmosResourceNotFoundError:
            return None

    def acquire_lease(self, name: str, owner: str, ttl_seconds: float) -> bool:
        """Take the lease if free or expired, renew it if `owner` holds it.

        Optimistic concurrency: a create (409 when someone else created it first) or a replace
        conditional on the etag just read (412 when someone else wrote it since); after
        losing such a race the new state is read and judged again.
        """
        container = self._sync(LEASES)
        try:
            for _ in range(_WRITE_ATTEMPTS):
                now = self._clock()
                current = self._lease_doc(name)
                doc: Doc = {"id": name, "owner": owner, "expires_at": now + ttl_seconds}
                try:
                    if current is None:
                        container.create_item(doc)
                    elif current["owner"] == owner or float(current["expires_at"]) <= now:
                        container.replace_item(name, doc, etag=current["_etag"],
                                               match_condition=_UNCHANGED)  # fmt: skip
                    else:
                        return False
                    return True
                except (CosmosResourceExistsError, CosmosAccessConditionFailedError):
                    continue
            return False
        except AzureError as error:
            raise self._error("lease acquire", error) from error

    def release_lease(self, name: str, owner: str) -> None:
        try:
            current = self._lease_doc(name)
            if current is None or current["owner"] != owner:
                return
            self._sync(LEASES).delete_item(name, partition_key=name, etag=current["_etag"],
                                           match_condition=_UNCHANGED)  # fmt: skip
        except (CosmosResourceNotFoundError, CosmosAccessConditionFailedError):
            return  # gone or taken over meanwhile: not ours to delete
        except AzureError as error:
            raise self._error("lease release", error) from error

    # -- verification ------------------------------------------------------------------
    def snapshot(self) -> AbstractContextManager[None]:
        """No snapshot across containers: `verify` looks again at what differs."""
        return nullcontext()

    def kept_aggregates(self) -> dict[str, float | None]:
        """The aggregate containers, each from where it is exact: hours that retention has
        not begun to expire (items and their hourly documents expire one by one, by TTL), and
        days its documents hold whole (the floor the day reads use; see DAILY). Totals are not
        kept: they are read as the hourly documents summed. The term kinds are the hour, block
        and day documents of term_counts (blocks from `BLOCKS_COMPLETE_FROM`); links are dated
        by their post (a comment is never older than its post), so a link whose post is not
        stored is not compared: its comments may have expired one by one. Imported history's
        own documents (term ones included) are exact for all time (`imported_rows`); a link
        is one document for both origins, so it has none of its own."""
        now = self._clock()
        hours = hour_of(now - self.retention_seconds) + 2 * HOUR
        days = max(self._days_complete_from or 0, ceil_day(now - self.retention_seconds))
        kept: dict[str, float | None] = {
            kind: float(days if spec.time == "day" else hours)
            for kind, spec in KINDS.items()
            if kind in self._containers and (kind in _TIME_FIELD or kind == LINKS)
        }
        if TERM_COUNTS in self._containers:  # and no term is counted before `terms_from`
            kept.update({kind: float(max(days if KINDS[kind].time == "day" else hours,
                                         terms_from(now)))
                         for kind in TERM_KINDS})  # fmt: skip
            kept["term_block"] = max(kept["term_block"] or 0.0, self._blocks_from)
        return kept

    def terms_from(self) -> int:
        return terms_from(self._clock())

    def aggregate_rows(self, kind: str, since: float | None = None) -> Iterator[Row]:
        return self._rows(KINDS[kind], since=since)

    def imported_rows(self, kind: str) -> Iterator[Row] | None:
        if kind == LINKS:  # one document per post for both origins: none of its own
            return None
        # (term blocks: from the first one written whole, as for the collected ones)
        since = self._blocks_from if kind == "term_block" else None
        return self._rows(KINDS[kind], since=since, kept=True)

    def _rows(
        self,
        spec: AggregateKind,
        subreddit: str | None = None,
        since: float | None = None,
        until: float | None = None,
        kept: bool | None = None,
    ) -> Iterator[Row]:
        """The documents of one aggregate container as the engine's rows; optionally one
        subreddit's, in a range of bucket starts, of one origin (`kept`: imported history's
        documents, or the others). Of both origins, a bucket's two documents are summed."""
        if spec.name in TERM_KINDS:  # "h"/"b"/"d" and imported history's "kh"/"kb"/"kd" ones
            rows = self._term_rows(spec, subreddit, since, until, kept)
        else:
            rows = self._doc_rows(spec, subreddit, since, until, kept)
        if kept is not None:
            yield from rows
            return
        width = len(spec.key)
        sums: dict[Row, list[Any]] = {}
        for row in rows:
            seen = sums.get(row[:width])
            if seen is None:
                sums[row[:width]] = list(row[width:])
            else:
                for index, value in enumerate(row[width:]):
                    seen[index] += value
        for key, figures in sums.items():
            yield (*key, *figures)

    def _doc_rows(
        self,
        spec: AggregateKind,
        subreddit: str | None,
        since: float | None,
        until: float | None,
        kept: bool | None,
    ) -> Iterator[Row]:
        """`_rows` one document each, streamed page by page."""
        fields = (*spec.key, *spec.figures)
        where, values = _bucket_filter(spec.time, subreddit, since, until, kept)
        sql = f"SELECT {', '.join(f'c[{name!r}]' for name in fields)} FROM c".replace("'", '"')
        if where:
            sql += f" WHERE {' AND '.join(where)}"
        scope = _scope(subreddit if _PK_FIELD[spec.name] == "subreddit" else None)
        try:
            for doc in self._sync(spec.name).query_items(
                sql, parameters=_params(**values), max_item_count=1000, **scope
            ):
                if all(name in doc for name in spec.key):  # not the days marker
                    yield tuple(doc[n] if n in spec.key else doc.get(n, 0) for n in fields)
        except AzureError as error:
            raise self._error(f"query on {self.container_name(spec.name)}", error) from error

    def _term_rows(
        self,
        spec: AggregateKind,
        subreddit: str | None,
        since: float | None,
        until: float | None,
        kept: bool | None,
    ) -> Iterator[Row]:
        """term_counts' hour or day documents as (subreddit, hour or day, term, count) rows,
        one document each (`kept` as in `_rows`)."""
        field = spec.time
        where, values = _bucket_filter(field, subreddit, since, until, kept)
        where.insert(0, f"IS_DEFINED(c.{field})")  # an hour or a day document, as asked
        sql = f"SELECT c.subreddit, c.{field} AS start, c.terms FROM c WHERE {' AND '.join(where)}"
        scope = _scope(subreddit)
        try:
            for doc in self._sync(TERM_COUNTS).query_items(
                sql, parameters=_params(**values), max_item_count=1000, **scope
            ):
                for term, count in doc["terms"].items():
                    yield (doc["subreddit"], doc["start"], term, count)
        except AzureError as error:
            raise self._error(f"query on {self.container_name(TERM_COUNTS)}", error) from error

    def rebuild_aggregates(self) -> int:
        return self._rebuild()

    def _rebuild(
        self, subreddit: str | None = None, since: float | None = None, until: float | None = None
    ) -> int:
        """Make the kept aggregates (of one subreddit's [since, until), or all) equal the items
        in that range, writing only the documents that differ, each with its whole figures
        (an upsert, or a delete for a bucket no item fills): every write is idempotent."""
        expected = {False: Deltas(), True: Deltas()}  # by origin (True: imported history)
        terms_since = self.terms_from()
        for item in self.iter_items(subreddit=subreddit, since=since, until=until):
            expected[item.imported].add(Version.of(item, terms_since), +1)
        fixes: list[tuple[Drift, bool]] = []
        ranged = (subreddit, since, until) != (None, None, None)
        for kind, floor in self.kept_aggregates().items():
            spec = KINDS[kind]
            if spec.time is None:  # links: one document for both origins, of any time
                if not ranged:  # a ranged rebuild's links: `_rebuild_links`
                    fixes += self._link_fixes(self._rows(spec, since=floor), expected, floor)
                continue
            for kept, deltas in expected.items():
                low = since  # imported history's documents are exact however old
                if floor is not None and not kept:
                    low = floor if since is None else max(since, floor)
                if kind in TERM_KINDS:  # of either origin, none counted before terms_from
                    low = terms_since if low is None else max(low, terms_since)
                stored = self._rows(spec, subreddit, low, until, kept)
                drifts, _ = compare(spec, stored, deltas.rows(kind), low)
                fixes += [(drift, kept) for drift in drifts]
        self._fix_all(fixes)
        return len(fixes)

    @staticmethod
    def _link_fixes(
        stored: Iterable[Row], expected: Mapping[bool, Deltas], since: float | None
    ) -> list[tuple[Drift, bool]]:
        """The links that differ from the items of both origins (`expected`, by origin), each
        with whether its document is imported history's too (an imported item counts in it:
        it must not expire)."""
        both = Deltas()
        for deltas in expected.values():
            both.merge(deltas)
        imported = {tuple(row[:2]) for row in expected[True].rows(LINKS)}
        drifts, _ = compare(KINDS[LINKS], stored, both.rows(LINKS), since)
        return [(drift, drift.key in imported) for drift in drifts]

    def _rebuild_links(self, links: set[tuple[str, str]]) -> None:
        """Make these (subreddit, link_id) links equal their items: the post and its comments
        in the subreddit, whenever they were created, of both origins."""
        by_sub: dict[str, list[str]] = {}
        for subreddit, link_id in sorted(links):
            by_sub.setdefault(subreddit, []).append(link_id)
        fixes: list[tuple[Drift, bool]] = []
        spec = KINDS[LINKS]
        for subreddit, link_ids in by_sub.items():
            for start in range(0, len(link_ids), _READ_CHUNK):
                chunk = link_ids[start : start + _READ_CHUNK]
                marks, params = _id_list(chunk)
                params += _params(subreddit=subreddit)
                scope = {"parameters": params, "partition_key": subreddit}
                try:
                    items = self._listed(self._sync(ITEMS), (
                        f"SELECT {_DELTA_FIELDS}, c.imported FROM c WHERE "
                        f"c.subreddit = @subreddit AND "
                        f"(c.id IN ({marks}) OR c.link_id IN ({marks}))"), **scope)  # fmt: skip
                    stored = self._listed(self._sync(LINKS), (
                        "SELECT * FROM c WHERE c.subreddit = @subreddit AND "
                        f"c.id IN ({marks})"), **scope)  # fmt: skip
                except AzureError as error:
                    raise self._error("read of links to rebuild", error) from error
                expected = {False: Deltas(), True: Deltas()}
                since = self.terms_from()
                for doc in items:
                    expected[bool(doc.get("imported"))].add(_version(doc, since), +1)
                wanted = set(chunk)
                for deltas in expected.values():  # only these links: a post may be elsewhere
                    deltas.links = {k: v for k, v in deltas.links.items() if k[1] in wanted}
                fixes += self._link_fixes(
                    [(d["subreddit"], d["link_id"], *(d.get(n, 0) for n in spec.figures))
                     for d in stored],
                    expected,
                    None,
                )  # fmt: skip
        self._fix_all(fixes)

    def _fix_all(self, fixes: list[tuple[Drift, bool]]) -> None:
        """Write each drifted row's expected figures into its origin's document (`kept`:
        imported history's), term rows grouped per document."""
        terms: _TermPatches = {}
        for drift, kept in fixes:
            if drift.kind in TERM_KINDS:
                subreddit, start, term = drift.key
                slot = ("k" if kept else "") + _TERM_LETTERS[drift.kind]
                counts = terms.setdefault((subreddit, slot, int(start)), {})
                counts[term] = 0 if drift.expected is None else int(drift.expected[0])
        others = [fix for fix in fixes if fix[0].kind not in TERM_KINDS]
        results = self._run_all(lambda fix: self._fix(*fix), others)
        docs = list(terms.items())
        results += self._run_all(lambda kv: self._apply_term_doc(*kv, absolute=True), docs)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise self._failure("aggregate rebuild", errors)

    def _fix(self, drift: Drift, kept: bool) -> None:
        """Write one drifted row's expected figures into its origin's document (a link's one
        document: kept, never expiring, when an imported item counts in it)."""
        key = _doc_key(drift.kind, drift.key, kept)
        container = self._sync(drift.kind)
        if drift.expected is None:
            self._idempotent(partial(self._delete, container, {"id": _doc_id(key), "pk": key[1]}))
        else:
            doc = self._bucket_doc(key, drift.expected)
            self._idempotent(lambda: container.upsert_item(doc))

    # -- batch reads and the trending result (off the event loop) ------------------------
    def iter_items(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        subreddit: str | None = None,
        kind: Kind | None = None,
    ) -> Iterator[Item]:
        """Oldest first by (created_utc, id), in keyset pages of _ITER_PAGE items.

        Each page is its own ``TOP`` query after the last (created_utc, id) seen, so nothing
        is held between pages and no continuation token can expire under a slow consumer.
        With a subreddit it is a single-partition query; without, a cross-partition ORDER BY
        that the SDK merges. With a kind the ORDER BY leads with it, served by the
        (kind, created_utc, id) index; without, by (created_utc, id).
        """
        where: list[str] = []
        values: dict[str, Any] = {"n": _ITER_PAGE}
        if subreddit is not None:
            where.append("c.subreddit = @subreddit")
            values["subreddit"] = subreddit
        if kind is not None:
            where.append("c.kind = @kind")
            values["kind"] = kind.value
        if since is not None:
            where.append("c.created_utc >= @since")
            values["since"] = since
        if until is not None:
            where.append("c.created_utc < @until")
            values["until"] = until
        order = "c.created_utc ASC, c.id ASC"
        if kind is not None:
            order = f"c.kind ASC, {order}"
        container = self._sync(ITEMS)
        scope = _scope(subreddit)
        after: tuple[float, str] | None = None
        while True:
            clauses = list(where)
            if after is not None:
                clauses.append("(c.created_utc > @v OR (c.created_utc = @v AND c.id > @last))")
                values.update(v=after[0], last=after[1])
            sql = (
                "SELECT TOP @n * FROM c"
                + (f" WHERE {' AND '.join(clauses)}" if clauses else "")
                + f" ORDER BY {order}"
            )
            try:
                docs = list(container.query_items(
                    sql, parameters=_params(**values), max_item_count=_ITER_PAGE, **scope
                ))  # fmt: skip
            except AzureError as error:
                raise self._error(f"query on {self.container_name(ITEMS)}", error) from error
            for doc in docs:
                yield _doc_to_item(doc)
            if len(docs) < _ITER_PAGE:
                return
            after = (docs[-1]["created_utc"], docs[-1]["id"])

    def _listed(self, container: ContainerProxy, query: str, **options: Any) -> list[Doc]:
        """A query on the sync client read whole, one at a time across the write pool's
        threads (see `_query_lock`)."""
        with self._query_lock:
            return list(container.query_items(query, **options))

    def _scan(
        self, base: str, query: str, partition: str | None = None, **values: Any
    ) -> list[Doc]:
        """A synchronous query (trending's reads, off the event loop), across partitions or
        in one."""
        try:
            return list(self._sync(base).query_items(
                query, parameters=_params(**values), max_item_count=1000, **_scope(partition)
            ))  # fmt: skip
        except AzureError as error:
            raise self._error(f"query on {self.container_name(base)}", error) from error

    def trending_terms(self, spans: Sequence[Span]) -> dict[tuple[str, str], list[int]]:
        counts: dict[tuple[str, str], list[int]] = {}
        # Each document read once for all the spans using it; no MAX across partitions.
        for width, start, end, uses in shared_pieces(spans, blocks_from=self._blocks_from):
            field = _TERM_FIELDS[width]
            docs = self._scan(
                TERM_COUNTS,
                f"SELECT c.subreddit, c.terms FROM c WHERE c.{field} >= @start "
                f"AND c.{field} < @end",
                start=start, end=_END if end is None else end,
            )  # fmt: skip
            for doc in docs:
                for term, count in doc["terms"].items():
                    row = counts.setdefault((doc["subreddit"], term), [0] * len(spans))
                    for index, sign in uses:
                        row[index] += sign * count
        return {key: row for key, row in counts.items() if any(row)}

    def trending_subreddits(self, spans: Sequence[Span]) -> dict[str, list[tuple[int, float]]]:
        first = min(start for start, _ in spans)
        docs = self._scan(
            HOURLY,
            "SELECT c.subreddit, c.hour, c.posts, c.comments, c.sum_compound FROM c "
            "WHERE c.hour >= @since",
            since=first,
        )
        found: dict[str, list[tuple[int, float]]] = {}
        for doc in docs:
            n = int(doc.get("posts", 0)) + int(doc.get("comments", 0))
            if not n:
                continue
            row = found.setdefault(doc["subreddit"], [(0, 0.0)] * len(spans))
            for index, (start, end) in enumerate(spans):
                if doc["hour"] >= start and (end is None or doc["hour"] < end):
                    items, total = row[index]
                    row[index] = (items + n, total + doc.get("sum_compound", 0.0))
        return found

    def trending_links(
        self, since: int, limit: int, min_comments: int, subreddits: Sequence[str] | None = None
    ) -> list[LinkFigures]:
        # The window's posts, ranked here: Cosmos cannot ORDER BY a computed shift.
        query = "SELECT * FROM c WHERE c.posts = 1 AND c.post_hour >= @since"
        if subreddits is None:
            docs = self._scan(LINKS, query, since=since)
        else:  # a further read of a few subreddits: each in its own partition
            query += " AND c.subreddit = @pk"
            docs = [doc for sub in subreddits
                    for doc in self._scan(LINKS, query, sub, since=since, pk=sub)]  # fmt: skip
        per_sub: dict[str, list[LinkFigures]] = {}
        for doc in docs:
            link = LinkFigures(doc["subreddit"], doc["link_id"], doc.get("post_compound", 0.0),
                               int(doc.get("engagement", 0)), int(doc.get("comments", 0)),
                               doc.get("sum_compound", 0.0))  # fmt: skip
            per_sub.setdefault(link.subreddit, []).append(link)
        chosen: dict[tuple[str, str], LinkFigures] = {}
        for links in per_sub.values():
            ranked = sorted(links, key=lambda k: (-k.engagement, _desc(k.link_id)))[:limit]
            commented = [k for k in links if k.comments >= min_comments]
            commented.sort(key=lambda k: (-abs(k.sum_compound / k.comments - k.post_compound),
                                          k.link_id))  # fmt: skip
            for link in ranked + commented[:limit]:
                chosen[(link.subreddit, link.link_id)] = link
        return list(chosen.values())

    def posts_by_id(self, ids: Sequence[str]) -> dict[str, ShownPost]:
        unique = list(dict.fromkeys(ids))
        found: dict[str, ShownPost] = {}
        for start in range(0, len(unique), _READ_CHUNK):
            marks, params = _id_list(unique[start : start + _READ_CHUNK])
            try:
                docs = list(self._sync(ITEMS).query_items(
                    f"SELECT * FROM c WHERE c.id IN ({marks})", parameters=params,
                    enable_cross_partition_query=True,
                ))  # fmt: skip
            except AzureError as error:
                raise self._error("read of trending's posts", error) from error
            found.update((doc["id"], ShownPost.of(_doc_to_item(doc))) for doc in docs)
        return found

    def save_trending(self, key: str, payload: dict[str, Any]) -> None:
        doc: Doc = {"id": _trending_id(key), "key": key, "payload": payload}
        try:
            self._sync(TRENDING).upsert_item(doc)
        except AzureError as error:
            raise self._error("save trending", error) from error

    # -- read path ---------------------------------------------------------------------
    async def _query(self, base: str, query: str, params: list[dict[str, Any]],
                     partition_key: str | None = None, page_size: int | None = None,
                     ) -> list[Doc]:  # fmt: skip
        container = self._async(base)
        kwargs: dict[str, Any] = {"parameters": params}
        if partition_key is not None:
            kwargs["partition_key"] = partition_key
        if page_size is not None:
            kwargs["max_item_count"] = page_size
        try:
            return [doc async for doc in container.query_items(query, **kwargs)]
        except AzureError as error:
            raise self._error(f"query on {self.container_name(base)}", error) from error

    async def ping(self) -> None:
        await self._query(RUNS, "SELECT TOP 1 c.id FROM c WHERE c.pk = @pk",
                          _params(pk=RUN_PK), partition_key=RUN_PK)  # fmt: skip

    async def aggregates(
        self,
        *,
        subreddit: str | None = None,
        since: float | None = None,
        until: float | None = None,
        bucket: Bucket | None = None,
    ) -> list[Aggregate]:
        """Sum aggregate documents in Python (the SDK cannot GROUP BY across partitions): day
        buckets and totals from the daily documents for the days they hold whole, else from
        hours."""
        if bucket is None and self._days_complete_from is not None:
            days = await self.aggregates(subreddit=subreddit, since=since, until=until,
                                         bucket=Bucket.DAY)  # fmt: skip
            totals: dict[str, Aggregate] = {}
            for day in days:
                seen = totals.get(day.subreddit)
                total = day._replace(bucket_start=None)
                totals[day.subreddit] = total if seen is None else seen.plus(total)
            return sorted(totals.values(), key=lambda a: a.subreddit)
        if bucket is not Bucket.DAY or self._days_complete_from is None:
            return await self._summed(HOURLY, subreddit, since, until, bucket_seconds(bucket))
        # Before `floor` the daily documents may lack hours (see DAILY): sum those days' hours.
        floor = max(self._days_complete_from, ceil_day(self._clock() - self.retention_seconds))
        low = None if since is None else hour_of(since)
        parts: list[Aggregate] = []
        if low is None or low < floor:
            before = floor if until is None else min(until, floor)
            parts += await self._summed(HOURLY, subreddit, low, before, DAY)
        if until is None or until > floor:
            whole, cut = day_ranges(floor if low is None else max(low, floor), until)
            if whole is not None:
                parts += await self._summed(DAILY, subreddit, *whole, DAY)
            for start, stop in cut:
                parts += await self._summed(HOURLY, subreddit, start, stop, DAY)
        return sorted(parts, key=lambda a: (a.subreddit, a.bucket_start or 0.0))

    async def _summed(
        self,
        base: str,
        subreddit: str | None,
        since: float | None,
        until: float | None,
        size: int | None,
    ) -> list[Aggregate]:
        """The documents of an aggregate container (hourly or daily) in a time range, summed
        per subreddit and bucket of `size` seconds (None: one for all time); non-empty only."""
        field = _TIME_FIELD[base]
        where, values = _time_filter({"subreddit": subreddit}, since, until, field)
        query = (
            f"SELECT c.subreddit, c.{field} AS start, c.posts, c.comments, c.sum_compound, "
            f"c.positive, c.neutral, c.negative FROM c{where}"
        )
        docs = await self._query(base, query, _params(**values), partition_key=subreddit,
                                 page_size=1000)  # fmt: skip
        sums: dict[tuple[str, float | None], Aggregate] = {}
        for doc in docs:
            start = None if size is None else float((int(doc["start"]) // size) * size)
            figures = Aggregate(
                subreddit=doc["subreddit"], bucket_start=start,
                posts=int(doc.get("posts", 0)), comments=int(doc.get("comments", 0)),
                sum_compound=float(doc.get("sum_compound", 0.0)),
                positive=int(doc.get("positive", 0)), neutral=int(doc.get("neutral", 0)),
                negative=int(doc.get("negative", 0)),
            )  # fmt: skip
            before = sums.get((figures.subreddit, start))
            sums[(figures.subreddit, start)] = figures if before is None else before.plus(figures)
        rows = [a for a in sums.values() if a.count > 0]
        return sorted(rows, key=lambda a: (a.subreddit, a.bucket_start or 0.0))

    async def hour_extent(self, *, subreddit: str | None = None) -> tuple[float, float] | None:
        first = await self._edge_hour(subreddit, "ASC")
        last = await self._edge_hour(subreddit, "DESC")
        return None if first is None or last is None else (first, last)

    async def _edge_hour(self, subreddit: str | None, direction: str) -> float | None:
        """The oldest (ASC) or newest (DESC) non-empty hourly document's hour: read in the
        order of the indexed `hour`, stopping at the first one that holds items."""
        where, values = _time_filter({"subreddit": subreddit}, None, None)
        condition = "c.posts + c.comments > 0"
        sql = (
            f"SELECT TOP 1 c.hour FROM c{where}{' AND ' if where else ' WHERE '}{condition} "
            f"ORDER BY c.hour {direction}"
        )
        docs = await self._query(HOURLY, sql, _params(**values), partition_key=subreddit)
        return float(docs[0]["hour"]) if docs else None

    async def sentiment_series(
        self,
        *,
        subreddit: str | None = None,
        since: float | None = None,
        until: float | None = None,
        bucket: Bucket = Bucket.HOUR,
    ) -> list[SeriesText]:
        """Rendered per request: the round trip to Cosmos DB outweighs the rendering."""
        buckets = await self.aggregates(
            subreddit=subreddit, since=since, until=until, bucket=bucket
        )
        return series_texts(buckets)

    async def list_items(self, query: ItemQuery) -> ItemPage:
        path = _SORT_PATH[query.sort]
        direction = "DESC" if query.descending else "ASC"
        where = ["c.kind = @kind"]
        values: dict[str, Any] = {"kind": query.kind.value, "n": query.limit + 1}
        for name, value in (("subreddit", query.subreddit), ("label", query.label),
                            ("link_id", query.link_id), ("state", query.state)):  # fmt: skip
            if value is not None:
                where.append(f"c.{name} = @{name}")
                values[name] = str(value)
        if query.since is not None:
            where.append("c.created_utc >= @since")
            values["since"] = query.since
        if query.until is not None:
            where.append("c.created_utc < @until")
            values["until"] = query.until
        if query.cursor:
            after, last_id = decode_cursor(query.cursor)
            op = "<" if query.descending else ">"
            where.append(f"(c.{path} {op} @v OR (c.{path} = @v AND c.id {op} @last))")
            values.update(v=after, last=last_id)
        # The equality-filtered field leads the ORDER BY so one composite index serves it:
        # (link_id, created_utc, id) for a post's comments, else (kind, <sort>, id).
        lead = "link_id" if query.link_id is not None and query.sort is Sort.NEW else "kind"
        sql = (
            f"SELECT TOP @n * FROM c WHERE {' AND '.join(where)} "
            f"ORDER BY c.{lead} {direction}, c.{path} {direction}, c.id {direction}"
        )
        docs = await self._query(ITEMS, sql, _params(**values), partition_key=query.subreddit,
                                 page_size=query.limit + 1)  # fmt: skip
        return item_page([_doc_to_item(d) for d in docs], query)

    async def state_counts(self, subreddit: str | None = None) -> dict[str, int]:
        counts: dict[str, int] = {}
        for state in (ItemState.DELETED, ItemState.REMOVED):
            where = "c.state = @state" + (" AND c.subreddit = @sub" if subreddit else "")
            values: dict[str, Any] = {"state": state.value}
            if subreddit:
                values["sub"] = subreddit
            found = await self._query(ITEMS, f"SELECT VALUE COUNT(1) FROM c WHERE {where}",
                                      _params(**values), partition_key=subreddit)  # fmt: skip
            values_found: list[Any] = list(found)  # SELECT VALUE: numbers, not documents
            total = sum(int(n) for n in values_found if isinstance(n, int | float))
            if total:
                counts[state.value] = total
        return counts

    async def get_item(self, item_id: str, subreddit: str | None = None) -> Item | None:
        if subreddit is not None:  # the partition: a point read
            doc = await self._read(ITEMS, item_id, subreddit)
            return None if doc is None else _doc_to_item(doc)
        # Without it, a query by id across partitions.
        docs = await self._query(ITEMS, "SELECT * FROM c WHERE c.id = @id", _params(id=item_id))
        return _doc_to_item(docs[0]) if docs else None

    async def list_runs(
        self, limit: int, cursor: str | None = None, kind: RunKind | None = None
    ) -> RunPage:
        where: list[str] = []
        values: dict[str, Any] = {}
        if kind is RunKind.COLLECT:  # runs from before kinds were all collections
            where.append("(NOT IS_DEFINED(c.kind) OR c.kind = @kind)")
            values["kind"] = kind.value
        elif kind is not None:
            where.append("c.kind = @kind")
            values["kind"] = kind.value
        runs, next_cursor = await self._newest_first(
            RUNS, RUN_PK, "started_at", where, values, limit, cursor, _doc_to_run
        )
        return RunPage(runs=runs, next_cursor=next_cursor)

    async def _newest_first(
        self,
        base: str,
        pk: str,
        field: str,
        where: list[str],
        values: dict[str, Any],
        limit: int,
        cursor: str | None,
        convert: Callable[[Doc], D],
    ) -> tuple[list[D], str | None]:
        """A page of runs or alerts (one partition) newest first by (`field`, id) after
        `cursor`, of the documents `where` (with `values`) admits."""
        where = ["c.pk = @pk", *where]
        values = {**values, "pk": pk, "n": limit + 1}
        if cursor:
            value, last_id = decode_cursor(cursor)
            where.append(f"(c.{field} < @v OR (c.{field} = @v AND c.id < @last))")
            values.update(v=value, last=last_id)
        sql = (
            f"SELECT TOP @n * FROM c WHERE {' AND '.join(where)} ORDER BY c.{field} DESC, c.id DESC"
        )
        docs = await self._query(base, sql, _params(**values), partition_key=pk,
                                 page_size=limit + 1)  # fmt: skip
        return newest_first_page(docs, limit, field, convert)

    async def _read(self, base: str, doc_id: str, partition_key: str) -> Doc | None:
        """A point read (1 RU for a small document); None when there is no such document."""
        try:
            return dict(await self._async(base).read_item(doc_id, partition_key=partition_key))
        except CosmosResourceNotFoundError:
            return None
        except AzureError as error:
            raise self._error(f"read on {self.container_name(base)}", error) from error

    async def get_run(self, run_id: str) -> CollectionRun | None:
        doc = await self._read(RUNS, run_id, RUN_PK)
        return None if doc is None else _doc_to_run(doc)

    async def lease_holder(self, name: str) -> Lease | None:
        doc = await self._read(LEASES, name, name)
        if doc is None or float(doc["expires_at"]) <= self._clock():
            return None
        return Lease(doc["id"], doc["owner"], float(doc["expires_at"]))

    async def keyword_aggregates(
        self,
        *,
        keyword: str | None = None,
        subreddit: str | None = None,
        since: float | None = None,
        until: float | None = None,
        bucket: Bucket | None = None,
    ) -> list[KeywordAggregate]:
        """Sum keyword_hourly documents in Python; one keyword is a single-partition query."""
        where, values = _time_filter({"keyword": keyword, "subreddit": subreddit}, since, until)
        query = (
            'SELECT c.keyword, c.hour, c["count"], c.sum_compound, c.positive, c.neutral, '
            f"c.negative FROM c{where}"
        )
        docs = await self._query(KEYWORD_HOURLY, query, _params(**values),
                                 partition_key=keyword, page_size=1000)  # fmt: skip
        size = bucket_seconds(bucket)
        sums: dict[tuple[str, float | None], KeywordAggregate] = {}
        for doc in docs:
            count = int(doc.get("count", 0))
            if count == 0:
                continue  # every mention in it was taken back (re-tagged or re-scored)
            hour = int(doc["hour"])
            start = None if size is None else float((hour // size) * size)
            agg = sums.get((doc["keyword"], start))
            if agg is None:
                agg = sums[(doc["keyword"], start)] = KeywordAggregate(doc["keyword"], start)
            agg.count += count
            agg.sum_compound += float(doc.get("sum_compound", 0.0))
            agg.positive += int(doc.get("positive", 0))
            agg.neutral += int(doc.get("neutral", 0))
            agg.negative += int(doc.get("negative", 0))
            if agg.last_hour is None or hour > agg.last_hour:
                agg.last_hour = float(hour)
        rows = [a for a in sums.values() if a.count > 0]
        return sorted(rows, key=lambda a: (a.keyword, a.bucket_start or 0.0))

    async def distinct_authors(
        self,
        *,
        subreddit: str | None = None,
        keyword: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> int:
        """Counted in Python: a window is a few hours of one subreddit's (or all) authors."""
        where, values = _time_filter(
            {"keyword": keyword or ALL_ITEMS, "subreddit": subreddit}, since, until
        )
        query = f'SELECT c.author FROM c{where} AND c["count"] > 0'
        docs = await self._query(AUTHOR_HOURLY, query, _params(**values),
                                 partition_key=subreddit, page_size=1000)  # fmt: skip
        return len({doc["author"] for doc in docs})

    def save_alert_rule(self, rule: AlertRule) -> None:
        try:
            self._sync(ALERT_RULES).upsert_item({**rule_doc(rule), "pk": RULE_PK})
        except AzureError as error:
            raise self._error("save alert rule", error) from error

    def delete_alert_rule(self, rule_id: str) -> bool:
        try:
            self._sync(ALERT_RULES).delete_item(rule_id, partition_key=RULE_PK)
        except CosmosResourceNotFoundError:
            return False
        except AzureError as error:
            raise self._error("delete alert rule", error) from error
        return True

    async def list_alert_rules(self) -> list[AlertRule]:
        docs = await self._query(ALERT_RULES, "SELECT * FROM c WHERE c.pk = @pk",
                                 _params(pk=RULE_PK), partition_key=RULE_PK)  # fmt: skip
        return sorted((rule_of(doc) for doc in docs), key=lambda rule: rule.id)

    async def get_alert_rule(self, rule_id: str) -> AlertRule | None:
        # cosmosdb-server: a point read of a missing document answers 500, so a query by id.
        query = "SELECT * FROM c WHERE c.pk = @pk AND c.id = @id"
        docs = await self._query(ALERT_RULES, query, _params(pk=RULE_PK, id=rule_id),
                                 partition_key=RULE_PK)  # fmt: skip
        return rule_of(docs[0]) if docs else None

    def save_alert(self, alert: Alert) -> None:
        try:
            self._sync(ALERTS).upsert_item({**alert_doc(alert), "pk": ALERT_PK})
        except AzureError as error:
            raise self._error("save alert", error) from error

    async def list_alerts(
        self, limit: int, cursor: str | None = None, rule_id: str | None = None
    ) -> AlertPage:
        where: list[str] = []
        values: dict[str, Any] = {}
        if rule_id is not None:
            where.append("c.rule_id = @rule")
            values["rule"] = rule_id
        alerts, next_cursor = await self._newest_first(
            ALERTS, ALERT_PK, "fired_at", where, values, limit, cursor, alert_of
        )
        return AlertPage(alerts=alerts, next_cursor=next_cursor)

    async def get_trending(self, key: str) -> dict[str, Any] | None:
        doc_id = _trending_id(key)
        doc = await self._read(TRENDING, doc_id, doc_id)
        return None if doc is None else dict(doc["payload"])


def _day(created_utc: float) -> int:
    return int(created_utc // DAY) * DAY


_END = 2**53  # a span without an end (within JSON's exact integers)


def _desc(text: str) -> list[int]:
    """A sort key that orders strings in reverse (for 'link_id DESC' as a tie-break)."""
    return [-ord(ch) for ch in text] + [1]


def _time_filter(
    filters: dict[str, str | None], since: float | None, until: float | None, field: str = "hour"
) -> tuple[str, dict[str, Any]]:
    """WHERE clause and parameters shared by the aggregate reads (`field`: hour or day)."""
    where: list[str] = []
    values: dict[str, Any] = {}
    for name, value in filters.items():
        if value is not None:
            where.append(f"c.{name} = @{name}")
            values[name] = value
    if since is not None:
        where.append(f"c.{field} >= @since")
        values["since"] = hour_of(since)
    if until is not None:
        where.append(f"c.{field} < @until")
        values["until"] = until
    return (f" WHERE {' AND '.join(where)}" if where else ""), values
