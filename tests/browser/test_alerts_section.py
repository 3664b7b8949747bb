"""The dashboard's "Latest alerts" section in a real browser, on a real service: a rule from
ALERT_RULES_FILE fires after the first cycle over the sample data, Apprise posts to a real
local receiver, and the page lists the alert with its delivery and evidence."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import BrowserContext

from fakereddit import FakeReddit
from tests.alerts.receiver import Receiver, receiver

from .harness import TIMEOUT_MS, Running, collected, fake_reddit_env, served


@pytest.fixture(scope="module")
def alerting_service(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Running, Receiver]]:
    tmp = tmp_path_factory.mktemp("alerts-service")
    with FakeReddit.sample().start() as fake, receiver() as hook:
        rules = tmp / "rules.json"
        rules.write_text(json.dumps([{
            "name": "python is busy", "subreddit": "python", "metric": "mentions",
            "window": "24h", "condition": {"above": 0}, "notify": [f"json://{hook.url}/hook"],
        }]))  # fmt: skip
        env = {
            **fake_reddit_env(fake),
            "SQLITE_PATH": str(tmp / "alerts.db"),
            "ALERT_RULES_FILE": str(rules),
        }
        with served(tmp, env, collected) as service:
            yield service, hook


def test_the_page_lists_the_alert_that_fired(
    alerting_service: tuple[Running, Receiver], browser_context: BrowserContext
) -> None:
    service, hook = alerting_service
    deadline = time.monotonic() + 20
    alerts: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        alerts = httpx.get(f"{service.url}/api/v1/alerts", timeout=5).json()["items"]
        if alerts and alerts[0]["deliveries"][0]["status"] != "pending":  # type: ignore[index]
            break
        time.sleep(0.2)
    assert len(alerts) == 1, service.log.read_text()[-3000:]
    (alert,) = alerts
    assert alert["deliveries"][0]["status"] == "sent"  # type: ignore[index]
    assert len(hook.received("/hook")) == 1
    errors: list[str] = []
    page = browser_context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(service.url + "/", wait_until="load")
    row = page.locator(f"#alerts-table tr[data-alert='{alert['id']}']")
    row.wait_for(timeout=TIMEOUT_MS)
    text = row.inner_text()
    assert "python is busy" in text and "r/python" in text and "sent" in text
    assert row.locator("a").count() == len(alert["evidence"])  # type: ignore[arg-type]
    assert errors == []
    metrics = httpx.get(f"{service.url}/metrics", timeout=5).text
    assert f'reddit_sentiment_alerts_fired_total{{rule="{alert["rule_id"]}"}} 1.0' in metrics
