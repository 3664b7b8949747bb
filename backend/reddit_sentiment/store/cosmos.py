"""Azure Cosmos DB store (NoSQL API): the same protocol as SQLite, for hosted deployments.

Layout: one database and seven containers (names prefixed by COSMOS_CONTAINER_PREFIX):

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

Testing: the suite runs against ``@vercel/cosmosdb-server`` (tests/cosmos/server.js). Where
code here avoids one of its gaps, a comment says ``cosmosdb-server:``; the code path stays the
one that is correct for real Cosmos DB.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict
from functools import partial
from typing import Any, TypeVar

import requests
from azure.core import MatchConditions
from azure.core.exceptions import AzureError
from azure.core.pipeline.transport import HttpTransport, RequestsTransport
from azure.cosmos import ContainerProxy, CosmosClient, DatabaseProxy, PartitionKey
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
    CollectionRun,
    Item,
    Kind,
    Label,
    ListingError,
    RejectedItem,
    RunKind,
    RunStatus,
    SubredditCounts,
    UpsertResult,
)
from ..settings import Settings
from .base import (
    DAY,
    HOUR,
    Aggregate,
    Bucket,
    ItemPage,
    ItemQuery,
    KeywordAggregate,
    Lease,
    RejectedByStore,
    RunPage,
    SeriesText,
    Sort,
    StoreUnavailable,
    bucket_seconds,
    ceil_day,
    day_ranges,
    decode_cursor,
    encode_cursor,
    hour_of,
    interrupted,
    item_page,
)
from .deltas import FIGURES, KEYWORD_FIGURES, Deltas, Version, item_change
from .rendered import series_texts

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
Doc = dict[str, Any]

ITEMS = "items"
HOURLY = "hourly"
DAILY = "daily"
KEYWORD_HOURLY = "keyword_hourly"
RUNS = "runs"
LEASES = "leases"
TRENDING = "trending"
RUN_PK = "run"

_READ_CHUNK = 100  # ids per "which of these exist" query
_ITER_PAGE = 500  # items per iter_items page
_DELETE_BATCH = 1000  # documents per retention query
_WRITE_ATTEMPTS = 5  # create/patch races on one hourly document
_UNCHANGED = MatchConditions.IfNotModified  # etag-conditioned write
_SORT_PATH = {Sort.NEW: "created_utc", Sort.SCORE: "score", Sort.COMPOUND: "compound"}
_COUNTERS = FIGURES  # the engine's row figures are the documents' counters, in its order
_KEYWORD_COUNTERS = KEYWORD_FIGURES
# The partition key field of each aggregate container (what its documents are deleted by).
_PK_FIELD = {ITEMS: "subreddit", HOURLY: "subreddit", DAILY: "subreddit", KEYWORD_HOURLY: "keyword"}
# The time field of each aggregate container.
_TIME_FIELD = {HOURLY: "hour", DAILY: "day", KEYWORD_HOURLY: "hour"}
# In `daily`, under a partition no subreddit can have ([A-Za-z0-9_]): the first day its
# documents hold whole. A document without `day`, so no day query ever returns it.
DAYS_COMPLETE_FROM = "days-complete-from"
_META_PARTITION = "~meta"
# What the aggregate deltas of an upsert need of an item's stored version.
_DELTA_FIELDS = "c.id, c.kind, c.subreddit, c.created_utc, c.compound, c.label, c.keywords"
# And what an upsert keeps of it: the origin, and whether retention's TTL was taken off it.
_KEPT_FIELDS = ", c.imported, c.ttl"
# A document no TTL expires (Cosmos's -1): imported history and what shares its hours.
NO_TTL = -1
# Patch conditions: whether an aggregate document holds imported history (`keep`).
_KEPT = "FROM c WHERE IS_DEFINED(c.keep)"
_NOT_KEPT = "FROM c WHERE NOT IS_DEFINED(c.keep)"
_ITEM_FIELDS = (
    "id", "kind", "subreddit", "author", "created_utc", "title", "body", "permalink", "score",
    "num_comments", "parent_id", "link_id", "compound", "pos", "neu", "neg", "label",
    "truncated", "collected_at", "keywords",
)  # fmt: skip


def _composite(*paths: str) -> list[list[dict[str, str]]]:
    """One composite index per direction.

    Real Cosmos serves an ORDER BY from a composite index in its exact or fully reversed
    order, so one entry per field list would do. cosmosdb-server: it only accepts the exact
    direction, so both are declared; the price is a slightly larger index on real Cosmos.
    """
    orders = ("ascending", "descending")
    return [[{"path": f"/{p}", "order": order} for p in paths] for order in orders]


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
    ("subreddit", "kind", "label", "link_id", "created_utc", "score", "compound", "imported"),
    _composite("kind", "created_utc", "id")
    + _composite("kind", "score", "id")
    + _composite("kind", "compound", "id")
    + _composite("link_id", "created_utc", "id")
    + _composite("created_utc", "id"),  # iter_items without a kind filter
)
# `keep` and the counts: retention finds the documents it may delete by them.
HOURLY_POLICY = _policy(("subreddit", "hour", "keep", "posts", "comments"), [])
DAILY_POLICY = _policy(("subreddit", "day", "keep", "posts", "comments"), [])
KEYWORD_HOURLY_POLICY = _policy(("keyword", "subreddit", "hour", "keep", "count"), [])
LEASES_POLICY = _policy(("expires_at",), [])
TRENDING_POLICY = _policy(("key",), [])  # read by id; the readable key for listings
RUNS_POLICY = _policy(
    ("pk", "status", "started_at"),
    [[{"path": "/started_at", "order": "descending"}, {"path": "/id", "order": "descending"}]],
)


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
        "text_hash": item.text_hash, "imported": item.imported, "ttl": ttl,
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


def _refused(error: BaseException) -> bool:
    """Cosmos DB answered that the document itself is wrong (bad request, too large), which
    no retry changes, as opposed to being unreachable, throttled or timing out."""
    return isinstance(error, CosmosHttpResponseError) and error.status_code in (400, 413)


def _params(**values: Any) -> list[dict[str, Any]]:
    return [{"name": f"@{name}", "value": value} for name, value in values.items()]


def _trending_id(key: str) -> str:
    """A Cosmos id for a trending key: ids cannot contain ``/ \\ ? #`` and stop at 255 chars."""
    encoded = base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")
    if len(encoded) <= 255:
        return encoded
    return "sha256." + hashlib.sha256(key.encode()).hexdigest()  # "." is not base64url


# An aggregate document: (container, partition key value, subreddit, hour).
_Key = tuple[str, str, str, int]
# Signed counters to add to aggregate documents (in `_COUNTERS` / `_KEYWORD_COUNTERS` order).
_Patches = dict[_Key, list[float]]


def _version(doc: Mapping[str, Any]) -> Version:
    """What the aggregates count of a stored item document."""
    return Version(doc["subreddit"], doc["created_utc"], doc["kind"], doc["compound"],
                   doc["label"], tuple(doc.get("keywords") or []))  # fmt: skip


def _documents(deltas: Deltas) -> _Patches:
    """The aggregate documents the engine's rows change: hourly, daily and keyword_hourly
    (Cosmos keeps no totals: they are read as the daily documents summed)."""
    patches: _Patches = {}
    for subreddit, hour, *figures in deltas.hourly_rows():
        patches[(HOURLY, subreddit, subreddit, hour)] = figures
    for subreddit, day, *figures in deltas.daily_rows():
        patches[(DAILY, subreddit, subreddit, day)] = figures
    for keyword, subreddit, hour, *figures in deltas.keyword_rows():
        patches[(KEYWORD_HOURLY, keyword, subreddit, hour)] = figures
    return patches


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
        connection_timeout: float = 5.0,
        transport: HttpTransport[Any, Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not endpoint or not key:
            raise ValueError("CosmosStore needs an endpoint and a key")
        self.endpoint = endpoint
        self.database_name = database
        self.container_prefix = container_prefix
        self.max_concurrency = max_concurrency
        self.retention_seconds = retention_seconds
        self.retry_throttle_total = retry_throttle_total
        self.retry_throttle_backoff_max = retry_throttle_backoff_max
        self.connection_timeout = connection_timeout
        self._key = key
        self._transport = transport
        self._clock = clock
        self._client: CosmosClient | None = None
        self._containers: dict[str, ContainerProxy] = {}
        self._aclient: AsyncCosmosClient | None = None
        self._acontainers: dict[str, AsyncContainerProxy] = {}
        self._pool = ThreadPoolExecutor(max_workers=max_concurrency,
                                        thread_name_prefix="cosmos-write")  # fmt: skip
        self._days_complete_from: float | None = None  # read by open(); None: trust no day

    @classmethod
    def from_settings(cls, settings: Settings) -> CosmosStore:
        return cls(
            settings.cosmos_endpoint,
            settings.cosmos_key.get_secret_value(),
            settings.cosmos_database,
            container_prefix=settings.cosmos_container_prefix,
            max_concurrency=settings.cosmos_max_concurrency,
            retention_seconds=settings.retention_days * DAY,
        )

    def __repr__(self) -> str:  # never the key
        return f"CosmosStore(endpoint={self.endpoint!r}, database={self.database_name!r})"

    def container_name(self, base: str) -> str:
        return f"{self.container_prefix}{base}"

    # -- clients -----------------------------------------------------------------------
    def client_options(self) -> dict[str, Any]:
        """Options shared by the sync and async clients: 429 retry budget and timeouts.

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
        """A StoreUnavailable naming the operation and the cause, never the key."""
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
        message = message.replace(self._key, "***")[:300]
        text = f"Cosmos DB {what} failed at {self.endpoint}: {detail}"
        return StoreUnavailable(f"{text}: {message}" if message else text)

    def _sync(self, base: str) -> ContainerProxy:
        if self._client is None:
            raise StoreUnavailable("CosmosStore.open() has not been called")
        return self._containers[base]

    def _async(self, base: str) -> AsyncContainerProxy:
        if self._aclient is None:
            # Created on first use, inside the event loop that will use it (aiohttp binds to it).
            self._aclient = AsyncCosmosClient(self.endpoint, credential=self._key,
                                              **self.client_options())  # fmt: skip
        if base not in self._acontainers:
            db = self._aclient.get_database_client(self.database_name)
            self._acontainers[base] = db.get_container_client(self.container_name(base))
        return self._acontainers[base]

    # -- lifecycle ---------------------------------------------------------------------
    def open(self) -> None:
        """Connect, and create the database and containers if missing (or update their policy)."""
        try:
            self._client = CosmosClient(
                self.endpoint,
                credential=self._key,
                transport=self._transport or self._sync_transport(),
                **self.client_options(),
            )
            db = self._client.create_database_if_not_exists(self.database_name)
            specs = (
                (ITEMS, "/subreddit", ITEMS_POLICY, self.retention_seconds),
                (HOURLY, "/subreddit", HOURLY_POLICY, self.retention_seconds),
                (DAILY, "/subreddit", DAILY_POLICY, self.retention_seconds),
                (KEYWORD_HOURLY, "/keyword", KEYWORD_HOURLY_POLICY, self.retention_seconds),
                (RUNS, "/pk", RUNS_POLICY, None),
                (LEASES, "/id", LEASES_POLICY, None),
                (TRENDING, "/id", TRENDING_POLICY, None),
            )
            for base, pk_path, policy, ttl in specs:
                self._containers[base] = self._ensure_container(db, base, pk_path, policy, ttl)
            self._days_complete_from = self._days_marker()
        except AzureError as error:
            raise self._error("open", error) from error

    def _days_marker(self) -> float:
        """The first day the daily documents hold whole, recorded once per deployment: the
        beginning of time for a new one, else the first day after `daily` came into use (a day
        already under way, or before, lacks what was written to it earlier)."""
        daily = self._sync(DAILY)
        # cosmosdb-server: a point read of a missing document answers 500, so a query by id.
        query = "SELECT * FROM c WHERE c.subreddit = @pk AND c.id = @id"
        params = _params(pk=_META_PARTITION, id=DAYS_COMPLETE_FROM)
        for _ in range(2):
            found = list(daily.query_items(query, parameters=params,
                                           partition_key=_META_PARTITION))  # fmt: skip
            if found:
                return float(found[0]["day_from"])
            hours = list(self._sync(HOURLY).query_items(
                "SELECT TOP 1 c.id FROM c", enable_cross_partition_query=True
            ))  # fmt: skip
            day_from = ceil_day(self._clock()) if hours else 0
            try:
                daily.create_item({"id": DAYS_COMPLETE_FROM, "subreddit": _META_PARTITION,
                                   "day_from": day_from, "ttl": -1})  # fmt: skip
                return float(day_from)
            except CosmosResourceExistsError:
                continue  # another process recorded it first: read theirs
        raise StoreUnavailable("Cosmos DB: the daily documents' marker cannot be read")

    def _ensure_container(self, db: DatabaseProxy, base: str, pk_path: str,
                          policy: dict[str, Any], ttl: int | None) -> ContainerProxy:  # fmt: skip
        name = self.container_name(base)
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
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        if self._aclient is not None:
            client, self._aclient = self._aclient, None
            self._acontainers.clear()
            await client.close()
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
        """The stored versions of these items in one partition (the fields the aggregates
        need)."""
        marks, params = _id_list(ids)
        # The partition filter is redundant with partition_key on real Cosmos.
        # cosmosdb-server: rejects a partitioned query whose WHERE lacks the partition key.
        query = (
            f"SELECT {_DELTA_FIELDS}{_KEPT_FIELDS} FROM c "
            f"WHERE c.subreddit = @subreddit AND c.id IN ({marks})"
        )
        params += _params(subreddit=subreddit)
        return list(self._sync(ITEMS).query_items(query, parameters=params,
                                                   partition_key=subreddit))  # fmt: skip

    def _apply_bucket(
        self,
        key: _Key,
        values: list[float],
        keep: bool = False,
        newly_kept: set[_Key] | None = None,
    ) -> bool:
        """Add signed counters to one aggregate document: patch `incr`, create when missing.
        Returns whether the document holds imported history (`keep`: no TTL).

        A document is marked `keep` (and its TTL taken off) when an imported item is counted
        in it (`keep` True), for good; a collected item's write sets the TTL only on a
        document that is not marked (a conditional patch), and learns that it is. A document
        marked now that was there before is added to `newly_kept`."""
        base, partition, subreddit, start = key
        container = self._sync(base)
        counters = _KEYWORD_COUNTERS if base == KEYWORD_HOURLY else _COUNTERS
        doc_id = f"{subreddit}:{start}" if base == KEYWORD_HOURLY else str(start)
        incr: list[dict[str, Any]] = [
            {"op": "incr", "path": f"/{name}", "value": value}
            for name, value in zip(counters, values, strict=True)
            if value
        ]
        if keep:
            ttl = NO_TTL
            first = [*incr, {"op": "set", "path": "/keep", "value": True},
                     {"op": "set", "path": "/ttl", "value": NO_TTL}]  # fmt: skip
            condition = _KEPT
        else:
            ttl = self._ttl(start + DAY - HOUR if base == DAILY else start)  # with its last hour
            first = [*incr, {"op": "set", "path": "/ttl", "value": ttl}]
            condition = _NOT_KEPT
        for _ in range(_WRITE_ATTEMPTS):
            try:
                container.patch_item(doc_id, partition_key=partition, patch_operations=first,
                                     filter_predicate=condition)  # fmt: skip
                return keep
            except CosmosAccessConditionFailedError:
                # keep: a document of collected items only, now marked; else one marked.
                container.patch_item(doc_id, partition_key=partition,
                                     patch_operations=first if keep else incr)  # fmt: skip
                if keep and newly_kept is not None:
                    newly_kept.add(key)
                return True
            except CosmosResourceNotFoundError:
                pass
            doc: Doc = {"id": doc_id, "subreddit": subreddit, _TIME_FIELD[base]: start, "ttl": ttl}
            if keep:
                doc["keep"] = True
            if base == KEYWORD_HOURLY:
                doc["keyword"] = partition
            doc.update(zip(counters, values, strict=True))
            try:
                container.create_item(doc)
                return keep
            except CosmosResourceExistsError:
                continue  # created concurrently: patch it
        raise StoreUnavailable(
            f"{base} aggregate {partition}/{doc_id} kept changing under the write"
        )

    def _apply(
        self,
        patches: _Patches,
        keep: set[_Key] | None = None,
        kept: set[_Key] | None = None,
        newly_kept: set[_Key] | None = None,
    ) -> tuple[_Patches, list[BaseException]]:
        """Apply every document's counters (marking those in `keep`); return what was
        applied and the errors; add the documents that hold imported history to `kept`."""
        buckets = [(key, values) for key, values in patches.items() if any(values)]
        marked = keep or set()
        results = self._run_all(
            lambda kv: self._apply_bucket(kv[0], kv[1], kv[0] in marked, newly_kept), buckets
        )
        applied: _Patches = {}
        for (key, values), outcome in zip(buckets, results, strict=True):
            if not isinstance(outcome, BaseException):
                applied[key] = values
                if outcome is True and kept is not None:
                    kept.add(key)
        return applied, [r for r in results if isinstance(r, BaseException)]

    def _subtract(self, patches: _Patches) -> list[BaseException]:
        """Take deleted items off their aggregate documents (retention): patch only, no TTL
        change; a document already gone (expired with its items) is left gone."""

        def one(kv: tuple[_Key, list[float]]) -> None:
            (base, partition, subreddit, start), values = kv
            counters = _KEYWORD_COUNTERS if base == KEYWORD_HOURLY else _COUNTERS
            doc_id = f"{subreddit}:{start}" if base == KEYWORD_HOURLY else str(start)
            ops = [
                {"op": "incr", "path": f"/{name}", "value": value}
                for name, value in zip(counters, values, strict=True)
                if value
            ]
            with contextlib.suppress(CosmosResourceNotFoundError):
                self._sync(base).patch_item(doc_id, partition_key=partition,
                                            patch_operations=ops)  # fmt: skip

        buckets = [(key, values) for key, values in patches.items() if any(values)]
        return [r for r in self._run_all(one, buckets) if isinstance(r, BaseException)]

    def _keep_items_of(self, hours: set[_Key]) -> None:
        """Take the TTL off the items of hours that came to hold imported history: from now
        on they leave by the retention pass, one by one, taken off their aggregates."""

        def fix(key: _Key) -> None:
            _, subreddit, _, hour = key
            container = self._sync(ITEMS)
            docs = container.query_items(
                "SELECT c.id FROM c WHERE c.subreddit = @sub AND c.created_utc >= @start "
                "AND c.created_utc < @end",
                parameters=_params(sub=subreddit, start=hour, end=hour + HOUR),
                partition_key=subreddit,
            )
            for doc in docs:
                container.patch_item(doc["id"], partition_key=subreddit,
                                     patch_operations=[{"op": "set", "path": "/ttl",
                                                        "value": NO_TTL}])  # fmt: skip

        errors = [r for r in self._run_all(fix, sorted(hours)) if isinstance(r, BaseException)]
        if errors:
            raise self._failure("keeping the items of imported hours", errors)

    def known_scores(self, items: Sequence[Item]) -> dict[str, Item]:
        # Across partitions: a response may name another subreddit for a known item, and the
        # cycle must find where it is stored, or it would be written twice.
        ids = [item.id for item in items]
        chunks = [ids[start : start + _READ_CHUNK] for start in range(0, len(ids), _READ_CHUNK)]

        def stored(chunk: list[str]) -> list[Doc]:
            marks, params = _id_list(chunk)
            return list(self._sync(ITEMS).query_items(
                f"SELECT * FROM c WHERE c.id IN ({marks})", parameters=params,
                enable_cross_partition_query=True,
            ))  # fmt: skip

        try:
            found = list(self._pool.map(stored, chunks))
        except AzureError as error:
            raise self._error("read of known items", error) from error
        return {doc["id"]: _doc_to_item(doc) for docs in found for doc in docs}

    def _upsert_item(self, item: Item, kept: bool) -> None:
        ttl = NO_TTL if kept or item.imported else self._ttl(item.created_utc)
        self._sync(ITEMS).upsert_item(_item_doc(item, ttl))

    def upsert_items(self, items: Sequence[Item]) -> UpsertResult:
        """Upsert by fullname and move the hourly and keyword aggregates by exactly the change.

        Cosmos has no transaction across containers, so the order is chosen to be repairable:
        the aggregate deltas are applied first, then the items; if some item writes fail, the
        deltas of exactly those items are subtracted again before StoreUnavailable is raised,
        so a retried batch counts every item once. Correct for one writer at a time (the
        collector); concurrent writers of the same items could double-count.
        """
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

        per_item: dict[str, Deltas] = {}
        total = Deltas()
        marked: set[_Key] = set()  # the aggregate documents imported items are counted in
        no_ttl: set[str] = set()  # items retention's TTL was already taken off
        for item in unique:
            before = old.get(item.id)
            if before is None:
                result.new += 1
            else:
                result.updated += 1
                item.imported = item.imported or bool(before.get("imported"))
                if before.get("ttl") == NO_TTL:
                    no_ttl.add(item.id)
            change = item_change(None if before is None else _version(before), Version.of(item))
            if change is not None:
                per_item[item.id] = change
                total.merge(change)
                if item.imported:
                    marked.update(_documents(change))

        kept: set[_Key] = set()
        newly_kept: set[_Key] = set()
        applied, errors = self._apply(_documents(total), marked, kept, newly_kept)
        if errors:
            self._compensate(applied)
            raise self._failure("aggregate update", errors)
        kept_hours = {(s, hour_of(c)) for base, _, s, c in kept if base == HOURLY}
        for item in unique:
            if (item.subreddit, hour_of(item.created_utc)) in kept_hours:
                no_ttl.add(item.id)
        newly_kept_hours = {key for key in newly_kept if key[0] == HOURLY}
        if newly_kept_hours:
            self._keep_items_of(newly_kept_hours)

        results = self._run_all(lambda item: self._upsert_item(item, item.id in no_ttl), unique)
        item_errors = [r for r in results if isinstance(r, BaseException)]
        failed = [i for i, r in zip(unique, results, strict=True) if isinstance(r, BaseException)]
        if failed:
            undo = Deltas()
            for item in failed:
                if item.id in per_item:
                    undo.merge(per_item[item.id])
            self._compensate(_documents(undo))
            what = f"upsert of {len(failed)} of {len(unique)} items"
            first = item_errors[0]
            if isinstance(first, Exception) and all(_refused(e) for e in item_errors):
                raise RejectedByStore(str(self._error(what, first)))
            raise self._failure(what, item_errors)
        return result

    def _compensate(self, applied: _Patches) -> None:
        _, errors = self._apply({key: [0 - v for v in values] for key, values in applied.items()})
        if errors:
            log.error(
                "Cosmos DB: could not roll back aggregates after a failed write "
                "(%d buckets may be off): %s", len(errors), self._failure("rollback", errors),
            )  # fmt: skip

    def _failure(self, what: str, errors: Sequence[BaseException]) -> StoreUnavailable:
        first = errors[0]
        if isinstance(first, StoreUnavailable):
            return first
        if isinstance(first, Exception):
            return self._error(what, first)
        raise first  # KeyboardInterrupt and friends

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
        """Delete collected items before the cutoff's hour and imported ones before the
        imported cutoff's (None: none), each taken off its aggregate documents after it is
        gone (so a retried pass takes nothing off twice); then the aggregate documents left
        with no item: those of collected items only before the cutoff (TTL's job too) and
        those of imported hours that are now empty."""
        cutoff = hour_of(cutoff_utc)
        origins = [("(NOT IS_DEFINED(c.imported) OR c.imported = false)", cutoff)]
        if imported_cutoff_utc is not None:
            origins.append(("c.imported = true", hour_of(imported_cutoff_utc)))
        latest = max(bound for _, bound in origins)
        deleted = 0
        try:
            items = self._sync(ITEMS)
            for condition, bound in origins:
                query = (
                    f"SELECT TOP @n {_DELTA_FIELDS} FROM c "
                    f"WHERE c.created_utc < @cutoff AND {condition}"
                )
                while True:  # re-query after each batch: nothing to get wrong in continuations
                    docs = list(items.query_items(
                        query, parameters=_params(n=_DELETE_BATCH, cutoff=bound),
                        enable_cross_partition_query=True, max_item_count=_DELETE_BATCH,
                    ))  # fmt: skip
                    for doc in docs:
                        doc["pk"] = doc["subreddit"]
                    results = self._run_all(partial(self._delete, items), docs)
                    gone = Deltas()
                    for doc, outcome in zip(docs, results, strict=True):
                        if outcome is True:
                            gone.add(_version(doc), -1)
                            deleted += 1
                    failures = [r for r in results if isinstance(r, BaseException)]
                    failures += self._subtract(_documents(gone))
                    if failures:
                        raise self._failure("retention delete", failures)
                    if len(docs) < _DELETE_BATCH:
                        break
            first_day = (cutoff // DAY) * DAY  # days before it held only expired hours
            for base, field, bound, empty in (
                (HOURLY, "hour", cutoff, "c.posts = 0 AND c.comments = 0"),
                (DAILY, "day", first_day, "c.posts = 0 AND c.comments = 0"),
                (KEYWORD_HOURLY, "hour", cutoff, "c.count = 0"),
            ):
                self._delete_left(base, field, bound, latest, empty)
        except AzureError as error:
            raise self._error("retention delete", error) from error
        return deleted

    def _delete_left(self, base: str, field: str, bound: float, latest: float, empty: str) -> None:
        """Delete the aggregate documents of `base` retention has emptied: unmarked ones
        before `bound` (collected items only), marked ones before `latest` that count none."""
        container = self._sync(base)
        pk = _PK_FIELD[base]
        query = (
            f"SELECT TOP @n c.id, c.{pk} AS pk FROM c WHERE "
            f"(c.{field} < @bound AND NOT IS_DEFINED(c.keep)) OR "
            f"(c.{field} < @latest AND IS_DEFINED(c.keep) AND {empty})"
        )
        while True:
            docs = list(container.query_items(
                query, parameters=_params(n=_DELETE_BATCH, bound=bound, latest=latest),
                enable_cross_partition_query=True, max_item_count=_DELETE_BATCH,
            ))  # fmt: skip
            results = self._run_all(partial(self._delete, container), docs)
            failures = [r for r in results if isinstance(r, BaseException)]
            if failures:
                raise self._failure("retention delete", failures)
            if len(docs) < _DELETE_BATCH:
                return

    @staticmethod
    def _delete(container: ContainerProxy, doc: Doc) -> bool:
        try:
            container.delete_item(doc["id"], partition_key=doc["pk"])
        except CosmosResourceNotFoundError:
            return False  # expired by TTL meanwhile
        return True

    def _lease_doc(self, name: str) -> Doc | None:
        # cosmosdb-server: a point read of a missing document answers 500, so a query by id.
        docs = list(self._sync(LEASES).query_items(
            "SELECT * FROM c WHERE c.id = @id", parameters=_params(id=name), partition_key=name
        ))  # fmt: skip
        return docs[0] if docs else None

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
        scope: dict[str, Any] = (
            {"enable_cross_partition_query": True}
            if subreddit is None
            else {"partition_key": subreddit}
        )
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
        buckets from the daily documents for the days they hold whole, else from hours."""
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
                            ("link_id", query.link_id)):  # fmt: skip
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

    async def get_item(self, item_id: str) -> Item | None:
        # The subreddit (partition key) is unknown here, so this is a query by id across
        # partitions rather than a point read.
        docs = await self._query(ITEMS, "SELECT * FROM c WHERE c.id = @id", _params(id=item_id))
        return _doc_to_item(docs[0]) if docs else None

    async def list_runs(
        self, limit: int, cursor: str | None = None, kind: RunKind | None = None
    ) -> RunPage:
        where = ["c.pk = @pk"]
        values: dict[str, Any] = {"pk": RUN_PK, "n": limit + 1}
        if kind is RunKind.COLLECT:  # runs from before kinds were all collections
            where.append("(NOT IS_DEFINED(c.kind) OR c.kind = @kind)")
            values["kind"] = kind.value
        elif kind is not None:
            where.append("c.kind = @kind")
            values["kind"] = kind.value
        if cursor:
            value, last_id = decode_cursor(cursor)
            where.append("(c.started_at < @v OR (c.started_at = @v AND c.id < @last))")
            values.update(v=value, last=last_id)
        sql = (
            f"SELECT TOP @n * FROM c WHERE {' AND '.join(where)} "
            "ORDER BY c.started_at DESC, c.id DESC"
        )
        docs = await self._query(RUNS, sql, _params(**values), partition_key=RUN_PK,
                                 page_size=limit + 1)  # fmt: skip
        runs = [_doc_to_run(d) for d in docs[:limit]]
        next_cursor = encode_cursor(runs[-1].started_at, runs[-1].id) if len(docs) > limit else None
        return RunPage(runs=runs, next_cursor=next_cursor)

    async def get_run(self, run_id: str) -> CollectionRun | None:
        # A point read (read_item) would cost 1 RU instead of ~3 and answer 404 when missing.
        # cosmosdb-server: a point read of a missing document answers 500 (TypeError in its
        # read-document handler), which must not be taken for "missing"; a query is exact on both.
        docs = await self._query(RUNS, "SELECT * FROM c WHERE c.pk = @pk AND c.id = @id",
                                 _params(pk=RUN_PK, id=run_id), partition_key=RUN_PK)  # fmt: skip
        return _doc_to_run(docs[0]) if docs else None

    async def lease_holder(self, name: str) -> Lease | None:
        docs = await self._query(
            LEASES, "SELECT * FROM c WHERE c.id = @id AND c.expires_at > @now",
            _params(id=name, now=self._clock()), partition_key=name,
        )  # fmt: skip
        if not docs:
            return None
        return Lease(docs[0]["id"], docs[0]["owner"], float(docs[0]["expires_at"]))

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

    async def get_trending(self, key: str) -> dict[str, Any] | None:
        # cosmosdb-server: a point read of a missing document answers 500, so a query by id.
        doc_id = _trending_id(key)
        docs = await self._query(TRENDING, "SELECT c.payload FROM c WHERE c.id = @id",
                                 _params(id=doc_id), partition_key=doc_id)  # fmt: skip
        return dict(docs[0]["payload"]) if docs else None


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
