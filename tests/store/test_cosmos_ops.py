"""Running the Cosmos DB store on a real account: Microsoft Entra ID, containers owned by
infrastructure (verify-only open), the database's throughput, and reads that give up fast on
throttling. Every request is captured on its way to the session's test server.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import AioHttpTransport, RequestsTransport
from azure.cosmos import CosmosClient, PartitionKey
from azure.identity import DefaultAzureCredential

from reddit_sentiment.api.app import create_app
from reddit_sentiment.settings import Settings, StorageBackend, ThroughputMode, load_settings
from reddit_sentiment.store.base import DAY, HOUR, StoreThrottled, StoreUnavailable
from reddit_sentiment.store.cosmos import (
    DAILY,
    HOURLY,
    ITEMS,
    ITEMS_POLICY,
    SCHEMA,
    CosmosStore,
    Throughput,
)
from tests.cosmos.fixture import CosmosServer
from tests.factories import make_item

Sent = tuple[str, str, dict[str, str], Any]  # method, URL, headers, body


def _record(sent: list[Sent], request: Any) -> None:
    body = getattr(request, "data", None) or getattr(request, "body", None)
    sent.append((request.method, request.url, dict(request.headers), body))


class Recording(RequestsTransport):  # type: ignore[misc]
    """The real transport, keeping every request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Sent] = []

    def send(self, request: Any, **kwargs: Any) -> Any:
        _record(self.sent, request)
        return super().send(request, **kwargs)


# A request that creates or changes a database, a container or an offer (not a document).
_SCHEMA_WRITE = re.compile(r"/(dbs|colls|offers)(/[^/]+)?/?$")


def schema_writes(sent: list[Sent]) -> list[str]:
    return [
        f"{method} {url}"
        for method, url, _, _ in sent
        if method in ("POST", "PUT", "PATCH", "DELETE")
        and _SCHEMA_WRITE.search(httpx.URL(url).path)
    ]


@pytest.fixture
def raw(cosmos_server: CosmosServer) -> Iterator[CosmosClient]:
    client = CosmosClient(cosmos_server.endpoint, credential=cosmos_server.key)
    yield client
    client.close()


@asynccontextmanager
async def opened(store: CosmosStore) -> AsyncIterator[CosmosStore]:
    store.open()
    try:
        yield store
    finally:
        await store.aclose()


# -- least privilege: containers owned by infrastructure ------------------------------


async def test_verify_only_open_sends_no_create_or_replace(cosmos_server: CosmosServer) -> None:
    async with opened(cosmos_server.store()) as owner:  # the "infrastructure" creates them
        owner.upsert_items([make_item()])
        recording = Recording()
        reader = cosmos_server.store(
            container_prefix=owner.container_prefix, manage_schema=False, transport=recording
        )
        async with opened(reader):
            assert len(await reader.aggregates()) == 1
            reader.upsert_items([make_item(item_id="t3_second")])  # the data plane works as before
        assert recording.sent, "nothing captured: the transport is not in use"
        assert schema_writes(recording.sent) == []
        # It did look: every container's properties were read.
        read = {httpx.URL(url).path.rstrip("/").rsplit("/", 1)[-1]
                for method, url, _, _ in recording.sent if method == "GET"}  # fmt: skip
        assert {owner.container_name(spec.base) for spec in SCHEMA} <= read
        # The managing open() does send them: the pattern above would catch a regression.
        managing = Recording()
        async with opened(cosmos_server.store(transport=managing)):
            pass
        assert len(schema_writes(managing.sent)) >= len(SCHEMA)


async def test_verify_only_open_names_every_missing_container(
    cosmos_server: CosmosServer,
) -> None:
    recording = Recording()
    store = cosmos_server.store(manage_schema=False, transport=recording)
    with pytest.raises(StoreUnavailable) as raised:
        store.open()
    message = str(raised.value)
    assert "\n" not in message
    for spec in SCHEMA:
        assert f"container {store.container_name(spec.base)} is missing" in message
    assert "COSMOS_MANAGE_SCHEMA=false" in message
    assert schema_writes(recording.sent) == []
    await store.aclose()


async def test_verify_only_open_names_a_missing_database(cosmos_server: CosmosServer) -> None:
    store = CosmosStore(cosmos_server.endpoint, cosmos_server.key, "no-such-db",
                        manage_schema=False)  # fmt: skip
    with pytest.raises(StoreUnavailable, match="database no-such-db does not exist"):
        store.open()
    await store.aclose()


def _replace_items(raw: CosmosClient, server: CosmosServer, store: CosmosStore,
                   policy: dict[str, Any]) -> None:  # fmt: skip
    db = raw.get_database_client(server.database)
    db.replace_container(store.container_name(ITEMS), PartitionKey(path="/subreddit"),
                         indexing_policy=policy, default_ttl=store.retention_seconds)  # fmt: skip


async def test_verify_only_open_names_a_missing_index_and_accepts_reversed_composites(
    cosmos_server: CosmosServer, raw: CosmosClient
) -> None:
    async with opened(cosmos_server.store()) as owner:
        lacking = json.loads(json.dumps(ITEMS_POLICY))
        lacking["includedPaths"] = [p for p in lacking["includedPaths"] if p["path"] != "/score/?"]
        lacking["compositeIndexes"] = [
            index for index in lacking["compositeIndexes"]
            if [p["path"] for p in index] != ["/kind", "/score", "/id"]
        ]  # fmt: skip
        _replace_items(raw, cosmos_server, owner, lacking)
        store = cosmos_server.store(container_prefix=owner.container_prefix, manage_schema=False)
        with pytest.raises(StoreUnavailable) as raised:
            store.open()
        await store.aclose()
        message = str(raised.value)
        name = owner.container_name(ITEMS)
        assert f"container {name}: no index on /score" in message
        assert f"container {name}: no composite index (/kind, /score, /id)" in message
        assert message.count("container ") == 2  # nothing else is reported

        # An index declared in the other direction serves the same ORDER BYs: accepted.
        reversed_policy = json.loads(json.dumps(ITEMS_POLICY))
        for index in reversed_policy["compositeIndexes"]:
            for path in index:
                path["order"] = "descending"
        reversed_policy["includedPaths"] = [{"path": "/*"}]  # and "index everything" too
        reversed_policy["excludedPaths"] = []
        _replace_items(raw, cosmos_server, owner, reversed_policy)
        async with opened(cosmos_server.store(container_prefix=owner.container_prefix,
                                              manage_schema=False)):  # fmt: skip
            pass


async def test_verify_only_open_names_a_container_without_time_to_live(
    cosmos_server: CosmosServer, raw: CosmosClient
) -> None:
    async with opened(cosmos_server.store()) as owner:
        db = raw.get_database_client(cosmos_server.database)
        db.replace_container(owner.container_name(ITEMS), PartitionKey(path="/subreddit"),
                             indexing_policy=ITEMS_POLICY)  # fmt: skip
        store = cosmos_server.store(container_prefix=owner.container_prefix, manage_schema=False)
        with pytest.raises(StoreUnavailable, match="time to live is off"):
            store.open()
        await store.aclose()


# -- Microsoft Entra ID --------------------------------------------------------------------


class FakeToken:
    """A token credential (the test server checks no signature), counting what it is asked."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken("entra-token", int(time.time()) + 3600)


async def test_an_empty_key_signs_in_with_a_token_credential(cosmos_server: CosmosServer) -> None:
    recording, credential = Recording(), FakeToken()
    store = cosmos_server.store(transport=recording)
    store._key = ""  # COSMOS_KEY empty
    store._credential = credential  # what DefaultAzureCredential would be
    async with opened(store):
        store.upsert_items([make_item()])
    assert credential.scopes and all(s[0].endswith("/.default") for s in credential.scopes)
    auth = {
        value for _, _, headers, _ in recording.sent
        for name, value in headers.items() if name.lower() == "authorization"
    }  # fmt: skip
    assert auth and all("aad" in a and "entra-token" in a for a in auth), auth


async def test_without_a_key_the_default_credential_is_used() -> None:
    store = CosmosStore("https://example.documents.azure.com:443/", "", "db")
    assert isinstance(store._sync_credential(), DefaultAzureCredential)  # no network yet
    store.close()


def test_settings_accept_cosmos_without_a_key() -> None:
    settings = Settings(storage_backend=StorageBackend.COSMOS,
                        cosmos_endpoint="https://example.documents.azure.com:443/")  # fmt: skip
    assert settings.cosmos_key.get_secret_value() == ""
    assert settings.cosmos_manage_schema is True


# -- throughput ---------------------------------------------------------------------------


def _offer_headers(sent: list[Sent]) -> list[tuple[str, dict[str, str]]]:
    """The offer headers of each create request, with the path it was sent to."""
    names = ("x-ms-offer-throughput", "x-ms-cosmos-offer-autopilot-settings")
    found: list[tuple[str, dict[str, str]]] = []
    for method, url, headers, _ in sent:
        if method == "POST" and _SCHEMA_WRITE.search(httpx.URL(url).path):
            lower = {k.lower(): v for k, v in headers.items()}
            found.append((httpx.URL(url).path, {n: lower[n] for n in names if n in lower}))
    return found


@pytest.mark.parametrize(
    ("throughput", "expected"),
    [
        (Throughput(), {"x-ms-offer-throughput": "400"}),
        (Throughput(ThroughputMode.MANUAL, 1200), {"x-ms-offer-throughput": "1200"}),
        (
            Throughput(ThroughputMode.AUTOSCALE, 4000),
            {"x-ms-cosmos-offer-autopilot-settings": '{"maxThroughput": 4000}'},
        ),
        (Throughput(ThroughputMode.SERVERLESS), {}),
    ],
)
async def test_the_database_gets_shared_throughput_and_containers_none(
    cosmos_server: CosmosServer, raw: CosmosClient, throughput: Throughput,
    expected: dict[str, str],
) -> None:  # fmt: skip
    recording = Recording()
    database = f"tp-{uuid.uuid4().hex[:10]}"
    store = CosmosStore(cosmos_server.endpoint, cosmos_server.key, database,
                        throughput=throughput, transport=recording)  # fmt: skip
    try:
        async with opened(store):
            pass
    finally:
        raw.delete_database(database)
    (database_create, *container_creates) = _offer_headers(recording.sent)
    assert database_create == ("/dbs", expected)  # the database create carries the offer
    assert len(container_creates) == len(SCHEMA)  # one create per container ...
    assert all(headers == {} for _, headers in container_creates)  # ... none with its own


def test_throughput_settings() -> None:
    def load(**values: Any) -> Settings:
        return load_settings(storage_backend="cosmos", cosmos_endpoint="https://x/", **values)

    assert load().cosmos_request_units == 400  # manual, the minimum: 400 RU/s in all
    assert load(cosmos_throughput_mode="autoscale").cosmos_request_units == 1000
    assert load(cosmos_throughput_mode="serverless").cosmos_throughput_mode is (
        ThroughputMode.SERVERLESS
    )
    store = CosmosStore.from_settings(load(cosmos_throughput_mode="autoscale",
                                           cosmos_throughput=6000))  # fmt: skip
    assert store.throughput == Throughput(ThroughputMode.AUTOSCALE, 6000)
    store.close()
    for bad in ({"cosmos_throughput": 450}, {"cosmos_throughput": 300},
                {"cosmos_throughput_mode": "autoscale", "cosmos_throughput": 1500}):  # fmt: skip
        with pytest.raises(SystemExit, match="COSMOS_THROUGHPUT must be a multiple"):
            load(**bad)


# -- reads give up fast on throttling ----------------------------------------------------


class ThrottlingReads(AioHttpTransport):  # type: ignore[misc]
    """The readers' transport: every query answers 429 while `throttle` is set."""

    def __init__(self, retry_after_ms: int) -> None:
        super().__init__()
        self.retry_after_ms = retry_after_ms
        self.throttle = True
        self.throttled = 0

    async def send(self, request: Any, **kwargs: Any) -> Any:
        query = str(request.headers.get("x-ms-documentdb-isquery", "")).lower() == "true"
        if self.throttle and query:
            self.throttled += 1
            return _TooMany(request, self.retry_after_ms)
        return await super().send(request, **kwargs)


class _TooMany:
    """A 429 as the SDK's async pipeline reads one."""

    def __init__(self, request: Any, retry_after_ms: int) -> None:
        self.request = request
        self.status_code = 429
        self.reason = "Too Many Requests"
        self.content_type = "application/json"
        self.headers = {
            "Content-Type": "application/json",
            "x-ms-retry-after-ms": str(retry_after_ms),
            "x-ms-substatus": "3200",
        }
        self._body = b'{"code":"TooManyRequests","message":"Request rate is large."}'

    def body(self) -> bytes:
        return self._body

    def text(self, encoding: str | None = None) -> str:
        return self._body.decode()

    async def load_body(self) -> None:
        return None

    def close(self) -> None:
        return None


async def test_a_throttled_dashboard_read_answers_503_with_retry_after(
    cosmos_server: CosmosServer,
) -> None:
    transport = ThrottlingReads(retry_after_ms=1500)
    store = cosmos_server.store(async_transport=transport, read_retry_total=1,
                                read_retry_backoff_max=2)  # fmt: skip
    settings = load_settings(subreddits="", collection_start_delay_seconds=3600)
    app = create_app(settings, store=store)
    async with app.router.lifespan_context(app):
        store.upsert_items([make_item()])
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        async with client:
            started = time.monotonic()
            response = await client.get("/api/v1/dashboard/summary")
            elapsed = time.monotonic() - started
            assert response.status_code == 503
            assert response.headers["Retry-After"] == "2"  # 1.5 s, rounded up
            assert "throttled" in response.json()["detail"]
            assert elapsed < 5  # one retry after 1.5 s, not the writers' 30 s budget
            assert transport.throttled >= 2  # the first try and the retry
            ready = (await client.get("/api/v1/health/ready")).json()
            assert ready["storage"]["throttled"] is True  # busy, not unreachable:
            assert ready["storage"]["reachable"] is True  # the replica stays in service
            transport.throttle = False
            assert (await client.get("/api/v1/dashboard/summary")).json()["posts"] == 1
    with pytest.raises(StoreThrottled) as raised:
        raise store._error("probe", _throttled_error())
    assert raised.value.retry_after == 0.25


def _throttled_error() -> Exception:
    from azure.cosmos.exceptions import CosmosHttpResponseError

    class Response:
        status_code = 429
        reason = "Too Many Requests"
        headers = {"x-ms-retry-after-ms": "250"}

        def text(self) -> str:
            return ""

    return CosmosHttpResponseError(status_code=429, message="Request rate is large.",
                                   response=Response())  # fmt: skip


# -- what reads and writes cost ----------------------------------------------------------


def _item_upserts(sent: list[Sent]) -> int:
    return sum(
        1 for method, url, headers, _ in sent
        if method == "POST" and url.rstrip("/").endswith(f"{ITEMS}/docs")
        and str({k.lower(): v for k, v in headers.items()}
                .get("x-ms-documentdb-is-upsert", "")).lower() == "true"
    )  # fmt: skip


async def test_unchanged_items_are_not_written_again(cosmos_server: CosmosServer) -> None:
    recording = Recording()
    async with opened(cosmos_server.store(transport=recording)) as store:
        same, rescored = make_item(score=3), make_item(score=3)
        store.upsert_items([same, rescored])
        assert _item_upserts(recording.sent) == 2
        recording.sent.clear()
        same.collected_at += 900  # seen again a cycle later, nothing else changed
        rescored.collected_at += 900
        rescored.score = 40
        result = store.upsert_items([same, rescored])
        assert (result.new, result.updated) == (0, 2)
        assert _item_upserts(recording.sent) == 1  # only the item that changed
        stored = await store.get_item(rescored.id)
        assert stored is not None and stored.score == 40
        (totals,) = await store.aggregates()
        assert totals.posts == 2


async def test_totals_are_read_from_daily_documents(cosmos_server: CosmosServer) -> None:
    from tests.factories import BASE_TIME

    clock = lambda: BASE_TIME + 4 * DAY  # noqa: E731
    async with opened(cosmos_server.store(clock=clock)) as store:
        items = [make_item(subreddit=sub, created_utc=BASE_TIME + h * HOUR)
                 for sub in ("aa", "bb") for h in range(72)]  # fmt: skip
        store.upsert_items(items)
        read: dict[str, int] = {}
        query = store._query

        async def counting(base: str, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
            docs = await query(base, *args, **kwargs)
            read[base] = read.get(base, 0) + len(docs)
            return docs

        store._query = counting  # type: ignore[method-assign]
        totals = await store.aggregates()
        assert [(t.subreddit, t.posts) for t in totals] == [("aa", 72), ("bb", 72)]
        days = len({int(i.created_utc // DAY) for i in items})
        # No hourly document (2 x 72 of them exist): the days before the first whole one
        # (here none: the container is new) are the only hours summed.
        assert (read.get(HOURLY, 0), read[DAILY]) == (0, 2 * days)
        read.clear()
        one = await store.aggregates(subreddit="aa", since=BASE_TIME + 5 * HOUR)
        assert [(t.subreddit, t.posts) for t in one] == [("aa", 67)]
        assert read[HOURLY] <= 24  # only the day the window cuts is summed from hours


def test_the_example_environment_file_loads() -> None:
    """`.env.example` copied as it is: an empty COSMOS_THROUGHPUT means the minimum."""
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / ".env.example"
    settings = Settings(_env_file=example)  # type: ignore[call-arg]
    assert settings.cosmos_throughput is None and settings.cosmos_request_units == 400
