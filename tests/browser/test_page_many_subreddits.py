"""The page on 150 subreddits (what collecting r/all gives): the top ones by volume and one
"other" group, a searchable selector for the rest, no label over another, at three widths;
a click on a point lists that bucket's posts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

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
SUBREDDITS = 150


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watched]:
    tmp = tmp_path_factory.mktemp("page-many")
    with seeded_page(tmp, data.many_subreddits(SUBREDDITS)) as page:
        yield page


def lines(watched: Watched, chart: str = "chart-sentiment") -> list[str]:
    names: list[str] = watched.page.evaluate(
        "id => document.getElementById(id).data.filter(t => t.type === 'scatter').map(t => t.name)",
        chart,
    )
    return names


@pytest.mark.parametrize("width", WIDTHS)
def test_150_subreddits_are_the_top_ones_and_one_other_group(watched: Watched, width: int) -> None:
    page = open_at(watched, width)
    summary = api(watched.url, "/dashboard/summary")
    assert len(summary["subreddits"]) == SUBREDDITS
    by_volume = sorted(
        summary["subreddits"], key=lambda s: (-(s["posts"] + s["comments"]), s["subreddit"])
    )

    # Over time: the biggest subreddits by name, then the rest as one line.
    top = 3 if width < 600 else 5
    names = lines(watched)
    assert names[:top] == [f"r/{s['subreddit']}" for s in by_volume[:top]]
    assert names[top:] == [f"other ({SUBREDDITS - top} subreddits)"]
    # The x axis is the last 48 hours, and every point lies in it.
    start, end = x_range(page, "chart-sentiment")
    now = datetime.now(UTC)
    assert end - start == timedelta(hours=48)
    assert start <= now - timedelta(hours=47) and now <= end
    dates = trace_dates(page, "chart-sentiment")
    assert dates and all(start <= d < end for d in dates)
    # Empty hours (10-14 ago) are gaps: a null between the points either side, per line.
    gaps = page.evaluate(
        "() => document.getElementById('chart-sentiment').data"
        ".filter(t => t.type === 'scatter').map(t => t.y.filter(y => y === null).length)"
    )
    assert all(n >= 1 for n in gaps)

    # Labels: All, the top 8, and the other 142 in one row.
    rows = page.evaluate("() => document.getElementById('chart-labels').data[0].y")
    assert rows[0] == "All" and rows[-1] == f"Other ({SUBREDDITS - 8})" and len(rows) == 10
    assert rows[1] == f"r/{by_volume[0]['subreddit']}"
    assert all(len(row) <= 18 for row in rows)  # long names shortened, whole in the hover
    # Every stored subreddit can be searched for.
    assert page.locator("#subreddit-list option").count() == SUBREDDITS
    assert_page_is_sound(watched, "many-subreddits", width)


def test_a_searched_subreddit_and_a_clicked_point_list_that_hours_posts(watched: Watched) -> None:
    page = open_at(watched, 1600)
    name = data.subreddit_names(SUBREDDITS)[42]
    page.fill("#subreddit-input", f"r/{name}")
    page.dispatch_event("#subreddit-input", "change")
    page.wait_for_selector(f"#chart-sentiment[data-subreddit={name}]", timeout=TIMEOUT_MS)
    page.wait_for_function(
        "() => document.getElementById('chart-sentiment').data.length === 2",
        timeout=TIMEOUT_MS,
    )
    assert lines(watched) == [f"r/{name}"]
    assert page.evaluate("() => document.getElementById('chart-labels').data[0].y") == [f"r/{name}"]
    assert page.inner_text("#kpi-subreddits") == "1"

    # A real click on the first point lists the posts created in its hour, in that subreddit.
    point = page.locator("#chart-sentiment .scatterlayer .trace .points path").first
    box = point.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("#posts-card:not([hidden])", timeout=TIMEOUT_MS)
    page.wait_for_function(
        "() => !document.querySelector('#posts .empty') || "
        "document.querySelector('#posts .empty').textContent !== 'Loading…'",
        timeout=TIMEOUT_MS,
    )
    query = parse_qs(page.get_attribute("#posts-card", "data-query") or "")
    assert query["subreddit"] == [name]
    since, until = utc(query["since"][0]), utc(query["until"][0])
    assert until - since == timedelta(hours=1)
    expected = api(watched.url, f"/posts?subreddit={name}&since={query['since'][0]}"
                   f"&until={query['until'][0]}&limit=100")["items"]  # fmt: skip
    first_hour = min(trace_dates(page, "chart-sentiment"))
    assert since == first_hour
    links = page.locator("#posts a").evaluate_all("links => links.map(a => a.href)")
    assert sorted(links) == sorted(f"https://www.reddit.com{p['permalink']}" for p in expected)
    assert expected and len(links) == len(expected)  # the long tail is all posts
    assert_page_is_sound(watched, "many-subreddits-one-selected", 1600)

    # Cleared, the page is back to all subreddits.
    page.fill("#subreddit-input", "")
    page.dispatch_event("#subreddit-input", "change")
    page.wait_for_selector("#chart-sentiment[data-subreddit='']", timeout=TIMEOUT_MS)
    assert len(lines(watched)) == 6


@pytest.mark.parametrize("width", [375, 1600])
def test_a_long_range_is_drawn_by_day(watched: Watched, width: int) -> None:
    page = open_at(watched, width)
    page.select_option("#range-preset", "90d")
    page.wait_for_selector("#chart-sentiment[data-bucket=day]", timeout=TIMEOUT_MS)
    assert page.locator("button[data-bucket=hour]").is_disabled()
    start, end = x_range(page, "chart-sentiment")
    assert timedelta(days=90) <= end - start <= timedelta(days=91)
    assert (start.hour, end.hour) == (0, 0)  # whole days, as the day buckets are
    dates = trace_dates(page, "chart-sentiment")
    assert dates and all(start <= d < end for d in dates)
    assert_page_is_sound(watched, "many-subreddits-90-days", width)
