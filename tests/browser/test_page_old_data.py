"""The page on data that ended ten years ago (an import, a backfill, a collector paused for
long): it opens on the newest data instead of an empty last-48-hours, offers the way back and
forth, draws a one-bucket series as a point on a sensible axis, at three widths."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from . import data
from .pages import (
    TIMEOUT_MS,
    WIDTHS,
    Watched,
    api,
    assert_page_is_sound,
    open_at,
    seeded_service,
    trace_dates,
    utc,
    watched_page,
    x_range,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watched]:
    tmp = tmp_path_factory.mktemp("page-old")
    items = data.ten_years_old()
    with (
        seeded_service(tmp, items, TRACK_KEYWORDS="python,rust") as url,
        watched_page(tmp, url) as page,
    ):
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
