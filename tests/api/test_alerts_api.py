"""Alert rules through the API: the admin key, clear 422s, masked notify URLs, history paging."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from reddit_sentiment.api.app import create_app
from reddit_sentiment.models import Alert
from reddit_sentiment.settings import load_settings
from reddit_sentiment.store.sqlite import SqliteStore

from ..factories import make_alert
from .conftest import ADMIN_KEY

KEY = {"X-API-Key": ADMIN_KEY}
SECRET = "xoxb-very-secret-token"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {
        "admin_api_key": ADMIN_KEY,
        "track_keywords": "$TSLA,rust",
        "subreddits": "python,stocks",
    }


def rule(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "tesla mood",
        "keyword": "$tsla",
        "metric": "mean_compound",
        "window": "6h",
        "condition": {"below": -0.2},
        "min_items": 10,
        "min_authors": 5,
        "cooldown": "6h",
        "notify": [f"json://bot:{SECRET}@hooks.example.com/alert/{SECRET}"],
    }
    body.update(changes)
    return body


async def test_rules_need_the_admin_key(client: httpx.AsyncClient) -> None:
    for method, path in (("POST", "/alerts/rules"), ("GET", "/alerts/rules"),
                         ("GET", "/alerts/rules/x"), ("DELETE", "/alerts/rules/x")):  # fmt: skip
        answer = await client.request(method, path, json=rule())
        assert answer.status_code == 401, (method, path)
        wrong = await client.request(method, path, json=rule(), headers={"X-API-Key": "nope"})
        assert wrong.status_code == 401, (method, path)
    assert (await client.get("/alerts")).status_code == 200  # the history is public


async def test_a_rule_is_created_listed_read_and_deleted_with_its_urls_masked(
    client: httpx.AsyncClient, sqlite_store: SqliteStore
) -> None:
    created = await client.post("/alerts/rules", json=rule(), headers=KEY)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["keyword"] == "$TSLA" and body["window"] == "6h" and body["source"] == "api"
    assert created.headers["Location"] == f"/api/v1/alerts/rules/{body['id']}"
    (shown,) = body["notify"]
    assert SECRET not in shown and shown.startswith("json://") and "hooks.example.com" in shown
    listed = (await client.get("/alerts/rules", headers=KEY)).json()
    assert [r["id"] for r in listed] == [body["id"]]
    one = await client.get(f"/alerts/rules/{body['id']}", headers=KEY)
    assert one.json() == body
    assert SECRET not in one.text and SECRET not in str(listed)
    stored = await sqlite_store.get_alert_rule(body["id"])  # the store keeps the URL whole
    assert stored is not None and SECRET in stored.notify[0]
    assert (await client.delete(f"/alerts/rules/{body['id']}", headers=KEY)).status_code == 204
    assert (await client.get(f"/alerts/rules/{body['id']}", headers=KEY)).status_code == 404
    assert (await client.delete(f"/alerts/rules/{body['id']}", headers=KEY)).status_code == 404


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"metric": "karma"}, "metric: unknown 'karma'"),
        ({"window": "2h"}, "window: unknown '2h'"),
        ({"keyword": "bitcoin"}, "keyword: 'bitcoin' is not tracked (TRACK_KEYWORDS: $TSLA, rust)"),
        ({"notify": ["nosuchscheme://x"]}, "notify[0]: not a URL Apprise can send to"),
        ({"notify": ["just words"]}, "notify[0]: not a URL Apprise can send to"),
        ({"notify": []}, "notify: expected a non-empty list"),
        ({"condition": {"sideways": 1}}, "condition: unknown 'sideways'"),
        ({"condition": {"below": "low"}}, "condition.below: expected a number"),
        ({"condition": {"below": 1, "above": 2}}, "condition: expected one of"),
        ({"cooldown": "soon"}, "cooldown: expected a duration"),
        ({"min_items": -1}, "min_items: expected a whole number"),
        ({"subreddit": "golang"}, "subreddit: r/golang is not collected"),
        ({"subreddit": "no spaces"}, "subreddit: not a subreddit name"),
    ],
)
async def test_a_bad_rule_is_a_422_naming_the_field(
    client: httpx.AsyncClient, changes: dict[str, Any], message: str
) -> None:
    answer = await client.post("/alerts/rules", json=rule(**changes), headers=KEY)
    assert answer.status_code == 422, answer.text
    assert message in answer.json()["detail"]
    assert SECRET not in answer.text
    assert (await client.get("/alerts/rules", headers=KEY)).json() == []


async def test_a_bad_notify_url_is_not_echoed(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/alerts/rules", json=rule(notify=[f"https://{SECRET}.example.com/x"]), headers=KEY
    )
    assert answer.status_code == 422 and SECRET not in answer.text


def _alert(n: int, rule_id: str = "r1") -> Alert:
    alert = make_alert(f"a{n:03d}", 1_700_000_000.0 + n, rule_id)
    alert.deliveries[0].updated_at = 1.0
    return alert


async def test_history_is_newest_first_with_cursor_paging(
    client: httpx.AsyncClient, sqlite_store: SqliteStore
) -> None:
    for n in range(5):
        sqlite_store.save_alert(_alert(n, "r1" if n % 2 else "r2"))
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/alerts", params=params)).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["a004", "a003", "a002", "a001", "a000"]
    first = (await client.get("/alerts", params={"limit": 1})).json()["items"][0]
    assert first["deliveries"] == [
        {"target": "json://host", "status": "sent", "attempts": 1, "error": None,
         "updated_at": "1970-01-01T00:00:01Z"},
    ]  # fmt: skip
    only = (await client.get("/alerts", params={"rule_id": "r1"})).json()["items"]
    assert [a["id"] for a in only] == ["a003", "a001"]
    assert (await client.get("/alerts", params={"cursor": "garbage"})).status_code == 422


async def test_alert_rules_file_is_loaded_at_start_up_and_replaces_its_old_rules(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "file.db")
    rules = tmp_path / "rules.json"
    first = [rule(name="one"), rule(name="two", id="custom-id")]
    rules.write_text(json.dumps(first))
    settings = load_settings(admin_api_key=ADMIN_KEY, track_keywords="$TSLA",
                             alert_rules_file=str(rules))  # fmt: skip
    for expected in (["custom-id", "file-one"], ["file-three"]):
        app = create_app(settings, store=store)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as c:
                listed = (await c.get("/alerts/rules", headers=KEY)).json()
        assert [r["id"] for r in listed] == expected
        assert {r["source"] for r in listed} == {"file"}
        rules.write_text("rules:\n  - " + json.dumps(rule(name="three")))  # YAML this time
        rules = rules.rename(tmp_path / "rules.yaml")
        settings = settings.model_copy(update={"alert_rules_file": rules})
