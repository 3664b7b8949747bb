"""How a Reddit thing's lifecycle is read (issue 17): deleted, removed, edited, upvote ratio,
and the purge that takes out everything a person wrote; the lifecycle settings."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reddit_sentiment.collection.collector import item_from_data
from reddit_sentiment.collection.reconcile import stage_for
from reddit_sentiment.models import ItemState
from reddit_sentiment.settings import (
    DeletedItems,
    SettingsError,
    load_settings,
    parse_duration,
    reconcile_requests,
)

NOW = 1_800_000_000.0


def post(**fields: Any) -> dict[str, Any]:
    data = {
        "id": "abc",
        "title": "My secret title",
        "selftext": "My secret text",
        "author": "someone",
        "subreddit": "python",
        "created_utc": NOW - 3600,
        "score": 7,
        "num_comments": 2,
        "permalink": "/r/python/comments/abc/my_secret_title/",
        "edited": False,
        "upvote_ratio": 0.9,
    }
    data.update(fields)
    return data


def comment(**fields: Any) -> dict[str, Any]:
    data = {
        "id": "c1",
        "body": "My secret comment",
        "author": "someone",
        "subreddit": "python",
        "created_utc": NOW - 60,
        "score": 1,
        "link_id": "t3_abc",
        "parent_id": "t3_abc",
        "permalink": "/r/python/comments/abc/my_secret_title/c1/",
    }
    data.update(fields)
    return data


@pytest.mark.parametrize(
    ("kind", "data", "state"),
    [
        ("t3", post(), ItemState.LIVE),
        ("t3", post(edited=NOW - 10), ItemState.EDITED),
        ("t3", post(edited=True), ItemState.LIVE),  # a bare "true": no time to keep
        ("t3", post(author="[deleted]", selftext="[deleted]"), ItemState.DELETED),
        ("t3", post(author="[deleted]", removed_by_category="deleted"), ItemState.DELETED),
        ("t3", post(removed_by_category="author"), ItemState.DELETED),
        ("t3", post(selftext="[removed]", removed_by_category="moderator"), ItemState.REMOVED),
        ("t3", post(removed_by_category="automod_filtered"), ItemState.REMOVED),
        ("t3", post(removed_by_category="reddit", edited=NOW), ItemState.REMOVED),
        ("t1", comment(), ItemState.LIVE),
        ("t1", comment(author="[deleted]", body="[deleted]"), ItemState.DELETED),
        ("t1", comment(author="[deleted]", body=" [removed] "), ItemState.REMOVED),
        # A deleted account beside a text still there: the item lives, its author is gone.
        ("t1", comment(author="[deleted]"), ItemState.LIVE),
    ],
)
def test_the_state_reddit_shows(kind: str, data: dict[str, Any], state: ItemState) -> None:
    item = item_from_data(data, kind, "python", NOW)
    assert item.state is state
    if item.purged:
        assert (item.author, item.body, item.title or "") == (None, "", "")
        assert "secret" not in item.permalink and item.state_at == NOW
    else:
        assert "secret" in item.body and item.state_at is None


def test_edited_time_and_upvote_ratio_are_read_leniently() -> None:
    item = item_from_data(post(edited=str(NOW), upvote_ratio=0.42), "t3", "python", NOW)
    assert (item.edited_at, item.upvote_ratio) == (NOW, 0.42)
    odd = item_from_data(post(edited="yesterday", upvote_ratio="high"), "t3", "python", NOW)
    assert (odd.edited_at, odd.upvote_ratio, odd.state) == (None, None, ItemState.LIVE)
    assert item_from_data(post(upvote_ratio=1.5), "t3", "python", NOW).upvote_ratio is None


json_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
    st.sampled_from(["[deleted]", "[removed]", "deleted", "moderator", "author", ""]),
)  # fmt: skip


@given(
    author=json_values,
    text=json_values,
    category=json_values,
    edited=json_values,
    ratio=json_values,
    kind=st.sampled_from(["t1", "t3"]),
)
def test_any_lifecycle_fields_give_a_state_and_purged_means_no_text(
    author: object, text: object, category: object, edited: object, ratio: object, kind: str
) -> None:
    """Property: whatever Reddit sends in these fields, the item has a state; a purged one
    has no text, author or title slug left; a live one keeps its text."""
    fields = {"author": author, "removed_by_category": category, "edited": edited,
              "upvote_ratio": ratio}  # fmt: skip
    data = post(selftext=text, **fields) if kind == "t3" else comment(body=text, **fields)
    item = item_from_data(data, kind, "python", NOW)
    assert item.state in ItemState
    assert item.upvote_ratio is None or 0 <= item.upvote_ratio <= 1
    if item.purged:
        assert (item.author, item.body, item.title or "") == (None, "", "")
        assert "secret" not in item.permalink
    else:
        assert item.title in (None, "My secret title")


def test_durations() -> None:
    assert [parse_duration(v) for v in ("90s", "30m", "6h", "2d", "1w", "0", "1.5h")] == [
        90, 1800, 21600, 172800, 604800, 0, 5400,
    ]  # fmt: skip
    for bad in ("soon", "", "-1h", "6x"):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)


def test_lifecycle_settings() -> None:
    default = load_settings()
    assert default.reconcile_after == [6 * 3600, 48 * 3600]
    assert default.deleted_items is DeletedItems.KEEP_SCORES
    assert reconcile_requests(default) == 375  # 0.25 x 100/min x 15 min
    custom = load_settings(reconcile_after="2d, 30m,2d", deleted_items="drop")
    assert custom.reconcile_after == [1800, 172800]  # sorted, once each
    assert load_settings(reconcile_after="").reconcile_after == []
    with pytest.raises(SettingsError, match="RECONCILE_AFTER"):
        load_settings(reconcile_after="6h,soon")
    with pytest.raises(SettingsError, match="RECONCILE_AFTER"):
        load_settings(reconcile_after="0")
    with pytest.raises(SettingsError, match="DELETED_ITEMS"):
        load_settings(deleted_items="forget")
    with pytest.raises(SettingsError, match="RECONCILE_REQUEST_SHARE"):
        load_settings(reconcile_request_share=2)


def test_stages_by_age() -> None:
    ages = [6 * 3600.0, 48 * 3600.0]
    assert [stage_for(a * 3600, ages) for a in (1, 6, 47, 48, 500)] == [0, 1, 1, 2, 2]
