"""Real PRAW against the fake Reddit server: recordings, data sets, faults, controls.

Why these tests exist: the collector's tests rely on the fake behaving like
Reddit as PRAW sees it (paths, pagination, error mapping, retries), so the
fake itself is checked with the real client rather than with hand-made HTTP.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import praw
import prawcore
import pytest
from praw.models import Comment, MoreComments
from praw.models.comment_forest import CommentForest

from fakereddit import FakeReddit, Fault

REPO = Path(__file__).resolve().parents[2]
RECORDINGS = REPO / ".." / "shared" / "reddit-recordings"
BACKEND = REPO / "backend"


def recordings(name: str | None = None) -> Path:
    """Recorded cassettes live beside the repo. The tests that read them are marked `recorded`:
    without ../shared they are skipped with one reason (tests/conftest.py), or fail in CI."""
    path = RECORDINGS if name is None else RECORDINGS / name
    if not path.exists():
        pytest.fail(
            f"recorded Reddit responses not found at {path.resolve()} (../shared beside the repo)"
        )
    return path


def recorded_body(name: str, index: int = 1) -> Any:
    """The JSON body of one recorded interaction."""
    data = json.loads(recordings(name).read_text(encoding="utf-8"))
    return json.loads(data["interactions"][index]["body"])


def make_reddit(fake: FakeReddit, timeout: float = 2.0) -> praw.Reddit:
    """A read-only PRAW client pointed at the fake, built exactly as the collector does."""
    return praw.Reddit(
        client_id="x",
        client_secret="y",
        user_agent="fakereddit tests",
        reddit_url=fake.url,
        oauth_url=fake.url,
        check_for_updates=False,
        requestor_kwargs={"timeout": timeout},
    )


def only_comments(items: list[Comment | MoreComments]) -> list[Comment]:
    """Comments of a flattened forest, asserting no MoreComments are left."""
    assert all(isinstance(c, Comment) for c in items)
    return [c for c in items if isinstance(c, Comment)]


def top_level(forest: CommentForest) -> list[Comment]:
    """Top-level comments of a forest (typed; CommentForest has no typed __iter__)."""
    return only_comments([forest[i] for i in range(len(forest))])


@pytest.fixture(autouse=True)
def no_retry_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """prawcore sleeps 0-2 s then 2-4 s between retries; keep the retries, drop the waiting."""
    monkeypatch.setattr(prawcore.sessions.FiniteRetryStrategy, "_sleep_seconds", lambda self: None)


@pytest.fixture
def sample() -> Iterator[FakeReddit]:
    with FakeReddit.sample() as fake:
        yield fake


@pytest.fixture(scope="module")
def generated() -> Iterator[FakeReddit]:
    """One subreddit with 300 posts and a big skewed comment tree."""
    with FakeReddit.generated(subreddits=2, posts=300, comments=600, seed=7) as fake:
        yield fake


@pytest.fixture
def gen(generated: FakeReddit) -> Iterator[FakeReddit]:
    """The shared generated server with faults, latency and log reset around each test."""
    generated.clear_faults()
    generated.set_latency(0)
    generated.clear_requests()
    yield generated
    generated.clear_faults()
    generated.set_latency(0)


# --------------------------------------------------------------------------- recordings


@pytest.mark.recorded
@pytest.mark.parametrize("sort", ["hot", "new"])
def test_recorded_listing_yields_first_100_children(sort: str) -> None:
    cassette = f"SubredditListings__test_{sort}.json"
    expected = [c["data"]["name"] for c in recorded_body(cassette)["data"]["children"]][:100]
    with FakeReddit.from_recordings(recordings(cassette)) as fake:
        items = list(getattr(make_reddit(fake).subreddit("AskReddit"), sort)(limit=100))
        assert [i.fullname for i in items] == expected
        assert fake.unplayed(include_auth=True) == []


@pytest.mark.recorded
def test_recorded_subreddit_comments() -> None:
    cassette = "SubredditListings__test_comments.json"
    expected = [c["data"]["name"] for c in recorded_body(cassette)["data"]["children"]]
    with FakeReddit.from_recordings(recordings(cassette)) as fake:
        items = list(make_reddit(fake).subreddit("askreddit").comments(limit=100))
        assert len(items) == 100
        assert [c.fullname for c in items] == expected
        assert fake.unplayed(include_auth=True) == []


@pytest.mark.recorded
def test_recorded_submission_comments() -> None:
    cassette = "Submission__test_comments.json"
    listing = recorded_body(cassette)
    expected = [c["data"]["id"] for c in listing[1]["data"]["children"]]
    with FakeReddit.from_recordings(recordings(cassette)) as fake:
        submission = make_reddit(fake).submission("2gmzqe")
        assert submission.title == "[PRAW] HTTPS enabled PRAW testing needed"
        assert [c.id for c in top_level(submission.comments)] == expected
        assert all(c.body for c in only_comments(submission.comments.list()))
        assert fake.unplayed(include_auth=True) == []


@pytest.mark.recorded
def test_recorded_directory_next_page_is_empty() -> None:
    """Cassettes hold one page: asking for more ends the listing instead of failing."""
    with FakeReddit.from_recordings(recordings()) as fake:
        items = list(make_reddit(fake).subreddit("askreddit").top(time_filter="all", limit=250))
        assert len(items) == 100
        assert fake.request_count(r"/r/askreddit/top") == 2
        assert sorted(i.path for i in fake.unplayed()) == [
            "/comments/2gmzqe/",
            "/r/askreddit/comments/",
            "/r/askreddit/hot",
            "/r/askreddit/new",
        ]


@pytest.mark.recorded
def test_recordings_take_precedence_over_dataset() -> None:
    cassette = recordings("SubredditListings__test_new.json")
    with FakeReddit.from_recordings(cassette).add_dataset(FakeReddit.sample_path()) as fake:
        reddit = make_reddit(fake)
        assert len(list(reddit.subreddit("askreddit").new(limit=100))) == 100
        assert len(list(reddit.subreddit("python").new(limit=100))) == 15
        assert fake.unplayed() == []
        assert fake.unmatched == []


def test_missing_recordings_raise() -> None:
    with pytest.raises(FileNotFoundError):
        FakeReddit.from_recordings(RECORDINGS / "does-not-exist.json")


def test_added_responses_are_replayed_verbatim() -> None:
    """Interactions given in code: a dict body is sent as JSON, a str body byte for byte
    (escaped lone surrogates, truncated JSON); `after` picks the page, `limit` does not."""
    page_one = {"kind": "Listing", "data": {"after": "t3_b", "children": [{"kind": "t3"}]}}
    page_two = '{"kind": "Listing", "data": {"after": null, "children": ["\\ud83d"]}}'
    fake = FakeReddit().add_responses(
        [
            {"method": "GET", "path": "/r/x/new", "query": "limit=100", "status": 200,
             "body": page_one},
            {"method": "get", "path": "/r/x/new/", "query": "after=t3_b", "body": page_two},
            {"method": "GET", "path": "/r/x/hot", "status": 200, "body": '{"kind": "Listing", '},
            {"method": "GET", "path": "/r/x/comments/", "status": 403,
             "body": {"reason": "quarantined", "message": "Forbidden", "error": 403}},
        ]
    )  # fmt: skip
    with fake:
        reddit = make_reddit(fake)
        assert reddit.request(method="GET", path="r/x/new", params={"limit": 5}) == page_one
        second = reddit.request(method="GET", path="r/x/new", params={"after": "t3_b"})
        assert second["data"]["children"] == ["\ud83d"]
        with pytest.raises(prawcore.BadJSON):
            reddit.request(method="GET", path="r/x/hot", params={"limit": 100})
        with pytest.raises(prawcore.Forbidden) as forbidden:
            reddit.request(method="GET", path="r/x/comments/", params={"limit": 100})
        assert forbidden.value.response.json()["reason"] == "quarantined"
        assert fake.unplayed() == []


# --------------------------------------------------------------------------- data set


def test_pagination_limit_250_of_300(gen: FakeReddit) -> None:
    items = list(make_reddit(gen).subreddit("sub0").hot(limit=250))
    assert len(items) == 250
    assert len({i.id for i in items}) == 250
    assert gen.request_count(r"/r/sub0/hot") == 3  # Reddit caps pages at 100
    scores = [i.score for i in items if not i.stickied]
    assert scores == sorted(scores, reverse=True)


def test_new_is_newest_first_and_complete(gen: FakeReddit) -> None:
    items = list(make_reddit(gen).subreddit("SUB0").new(limit=None))
    created = [i.created_utc for i in items]
    assert len(items) == 300
    assert created == sorted(created, reverse=True)
    assert [i.id for i in items] == [d["id"] for d in gen.expected_items("sub0", sort="new")]
    assert all(time.time() - 49 * 3600 < c <= time.time() for c in created)


def test_subreddit_comments_newest_first(gen: FakeReddit) -> None:
    items = list(make_reddit(gen).subreddit("sub1").comments(limit=None))
    expected = gen.expected_items("sub1", kind="comments")
    assert [c.id for c in items] == [d["id"] for d in expected]
    assert len(items) == 600
    created = [c.created_utc for c in items]
    assert created == sorted(created, reverse=True)
    assert {c.subreddit.display_name for c in items} == {"sub1"}


def test_listing_cap_like_reddit() -> None:
    with FakeReddit.generated(subreddits=1, posts=1200, comments=0) as fake:
        assert len(list(make_reddit(fake).subreddit("sub0").new(limit=None))) == 1000
        fake.listing_cap = None
        assert len(list(make_reddit(fake).subreddit("sub0").new(limit=None))) == 1200


def test_comment_tree_more_and_morechildren(gen: FakeReddit) -> None:
    dataset_posts = gen.expected_items("sub0", sort="new")
    biggest = max(dataset_posts, key=lambda p: p["num_comments"])
    assert biggest["num_comments"] > 40
    gen.comment_page_limit = 20
    gen.morechildren_limit = 15
    try:
        submission = make_reddit(gen).submission(biggest["id"])
        first = submission.comments.list()
        assert any(isinstance(c, MoreComments) for c in first)
        assert len([c for c in first if not isinstance(c, MoreComments)]) == 20
        assert submission.comments.replace_more(limit=None) == []
        comments = only_comments(submission.comments.list())
    finally:
        gen.comment_page_limit = 500
        gen.morechildren_limit = 100
    assert len(comments) == biggest["num_comments"]
    assert len({c.id for c in comments}) == len(comments)
    assert gen.request_count(r"/api/morechildren") >= 2
    for comment in comments:  # replies hang under their parents
        for reply in top_level(comment.replies):
            assert reply.parent_id == comment.fullname


def test_sample_data_shape(sample: FakeReddit) -> None:
    reddit = make_reddit(sample)
    assert sorted(sample.subreddit_names()) == ["datascience", "python", "worldnews"]
    now = time.time()
    for name in sample.subreddit_names():
        posts = list(reddit.subreddit(name).new(limit=None))
        comments = list(reddit.subreddit(name).comments(limit=None))
        assert 12 <= len(posts) <= 20
        assert 30 <= len(comments) <= 60
        assert all(now - 48 * 3600 <= p.created_utc <= now for p in posts)
        assert all(now - 48 * 3600 <= c.created_utc <= now for c in comments)
    labels = set(sample.sentiment_labels().values())
    assert labels == {"positive", "negative", "neutral"}
    hot = list(reddit.subreddit("python").hot(limit=5))
    assert hot[0].stickied


def test_sample_odd_content(sample: FakeReddit) -> None:
    reddit = make_reddit(sample)
    posts = {p.id: p for p in reddit.subreddit("python").new(limit=None)}
    assert posts["py09"].author is None  # PRAW maps "[deleted]" to None
    assert posts["py13"].title == "🐍🐍🐍"
    assert posts["py07"].selftext == ""
    assert not posts["py07"].is_self
    assert len(posts["py08"].selftext) > 1000
    submission = reddit.submission("py02")
    assert submission.num_comments == 4
    top = {c.id: c for c in top_level(submission.comments)}
    assert [r.id for r in top_level(top["pyc01"].replies)] == ["pyc02"]
    assert top_level(top["pyc01"].replies)[0].body.startswith("Let me know")
    deleted = [c for c in reddit.subreddit("python").comments(limit=None) if c.author is None]
    assert {c.body for c in deleted} == {"[deleted]", "[removed]"}


def test_info_search_and_about(sample: FakeReddit) -> None:
    reddit = make_reddit(sample)
    things = list(reddit.info(fullnames=["t3_py02", "t1_pyc05", "t3_nope"]))
    assert [t.fullname for t in things] == ["t3_py02", "t1_pyc05"]
    assert [p.id for p in reddit.subreddit("python").search("packaging", sort="new")] == ["py03"]
    assert reddit.subreddit("worldnews").subscribers == 34_000_000


def test_unknown_private_banned_subreddits(sample: FakeReddit) -> None:
    reddit = make_reddit(sample)
    with pytest.raises(prawcore.exceptions.NotFound):
        list(reddit.subreddit("doesnotexist").hot(limit=5))
    with pytest.raises(prawcore.exceptions.Forbidden) as forbidden:
        list(reddit.subreddit("modsonly").new(limit=5))
    assert forbidden.value.response.json()["reason"] == "private"
    sample.private_subreddits.add("python")
    with pytest.raises(prawcore.exceptions.Forbidden):
        list(reddit.subreddit("Python").new(limit=5))
    sample.banned_subreddits.add("worldnews")
    with pytest.raises(prawcore.exceptions.NotFound):
        list(reddit.subreddit("worldnews").new(limit=5))
    sample.unknown_subreddit_redirect = True
    with pytest.raises(prawcore.exceptions.Redirect):
        list(reddit.subreddit("doesnotexist").hot(limit=5))


def test_generated_is_deterministic_and_fast() -> None:
    started = time.perf_counter()
    big = FakeReddit.generated(subreddits=5, posts=2000, comments=4000, seed=3)
    assert time.perf_counter() - started < 5
    assert big.subreddit_names() == ["sub0", "sub1", "sub2", "sub3", "sub4"]
    a = FakeReddit.generated(subreddits=1, posts=50, comments=80, seed=3)
    b = FakeReddit.generated(subreddits=1, posts=50, comments=80, seed=3)
    strip = ("created_utc", "created")

    def key(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in i.items() if k not in strip} for i in items]

    assert key(a.expected_items("sub0", sort="top")) == key(b.expected_items("sub0", sort="top"))
    assert key(a.expected_items("sub0", "comments")) == key(b.expected_items("sub0", "comments"))


# --------------------------------------------------------------------------- faults


def test_429_raises_too_many_requests_without_retry(gen: FakeReddit) -> None:
    gen.add_fault(Fault(path_pattern=r"/r/sub0/new", kind="status", status=429, retry_after=7))
    with pytest.raises(prawcore.exceptions.TooManyRequests) as excinfo:
        list(make_reddit(gen).subreddit("sub0").new(limit=5))
    assert excinfo.value.retry_after == "7"
    assert excinfo.value.response.headers["x-ratelimit-remaining"] == "0.0"
    assert gen.request_count(r"/r/sub0/new") == 1  # prawcore does not retry 429


def test_500_once_is_retried_by_prawcore(gen: FakeReddit) -> None:
    gen.add_fault(Fault(path_pattern=r"/r/sub0/new", kind="status", status=500, times=1))
    items = list(make_reddit(gen).subreddit("sub0").new(limit=5))
    assert len(items) == 5
    assert gen.request_count(r"/r/sub0/new") == 2


def test_503_forever_gives_server_error_after_three_tries(gen: FakeReddit) -> None:
    gen.add_fault(Fault(path_pattern=r"/r/sub0/new", kind="status", status=503))
    with pytest.raises(prawcore.exceptions.ServerError):
        list(make_reddit(gen).subreddit("sub0").new(limit=5))
    assert gen.request_count(r"/r/sub0/new") == 3


def test_flaky_recovers(gen: FakeReddit) -> None:
    gen.add_fault(Fault(path_pattern=r"/r/sub0/new", kind="flaky"))
    items = list(make_reddit(gen).subreddit("sub0").new(limit=250))
    assert len(items) == 250
    assert gen.request_count(r"/r/sub0/new") == 6  # each page: 503 then success


def test_malformed_raises_bad_json(gen: FakeReddit) -> None:
    gen.add_fault(Fault(path_pattern=r"/hot", kind="malformed", times=1))
    with pytest.raises(prawcore.exceptions.BadJSON):
        list(make_reddit(gen).subreddit("sub0").hot(limit=5))


class TimeoutRequestor(prawcore.Requestor):
    """Make the requestor's timeout bind: prawcore 4 passes its own 16 s default per call."""

    def request(self, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        return super().request(*args, timeout=self.timeout, **kwargs)


def test_requestor_kwargs_timeout_is_ignored_for_api_calls(gen: FakeReddit) -> None:
    """Surprise worth pinning: requestor_kwargs={"timeout": x} only covers the token request."""
    gen.add_fault(Fault(path_pattern=r"/r/sub0/new", kind="slow", delay=0.6, times=1))
    assert len(list(make_reddit(gen, timeout=0.2).subreddit("sub0").new(limit=2))) == 2
    assert gen.request_count(r"/r/sub0/new") == 1


def test_slow_beyond_timeout_raises_request_exception(gen: FakeReddit) -> None:
    gen.add_fault(Fault(path_pattern=r"/r/sub0/new", kind="slow", delay=1.0, times=3))
    reddit = praw.Reddit(
        client_id="x",
        client_secret="y",
        user_agent="fakereddit tests",
        reddit_url=gen.url,
        oauth_url=gen.url,
        check_for_updates=False,
        requestor_class=TimeoutRequestor,
        requestor_kwargs={"timeout": 0.3},
    )
    started = time.perf_counter()
    with pytest.raises(prawcore.exceptions.RequestException) as excinfo:
        list(reddit.subreddit("sub0").new(limit=5))
    assert "timed out" in str(excinfo.value).lower()
    assert gen.request_count(r"/r/sub0/new") == 3  # first try + prawcore's 2 retries
    assert time.perf_counter() - started < 3


@pytest.mark.serial  # a wall-clock bound: run alone, not beside a parallel neighbour
def test_slow_does_not_block_other_requests(gen: FakeReddit) -> None:
    gen.add_fault(Fault(path_pattern=r"/r/sub1/", kind="slow", delay=1.5, times=1))
    slow_reddit, fast_reddit = make_reddit(gen, timeout=5), make_reddit(gen)
    list(fast_reddit.subreddit("sub0").new(limit=1))  # authenticate first
    result: list[int] = []
    worker = threading.Thread(
        target=lambda: result.append(len(list(slow_reddit.subreddit("sub1").new(limit=3))))
    )
    worker.start()
    time.sleep(0.2)
    started = time.perf_counter()
    assert len(list(fast_reddit.subreddit("sub0").new(limit=3))) == 3
    assert time.perf_counter() - started < 0.5
    worker.join(5)
    assert result == [3]


def test_reset_is_retried_then_raises(gen: FakeReddit) -> None:
    gen.add_fault(Fault(path_pattern=r"/r/sub0/new", kind="reset", times=1))
    assert len(list(make_reddit(gen).subreddit("sub0").new(limit=2))) == 2
    gen.add_fault(Fault(path_pattern=r"/r/sub0/new", kind="reset", times=3))
    with pytest.raises(prawcore.exceptions.RequestException):
        list(make_reddit(gen).subreddit("sub0").new(limit=2))


def test_401_triggers_reauthentication(gen: FakeReddit) -> None:
    reddit = make_reddit(gen)
    list(reddit.subreddit("sub0").new(limit=1))
    gen.add_fault(Fault(path_pattern=r"/r/sub0/new", kind="status", status=401, times=1))
    assert len(list(reddit.subreddit("sub0").new(limit=1))) == 1
    gen.revoke_tokens()
    assert len(list(reddit.subreddit("sub0").new(limit=1))) == 1
    assert gen.request_count(r"/api/v1/access_token") == 3
    gen.add_fault(Fault(path_pattern=r"/r/sub0/new", kind="status", status=401))
    with pytest.raises(prawcore.exceptions.InvalidToken):
        list(reddit.subreddit("sub0").new(limit=1))


def test_faults_are_validated() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault(kind="explode")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- HTTP controls and CLI


def _call(url: str, method: str = "GET", payload: Any = None) -> tuple[int, Any]:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_http_control_endpoints(gen: FakeReddit) -> None:
    base = f"{gen.url}/_fake"
    status, body = _call(f"{base}/faults", "POST", {"path_pattern": "/r/sub0/top", "status": 404})
    assert status == 201
    assert body["fault"]["kind"] == "status"
    reddit = make_reddit(gen)
    with pytest.raises(prawcore.exceptions.NotFound):
        list(reddit.subreddit("sub0").top(limit=1))
    assert _call(f"{base}/faults")[1]["faults"][0]["path_pattern"] == "/r/sub0/top"
    assert _call(f"{base}/faults", "DELETE")[0] == 200
    assert len(list(reddit.subreddit("sub0").top(limit=1))) == 1

    assert _call(f"{base}/faults", "POST", {"kind": "nope"})[0] == 400
    assert _call(f"{base}/latency", "POST", {"seconds": 0.3})[1] == {"seconds": 0.3}
    started = time.perf_counter()
    list(reddit.subreddit("sub0").top(limit=1))
    assert time.perf_counter() - started >= 0.3
    _call(f"{base}/latency", "POST", {"seconds": 0})

    status, body = _call(f"{base}/requests")
    paths = [r["path"] for r in body["requests"]]
    assert status == 200
    assert paths.count("/r/sub0/top") == 3
    assert all(not p.startswith("/_fake") for p in paths)
    assert body["requests"][-1]["query"]["raw_json"] == "1"


@pytest.mark.processes
@pytest.mark.serial  # asserts the idle class: every process has it in the parallel phase
def test_cli_serves_until_sigterm() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(BACKEND), os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fakereddit",
            "--port",
            "0",
            "--generate",
            "1,20,30",
            "--no-auth",
            "--background",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("fake reddit listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        assert _call(f"{url}/_fake/health")[1]["ok"] is True
        # --background: the stand-in for Reddit takes only CPU nobody else wants
        assert os.sched_getscheduler(process.pid) == os.SCHED_IDLE
        status, listing = _call(f"{url}/r/sub0/new?limit=7")
        assert (status, listing["data"]["dist"]) == (200, 7)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_churn_adds_new_items_and_changes_known_ones() -> None:
    with FakeReddit.generated(subreddits=2, posts=10, comments=15, seed=5) as fake:
        base = f"{fake.url}/_fake/churn"
        kinds: tuple[Literal["submissions", "comments"], ...] = ("submissions", "comments")
        before = {
            (sub, kind): {d["name"]: d for d in fake.expected_items(sub, kind)}
            for sub in ("sub0", "sub1")
            for kind in kinds
        }
        assert _call(base) == (
            200,
            {"posts": 20, "comments": 30}
            | dict.fromkeys(("added_posts", "added_comments", "edited"), 0),
        )
        change = {"posts": 2, "comments": 3, "edits": 4, "seed": 1, "subreddits": ["sub0"]}
        status, body = _call(base, "POST", change)
        assert (status, body) == (
            200,
            {"posts": 22, "comments": 33, "added_posts": 2, "added_comments": 3, "edited": 4},
        )
        reddit = make_reddit(fake)
        served_posts = {f"t3_{p.id}": p.score for p in reddit.subreddit("sub0").new(limit=None)}
        served_comments = {f"t1_{c.id}": c for c in reddit.subreddit("sub0").comments(limit=None)}
        old_posts, old_comments = before["sub0", "submissions"], before["sub0", "comments"]
        new_names = (set(served_posts) | set(served_comments)) - set(old_posts) - set(old_comments)
        assert len(new_names) == 5
        # new ids come after every existing one, so they never collide
        assert min(int(n[3:], 36) for n in new_names) > max(
            int(n[3:], 36) for n in [*old_posts, *old_comments]
        )
        changed = [
            n
            for n, score in served_posts.items()
            if n in old_posts and score != old_posts[n]["score"]
        ]
        changed += [
            n
            for n, c in served_comments.items()
            if n in old_comments
            and (c.score, c.body) != (old_comments[n]["score"], old_comments[n]["body"])
        ]
        assert len(changed) == 4
        # the other subreddit is untouched
        for kind in kinds:
            after = {d["name"]: d for d in fake.expected_items("sub1", kind)}
            assert after == before["sub1", kind]
        assert _call(base, "POST", {"posts": -1})[0] == 400
        assert _call(base, "POST", {"bogus": 1})[0] == 400
        assert _call(base, "POST", {"posts": 1, "subreddits": ["nope"]})[0] == 400
        assert _call(base)[1]["posts"] == 22
