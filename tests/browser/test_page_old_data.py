"""The page on data that ended ten years ago (an import, a backfill, a collector paused for
long): it opens on the newest data instead of an empty last-48-hours, offers the way back and
forth, draws a one-bucket series as a point on a sensible axis, at three widths."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from . import data
from .harness import TIMEOUT_MS
from .pages import (
    WIDTHS,
    Watched,
    api,
    assert_page_is_sound,
    open_at,
    seeded_page,
    trace_dates,
    utc,
    x_range,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watched]:
    tmp = tmp_path_factory.mktemp("page-old")
    items = data.ten_years_old()
    with seeded_page(tmp, items, TRACK_KEYWORDS="python,rust") as page:
        yield page


@pytest.mark.parametrize("width", WIDTHS)
def test_the_page_opens_on_the_newest_data(watched: Watched, width: int) -> None:
    page = open_at(watched, width)
    summary = api(watched.url, "/dashboard/summary")
    first, last = utc(summary["data_since"]), utc(summary["data_until"])
    assert timedelta(hours=60) < last - first <= timedelta(hours=72)

    # The range is where the data is (all of its three days), not the empty last 48 hours.
    assert page.input_value("#range-preset") == "custom"
    start, end = x_range(page, "chart-sentiment")
    assert start <= first and last <= end
    dates = trace_dates(page, "chart-sentiment")
    assert dates and all(start <= d < end for d in dates)
    assert min(dates) == first and max(dates) == last - timedelta(hours=1)
    assert "Nothing was collected in the last 48 hours" in page.inner_text("#notice")
    assert page.inner_text("#kpi-posts") == f"{summary['posts']:,}"

    # The keyword chart covers the same range.
    assert x_range(page, "chart-keyword") == (start, end)
    assert_page_is_sound(watched, "ten-years-old", width)


def test_the_last_48_hours_say_where_the_data_is_and_jump_back(watched: Watched) -> None:
    page = open_at(watched, 1024)
    page.click("#notice-action")  # "Show the last 48 hours"
    page.wait_for_selector("#sentiment-empty:not([hidden])", timeout=TIMEOUT_MS)
    assert page.inner_text("#sentiment-empty") == "No items in all subreddits in this time range."
    assert page.locator("#chart-sentiment").is_hidden()
    notice = page.inner_text("#notice-text")
    assert notice.startswith("No items in all subreddits from ") and "The newest are from" in notice
    assert page.inner_text("#notice-action") == "Show the newest data"
    assert_page_is_sound(watched, "ten-years-old-last-48-hours", 1024)

    page.click("#notice-action")
    page.wait_for_selector("#chart-sentiment:not([hidden])", timeout=TIMEOUT_MS)
    page.wait_for_function(
        "() => document.getElementById('chart-sentiment').data !== undefined", timeout=TIMEOUT_MS
    )
    start, end = x_range(page, "chart-sentiment")
    summary = api(watched.url, "/dashboard/summary")
    assert start <= utc(summary["data_since"]) and utc(summary["data_until"]) <= end


def test_a_one_bucket_series_is_a_point_on_the_ranges_axis(watched: Watched) -> None:
    page = open_at(watched, 1600)
    page.click("#keywords-table tr[data-keyword=rust]")
    page.wait_for_function(
        "() => document.getElementById('keyword-selected').textContent.startsWith('rust')",
        timeout=TIMEOUT_MS,
    )
    page.wait_for_function(
        "() => document.getElementById('chart-keyword').data[1].x.length === 1",
        timeout=TIMEOUT_MS,
    )
    (hour,) = trace_dates(page, "chart-keyword")[:1]
    start, end = x_range(page, "chart-keyword")
    assert (start, end) == x_range(page, "chart-sentiment")  # days, not a millisecond
    assert start < hour < end
    # Drawn as a marker, and the bar is one hour wide, not the plot's width.
    assert page.locator("#chart-keyword .scatterlayer .trace .points path").count() == 1
    bar = page.locator("#chart-keyword .barlayer .point path").first.bounding_box()
    plot = page.locator("#chart-keyword .nsewdrag").first.bounding_box()
    assert bar is not None and plot is not None
    assert bar["width"] < plot["width"] / 20
    ticks = page.locator("#chart-keyword .xtick text").all_text_contents()
    assert not any("." in t for t in ticks)  # no sub-second tick labels
    assert_page_is_sound(watched, "ten-years-old-one-bucket", 1600)


def _rolling(buckets: list[dict[str, Any]], width: int) -> list[float]:
    """The volume-weighted mean of each bucket and the ones before it within `width` hours."""
    out = []
    for b in buckets:
        end = utc(b["start"])
        window = [a for a in buckets if end - timedelta(hours=width) < utc(a["start"]) <= end]
        total = sum(a["count"] for a in window)
        out.append(sum(a["mean_compound"] * a["count"] for a in window) / total)
    return out


def test_smoothing_is_a_volume_weighted_rolling_mean(watched: Watched) -> None:
    page = open_at(watched, 1600)
    start, end = x_range(page, "chart-sentiment")
    query = f"subreddit=python&since={start:%Y-%m-%dT%H:%M:%SZ}&until={end:%Y-%m-%dT%H:%M:%SZ}"
    page.fill("#subreddit-input", "python")
    page.dispatch_event("#subreddit-input", "change")
    page.wait_for_selector("#chart-sentiment[data-subreddit=python]", timeout=TIMEOUT_MS)
    buckets = api(watched.url, f"/dashboard/sentiment?{query}")["series"][0]["buckets"]

    def line() -> list[float]:
        ys: list[float | None] = page.evaluate(
            "() => document.getElementById('chart-sentiment').data[1].y"
        )
        return [y for y in ys if y is not None]

    assert line() == [b["mean_compound"] for b in buckets]
    page.check("#smooth")
    page.wait_for_function(
        "() => document.getElementById('chart-sentiment').data[1].hovertemplate"
        ".includes('customdata[3]') && document.getElementById('chart-sentiment').data[1]"
        ".customdata[0][3].includes('rolling')",
        timeout=TIMEOUT_MS,
    )
    smooth = _rolling(buckets, 6)
    assert smooth != pytest.approx([b["mean_compound"] for b in buckets])
    assert line() == pytest.approx(smooth)
    page.uncheck("#smooth")


def test_a_custom_range_and_a_label_bar_click(watched: Watched) -> None:
    page = open_at(watched, 1024)
    summary = api(watched.url, "/dashboard/summary")
    last = utc(summary["data_until"]) - timedelta(hours=1)
    day = f"{last:%Y-%m-%d}"
    page.fill("#range-from", day)
    page.fill("#range-to", day)
    page.click("#custom-range button[type=submit]")
    page.wait_for_function(
        "d => document.getElementById('chart-sentiment').dataset.since.startsWith(d)",
        arg=day,
        timeout=TIMEOUT_MS,
    )
    start, end = x_range(page, "chart-sentiment")
    assert (f"{start:%Y-%m-%d %H:%M}", end - start) == (f"{day} 00:00", timedelta(days=1))
    assert all(start <= d < end for d in trace_dates(page, "chart-sentiment"))

    # A click on r/worldnews' negative bar lists its negative posts of that day.
    rows: list[str] = page.evaluate("() => document.getElementById('chart-labels').data[2].y")
    row = rows.index("r/worldnews")
    bar = page.locator("#chart-labels .barlayer .trace").nth(2).locator(".point").nth(row)
    box = bar.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("#posts a", timeout=TIMEOUT_MS)
    window = f"since={day}T00:00:00Z&until={end:%Y-%m-%dT%H:%M:%SZ}"
    expected = api(
        watched.url, f"/posts?subreddit=worldnews&label=negative&{window}&limit=25&sort=score"
    )["items"]
    links = page.locator("#posts a").evaluate_all("links => links.map(a => a.href)")
    assert expected and all(p["label"] == "negative" for p in expected)
    assert links == [f"https://www.reddit.com{p['permalink']}" for p in expected]
    assert "Negative posts in r/worldnews" in page.inner_text("#posts-scope")
    assert_page_is_sound(watched, "ten-years-old-custom-day", 1024)
