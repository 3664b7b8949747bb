"""The dashboard's "Latest alerts" section in a real browser, on a real service: a rule from
ALERT_RULES_FILE fires after the first cycle over the sample data, Apprise posts to a real
local receiver, and the page lists the alert with its delivery and evidence."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import BrowserContext

from fakereddit import FakeReddit
from tests.alerts.receiver import Receiver, receiver

from .conftest import Service, _free_port, _wait_first_collection

TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def alerting_service(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Service, Receiver]]:
    tmp = tmp_path_factory.mktemp("alerts-service")
    with FakeReddit.sample().start() as fake, receiver() as hook:
        rules = tmp / "rules.json"
        rules.write_text(json.dumps([{
            "name": "python is busy", "subreddit": "python", "metric": "mentions",
            "window": "24h", "condition": {"above": 0}, "notify": [f"json://{hook.url}/hook"],
        }]))  # fmt: skip
        port = _free_port()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp),
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "SQLITE_PATH": str(tmp / "alerts.db"),
            "REDDIT_URL": fake.url,
            "REDDIT_OAUTH_URL": fake.url,
            "REDDIT_CLIENT_ID": "x",
            "REDDIT_CLIENT_SECRET": "x",
            "SUBREDDITS": ",".join(sorted(fake.subreddit_names())),
            "COLLECTION_START_DELAY_SECONDS": "0",
            "ALERT_RULES_FILE": str(rules),
        }
        log = tmp / "service.log"
        with log.open("ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", "reddit_sentiment", "serve"], env=env,
                                    stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_first_collection(proc, url, log)
            yield Service(url=url, subreddits=[], log=log), hook
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def test_the_page_lists_the_alert_that_fired(
    alerting_service: tuple[Service, Receiver], browser_context: BrowserContext
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
