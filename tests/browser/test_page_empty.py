"""The page on an empty store with collection not configured: it says what is missing and
draws no chart (no invented axes), at phone, laptop and wide widths."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .pages import WIDTHS, Watched, api, assert_page_is_sound, open_at, seeded_page

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watched]:
    tmp = tmp_path_factory.mktemp("page-empty")
    with seeded_page(tmp, []) as page:
        yield page


@pytest.mark.parametrize("width", WIDTHS)
def test_an_empty_store_says_collection_is_not_configured(watched: Watched, width: int) -> None:
    reason = api(watched.url, "/health/ready")["collection"]["reason"]
    assert reason.startswith("collection not configured: set REDDIT_CLIENT_ID")
    page = open_at(watched, width)

    notice = page.inner_text("#notice")
    assert "No data yet: collection is not configured" in notice
    assert "REDDIT_CLIENT_ID" in notice
    assert page.locator("#notice-action").is_hidden()  # no data to jump to
    for chart, text in (
        ("sentiment", "Nothing collected yet."),
        ("labels", "Nothing collected yet."),
    ):
        assert page.inner_text(f"#{chart}-empty") == text
        assert page.locator(f"#chart-{chart}").is_hidden()
    # No axes drawn at all, so none from 2000 to 2001.
    assert page.locator(".js-plotly-plot").count() == 0
    assert page.locator("svg .xtick").count() == 0
    assert "collection is not configured" in page.inner_text("#runs")
    assert page.inner_text("#kpi-posts") == "0"
    assert_page_is_sound(watched, "empty", width)
