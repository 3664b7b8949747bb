"""Items straight from Reddit's listing JSON (what `RedditCollector.page` parses), including the
shapes real listings have that a happy path forgets: deleted authors, removed text, `more`
stubs, missing fields, and bodies that are JSON but not a listing."""

from __future__ import annotations

from typing import Any

import pytest

from reddit_sentiment.collector import MalformedListing, describe_error, parse_listing
from reddit_sentiment.models import Kind

NOW = 1_800_000_000.0


def listing(*children: dict[str, Any], after: str | None = None) -> dict[str, Any]:
    return {"kind": "Listing", "data": {"after": after, "before": None, "children": list(children)}}


def post(**fields: Any) -> dict[str, Any]:
    data = {
        "id": "abc",
        "name": "t3_abc",
        "subreddit": "Python",
        "author": "someone",
        "created_utc": 1_700_000_000.0,
        "title": "I love it",
        "selftext": "",
        "permalink": "/r/Python/comments/abc/i_love_it/",
        "score": 12,
        "num_comments": 3,
        **fields,
    }
    return {"kind": "t3", "data": data}


def comment(**fields: Any) -> dict[str, Any]:
    data = {
        "id": "c1",
        "name": "t1_c1",
        "subreddit": "Python",
        "author": "[deleted]",
        "created_utc": 1_700_000_100.0,
        "body": "[removed]",
        "parent_id": "t3_abc",
        "link_id": "t3_abc",
        "score": 1,
        **fields,
    }
    return {"kind": "t1", "data": data}


def test_posts_and_comments_become_items_with_reddit_fields() -> None:
    page = parse_listing(listing(post(), comment(), after="t1_c1"), "python", NOW)
    assert page.after == "t1_c1"
    first, second = page.items
    assert (first.id, first.kind, first.subreddit, first.title) == (
        "t3_abc",
        Kind.POST,
        "python",
        "I love it",
    )
    assert (first.score, first.num_comments, first.created_utc) == (12, 3, 1_700_000_000.0)
    assert first.collected_at == NOW
    assert (second.id, second.kind, second.link_id, second.num_comments) == (
        "t1_c1",
        Kind.COMMENT,
        "t3_abc",
        None,
    )
    assert second.author is None  # "[deleted]" is no one, as PRAW has it


def test_more_stubs_and_things_without_an_id_are_skipped() -> None:
    more = {"kind": "more", "data": {"id": "m1", "name": "t1_m1", "children": ["x"]}}
    no_id = post(id="")
    page = parse_listing(listing(more, no_id, post(id="ok", name="t3_ok"), "junk"), "python", NOW)
    assert [item.id for item in page.items] == ["t3_ok"]


def test_missing_optional_fields_get_safe_defaults() -> None:
    bare = {"kind": "t3", "data": {"id": "q", "name": "t3_q"}}
    (item,) = parse_listing(listing(bare), "Python", NOW).items
    assert item.subreddit == "python"  # the subreddit asked for, lower-cased
    assert (item.title, item.body, item.score, item.author) == ("", "", 0, None)
    assert item.created_utc == NOW
    assert item.permalink == "/r/python/comments/q/"


@pytest.mark.parametrize("after", [None, ""])
def test_the_last_page_has_no_after(after: str | None) -> None:
    assert parse_listing(listing(post(), after=after), "python", NOW).after is None


@pytest.mark.parametrize(
    "body",
    [[], {"error": 500}, {"kind": "Listing", "data": {"children": "nope"}}, "text", None],
)
def test_json_that_is_not_a_listing_is_a_clear_error(body: Any) -> None:
    with pytest.raises(MalformedListing) as raised:
        parse_listing(body, "python", NOW)
    assert describe_error(raised.value).startswith("malformed response: expected a Listing")
