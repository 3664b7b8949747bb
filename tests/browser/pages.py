"""The dashboard page on a store seeded in advance, at several widths: what each shape of data
test shares. One service (a real uvicorn process, no Reddit configured) and one browser per
module (`seeded_page`); one page reused across widths."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import ConsoleMessage, Page, sync_playwright

from reddit_sentiment.models import Item
from reddit_sentiment.store.sqlite import SqliteStore

from .harness import RESULTS, TIMEOUT_MS, chromium, healthy, served

WIDTHS = (375, 1024, 1600)


@dataclass
class Watched:
    """A page and everything it complained about or asked for."""

    page: Page
    url: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@contextmanager
def seeded_page(tmp: Path, items: Iterable[Item], **env: str) -> Iterator[Watched]:
    """`serve` on a SQLite file holding `items`, without Reddit credentials, and a page of
    Debian's chromium in UTC on it (axis texts then compare with the data's UTC dates)."""
    store = SqliteStore(tmp / "page.db")
    store.open()
    batch = list(items)
    for start in range(0, len(batch), 2000):
        store.upsert_items(batch[start : start + 2000])
    asyncio.run(store.aclose())
    environment = {
        "SQLITE_PATH": str(tmp / "page.db"),
        "RETENTION_DAYS": "100000",  # keep the old data these tests are about
        "LOG_LEVEL": "WARNING",
        **env,
    }
    with served(tmp, environment, healthy) as running, sync_playwright() as playwright:
        context = chromium(playwright, tmp / "profile", viewport={"width": 1600, "height": 900},
                           timezone_id="UTC", locale="en-US")  # fmt: skip
        try:
            page = context.new_page()
            watched = Watched(page=page, url=running.url)

            def on_console(message: ConsoleMessage) -> None:
                if message.type == "error":
                    watched.errors.append(f"console {message.type}: {message.text}")

            page.on("console", on_console)
            page.on("pageerror", lambda error: watched.errors.append(f"page error: {error}"))
            page.on("request", lambda request: watched.requests.append(request.url))
            yield watched
        finally:
            context.close()


def open_at(watched: Watched, width: int) -> Page:
    """The page loaded afresh at `width`, after its first refresh."""
    page = watched.page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{watched.url}/?refresh=600", wait_until="load")
    page.wait_for_function("() => Number(document.body.dataset.refreshes) >= 1", timeout=TIMEOUT_MS)
    page.wait_for_timeout(300)  # Plotly's responsive relayout after the first draw
    return page


def api(url: str, path: str) -> Any:
    response = httpx.get(f"{url}/api/v1{path}", timeout=10)
    assert response.status_code == 200, (path, response.status_code, response.text)
    return response.json()


def utc(text: str) -> datetime:
    """A Plotly date (the page runs in UTC) or an API timestamp, as an aware datetime."""
    text = text.replace("Z", "+00:00")
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


_LABELS_JS = """() => {
  const out = [];
  const visible = (node) => {
    for (let n = node; n && n !== document; n = n.parentNode) {
      if (n.nodeType !== 1) continue;
      const style = getComputedStyle(n);
      if (n.hidden || style.display === "none" || style.visibility === "hidden") return false;
      if (Number(style.opacity) === 0) return false;
    }
    return true;
  };
  for (const node of document.querySelectorAll(".js-plotly-plot svg text")) {
    const text = node.textContent.trim();
    if (!text) continue;
    const r = node.getBoundingClientRect();
    if (r.width < 1 || r.height < 1 || !visible(node)) continue;
    const chart = node.closest(".js-plotly-plot").id;
    out.push({chart, text, x: r.left, y: r.top, w: r.width, h: r.height});
  }
  return out;
}"""


def overlapping_labels(page: Page) -> list[tuple[str, str, str]]:
    """Pairs of chart text labels (ticks, legend, titles, bar texts) whose boxes overlap."""
    labels: list[dict[str, Any]] = page.evaluate(_LABELS_JS)
    clashes = []
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            if a["chart"] != b["chart"]:
                continue
            dx = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
            dy = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
            if dx > 1 and dy > 1:  # a pixel of anti-aliasing is not an overlap
                clashes.append((a["chart"], a["text"], b["text"]))
    return clashes


def horizontal_overflow(page: Page) -> int:
    """How far the page scrolls sideways (0 when it does not)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def x_range(page: Page, chart_id: str) -> tuple[datetime, datetime]:
    start, end = page.evaluate("id => document.getElementById(id).layout.xaxis.range", chart_id)
    return utc(start), utc(end)


def trace_dates(page: Page, chart_id: str) -> list[datetime]:
    xs: list[str | None] = page.evaluate(
        "id => document.getElementById(id).data.flatMap((t, i) => t.x.filter((x, j) => "
        "t.y[j] !== null))",
        chart_id,
    )
    return [utc(x) for x in xs if x]


def assert_page_is_sound(watched: Watched, name: str, width: int) -> None:
    """What every page must hold at every width: no sideways scroll, no overlapping labels,
    no errors, nothing fetched from another host; and a screenshot for people to look at."""
    page = watched.page
    RESULTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(RESULTS / f"{name}-{width}.png"), full_page=True)
    assert horizontal_overflow(page) <= 0, f"scrolls sideways at {width} px"
    clashes = overlapping_labels(page)
    assert not clashes, f"labels overlap at {width} px: {clashes}"
    assert watched.errors == []
    foreign = [u for u in watched.requests if not u.startswith(f"{watched.url}/")]
    assert foreign == [], "requests to other hosts"
