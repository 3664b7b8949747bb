"""Items straight from Reddit's listing JSON (what `RedditCollector.page` parses), including the
shapes real listings have that a happy path forgets: deleted authors, removed text, `more`
stubs, missing fields, and bodies that are JSON but not a listing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reddit_sentiment.collection.collector import MalformedListing, describe_error, parse_listing
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


def test_more_stubs_are_passed_over_and_things_without_an_id_rejected() -> None:
    more = {"kind": "more", "data": {"id": "m1", "name": "t1_m1", "children": ["x"]}}
    no_id = post(id="")
    page = parse_listing(listing(more, no_id, post(id="ok", name="t3_ok"), "junk"), "python", NOW)
    assert [item.id for item in page.items] == ["t3_ok"]
    assert [(r.fullname, r.reason) for r in page.rejected] == [("t3", "no valid Reddit id")]


def test_missing_optional_fields_get_safe_defaults() -> None:
    bare = {"kind": "t3", "data": {"id": "q", "created_utc": 1_700_000_000}}
    (item,) = parse_listing(listing(bare), "Python", NOW).items
    assert item.id == "t3_q"  # the fullname comes from the thing's kind and id
    assert item.subreddit == "python"  # the subreddit asked for, lower-cased
    assert (item.title, item.body, item.score, item.author) == ("", "", 0, None)
    assert item.created_utc == 1_700_000_000.0
    assert item.permalink == "/r/python/comments/q/"


@pytest.mark.parametrize("created", [None, "yesterday", float("nan"), -1, 1e12, True, [1], {}])
def test_an_item_without_a_usable_creation_time_is_rejected_with_the_reason(
    created: Any,
) -> None:
    page = parse_listing(listing(post(created_utc=created), post(id="b2")), "python", NOW)
    assert [item.id for item in page.items] == ["t3_b2"]  # the rest of the page is kept
    (rejected,) = page.rejected
    assert rejected.fullname == "t3_abc"
    assert "created_utc" in rejected.reason


def test_oddly_typed_fields_are_read_leniently() -> None:
    odd = post(
        created_utc="1700000000",
        score=12.7,
        num_comments=None,
        title=42,
        selftext=None,
        author={"name": "x"},
        edited=1_700_000_500.5,
        subreddit="not a name!",
    )
    (item,) = parse_listing(listing(odd), "Python", NOW).items
    assert (item.created_utc, item.score, item.num_comments) == (1_700_000_000.0, 13, 0)
    assert (item.title, item.body, item.author, item.subreddit) == ("42", "", None, "python")


def test_scores_beyond_what_stores_hold_are_clamped() -> None:
    (item,) = parse_listing(listing(post(score=10**30)), "python", NOW).items
    assert item.score == 2**53 - 1


def test_text_is_cleaned_at_the_boundary() -> None:
    body = json.loads('{"t": "half an emoji \\ud83d here", "s": "nul\\u0000byte"}')
    hostile = post(title=body["t"], selftext=body["s"], author="a\x00b")
    (item,) = parse_listing(listing(hostile), "python", NOW).items
    assert item.title == "half an emoji \ufffd here"
    assert item.body == "nulbyte"
    assert item.author == "ab"


def test_a_repeated_thing_is_one_item() -> None:
    page = parse_listing(listing(post(), comment(), post(score=99)), "python", NOW)
    assert [item.id for item in page.items] == ["t3_abc", "t1_c1"]
    assert page.items[0].score == 12  # the first occurrence wins


@pytest.mark.parametrize(
    "permalink", ["https://evil.example/x", "@evil.example/", "javascript:alert(1)", 7, None]
)
def test_a_permalink_that_is_not_a_reddit_path_is_rebuilt(permalink: Any) -> None:
    (item,) = parse_listing(listing(post(permalink=permalink)), "python", NOW).items
    assert item.permalink == "/r/python/comments/abc/"


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


def test_a_kind_that_is_no_string_is_junk_and_a_time_no_float_holds_a_rejection() -> None:
    """Both once failed the whole page (TypeError: unhashable kind; OverflowError converting
    the integer): found by tests/integration/test_hostile_listings.py."""
    things = [
        {"kind": ["t3"], "data": {}},
        {"kind": {"t3": 1}},
        post(id="big", name="t3_big", created_utc=10**400),
        post(id="ok", name="t3_ok"),
    ]
    page = parse_listing(listing(*things), "python", NOW)
    assert [item.id for item in page.items] == ["t3_ok"]
    assert [(r.fullname, r.reason) for r in page.rejected] == [
        ("t3_big", "created_utc is missing or not a time between 1970 and 9999")
    ]
