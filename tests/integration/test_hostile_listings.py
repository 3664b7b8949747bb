"""Whatever Reddit's API sends, a collection cycle ends in time, stores every well-formed item
exactly once with its text cleaned at one boundary, rejects (counts and explains) what it
cannot keep while storing the rest of the page, always ends its run record, and explains a
listing's failure in Reddit's terms.

Listings are generated as the JSON text Reddit would send (lone surrogates escaped, as Reddit
escapes them), served by the fake Reddit to real PRAW, and collected into a fresh SQLite or
Cosmos DB store per example; what was stored is read back through the store, the API and the
CLI's export. The oracle is written from Reddit's format, not from the collector's code: a
thing is well-formed when its kind is t1 or t3, its data an object, its id a Reddit id (base36,
1-13 characters, once trimmed and lower-cased) and its created_utc a time (a number, or a
numeric string) from 1970 to 9999. Texts are kept as sent except that a surrogate becomes
U+FFFD and NUL is removed (see reddit_sentiment.collection.clean).

Hypothesis runs each test body many times with the same fixtures, so every example starts its
own fake Reddit and opens its own store.
"""

from __future__ import annotations

import asyncio
import builtins
import csv
import json
import math
import operator
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fakereddit import FakeReddit
from reddit_sentiment import cli
from reddit_sentiment.api.app import create_app
from reddit_sentiment.collection.cycle import build_cycle
from reddit_sentiment.models import CollectionRun, Item, ItemState, Kind, RunStatus
from reddit_sentiment.settings import load_settings
from reddit_sentiment.store.base import Store
from tests.conftest import open_store
from tests.cosmos.fixture import CosmosServer
from tests.factories import BASE_TIME
from tests.integration.conftest import settings_for
from tests.invariants import assert_aggregates_match_items

SUB = "hostile"
UNKNOWN_SUB = "nosuchsub"  # the fake answers it with Reddit's redirect to subreddit search
ORDER = ("new", "hot", "comments")  # the order a cycle reads a subreddit's listings in
PATHS = {"new": "new", "hot": "hot", "comments": "comments/"}
KEYWORDS = "python,比特币"
BUDGET_SECONDS = 60.0  # COLLECTION_BUDGET_SECONDS for these cycles
MAX_EPOCH = 253_402_300_799  # 9999-12-31T23:59:59Z
REDDIT_ID = re.compile(r"[0-9a-z]{1,13}")
FULLNAME = re.compile(r"t[0-9]_[0-9a-z]{1,13}")  # what Reddit's `after` names
# Few ids, so the same thing turns up on a page, across pages and across listings.
ID_POOL = ("a", "b", "c", "d", "e", "0", "1", "z9", "abc", "k0k", "7f", "xy", "q1", "10", "z" * 13)
MISSING = object()
EXAMPLES = {"sqlite": 40, "cosmos": 8}
FAILURE_EXAMPLES = {"sqlite": 20, "cosmos": 4}
HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]

T = TypeVar("T")


# -- the oracle: Reddit's format ------------------------------------------------------------


def clean(value: object) -> str:
    """A text as the service keeps it: a string (or a number written out) with surrogates
    replaced by U+FFFD and NUL removed; anything else is no text."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    text = value if isinstance(value, str) else str(value)
    return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text if ch != "\x00")


def reddit_id(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    normal = value.strip().lower()
    return normal if REDDIT_ID.fullmatch(normal) else None


def epoch(value: object) -> float | None:
    """created_utc as a time from 1970 to 9999: a number or a numeric string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:  # an integer beyond any float: no time
        return None
    return seconds if math.isfinite(seconds) and 0 <= seconds <= MAX_EPOCH else None


def is_thing(child: object) -> bool:
    """A t1 or t3 child: an item or, when malformed, a rejection ("more" and junk are neither)."""
    return isinstance(child, dict) and child.get("kind") in ("t1", "t3")


def fullname_of(child: object) -> str | None:
    """The fullname of a well-formed t1/t3 thing, None for anything else."""
    if not is_thing(child):
        return None
    assert isinstance(child, dict)
    data = child.get("data")
    if not isinstance(data, dict):
        return None
    thing_id = reddit_id(data.get("id"))
    if thing_id is None or epoch(data.get("created_utc")) is None:
        return None
    return f"{child['kind']}_{thing_id}"


@dataclass
class Page:
    """One listing page as generated: its children and its `after`."""

    children: list[Any]
    after: Any = None


Listings = dict[str, list[Page]]  # "new" | "hot" | "comments" -> its pages (one or two)


def reddit_json(value: Any) -> str:
    """JSON text as Reddit sends it: non-ASCII escaped, so a lone surrogate travels as
    `\\ud83d` (no UTF-8 encoder could send it raw)."""
    return json.dumps(value, ensure_ascii=True)


def listing_body(page: Page) -> dict[str, Any]:
    children = page.children
    data = {"after": page.after, "before": None, "children": children, "dist": len(children)}
    return {"kind": "Listing", "data": data}


def served_pages(pages: list[Page]) -> Iterator[dict[str, Any]]:
    """The listing pages a cycle is served, as PRAW parses them: the first; the second when
    the first has an item and names it in a well-formed `after` (anything further is an
    empty page: the fake knows no more)."""
    parsed = [json.loads(reddit_json(listing_body(page))) for page in pages]
    yield parsed[0]
    first = parsed[0]["data"]
    after = first["after"]
    if (
        len(parsed) > 1
        and any(fullname_of(c) for c in first["children"])
        and isinstance(after, str)
        and FULLNAME.fullmatch(after)
    ):
        yield parsed[1]


@dataclass
class Expected:
    """What one cycle over the listings must store and reject."""

    first: dict[str, dict[str, Any]] = field(default_factory=dict)  # fullname -> first data
    rejected: list[tuple[str, str | None]] = field(default_factory=list)  # kind, fullname

    def add(self, listings: Listings, names: tuple[str, ...] = ORDER) -> Expected:
        for name in names:
            for page in served_pages(listings[name]):
                for child in page["data"]["children"]:
                    if not is_thing(child):
                        continue
                    fullname = fullname_of(child)
                    if fullname is not None:
                        self.first.setdefault(fullname, child["data"])
                        continue
                    data = child.get("data")
                    thing_id = reddit_id(data.get("id")) if isinstance(data, dict) else None
                    kind = child["kind"]
                    self.rejected.append((kind, None if thing_id is None else f"{kind}_{thing_id}"))
        return self


def interactions(listings: Listings, subreddit: str = SUB) -> list[dict[str, Any]]:
    """The listings as the fake's recorded interactions: page 1 answers the first request,
    page 2 the request with `after` = page 1's."""
    out = []
    for name, pages in listings.items():
        path = f"/r/{subreddit}/{PATHS[name]}"
        for number, page in enumerate(pages):
            query = "limit=100" if number == 0 else urlencode({"after": pages[number - 1].after})
            body = reddit_json(listing_body(page))
            out.append({"method": "GET", "path": path, "query": query, "status": 200, "body": body})
    return out


# -- strategies: what Reddit can send ---------------------------------------------------------

SURROGATES = st.characters(categories=["Cs"])
ANY_CHAR = st.characters(exclude_categories=())  # every code point, surrogates included
EMOJI = ("😀", "😡", "🔥", "👍🏽", "🏳️‍🌈", "\U0001f62d")
FRAGMENTS = st.sampled_from(
    [
        "\ud83d",  # half an emoji, as Reddit has sent it
        "\ude00\ud83d",
        "\x00",
        "\u200b",  # zero-width space
        "\u200d",
        "\u202e",  # right-to-left override
        "\u2066",
        "\ufeff",
        "\u2028",
        "\x85",
        "\r\n",
        "\t",
        "I love Python!",
        "python is awful and I hate it",
        "比特币",
        "比特币暴涨\uff0c太好了",
        "terrible, horrible :(",
        "great :) ",
        "[deleted]",
        "[removed]",
        "e\u0301",
        "&amp; <b>",
        '"quoted",comma;',
        "مرحبا بالعالم",
        "שלום",
    ]
)
combining_floods = st.integers(1, 1500).map(lambda n: "e" + "\u0301" * n)
emoji_runs = st.builds(operator.mul, st.sampled_from(EMOJI), st.integers(1, 120))
texts = st.lists(
    st.one_of(
        FRAGMENTS,
        st.text(ANY_CHAR, max_size=30),
        st.text(SURROGATES, min_size=1, max_size=3),
        combining_floods,
        emoji_runs,
    ),
    max_size=5,
).map(lambda parts: "".join(parts)[:2000])  # VADER stays fast on 2k characters
text_values = st.one_of(texts, texts, texts, st.none(), st.integers(), st.floats())
numbers = st.one_of(
    st.integers(-1000, 100_000),
    st.integers(),
    st.sampled_from([2**53, 2**63, -(2**63) - 1, 10**30, 10**400]),
    st.floats(),  # NaN and infinities included: Python's JSON reads them
    st.floats(-1e6, 1e6).map(str),
    st.sampled_from(["12", " 7 ", "1e3", "abc", "", "nan", "-inf"]),
    st.none(),
    st.booleans(),
    st.just([1]),
)
authors = st.one_of(
    st.none(),
    st.just("[deleted]"),
    st.sampled_from(["spez", "Some_User-1", "ユーザー"]),
    texts,
    st.integers(),
    st.booleans(),
    st.just({"name": "x"}),
)
edited = st.one_of(st.booleans(), st.floats(0, 2e9), st.integers(0, 2 * 10**9), st.none())
subreddit_names = st.one_of(
    st.sampled_from([SUB, SUB.upper(), "Hostile", "python", "Other_Sub", "u_someone", ""]),
    texts,
    st.none(),
    st.integers(),
)
permalinks = st.one_of(
    st.sampled_from(ID_POOL).map(lambda i: f"/r/{SUB}/comments/{i}/a_title/"),
    st.just("https://evil.example/r/x/"),
    st.just("/r/\ud83d/comments/\x00/"),
    texts,
    st.none(),
)
fullnames = st.one_of(
    st.sampled_from(ID_POOL).map(lambda i: f"t3_{i}"),
    st.sampled_from(ID_POOL).map(lambda i: f"t1_{i}"),
    texts,
    st.none(),
    st.integers(),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(ANY_CHAR, max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
paddings = st.sampled_from(["", "", " ", "\t", "\n", "\u3000"])
good_ids = st.builds(
    lambda pad, thing_id, upper, tail: pad + (thing_id.upper() if upper else thing_id) + tail,
    paddings,
    st.sampled_from(ID_POOL),
    st.booleans(),
    paddings,
)
bad_ids = st.one_of(
    st.sampled_from(
        [None, "", "   ", "ab-c", "t3_abc", "a_b", "a" * 14, "abc\x00", "é", "\ud83d", "a b"]
    ),
    st.sampled_from([123, 0, 12.5, True, [], {}, ["abc"], {"id": "abc"}]),
    st.text(ANY_CHAR, max_size=20).filter(lambda s: reddit_id(s) is None),
)
good_times = st.one_of(
    st.integers(1_500_000_000, 1_800_000_000),
    st.floats(1_500_000_000, 1_800_000_000),
    st.integers(0, MAX_EPOCH),
    st.floats(0, MAX_EPOCH),
    st.sampled_from([0, 0.0, -0.0, MAX_EPOCH, float(MAX_EPOCH), 1.5e9]),
    st.builds(
        lambda pad, number, tail: pad + number + tail,
        paddings,
        st.one_of(st.integers(0, MAX_EPOCH).map(str), st.floats(0, MAX_EPOCH).map(repr)),
        paddings,
    ),
)
bad_times = st.one_of(
    st.sampled_from(
        [
            None,
            True,
            False,
            -1,
            -0.5,
            MAX_EPOCH + 1,
            1e12,
            "NaN",
            "nan",
            "inf",
            "-inf",
            "",
            "  ",
            "yesterday",
            "1.7e9x",
            "0x10",
            [],
            {},
            [1_700_000_000],
            {"utc": 1},
        ]
    ),
    st.sampled_from([math.nan, math.inf, -math.inf, 10**20]),
    st.integers(min_value=2**1024) | st.integers(max_value=-(2**1024)),  # beyond any float
    st.integers(max_value=-1),
    st.integers(min_value=MAX_EPOCH + 1),
    st.floats(max_value=-1e-300) | st.floats(min_value=MAX_EPOCH + 1),
    st.floats(max_value=-1e-300).map(repr),
)


def _fields(kind: str) -> dict[str, st.SearchStrategy[Any]]:
    """The fields the collector reads (each may be missing), and some it does not."""
    common: dict[str, st.SearchStrategy[Any]] = {
        "author": authors,
        "score": numbers,
        "edited": edited,
        "subreddit": subreddit_names,
        "permalink": permalinks,
        "name": fullnames,
        "stickied": st.booleans() | st.none(),
        "all_awardings": json_values,
        "x_unknown": json_values,
    }
    if kind == "t3":
        return {
            **common,
            "title": text_values,
            "selftext": text_values,
            "num_comments": numbers,
            "url": text_values,
        }
    return {
        **common,
        "body": text_values,
        "link_id": fullnames,
        "parent_id": fullnames,
        "replies": st.just("") | json_values,
    }


KINDS = st.sampled_from(["t3", "t1"])


@st.composite
def well_formed(draw: st.DrawFn, kind: str | None = None) -> dict[str, Any]:
    kind = kind or draw(KINDS)
    required = {"id": good_ids, "created_utc": good_times}
    data = draw(st.fixed_dictionaries(required, optional=_fields(kind)))
    return {"kind": kind, "data": data}


@st.composite
def malformed(draw: st.DrawFn) -> dict[str, Any]:
    """A t1/t3 thing that cannot be kept: no id, no time, or no data object."""
    thing = draw(well_formed())
    data = thing["data"]
    how = draw(st.sampled_from(["id", "time", "both", "no id", "no time", "data"]))
    if how in ("id", "both"):
        data["id"] = draw(bad_ids)
    if how in ("time", "both"):
        data["created_utc"] = draw(bad_times)
    if how == "no id":
        del data["id"]
    if how == "no time":
        del data["created_utc"]
    if how == "data":
        bad = draw(st.sampled_from([MISSING, None, "data", 7, [], [data]]))
        if bad is MISSING:
            del thing["data"]
        else:
            thing["data"] = bad
    return thing


more_stubs = st.builds(
    lambda thing_id, children: {
        "kind": "more",
        "data": {
            "id": thing_id,
            "name": f"t1_{thing_id}",
            "count": len(children),
            "parent_id": "t3_a",
            "depth": 0,
            "children": children,
        },
    },
    st.sampled_from(ID_POOL),
    st.lists(st.sampled_from(ID_POOL), max_size=3),
)
junk: st.SearchStrategy[Any] = st.sampled_from(
    [
        "junk",
        42,
        None,
        [],
        {},
        {"kind": "t5", "data": {"id": "a", "created_utc": 1_700_000_000}},
        {"kind": "Listing", "data": {"children": []}},
        {"kind": "T3", "data": {"id": "a", "created_utc": 1_700_000_000}},
        {"kind": None},
        {"kind": 3},
        {"kind": ["t3"], "data": {"id": "a", "created_utc": 1_700_000_000}},
        {"kind": {"t3": 1}},
        {"data": {"id": "a", "created_utc": 1_700_000_000}},
    ]
)
children = st.one_of(well_formed(), well_formed(), well_formed(), malformed(), more_stubs, junk)
junk_afters = st.sampled_from(["", 7, "t3_", "garbage", "t3_ABC", "t3_\ud83d", "t2_zz", None])


def _last_fullname(things: list[Any]) -> str | None:
    names = [name for name in map(fullname_of, things) if name]
    return names[-1] if names else None


@st.composite
def page_children(draw: st.DrawFn) -> list[Any]:
    things: list[Any] = draw(st.lists(children, max_size=12))
    repeat: bool = draw(st.booleans())  # Reddit repeats a thing on a page now and then
    if things and repeat:
        repeated = things[draw(st.integers(0, len(things) - 1))]
        things.insert(draw(st.integers(0, len(things))), repeated)
    return things


@st.composite
def listing_pages(draw: st.DrawFn) -> list[Page]:
    """One or two pages; the second when the first's `after` names its last item."""
    first = draw(page_children())
    last = _last_fullname(first)
    if last is not None and draw(st.booleans()):
        second = draw(page_children())
        after = draw(st.sampled_from([None, _last_fullname(second), last]))
        return [Page(first, last), Page(second, after)]
    return [Page(first, draw(junk_afters))]


hostile_listings = st.fixed_dictionaries({name: listing_pages() for name in ORDER})


# -- one example: a cycle over the listings, then everything that reads what it stored ---------


def post(thing_id: str, **fields: Any) -> dict[str, Any]:
    return {"kind": "t3", "data": {"id": thing_id, "created_utc": 1_700_000_000, **fields}}


def comment(thing_id: str, **fields: Any) -> dict[str, Any]:
    data = {"id": thing_id, "created_utc": 1_700_000_100.5, "link_id": "t3_a", **fields}
    return {"kind": "t1", "data": data}


def only(name: str, *pages: Page) -> Listings:
    """Listings where `name` has these pages and the others are empty."""
    return {n: list(pages) if n == name else [Page([])] for n in ORDER}


@dataclass
class Backend:
    kind: str
    server: CosmosServer | None = None

    def cli_env(self, store: Store, directory: Path) -> dict[str, str]:
        """The environment that points the CLI at `store`."""
        if self.server is None:
            return {"STORAGE_BACKEND": "sqlite", "SQLITE_PATH": str(directory / "store.db")}
        return {
            "STORAGE_BACKEND": "cosmos",
            "COSMOS_ENDPOINT": self.server.endpoint,
            "COSMOS_KEY": self.server.key,
            "COSMOS_DATABASE": self.server.database,
            "COSMOS_CONTAINER_PREFIX": str(getattr(store, "container_prefix", "")),
        }


def no_bad_code_points(text: str | None, what: str) -> None:
    assert text is None or not re.search("[\x00\ud800-\udfff]", text), (what, text)


def assert_clean_item(item: Item) -> None:
    for name in ("id", "subreddit", "author", "title", "body", "permalink"):
        no_bad_code_points(getattr(item, name), f"{item.id}.{name}")
    for keyword in item.keywords:
        no_bad_code_points(keyword, f"{item.id}.keywords")


def assert_run_ended(run: CollectionRun, started: float) -> None:
    """Properties 1 and 4: the cycle ended within its budget and said how."""
    assert run.status is not RunStatus.RUNNING
    assert run.finished_at is not None
    assert run.finished_at - run.started_at <= BUDGET_SECONDS
    assert time.monotonic() - started <= BUDGET_SECONDS
    for error in run.errors:
        no_bad_code_points(error.message, "error message")
        # A failure Reddit caused is named in its terms (Forbidden, BadJSON, Redirect, ...),
        # never a Python error that escaped the collector (TypeError, KeyError, ...).
        assert not hasattr(builtins, error.error), error
    for rejection in run.rejections:
        no_bad_code_points(rejection.fullname, "rejection fullname")
        no_bad_code_points(rejection.reason, "rejection reason")


async def check_stored_run(store: Store, run: CollectionRun) -> None:
    saved = await store.get_run(run.id)
    assert saved is not None, "the run record was not saved"
    assert saved.status == run.status and saved.status is not RunStatus.RUNNING
    assert saved.finished_at is not None
    assert saved.subreddits == run.subreddits
    assert saved.errors == run.errors
    assert saved.rejections == run.rejections


def check_items(items: list[Item], expected: Expected) -> None:
    """Property 2: the unique well-formed items, each once, as the first occurrence had them
    (text cleaned at the one boundary)."""
    assert sorted(i.id for i in items) == sorted(expected.first), "stored != well-formed"
    for item in items:
        assert_clean_item(item)
        data = expected.first[item.id]
        is_post = item.id.startswith("t3_")
        assert item.kind is (Kind.POST if is_post else Kind.COMMENT)
        body = clean(data.get("selftext" if is_post else "body"))
        category = data.get("removed_by_category")
        if body.strip() in ("[deleted]", "[removed]") or (category and clean(category)):
            # Shown already deleted or removed: stored purged (README "Data lifecycle").
            assert (item.title, item.body, item.author) == ("" if is_post else None, "", None)
            assert item.state is not ItemState.LIVE, item.id
        else:
            assert item.title == (clean(data.get("title")) if is_post else None), item.id
            assert item.body == body, item.id
            author = data.get("author")
            expected_author = (
                clean(author) or None if isinstance(author, str) and author != "[deleted]" else None
            )
            assert item.author == expected_author, item.id
        assert item.created_utc == epoch(data["created_utc"]), item.id
        assert abs(item.score) < 2**53 and isinstance(item.score, int)


def check_rejections(run: CollectionRun, expected: Expected, subreddit: str = SUB) -> None:
    """Property 3: each t1/t3 that could not be kept is counted, and the first 100 are named
    with a reason, in the order Reddit sent them."""
    assert run.subreddits[subreddit].rejected == len(expected.rejected)
    assert sum(c.rejected for c in run.subreddits.values()) == len(expected.rejected)
    assert len(run.rejections) == min(len(expected.rejected), 100)
    for got, (kind, fullname) in zip(run.rejections, expected.rejected, strict=False):
        assert got.subreddit == subreddit
        assert got.reason.strip(), got
        assert got.fullname.startswith(kind), (got, kind)
        if fullname is not None:
            assert got.fullname == fullname, got


async def check_api(store: Store, items: list[Item]) -> None:
    """Every stored post is served by /posts/{id} with its comments, and the lists and the
    dashboard answer below 500. Ends the store's life: the app's lifespan closes it."""
    app = create_app(load_settings(role="api", track_keywords=KEYWORDS), store=store)
    posts = [i for i in items if i.kind is Kind.POST]
    comments = [i for i in items if i.kind is Kind.COMMENT]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test/api/v1") as api:
            for item in posts:
                r = await api.get(f"/posts/{item.id}")
                assert r.status_code == 200, (item.id, r.status_code, r.text[:500])
                body = r.json()
                assert (body["post"]["title"], body["post"]["body"]) == (item.title, item.body)
                assert body["post"]["author"] == item.author
                served = {c["id"] for c in body["comments"]}
                assert served == {
                    c.id for c in comments if c.link_id == item.id and c.subreddit == item.subreddit
                }, item.id
            listed = await api.get("/posts", params={"limit": 100})
            assert listed.status_code == 200, listed.text[:500]
            assert {p["id"] for p in listed.json()["items"]} == {p.id for p in posts}
            summary = await api.get("/dashboard/summary")
            assert summary.status_code == 200, summary.text[:500]
            assert (summary.json()["posts"], summary.json()["comments"]) == (
                len(posts),
                len(comments),
            )
            for path, params in (
                ("/dashboard/sentiment", {"since": "1970-01-01T00:00:00Z", "bucket": "day"}),
                ("/dashboard/sentiment", {"since": "1970-01-01T00:00:00Z", "bucket": "hour"}),
                ("/keywords", {}),
                ("/collections", {}),
            ):
                r = await api.get(path, params=params)
                assert r.status_code < 500, (path, r.text[:500])


runner = CliRunner()


def check_exports(env: dict[str, str], items: list[Item], directory: Path) -> None:
    """The CLI's export writes each stored item once, with its text as stored."""
    by_id = {i.id: i for i in items}
    for fmt in ("csv", "jsonl"):
        target = directory / f"export.{fmt}"
        args = ["export", "--format", fmt, "--output", str(target)]
        result = runner.invoke(cli.app, args, env=env)
        assert result.exit_code == 0, (fmt, result.output, result.exception)
        with target.open(newline="", encoding="utf-8") as exported:
            if fmt == "csv":
                rows = list(csv.DictReader(exported))
            else:  # JSON lines end at "\n" only (U+2028 and U+0085 may be in a text)
                rows = [json.loads(line) for line in exported.read().split("\n") if line]
        assert sorted(r["id"] for r in rows) == sorted(by_id), fmt
        for row in rows:
            item = by_id[row["id"]]
            title = item.title if fmt == "jsonl" else item.title or ""
            assert (row["title"], row["body"]) == (title, item.body), (fmt, item.id)


@contextmanager
def example_store(backend: Backend) -> Iterator[tuple[Store, Path, asyncio.Runner]]:
    """A fresh store, a directory for its file and the exports, and the one event loop its
    reads run on (Cosmos DB's async client stays on the loop that first used it)."""
    with tempfile.TemporaryDirectory(prefix="hostile-") as name, asyncio.Runner() as loop:
        directory = Path(name)
        store = open_store(backend.kind, directory)
        try:
            yield store, directory, loop
        finally:
            loop.run(store.aclose())


def collect(fake: FakeReddit, store: Store, subreddits: list[str]) -> tuple[CollectionRun, float]:
    settings = settings_for(
        fake,
        subreddits,
        analyzer_mode="inline",
        collection_limit=100,
        collection_budget_seconds=BUDGET_SECONDS,
        track_keywords=KEYWORDS,
    )
    cycle = build_cycle(settings, store)
    started = time.monotonic()
    try:
        run = cycle.run(trigger="hostile")
    finally:
        cycle.close()
    return run, started


def check_collection(backend: Backend, listings: Listings) -> None:
    expected = Expected().add(listings)
    with (
        example_store(backend) as (store, directory, loop),
        FakeReddit().add_responses(interactions(listings)) as fake,
    ):
        run, started = collect(fake, store, [SUB])
        assert_run_ended(run, started)
        assert run.errors == [], run.errors  # junk inside a page never fails the listing
        assert run.status is RunStatus.SUCCEEDED
        counts = run.subreddits[SUB]
        fetched = sum(c.fetched for c in run.subreddits.values())
        new = sum(c.new for c in run.subreddits.values())
        assert fetched == new == len(expected.first), counts  # a fresh store: all new, once
        assert (counts.updated, counts.failed) == (0, 0), counts
        check_rejections(run, expected)
        event("stored items", _size(len(expected.first)))
        event("rejected things", _size(len(expected.rejected)))
        event("second pages served", sum(len(list(served_pages(p))) - 1 for p in listings.values()))

        async def reads() -> list[Item]:
            await check_stored_run(store, run)
            items = await assert_aggregates_match_items(store)
            check_items(items, expected)
            for item in items:
                assert await store.get_item(item.id) == item
            return items

        items = loop.run(reads())
        check_exports(backend.cli_env(store, directory), items, directory)
        loop.run(check_api(store, items))  # last: the app's lifespan closes the store


def _size(n: int) -> str:
    return "0" if n == 0 else "1-4" if n < 5 else "5-19" if n < 20 else "20+"


def with_examples(*examples: Any) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Apply the same @example(listings=...) list to both backends' tests."""

    def decorate(test: Callable[..., T]) -> Callable[..., T]:
        for value in reversed(examples):
            test = example(listings=value)(test)
        return test

    return decorate


# Examples that once failed, or that the issue names: kept whatever Hypothesis draws.
REGRESSION_EXAMPLES = (
    # A lone surrogate in a title: SQLite raised UnicodeEncodeError, the cycle failed.
    only("new", Page([post("a", title="\ud83d"), post("b", title="ok \ud83d\ude00 \udfff")])),
    # NUL in a comment's body.
    only("comments", Page([comment("c", body="a\x00b\x00"), comment("d", body="\x00")])),
    # A page repeating one item, and the same item again in hot.
    {
        "new": [Page([post("e", title="first"), post("e", title="second"), post("E ")])],
        "hot": [Page([post("e", title="third")])],
        "comments": [Page([])],
    },
    # created_utc as a string, author null, edited a float.
    only(
        "new",
        Page(
            [
                post("f", created_utc="1700000000.5", author=None),
                post("g", created_utc=" 1700000000 ", edited=1.5e9, author="[deleted]"),
                comment("h", edited=False, author=None, score=1.5),
            ]
        ),
    ),
    # A created_utc no float can hold: epoch_field raised OverflowError and the whole page
    # failed; now one rejection, and the rest of the page is stored.
    only("new", Page([post("i", created_utc=10**400), post("j"), post("j2", created_utc=2**1024)])),
    # A child whose kind is a list or an object: parse_listing raised TypeError (unhashable)
    # and the whole page failed; now it is junk, passed over like a `more` stub.
    only("hot", Page([{"kind": ["t3"], "data": {}}, {"kind": {"t3": 1}}, post("k")])),
    # Two pages; the second repeats the first's item.
    only(
        "comments",
        Page([comment("l", body="python"), comment("m", body="比特币")], after="t1_m"),
        Page([comment("m", body="again"), comment("n", body="third")]),
    ),
    # Malformed things, a more stub and junk between good ones.
    only(
        "new",
        Page(
            [
                {"kind": "t3", "data": None},
                {"kind": "t1"},
                post("", title="no id"),
                post("o", created_utc="NaN"),
                post("p", created_utc=True),
                post("q", created_utc=-1),
                post("r", created_utc=1e12),
                {"kind": "more", "data": {"id": "s", "children": ["t"]}},
                "junk",
                post("u", title="kept"),
            ]
        ),
    ),
    # Shown already deleted or removed: stored purged (the lifecycle), not "[deleted]".
    only("new", Page([post("b", selftext="[deleted]"), post("c", selftext=" [removed]")])),
)
REGRESSIONS = with_examples(*REGRESSION_EXAMPLES)
# Cosmos DB examples cost a second or two each: the text ones (one boundary for both stores)
# and the repeats.
COSMOS_REGRESSIONS = with_examples(*REGRESSION_EXAMPLES[:3])


@pytest.mark.slow
@settings(max_examples=EXAMPLES["sqlite"], deadline=None, suppress_health_check=HEALTH)
@given(listings=hostile_listings)
@REGRESSIONS
def test_any_listings_sqlite(listings: Listings) -> None:
    """For any listings Reddit can send (see the module docstring), a cycle on SQLite ends in
    its budget with its run recorded as succeeded, stores exactly the unique well-formed items
    with their first occurrence's cleaned text, counts and names each malformed t1/t3 with a
    reason, keeps aggregates equal to the items, and the API and exports serve every item."""
    check_collection(Backend("sqlite"), listings)


@settings(max_examples=EXAMPLES["cosmos"], deadline=None, suppress_health_check=HEALTH)
@given(listings=hostile_listings)
@COSMOS_REGRESSIONS
def test_any_listings_cosmos(cosmos_server: CosmosServer, listings: Listings) -> None:
    """The same property on Cosmos DB (fewer examples: each opens fresh containers)."""
    check_collection(Backend("cosmos", cosmos_server), listings)


# -- whole-listing failures -------------------------------------------------------------------


@dataclass
class Failure:
    """How a listing page fails, and what the run record must say (in Reddit's terms)."""

    status: int
    body: Any  # a str is sent as it is
    says: tuple[str, ...]  # each is in the run record's message


PRIVATE = Failure(
    403, {"reason": "private", "message": "Forbidden", "error": 403}, ("HTTP 403", "private")
)
NOT_JSON = ("malformed response", "not valid JSON")
NOT_A_LISTING = ("malformed response",)
REDIRECTED = ("subreddit does not exist",)


def _truncated(listing: dict[str, Any], cut: float) -> str:
    text = reddit_json(listing)
    return text[: max(1, min(len(text) - 1, int(len(text) * cut)))]


failures = st.one_of(
    st.sampled_from(
        [
            PRIVATE,
            Failure(403, {"reason": "quarantined", "error": 403}, ("HTTP 403", "quarantined")),
            Failure(404, {"reason": "banned", "error": 404}, ("HTTP 404", "banned")),
            Failure(404, {"message": "Not Found", "error": 404}, ("HTTP 404", "not found")),
            Failure(200, "<html><body>Our CDN was unable to reach our servers</body>", NOT_JSON),
            Failure(200, [], NOT_A_LISTING),
            Failure(200, None, NOT_A_LISTING),
            Failure(200, {"kind": "Listing"}, NOT_A_LISTING),
            Failure(200, {"kind": "Listing", "data": {"children": {}}}, NOT_A_LISTING),
        ]
    ),
    st.builds(
        lambda page, cut: Failure(200, _truncated(listing_body(page), cut), NOT_JSON),
        st.lists(well_formed(), max_size=3).map(Page),
        st.floats(0, 1),
    ),
    st.builds(
        lambda reason: Failure(403, {"reason": reason, "error": 403}, ("HTTP 403",)),
        texts,
    ),
)


@dataclass
class FailingListing:
    """Pages that are served, then (optionally) a failure."""

    pages: list[Page]
    failure: Failure | None


@st.composite
def failing_listings(draw: st.DrawFn) -> FailingListing:
    mode = draw(st.sampled_from(["good", "fails", "fails on page 2"]))
    if mode == "fails":
        return FailingListing([], draw(failures))
    things = draw(st.lists(well_formed(), min_size=1, max_size=5))
    if mode == "good":
        return FailingListing([Page(things)], None)
    after = _last_fullname(things)
    return FailingListing([Page(things, after)], draw(failures))


def failing_interactions(listings: dict[str, FailingListing]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for name, listing in listings.items():
        path = f"/r/{SUB}/{PATHS[name]}"
        query = "limit=100"
        for page in listing.pages:
            out.append({"method": "GET", "path": path, "query": query, "body": listing_body(page)})
            query = urlencode({"after": page.after})
        if listing.failure is not None:
            status, body = listing.failure.status, listing.failure.body
            text = body if isinstance(body, str) else reddit_json(body)
            out.append(
                {"method": "GET", "path": path, "query": query, "status": status, "body": text}
            )
    return out


def check_failures(backend: Backend, listings: dict[str, FailingListing], unknown: bool) -> None:
    served = {name: listing.pages or [Page([])] for name, listing in listings.items()}
    expected = Expected().add(served)
    failing = {(SUB, name): f.says for name, f in _failures(listings)}
    if unknown:
        failing |= {(UNKNOWN_SUB, name): REDIRECTED for name in ORDER}
    subreddits = [SUB, UNKNOWN_SUB] if unknown else [SUB]
    # The data set knows r/hostile (empty) only: any other subreddit is redirected to search.
    fake = FakeReddit(unknown_subreddit_redirect=True)
    fake.add_dataset({"subreddits": [{"name": SUB}]}).add_responses(failing_interactions(listings))
    with example_store(backend) as (store, _, loop), fake:
        run, started = collect(fake, store, subreddits)
        assert_run_ended(run, started)
        assert len(run.errors) == len(failing), run.errors
        assert {(e.subreddit, e.listing) for e in run.errors} == failing.keys()
        for error in run.errors:
            for words in failing[error.subreddit, error.listing]:
                assert words in error.message, (words, error)
        failed_first = sum(
            1 for listing in listings.values() if listing.failure and not listing.pages
        ) + (3 if unknown else 0)
        everything_failed = failed_first == 3 * len(subreddits)
        want = RunStatus.FAILED if everything_failed else RunStatus.PARTIAL
        assert run.status is (want if failing else RunStatus.SUCCEEDED), run
        assert sum(c.failed for c in run.subreddits.values()) == len(failing)
        check_rejections(run, expected)

        async def reads() -> None:
            await check_stored_run(store, run)
            items = await assert_aggregates_match_items(store)
            check_items(items, expected)  # the other listings, and pages before a failure

        loop.run(reads())


def _failures(listings: dict[str, FailingListing]) -> Iterator[tuple[str, Failure]]:
    for name, listing in listings.items():
        if listing.failure is not None:
            yield name, listing.failure


failing_reddit = st.fixed_dictionaries({name: failing_listings() for name in ORDER})


@pytest.mark.slow
@settings(max_examples=FAILURE_EXAMPLES["sqlite"], deadline=None, suppress_health_check=HEALTH)
@given(listings=failing_reddit, unknown=st.booleans())
@example(
    listings={
        "new": FailingListing([Page([post("a")])], None),
        "hot": FailingListing([], PRIVATE),
        "comments": FailingListing([], Failure(200, '{"kind": "Listing", "da', NOT_JSON)),
    },
    unknown=True,
)
def test_failing_listings_sqlite(listings: dict[str, FailingListing], unknown: bool) -> None:
    """Whatever way a listing fails (Reddit's redirect for a subreddit that does not exist,
    403 private or quarantined, 404 banned, a body that is not JSON or not a listing, on the
    first page or a later one), the cycle ends partial, or failed when nothing could be read,
    names each failed listing with a message in Reddit's terms, and stores the other
    listings' items and the pages read before a failure."""
    check_failures(Backend("sqlite"), listings, unknown)


@settings(max_examples=FAILURE_EXAMPLES["cosmos"], deadline=None, suppress_health_check=HEALTH)
@given(listings=failing_reddit, unknown=st.booleans())
def test_failing_listings_cosmos(
    cosmos_server: CosmosServer, listings: dict[str, FailingListing], unknown: bool
) -> None:
    """The same property on Cosmos DB."""
    check_failures(Backend("cosmos", cosmos_server), listings, unknown)


async def test_an_item_claimed_by_another_subreddit_later_stays_one_item(
    store: Store, tmp_path: Path
) -> None:
    """Where and when a thing was posted never changes on Reddit; a later response that says
    otherwise (another subreddit, another time) updates the item where it is, on both stores:
    one item, aggregates equal to the items."""
    first = post("moved", title="I love this", created_utc=BASE_TIME)
    later = post("moved", title="I hate this", subreddit="elsewhere", created_utc=BASE_TIME + 7200)
    for body in (first, later):
        with FakeReddit().add_responses(interactions(only("new", Page([body])))).start() as fake:
            settings = settings_for(fake, [SUB], analyzer_mode="inline")
            run = await asyncio.to_thread(build_cycle(settings, store).run)
            assert run.status is RunStatus.SUCCEEDED, run.errors
    items = await assert_aggregates_match_items(store)
    assert [(i.id, i.subreddit, i.created_utc) for i in items] == [("t3_moved", SUB, BASE_TIME)]
    assert items[0].compound < 0  # the new text was scored and stored
