"""Ambiguous writes on Cosmos DB: a write the service committed but whose reply never came
back (a client timeout, a 408, a connection reset) must not miscount the aggregates.

`LosingTransport` forwards every request to the test server and, for the one write it is armed
for, drops the reply after the server has applied it (or answers 408 without sending it on).
A batch is first run clean to record
its write steps; then, for each step and way of losing a reply the cover below picks, a fresh
store runs the same batch with that step's reply lost once, the batch is retried as the cycle
would when it failed, and `verify` must find no drift (every aggregate equal to the items,
trending's term and link documents included) with every item stored in its new version.

The cover, not every step in every way (each run is a fresh store, a batch, a retry and two
whole `verify` reads): the two ways a lost reply can leave a document call for different
proofs. A write that was never applied ("unapplied") is only right afterwards if the rebuild
takes in that very document (its day, origin and link), so it is lost at every step. A write
that was applied and whose reply was lost (timeout, 408, reset) is only miscounted if the
store sends it again or takes it back, which depends on how the error is classified and on the
write call (create, patch, replace, delete, upsert) and container, not on which document of
them it is: each of these flavours is lost at least once in every kind of write (method,
container, origin) and the three take turns over each kind's steps, so every step is lost
applied and unapplied; the first and last step are lost in every flavour.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from azure.core.exceptions import (
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.pipeline.transport import RequestsTransport, RequestsTransportResponse
from requests.structures import CaseInsensitiveDict

from reddit_sentiment.models import Item, Kind
from reddit_sentiment.store.base import HOUR, StoreUnavailable
from reddit_sentiment.store.cosmos import CosmosStore
from reddit_sentiment.store.verify import Report, verify
from tests.conftest import store_clock
from tests.cosmos.fixture import CosmosServer
from tests.factories import BASE_TIME, make_item

Step = tuple[str, str, str]  # (method, container, document id)
TRENDING_KINDS = ("term_hourly", "term_block", "term_daily", "links")  # verified on Cosmos too
# "unapplied": the service answers 408 without having applied the write, so the rebuild has
# to add what the batch's deltas meant to, where the other flavours must not count it twice.
FLAVOURS = ("timeout", "408", "reset", "unapplied")
APPLIED = FLAVOURS[:3]  # the server applied the write; only its reply is lost


class LosingTransport(RequestsTransport):  # type: ignore[misc]
    """The real transport; records each document write, and loses the reply of the one it is
    armed for (once), after the server has applied it (flavour "unapplied": before)."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix
        self.writes: list[Step] = []
        self.armed: Step | None = None
        self.flavour = "timeout"
        self.lost: list[Step] = []
        self._lock = threading.Lock()

    def _step(self, request: Any) -> Step | None:
        url = request.url.split("?")[0].rstrip("/")
        if "/colls/" not in url or "/docs" not in url:
            return None
        headers = {k.lower(): str(v).lower() for k, v in request.headers.items()}
        if headers.get("x-ms-documentdb-isquery") == "true" or request.method == "GET":
            return None
        container = url.split("/colls/")[1].split("/")[0].removeprefix(self.prefix)
        if url.endswith("/docs"):  # create or upsert: the id is in the body
            body = request.data if isinstance(request.data, str | bytes) else request.body
            doc_id = json.loads(body)["id"]
        else:
            doc_id = url.rsplit("/", 1)[1]
        return (request.method, container, doc_id)

    def send(self, request: Any, **kwargs: Any) -> Any:
        step = self._step(request)
        if step is not None and self.flavour == "unapplied":
            with self._lock:
                if step == self.armed:
                    self.writes.append(step)
                    self.armed = None
                    self.lost.append(step)
                    return self._timed_out(request)  # never sent on to the server
        response = super().send(request, **kwargs)  # the server applies it either way
        if step is None:
            return response
        with self._lock:
            self.writes.append(step)
            if step != self.armed:
                return response
            self.armed = None
            self.lost.append(step)
        if self.flavour == "timeout":
            raise ServiceResponseTimeoutError("Read timed out (the reply was lost)")
        if self.flavour == "reset":
            raise ServiceResponseError(
                "Connection reset by peer", error=ConnectionResetError(104, "reset")
            )
        return self._timed_out(request)

    @staticmethod
    def _timed_out(request: Any) -> RequestsTransportResponse:
        response = requests.Response()
        response.status_code = 408
        response.reason = "Request Timeout"
        response.headers = CaseInsensitiveDict({"content-type": "application/json"})
        response._content = b'{"code":"RequestTimeout","message":"The request timed out."}'
        return RequestsTransportResponse(request, response)


def _item(
    item_id: str, subreddit: str, hour: int, compound: float, keywords: list[str],
    body: str = "rocket launch", link_id: str | None = None,
) -> Item:  # fmt: skip
    item = make_item(item_id=item_id, subreddit=subreddit, compound=compound,
                     created_utc=BASE_TIME + hour * HOUR,
                     kind=Kind.COMMENT if link_id else Kind.POST, link_id=link_id,
                     body=body)  # fmt: skip
    item.keywords = keywords
    item.author = f"{subreddit}-poster"  # the same author documents in every run
    return item


def stored_first() -> list[Item]:
    return [
        _item("t3_a1", "alpha", 0, 0.6, ["python"]),
        _item("t3_b1", "beta", 0, -0.6, []),
    ]


def batch() -> list[Item]:
    """An update that moves figures (-1 old, +1 new) and new items in other buckets: terms
    move with the edited text, and a comment moves its post's link."""
    return [
        _item("t3_a1", "alpha", 0, -0.7, ["rust"], body="rocket crash"),  # edited, re-tagged
        _item("t3_a2", "alpha", 1, 0.3, ["python"]),
        _item("t1_c1", "alpha", 1, 0.5, [], body="crash docs", link_id="t3_a1"),
        _item("t3_b2", "beta", 1, 0.0, []),
    ]


@contextmanager
def armed_store(server: CosmosServer) -> Iterator[tuple[CosmosStore, LosingTransport]]:
    prefix = f"lost-{next(_counter)}-"
    transport = LosingTransport(prefix)
    store = server.store(container_prefix=prefix, transport=transport, clock=store_clock)
    store.open()
    try:
        store.upsert_items(stored_first())
        transport.writes.clear()
        yield store, transport
    finally:
        store.close()


def lose_and_retry(
    store: CosmosStore,
    transport: LosingTransport,
    step: Step,
    flavour: str,
    make_batch: Callable[[], list[Item]],
) -> Report:
    """Write the batch with the reply of `step` lost in that flavour, retry it when the store
    gives up as the cycle does, and return the verify that must find no drift."""
    transport.armed, transport.flavour = step, flavour
    try:
        store.upsert_items(make_batch())
    except StoreUnavailable:
        store.upsert_items(make_batch())  # the cycle retries the failed batch
    assert transport.lost == [step], f"{step} was not lost"
    report = verify(store)
    assert report.ok, (step, [d.describe() for d in report.drifts])
    return report


_counter = iter(range(1, 1_000_000))


def batch_steps(server: CosmosServer) -> list[Step]:
    with armed_store(server) as (store, transport):
        store.upsert_items(batch())
        return sorted(set(transport.writes))


def write_kind(step: Step) -> tuple[str, str, bool]:
    """The write call, its container and the origin of the document (imported history's
    documents' ids begin with "k")."""
    method, container, doc_id = step
    return method, container, doc_id.startswith("k")


def cover(steps: Sequence[Step]) -> dict[str, list[Step]]:
    """The steps each flavour loses (see the module's docstring): "unapplied" every step; the
    applied flavours in turn over each kind of write's steps, each at least once per kind; all
    four the first and the last step."""
    lost: dict[str, set[Step]] = {flavour: set() for flavour in FLAVOURS}
    lost["unapplied"].update(steps)
    kinds: dict[tuple[str, str, bool], list[Step]] = {}
    for step in steps:
        kinds.setdefault(write_kind(step), []).append(step)
    turn = 0
    for group in kinds.values():
        for i in range(max(len(group), len(APPLIED))):
            lost[APPLIED[(turn + i) % len(APPLIED)]].add(group[i % len(group)])
        turn += len(group)
    for flavour in FLAVOURS:
        lost[flavour].update((steps[0], steps[-1]))
    return {flavour: sorted(chosen) for flavour, chosen in lost.items()}


def test_the_cover_loses_every_step_applied_and_unapplied() -> None:
    steps = [("POST", "items", "t3_a"), ("POST", "items", "t3_b"), ("PATCH", "hourly", "1"),
             ("PATCH", "hourly", "k1"), ("PATCH", "hourly", "2"), ("PATCH", "hourly", "3"),
             ("PATCH", "hourly", "4"), ("PUT", "term_counts", "h1")]  # fmt: skip
    lost = cover(steps)
    assert lost["unapplied"] == sorted(steps)
    for step in steps:
        assert any(step in lost[flavour] for flavour in APPLIED), step
    for flavour in APPLIED:
        assert {write_kind(s) for s in lost[flavour]} == {write_kind(s) for s in steps}
    assert all({steps[0], steps[-1]} <= set(chosen) for chosen in lost.values())
    assert sum(map(len, lost.values())) < len(steps) * len(FLAVOURS)


@pytest.mark.slow
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_lost_reply_at_any_step_of_a_batch_miscounts_nothing(
    cosmos_server: CosmosServer, flavour: str
) -> None:
    """Each step of the batch lost in the flavours `cover` gives it."""
    steps = batch_steps(cosmos_server)
    containers = {container for _, container, _ in steps}
    assert containers == {
        "items",
        "hourly",
        "daily",
        "keyword_hourly",
        "author_hourly",
        "term_counts",
        "links",
    }, steps
    for step in cover(steps)[flavour]:
        with armed_store(cosmos_server) as (store, transport):
            report = lose_and_retry(store, transport, step, flavour, batch)
            assert report.items == 5
            assert all(report.rows.get(kind) for kind in TRENDING_KINDS), report.rows
            stored = {item.id: item for item in store.iter_items()}
            assert {i.id: (i.compound, i.keywords) for i in stored.values()} == {
                "t3_a1": (-0.7, ["rust"]),
                "t3_a2": (0.3, ["python"]),
                "t1_c1": (0.5, []),
                "t3_b1": (-0.6, []),
                "t3_b2": (0.0, []),
            }
            # The next cycle sees the same items again: nothing moves.
            store.upsert_items(batch())
            assert verify(store).ok


def imported_batch() -> list[Item]:
    """The batch with imported history in it: a collected item now imported (its figures move
    to imported history's own documents) and an imported item from a year before (those only,
    with no TTL)."""
    items = [*batch(), _item("t3_c1", "alpha", -400 * 24, 0.2, ["python"])]
    for item in (items[0], items[-1]):
        item.imported = True
    return items


IMPORTED = ("t3_a1", "t3_c1")  # imported_batch's imported items: their item and link documents


@pytest.mark.slow
@pytest.mark.parametrize("flavour", ("timeout", "unapplied"))  # applied, or not
def test_a_lost_reply_in_a_batch_with_imported_history_miscounts_nothing(
    cosmos_server: CosmosServer, flavour: str
) -> None:
    """The steps this batch has beyond the plain batch's (covered above in every way), in
    both flavours (applied, or not): those writing imported history's documents and its items'
    item and link documents, those the plain batch does not have, and the first and last. A
    collected document written by the same call in both batches is rebuilt by the same code
    for the same (subreddit, day) or link; each origin is rebuilt from its own items in every
    run here, whichever step was lost."""
    plain = set(batch_steps(cosmos_server))
    with armed_store(cosmos_server) as (store, transport):
        store.upsert_items(imported_batch())
        steps = sorted(set(transport.writes))
    own = [s for s in steps if write_kind(s)[2] or s[2] in IMPORTED or s not in plain]
    assert len(own) >= 10 and any(s[1] == "term_counts" for s in own), steps
    lost = sorted({steps[0], *own, steps[-1]})
    for step in lost:
        with armed_store(cosmos_server) as (store, transport):
            report = lose_and_retry(store, transport, step, flavour, imported_batch)
            assert report.items == 6
            # trending's kinds are compared too, each origin's term documents among them
            assert all(report.rows.get(kind) for kind in TRENDING_KINDS), report.rows
            imported = {item.id for item in store.iter_items() if item.imported}
            assert imported == {"t3_a1", "t3_c1"}


class DownAfterLoss(LosingTransport):
    """After losing the armed reply, the service answers every request 429 (throttled; with
    no SDK retries configured, a definite failure) until `down` is cleared."""

    down = False

    def send(self, request: Any, **kwargs: Any) -> Any:
        if self.down:
            return self._throttled(request)
        try:
            return super().send(request, **kwargs)
        except ServiceResponseError:
            self.down = True  # right after the lost reply
            raise

    @staticmethod
    def _throttled(request: Any) -> RequestsTransportResponse:
        response = requests.Response()
        response.status_code = 429
        response.reason = "Too Many Requests"
        response.headers = CaseInsensitiveDict(
            {"content-type": "application/json", "x-ms-retry-after-ms": "1",
             "x-ms-substatus": "3200"}
        )  # fmt: skip
        response._content = b'{"code":"TooManyRequests","message":"Request rate is large."}'
        return RequestsTransportResponse(request, response)


@pytest.mark.slow
def test_a_rebuild_that_cannot_run_now_runs_before_the_next_batch(
    cosmos_server: CosmosServer,
) -> None:
    prefix = f"lost-{next(_counter)}-"
    transport = DownAfterLoss(prefix)
    store = cosmos_server.store(container_prefix=prefix, transport=transport, clock=store_clock,
                                retry_throttle_total=0)  # fmt: skip
    store.open()
    try:
        store.upsert_items(stored_first())
        transport.armed = ("PATCH", "hourly", str(int(BASE_TIME // HOUR * HOUR)))
        with pytest.raises(StoreUnavailable) as raised:
            store.upsert_items(batch())
        assert transport.lost, "the armed patch was never sent"
        assert "repair" in str(raised.value)
        transport.down = False  # the service is back: the next batch settles first
        store.upsert_items(batch())
        report = verify(store)
        assert report.ok, [d.describe() for d in report.drifts]
        assert report.items == 5
        assert all(report.rows.get(kind) for kind in TRENDING_KINDS), report.rows
    finally:
        store.close()
