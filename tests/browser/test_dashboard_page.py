"""GET / in a real browser: the charts render the stored data and the page logs no errors."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Request

from .conftest import Service
from .harness import RESULTS, TIMEOUT_MS
from .pages import api


def count(page: Page, selector: str) -> int:
    return page.locator(selector).count()


def wait_for_refreshes(page: Page, n: int) -> None:
    page.wait_for_function(
        "n => Number(document.body.dataset.refreshes) >= n", arg=n, timeout=TIMEOUT_MS
    )


def chart_data(page: Page, chart_id: str) -> list[dict[str, Any]]:
    """The traces Plotly holds for a chart (`gd.data`), as JSON."""
    data: list[dict[str, Any]] = page.evaluate(
        "id => JSON.parse(JSON.stringify(document.getElementById(id).data))", chart_id
    )
    return data


def test_dashboard_renders_stored_data_without_errors(
    service: Service, browser_context: BrowserContext
) -> None:
    page = browser_context.new_page()
    console_errors: list[str] = []
    page_errors: list[str] = []
    requests: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            console_errors.append(f"{message.text} @ {message.location}")

    def on_request(request: Request) -> None:
        requests.append(request.url)

    page.on("console", on_console)
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    page.on("request", on_request)

    page.goto(f"{service.url}/?refresh=1", wait_until="load")
    wait_for_refreshes(page, 1)
    subreddits = service.subreddits

    # Sentiment over time: one line and one volume bar trace per subreddit, the API's values.
    sentiment = "#chart-sentiment.js-plotly-plot"
    assert count(page, f"{sentiment} .scatterlayer .trace") == len(subreddits)
    assert count(page, f"{sentiment} .barlayer .trace") == len(subreddits)
    # A line per subreddit (in pieces where hours are empty: gaps are not joined).
    drawn = f"{sentiment} .scatterlayer .trace:has(path.js-line)"
    assert count(page, drawn) == len(subreddits)
    legend = page.locator(f"{sentiment} .legendtext").all_text_contents()
    assert sorted(legend) == [f"r/{name}" for name in subreddits]
    series = {
        s["subreddit"]: s["buckets"] for s in api(service.url, "/dashboard/sentiment")["series"]
    }
    lines = [t for t in chart_data(page, "chart-sentiment") if t["type"] == "scatter"]
    assert {t["name"]: [y for y in t["y"] if y is not None] for t in lines} == {
        f"r/{name}": [b["mean_compound"] for b in buckets] for name, buckets in series.items()
    }

    # Label distribution: totals as text equal the summary; the chart has the three labels.
    summary = api(service.url, "/dashboard/summary")
    shown = {
        label: int(re.sub(r"\D", "", page.inner_text(f"[data-label-total={label}]")))
        for label in ("positive", "neutral", "negative")
    }
    assert shown == summary["labels"]
    assert sum(shown.values()) == summary["posts"] + summary["comments"] > 0
    assert count(page, "#chart-labels.js-plotly-plot .barlayer .trace") == 3
    assert page.inner_text("#kpi-posts") == str(summary["posts"])
    assert page.inner_text("#kpi-comments") == str(summary["comments"])

    # Collection runs: the finished run with its id and status badge.
    run = api(service.url, "/collections?limit=1")["items"][0]
    row = page.locator(f"#runs tr[data-run-id='{run['id']}']")
    assert row.count() == 1
    assert run["id"] in row.inner_text()
    assert row.locator(".badge").inner_text() in {"succeeded", "partial"}

    # Tracked keywords (TRACK_KEYWORDS=python,data): a table row each and a chart.
    keywords = api(service.url, "/keywords")["keywords"]
    assert {k["keyword"] for k in keywords} == {"python", "data"}
    assert count(page, "#keywords-table tr[data-keyword]") == 2
    assert count(page, "#chart-keyword.js-plotly-plot .scatterlayer .trace") == 1

    # Trending: either the lists or the "not computed yet" note, never an error banner.
    trending = api(service.url, "/trending?window=24h")
    if trending["computed_at"] is None:
        assert "Not computed yet" in page.inner_text("#trending")
    else:
        assert count(page, "#trending h3") == 4

    # Day buckets: the same subreddits, redrawn in place.
    page.click("button[data-bucket=day]")
    page.wait_for_selector("#chart-sentiment[data-bucket=day]", timeout=TIMEOUT_MS)
    assert count(page, f"{sentiment} .scatterlayer .trace") == len(subreddits)

    # One subreddit: one line, and trending and keywords follow the filter.
    page.fill("#subreddit-input", subreddits[0])
    page.dispatch_event("#subreddit-input", "change")
    page.wait_for_selector(f"#chart-sentiment[data-subreddit={subreddits[0]}]", timeout=TIMEOUT_MS)
    assert count(page, f"{sentiment} .scatterlayer .trace") == 1
    page.wait_for_function(
        "name => document.getElementById('keyword-selected').textContent.includes(name)",
        arg=f"r/{subreddits[0]}",
        timeout=TIMEOUT_MS,
    )
    page.fill("#subreddit-input", "")
    page.dispatch_event("#subreddit-input", "change")
    page.wait_for_selector("#chart-sentiment[data-subreddit='']", timeout=TIMEOUT_MS)

    # It refreshes itself (every second here) without duplicating anything.
    wait_for_refreshes(page, 3)
    assert count(page, f"{sentiment} .scatterlayer .trace") == len(subreddits)
    assert count(page, "#runs tr[data-run-id]") >= 1
    assert page.locator("#banner").is_hidden()

    RESULTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(RESULTS / "dashboard.png"), full_page=True)

    assert page_errors == []
    assert console_errors == []
    foreign = [url for url in requests if not url.startswith(f"{service.url}/")]
    assert foreign == [], "requests to other hosts"
    assert f"{service.url}/static/plotly.min.js" in {url.split("?")[0] for url in requests}


@pytest.mark.processes  # no browser, but the service fixture's process
def test_assets_are_served_by_the_app(service: Service) -> None:
    page = httpx.get(f"{service.url}/", timeout=5)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for path in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text):
        asset = httpx.get(f"{service.url}{path}", timeout=10)
        assert asset.status_code == 200, path
        assert "immutable" in asset.headers["cache-control"]
    bundle = httpx.get(f"{service.url}/static/plotly.min.js", timeout=10)
    assert bundle.headers["content-encoding"] == "gzip"
    assert "window.Plotly" in bundle.text
    plain = httpx.get(
        f"{service.url}/static/plotly.min.js", headers={"Accept-Encoding": "identity"}, timeout=10
    )
    assert "content-encoding" not in plain.headers
    assert len(plain.content) > 1_000_000
    assert httpx.get(f"{service.url}/static/../settings.py", timeout=5).status_code == 404
    assert httpx.get(f"{service.url}/static/index.html", timeout=5).status_code == 404
