"""Trending: rising terms against the previous window, top posts, moving subreddits."""

from __future__ import annotations

from typing import get_args

from reddit_sentiment.collection.trending import WINDOWS, Window, compute
from reddit_sentiment.models import Item, Kind
from reddit_sentiment.terms import terms_of
from tests.factories import make_item

NOW = 1_800_000_000.0
HOUR = 3600.0


def post(text: str, age: float, subreddit: str = "python", **kw: object) -> Item:
    item = make_item(created_utc=NOW - age, subreddit=subreddit, body=text, **kw)  # type: ignore[arg-type]
    item.title = ""
    return item


def test_terms_drop_stop_words_and_count_once_per_item() -> None:
    assert terms_of("The rocket, the ROCKET and a rocket's launch!") == {"rocket", "launch"}
    assert terms_of("[deleted]") == set()
    assert terms_of("it's fun") == {"fun"}  # "it's" is neither "it" nor "it's"


def test_rising_terms_rank_by_rate_change_with_a_minimum_count() -> None:
    items = [post("rocket launch", 1 * HOUR) for _ in range(5)]
    items += [post("python release", 2 * HOUR) for _ in range(3)]
    items += [post("rocket", 30 * HOUR)]
    items += [post("python release", 30 * HOUR) for _ in range(3)]
    items += [post("rare word", 3 * HOUR) for _ in range(2)]  # below min_count
    result = compute(items, NOW, min_count=3)["24h|*"]
    assert (result["items_in_window"], result["items_in_previous_window"]) == (10, 4)
    terms = {t["term"]: t for t in result["terms"]}
    assert "rare" not in terms and "word" not in terms
    assert [t["term"] for t in result["terms"]][:2] == ["launch", "rocket"]
    assert terms["rocket"] == {
        "term": "rocket",
        "count": 5,
        "previous_count": 1,
        "change": round(((5 + 1) / 11) / ((1 + 1) / 5), 3),
    }
    assert terms["python"]["change"] == round((4 / 11) / (4 / 5), 3)


def test_top_posts_by_engagement_and_by_sentiment_shift() -> None:
    calm = post("calm", HOUR, compound=0.8, score=10)
    calm.num_comments = 40
    viral = post("viral", HOUR, score=500)
    comments = [
        make_item(kind=Kind.COMMENT, link_id=calm.id, compound=-0.5, created_utc=NOW - 60)
        for _ in range(3)
    ]
    two_comments = [
        make_item(kind=Kind.COMMENT, link_id=viral.id, compound=-0.9, created_utc=NOW - 60)
        for _ in range(2)
    ]
    result = compute([calm, viral, *comments, *two_comments], NOW)["24h|*"]
    assert [p["id"] for p in result["top_posts_by_engagement"]] == [viral.id, calm.id]
    assert result["top_posts_by_engagement"][1]["engagement"] == 50
    (shift,) = result["top_posts_by_sentiment_shift"]  # viral has too few comments
    assert shift["id"] == calm.id and shift["comments"] == 3
    assert shift["shift"] == -1.3 and shift["comments_mean_compound"] == -0.5


def test_subreddits_that_moved_most_come_first() -> None:
    items = [
        post("a", HOUR, subreddit="happy", compound=0.6),
        post("a", 30 * HOUR, subreddit="happy", compound=0.0),
        post("b", HOUR, subreddit="steady", compound=0.1),
        post("b", 30 * HOUR, subreddit="steady", compound=0.0),
        post("c", HOUR, subreddit="newcomer", compound=0.3),
    ]
    result = compute(items, NOW)["24h|*"]
    assert [s["subreddit"] for s in result["subreddits"]] == ["happy", "steady", "newcomer"]
    assert result["subreddits"][0]["change"] == 0.6
    assert result["subreddits"][2]["change"] is None


def test_every_window_and_subreddit_has_a_result() -> None:
    results = compute([post("old", 3 * 86400, subreddit="rust")], NOW)
    assert set(results) == {f"{w}|{k}" for w in WINDOWS for k in ("*", "rust")}
    quiet = results["1h|rust"]
    assert quiet["items_in_window"] == 0 and quiet["terms"] == [] and quiet["computed_at"]
    assert results["7d|rust"]["items_in_window"] == 1


def test_the_windows_the_api_accepts_are_the_windows_computed() -> None:
    assert list(WINDOWS) == list(get_args(Window))
