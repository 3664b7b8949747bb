"""Alerts end to end: real PRAW against the fake Reddit, real cycles into both stores, a rule
posted through the API, deliveries by Apprise to a real local HTTP receiver.

The data is shaped to cross the threshold in a later round: round one serves three happy
posts, round two eight angry ones (a subreddit served again replaces its listing), so the
1h mean compound drops below 0 only after the second cycle."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from fakereddit import FakeReddit
from reddit_sentiment.api.app import create_app
from reddit_sentiment.models import DeliveryStatus
from tests.alerts.receiver import Receiver, receiver
from tests.conftest import STORE_KINDS, open_store
from tests.integration.conftest import settings_for
from tests.invariants import assert_aggregates_match_items

KEY = {"X-API-Key": "alerts-key"}
SUB = "stocks"
HAPPY = "I love this wonderful community, great amazing news and happy days!"
ANGRY = "Terrible awful disaster, I hate this horrible crash and the stupid losses"


def posts(prefix: str, title: str, count: int, authors: int) -> dict[str, Any]:
    return {
        "subreddits": [
            {
                "name": SUB,
                "submissions": [
                    {
                        "id": f"{prefix}{n}",
                        "title": f"{title} #{n}",
                        "selftext": "",
                        "author": f"{prefix}_author{n % authors}",
                        "age_seconds": 30 + n,
                        "score": 10 * (n + 1),
                    }
                    for n in range(count)
                ],
            }
        ]
    }


@pytest.fixture
def fake() -> Iterator[FakeReddit]:
    with FakeReddit.from_dataset(posts("up", HAPPY, 3, 3)).start() as reddit:
        yield reddit


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


@asynccontextmanager
async def service(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, fake: FakeReddit, **extra: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    if kind == "cosmos":
        request.getfixturevalue("cosmos_server")
    store = open_store(kind, tmp_path)
    values: dict[str, Any] = {
        "collection_start_delay_seconds": 3600,
        "admin_api_key": KEY["X-API-Key"],
        "analyzer_mode": "inline",
        "alert_delivery_attempts": 3,
        "alert_delivery_backoff_seconds": 0.05,
    }
    values.update(extra)
    app = create_app(settings_for(fake, [SUB], **values), store=store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as c:
            yield app, c


async def cycle(app: FastAPI, client: httpx.AsyncClient, delivered: bool = True) -> dict[str, Any]:
    started = await client.post("/collections", headers=KEY)
    assert started.status_code == 202, started.text
    await app.state.service._active
    if delivered:
        assert app.state.service.alerting.dispatcher.idle(30)
    run: dict[str, Any] = (await client.get(f"/collections/{started.json()['id']}")).json()
    return run


def rule(hook: Receiver, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "stocks turn sour",
        "subreddit": SUB,
        "metric": "mean_compound",
        "window": "1h",
        "condition": {"below": 0.0},
        "min_items": 5,
        "min_authors": 4,
        "cooldown": "6h",
        "notify": [f"json://bot:s3cret@{hook.url}/hook", f"form://{hook.url}/form"],
    }
    body.update(changes)
    return body


@pytest.mark.parametrize("kind", STORE_KINDS)
async def test_a_rule_fires_once_delivers_and_respects_its_cooldown(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, fake: FakeReddit, hook: Receiver
) -> None:
    async with service(kind, request, tmp_path, fake) as (app, c):
        created = await c.post("/alerts/rules", json=rule(hook), headers=KEY)
        assert created.status_code == 201, created.text
        rule_id = created.json()["id"]
        assert all("s3cret" not in url for url in created.json()["notify"])

        first = await cycle(app, c)
        assert first["status"] == "succeeded"
        assert hook.received() == [] and (await c.get("/alerts")).json()["items"] == []

        fake.add_dataset(posts("down", ANGRY, 8, 6))
        second = await cycle(app, c)
        assert second["status"] == "succeeded"
        alerts = (await c.get("/alerts")).json()["items"]
        assert len(alerts) == 1
        alert = alerts[0]
        assert alert["rule_id"] == rule_id and alert["subreddit"] == SUB
        assert alert["value"] < 0 and alert["items"] >= 5 and alert["authors"] == 9
        assert [d["status"] for d in alert["deliveries"]] == ["sent", "sent"]
        assert all("s3cret" not in d["target"] for d in alert["deliveries"])
        # Evidence: the window's three best-scored posts, all from round two.
        assert [e["title"] for e in alert["evidence"]] == [f"{ANGRY} #{n}" for n in (7, 6, 5)]
        assert alert["evidence"][0]["permalink"].startswith("https://www.reddit.com/r/stocks/")

        (posted,) = hook.received("/hook")
        message = posted.json()
        assert message["title"] == alert["title"] and "stocks turn sour" in message["title"]
        assert "below" in message["message"] and f"{ANGRY} #7" in message["message"]
        (form,) = hook.received("/form")
        assert form.form()["title"] == alert["title"]
        assert "Top posts of the window" in form.form()["message"]

        third = await cycle(app, c)  # the condition still holds: the cooldown keeps it quiet
        assert third["status"] == "succeeded"
        assert len(hook.received()) == 2
        assert len((await c.get("/alerts")).json()["items"]) == 1

        metrics = (await c.get("http://t/metrics")).text
        assert f'reddit_sentiment_alerts_fired_total{{rule="{rule_id}"}} 1.0' in metrics
        await assert_aggregates_match_items(app.state.store)


@pytest.mark.parametrize("kind", STORE_KINDS)
async def test_a_failing_target_is_retried_then_recorded_failed_and_the_cycle_succeeds(
    kind: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    fake: FakeReddit,
    hook: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hook.status = 500
    caplog.set_level(logging.DEBUG)
    async with service(kind, request, tmp_path, fake) as (app, c):
        body = rule(hook, notify=[f"json://bot:s3cret@{hook.url}/hook"])
        rule_id = (await c.post("/alerts/rules", json=body, headers=KEY)).json()["id"]
        await cycle(app, c)
        fake.add_dataset(posts("down", ANGRY, 8, 6))
        run = await cycle(app, c)
        assert run["status"] == "succeeded"
        assert len(hook.received("/hook")) == 3  # ALERT_DELIVERY_ATTEMPTS
        (alert,) = (await c.get("/alerts")).json()["items"]
        (delivery,) = alert["deliveries"]
        assert delivery["status"] == "failed" and delivery["attempts"] == 3
        assert delivery["error"] and hook.url.split(":")[1] not in delivery["error"]
        metrics = (await c.get("http://t/metrics")).text
        assert f'reddit_sentiment_alert_deliveries_failed_total{{rule="{rule_id}"}} 1.0' in metrics
    assert "delivery to json://bot:****@" in caplog.text  # the failure is logged, masked
    assert "s3cret" not in caplog.text and "s3cret" not in str(alert)


@pytest.mark.parametrize("kind", STORE_KINDS)
async def test_a_zscore_rule_with_too_little_history_does_not_fire(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, fake: FakeReddit, hook: Receiver
) -> None:
    async with service(kind, request, tmp_path, fake) as (app, c):
        body = rule(hook, name=f"z {uuid.uuid4().hex[:4]}", condition={"zscore_below": -1})
        assert (await c.post("/alerts/rules", json=body, headers=KEY)).status_code == 201
        await cycle(app, c)
        fake.add_dataset(posts("down", ANGRY, 8, 6))
        assert (await cycle(app, c))["status"] == "succeeded"
        assert (await c.get("/alerts")).json()["items"] == []
        assert hook.received() == []


@pytest.mark.slow
async def test_a_slow_target_does_not_hold_up_the_cycle(
    request: pytest.FixtureRequest, tmp_path: Path, fake: FakeReddit, hook: Receiver
) -> None:
    hook.delay = 4.0
    async with service("sqlite", request, tmp_path, fake) as (app, c):
        body = rule(hook, notify=[f"json://{hook.url}/hook"])
        assert (await c.post("/alerts/rules", json=body, headers=KEY)).status_code == 201
        await cycle(app, c)
        fake.add_dataset(posts("down", ANGRY, 8, 6))
        run = await cycle(app, c, delivered=False)
        # The cycle has ended, its alert recorded, while the target is still answering.
        assert run["status"] == "succeeded" and run["finished_at"] is not None
        (alert,) = (await c.get("/alerts")).json()["items"]
        assert [d["status"] for d in alert["deliveries"]] == ["pending"]
        assert app.state.service.alerting.dispatcher.idle(30)
        (alert,) = (await c.get("/alerts")).json()["items"]
        assert [d["status"] for d in alert["deliveries"]] == ["sent"]


@pytest.mark.parametrize("kind", STORE_KINDS)
async def test_deliveries_a_stopped_service_left_pending_are_sent_by_the_next_one(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, fake: FakeReddit, hook: Receiver
) -> None:
    """The target fails, and the service stops while waiting to retry: the delivery is left
    pending (not given up). The next service on the same store, once it has run a cycle,
    sends it (the target now answers) and records it sent, without firing the rule again
    (its cooldown); an alert fired more than a day before, still pending, is recorded failed
    with the reason instead of sent late."""
    if kind == "cosmos":
        request.getfixturevalue("cosmos_server")
    store = open_store(kind, tmp_path)
    hook.status = 500
    values: dict[str, Any] = {
        "collection_start_delay_seconds": 3600,
        "admin_api_key": KEY["X-API-Key"],
        "analyzer_mode": "inline",
        "alert_delivery_attempts": 3,
        "alert_delivery_backoff_seconds": 60,
    }
    first = create_app(settings_for(fake, [SUB], **values), store=store)
    async with first.router.lifespan_context(first):
        transport = httpx.ASGITransport(app=first)
        async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as c:
            body = rule(hook, notify=[f"json://{hook.url}/hook"])
            assert (await c.post("/alerts/rules", json=body, headers=KEY)).status_code == 201
            await cycle(first, c)
            fake.add_dataset(posts("down", ANGRY, 8, 6))
            await cycle(first, c, delivered=False)
            deadline = time.monotonic() + 30
            while not hook.received("/hook") and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)  # (the receiver is a thread: no event to await)
            assert len(hook.received("/hook")) == 1  # then it waits 60 s to retry: stop now
    store.open()  # the service closed it: what the next service opens
    (alert,) = (await store.list_alerts(limit=10)).alerts
    assert [d.status for d in alert.deliveries] == [DeliveryStatus.PENDING]
    stale = replace(alert, id="stale", fired_at=alert.fired_at - 2 * 86400,
                    deliveries=[replace(d) for d in alert.deliveries])  # fmt: skip
    store.save_alert(stale)

    hook.status = 200
    second = create_app(settings_for(fake, [SUB], **values), store=store)
    async with second.router.lifespan_context(second):
        transport = httpx.ASGITransport(app=second)
        async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as c:
            run = await cycle(second, c)  # resumes, then evaluates: the rule is cooling down
            assert run["status"] == "succeeded"
            alerts = {a["id"]: a for a in (await c.get("/alerts")).json()["items"]}
            assert alerts.keys() == {alert.id, "stale"}
            assert [d["status"] for d in alerts[alert.id]["deliveries"]] == ["sent"]
            (gone,) = alerts["stale"]["deliveries"]
            assert gone["status"] == "failed" and "more than a day" in gone["error"]
            assert len(hook.received("/hook")) == 2  # the first try, and the resumed one
            await assert_aggregates_match_items(second.state.store)
