"""Reads Reddit listings with PRAW, a page at a time.

Listings are read with `Reddit.request` (PRAW's authenticated, rate-limited, retrying call)
and the JSON Reddit sent is turned into Items directly: building PRAW model objects for a
thousand-item listing costs more CPU than scoring it. Comment trees need PRAW's
`replace_more`, so they go through its models, read with `vars(thing)` so no attribute access
triggers a lazy fetch.

PRAW is not thread-safe: the one `praw.Reddit` instance is created lazily by, and only used
from, the thread that runs cycles (the cycle process's, or the collector thread's with
`COLLECTOR_MODE=inline`).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import prawcore
import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
)

from ..models import REDDIT_PAGE_SIZE, Item, ItemState, Kind, Listing, RateLimits
from ..settings import Settings
from .clean import epoch_field, int_field, text_field

# Requests of Reddit's window the collector never spends: with this few left it waits for
# the window's reset instead (README "Data lifecycle").
RATE_LIMIT_RESERVE = 5

if TYPE_CHECKING:
    import praw

log = logging.getLogger(__name__)


class TimeoutRequestor(prawcore.Requestor):
    """prawcore's Session passes its import-time 16 s to every request; use the setting.

    The environment's proxy and CA-bundle settings are read once, here: requests re-reads
    them on every call (a pass over os.environ per request, a tenth of a cycle's CPU in a
    container with a large environment), and the two Reddit hosts never change.
    """

    def __init__(
        self, *args: Any, on_response: Callable[[Any], None] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._on_response = on_response
        session = self._http
        session.proxies.update(proxies_for(self.oauth_url, self.reddit_url))
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle and session.verify is True:
            session.verify = bundle
        session.trust_env = False  # also keeps a ~/.netrc entry from replacing the token

    def request(self, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        response = super().request(*args, timeout=self.timeout, **kwargs)
        if self._on_response is not None:
            self._on_response(response)
        return response


def proxies_for(*base_urls: str) -> dict[str, str]:
    """The environment's proxy (HTTPS_PROXY, ALL_PROXY, ... minus NO_PROXY) for each host, keyed
    the way requests looks proxies up ("scheme://host")."""
    proxies: dict[str, str] = {}
    for base in base_urls:
        parts = urlsplit(base)
        found = requests.utils.get_environ_proxies(base)
        proxy = found.get(parts.scheme) or found.get("all")
        if proxy and parts.hostname:
            proxies[f"{parts.scheme}://{parts.hostname}"] = proxy
    return proxies


class ListingFailed(Exception):
    """A listing failed after retries; carries what was fetched before the failure (for
    `pages`, what was not yielded yet)."""

    def __init__(self, error: BaseException, partial: list[Item]) -> None:
        super().__init__(describe_error(error))
        self.error = error
        self.partial = partial

    @property
    def error_name(self) -> str:
        return type(self.error).__name__


class RateLimitReserve(RuntimeError):
    """Reddit's window has only the reserve left and resets after the deadline."""

    def __init__(self, reset_at: float) -> None:
        super().__init__(
            f"Reddit's rate limit window has only {RATE_LIMIT_RESERVE} requests left; it "
            f"resets in {max(0.0, reset_at - time.time()):.0f}s"
        )


class MalformedListing(ValueError):
    """Valid JSON that is not a Reddit listing."""


def describe_error(error: BaseException) -> str:
    """One line for the run record and the log, in Reddit's terms; never includes
    credentials."""
    bad_json = getattr(prawcore.exceptions, "BadJSON", None)
    if bad_json is not None and isinstance(error, bad_json):
        return "malformed response: Reddit sent a body that is not valid JSON"
    if isinstance(error, prawcore.exceptions.Redirect):  # a ResponseException: ask it first
        path = getattr(error, "path", "") or ""
        if "/subreddits/search" in path:
            return "subreddit does not exist (Reddit redirects to its subreddit search)"
        return f"redirected to {path[:200]}" if path else "redirected"
    if isinstance(error, prawcore.exceptions.ResponseException):
        status = error.response.status_code
        reason = _reason_of(error.response)
        if status in (403, 404) and reason in _SUBREDDIT_REASONS:
            return f"HTTP {status}: {_SUBREDDIT_REASONS[reason]}"
        described = {
            401: "unauthorized: Reddit refused the credentials (REDDIT_CLIENT_ID/SECRET)",
            403: "forbidden",
            404: "not found (no such subreddit or it was banned)",
            429: "rate limited by Reddit",
        }.get(status, "server error" if status >= 500 else "error response")
        if reason:
            described += f" (reason: {reason})"
        return f"HTTP {status}: {described}"
    if isinstance(error, prawcore.exceptions.OAuthException):
        return f"Reddit refused the credentials: {error}"
    if isinstance(error, prawcore.exceptions.RequestException):
        return f"request failed: {type(error.original_exception).__name__}"
    if isinstance(error, ValueError):  # bad JSON from requests' json(), or not a listing
        return f"malformed response: {str(error)[:200]}"

    return f"{type(error).__name__}: {str(error)[:200]}"


# The `reason` Reddit's 403 and 404 bodies give for a subreddit that cannot be read.
_SUBREDDIT_REASONS = {
    "private": "the subreddit is private",
    "quarantined": "the subreddit is quarantined (an account must opt in to read it)",
    "banned": "the subreddit is banned",
    "gold_only": "the subreddit is for premium members only",
}


def _reason_of(response: Any) -> str:
    """The `reason` field of an error body, if it is JSON that has one (a short word)."""
    try:
        body = response.json()
    except Exception:  # not JSON, or no body: there is no reason to give
        return ""
    reason = body.get("reason") if isinstance(body, dict) else None
    if not isinstance(reason, str):
        return ""
    return text_field(reason)[:40]


def _wait_retry_after(max_wait: float, deadline: float | None = None) -> Any:
    """Honour Reddit's Retry-After on 429 (prawcore does not retry 429 itself), capped by
    `max_wait` and by the time left before `deadline` (the cycle's budget)."""

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        header = getattr(error, "retry_after", None)
        try:
            seconds = float(header) if header else 1.0
        except ValueError:
            seconds = 1.0
        cap = max_wait if deadline is None else min(max_wait, deadline - time.time())
        return max(0.0, min(seconds, cap))

    return wait


_THING_KINDS = {"t1": Kind.COMMENT, "t3": Kind.POST}
_REDDIT_ID = re.compile(r"[0-9a-z]{1,13}")
_FULLNAME = re.compile(r"t[0-9]_[0-9a-z]{1,13}")
_SUBREDDIT = re.compile(r"[A-Za-z0-9_]{1,50}")  # u_<user> profiles run past 21
# A permalink is a path on reddit.com; anything else (a host, a scheme) is not one.
_PERMALINK = re.compile(r"/(r|u|user)/")


class ItemRejected(ValueError):
    """A thing Reddit sent that cannot be kept as an item; the run records why."""

    def __init__(self, fullname: str, reason: str) -> None:
        super().__init__(f"{fullname}: {reason}")
        self.fullname = fullname
        self.reason = reason


def _name(value: Any) -> str | None:
    """A name from Reddit's JSON (a string, "[deleted]" for a deleted author) or from PRAW,
    which turns author/subreddit into objects and deleted authors into None."""
    if value is None or value == "[deleted]" or isinstance(value, bool | int | float):
        return None
    if isinstance(value, str):
        return text_field(value) or None
    if isinstance(value, list | dict):
        return None
    # Only what PRAW already holds: getattr on a lazy Subreddit would fetch /about.
    known = vars(value)
    return text_field(str(known.get("display_name") or known.get("name") or value)) or None


def to_item(thing: Any, subreddit: str, collected_at: float) -> Item | None:
    """Build an Item from a PRAW comment, without touching its lazy attributes; None for the
    "load more comments" stubs a bounded `replace_more` leaves in the tree."""
    if type(thing).__name__ == "MoreComments":
        return None
    data: dict[str, Any] = vars(thing)
    return item_from_data(data, "t1", subreddit, collected_at)


def item_from_data(
    data: Mapping[str, Any], thing_kind: str, subreddit: str, collected_at: float
) -> Item:
    """Build an Item from the fields Reddit sent for one t1 or t3 thing; raise ItemRejected
    (with the fullname and why) for one that cannot be kept.

    Every text goes through `clean_text`; numbers of any JSON type are read leniently (a
    missing score is 0), but an item needs a Reddit id and a creation time: without them it
    could be neither told apart from others nor put in its hour.
    """
    kind = _THING_KINDS[thing_kind]
    raw_id = data.get("id")
    thing_id = raw_id.strip().lower() if isinstance(raw_id, str) else ""
    if not _REDDIT_ID.fullmatch(thing_id):
        shown = text_field(raw_id)[:40] if raw_id is not None else ""
        raise ItemRejected(f"{thing_kind}_{shown}" if shown else thing_kind, "no valid Reddit id")
    fullname = f"{thing_kind}_{thing_id}"
    created = epoch_field(data.get("created_utc"))
    if created is None:
        raise ItemRejected(fullname, "created_utc is missing or not a time between 1970 and 9999")
    named = _name(data.get("subreddit"))
    sub = (named if named and _SUBREDDIT.fullmatch(named) else subreddit).lower()
    link_id = _fullname_field(data.get("link_id"))
    permalink = text_field(data.get("permalink"))
    if not _PERMALINK.match(permalink):
        post = (link_id or fullname).removeprefix("t3_")
        permalink = f"/r/{sub}/comments/{post}/" + (
            f"_/{thing_id}/" if kind is Kind.COMMENT else ""
        )
    if kind is Kind.POST:
        title: str | None = text_field(data.get("title"))
        body = text_field(data.get("selftext"))
    else:
        title, body = None, text_field(data.get("body"))
    state = _state_of(data, body)
    edited = data.get("edited")
    ratio = data.get("upvote_ratio")
    item = Item(
        id=fullname,
        kind=kind,
        subreddit=sub,
        author=_name(data.get("author")),
        created_utc=created,
        title=title,
        body=body,
        permalink=permalink,
        score=int_field(data.get("score")),
        num_comments=int_field(data.get("num_comments")) if kind is Kind.POST else None,
        parent_id=_fullname_field(data.get("parent_id")),
        link_id=link_id,
        collected_at=collected_at,
        upvote_ratio=(
            float(ratio)
            if isinstance(ratio, int | float) and not isinstance(ratio, bool) and 0 <= ratio <= 1
            else None
        ),
        edited_at=None if isinstance(edited, bool) else epoch_field(edited),
        state=state,
    )
    if state is ItemState.LIVE and item.edited_at is not None:
        item.state = ItemState.EDITED
    if item.purged:
        purge(item)
        item.state_at = collected_at
    return item


# What Reddit puts in place of the text of a deleted or removed thing.
_DELETED_TEXT = "[deleted]"
_REMOVED_TEXT = "[removed]"
# `removed_by_category` values that mean the author deleted it (the rest: moderators,
# admins, spam filters, takedowns).
_BY_AUTHOR = frozenset({"deleted", "author"})


def _state_of(data: Mapping[str, Any], text: str) -> ItemState:
    """Deleted by its author ("[deleted]" text, or removed_by_category deleted/author),
    removed (by anyone else: "[removed]", or another removed_by_category), else live. An
    author shown as "[deleted]" next to a text still there is a deleted account, not a
    deleted item."""
    category = data.get("removed_by_category")
    category = text_field(category).lower() if category else ""
    if text.strip() == _DELETED_TEXT or category in _BY_AUTHOR:
        return ItemState.DELETED
    if text.strip() == _REMOVED_TEXT or category:
        return ItemState.REMOVED
    return ItemState.LIVE


def purge(item: Item) -> Item:
    """Take out everything a person wrote or is known by: the text, the author, and the
    title's slug in the permalink (Reddit's Data API terms: deleted content is deleted by
    whoever stored it). What is left is the thing's place: id, subreddit, times, counts."""
    item.author = None
    item.title = "" if item.kind is Kind.POST else None
    item.body = ""
    post = (item.link_id or item.id).removeprefix("t3_")
    item.permalink = f"/r/{item.subreddit}/comments/{post}/" + (
        f"_/{item.id.removeprefix('t1_')}/" if item.kind is Kind.COMMENT else ""
    )
    return item


def _fullname_field(value: Any) -> str | None:
    return value if isinstance(value, str) and _FULLNAME.fullmatch(value) else None


class RedditCollector:
    """Fetches one listing at a time; failures come back as ListingFailed, never crash."""

    def __init__(self, settings: Settings, reddit: praw.Reddit | None = None) -> None:
        self.settings = settings
        self._reddit = reddit
        self.limits = RateLimits()
        # Tests: called instead of time.sleep while waiting for Reddit's window to reset.
        self.sleep: Callable[[float], None] = time.sleep

    def _record_limits(self, response: Any) -> None:
        """Keep the `X-Ratelimit-*` headers of the last response that had them."""
        headers = getattr(response, "headers", None) or {}
        if "x-ratelimit-remaining" not in headers:
            return
        now = time.time()
        try:
            remaining = float(headers["x-ratelimit-remaining"])
            used = int(float(headers.get("x-ratelimit-used", 0)))
            reset = now + float(headers.get("x-ratelimit-reset", 0))
        except (TypeError, ValueError):  # a header that is not a number: keep the last ones
            return
        self.limits = RateLimits(remaining=remaining, used=used, reset_at=reset, seen_at=now)

    def requests_left(self) -> float | None:
        """Requests Reddit's current window still allows beyond the reserve; None while
        unknown (before the first response, or after the window reset)."""
        limits = self.limits
        if limits.remaining is None or limits.reset_at is None or limits.reset_at <= time.time():
            return None
        return max(0.0, limits.remaining - RATE_LIMIT_RESERVE)

    def wait_for_window(self, deadline: float | None = None) -> None:
        """With only the reserve left of Reddit's window, wait for its reset (never past
        `deadline`: then RateLimitReserve, which the caller records as a failed listing)."""
        if self.requests_left() != 0:
            return
        reset_at = self.limits.reset_at or time.time()
        if deadline is not None and reset_at > deadline:
            raise RateLimitReserve(reset_at)
        log.info("Reddit's rate limit window is nearly used up: waiting %.0fs for its reset",
                 reset_at - time.time())  # fmt: skip
        self.sleep(max(0.0, reset_at - time.time()))

    @property
    def reddit(self) -> praw.Reddit:
        if self._reddit is None:
            # Imported on first use: start-up time the API need not wait for (measured:
            # specs/measurements.md#praw-lazy-import).
            import praw

            s = self.settings
            self._reddit = praw.Reddit(
                client_id=s.reddit_client_id,
                client_secret=s.reddit_client_secret.get_secret_value(),
                user_agent=s.reddit_user_agent,
                reddit_url=s.reddit_url,
                oauth_url=s.reddit_oauth_url,
                check_for_updates=False,
                requestor_class=TimeoutRequestor,
                requestor_kwargs={
                    "timeout": s.reddit_timeout_seconds,
                    "on_response": self._record_limits,
                },
            )
            self._reddit.read_only = True
        return self._reddit

    def page(
        self,
        subreddit: str,
        listing: Listing,
        after: str | None,
        limit: int,
        deadline: float | None = None,
    ) -> ListingPage:
        """One page of a listing (the path and parameters PRAW's own listings use); a 429
        is retried after Reddit's Retry-After, within the configured bounds."""
        path = f"r/{subreddit}/{_LISTING_PATHS[listing]}"
        params: dict[str, str | int] = {"limit": min(limit, REDDIT_PAGE_SIZE)}
        if after:
            params["after"] = after
        return parse_listing(self._get(path, params, deadline), subreddit, time.time())

    def info(self, fullnames: Sequence[str], deadline: float | None = None) -> ListingPage:
        """The current versions of up to 100 things by fullname (`/api/info`, what PRAW's
        `reddit.info` reads), through the same parsing as listings. Things Reddit no longer
        serves are simply absent."""
        if len(fullnames) > REDDIT_PAGE_SIZE:
            raise ValueError(f"/api/info takes at most {REDDIT_PAGE_SIZE} fullnames")
        body = self._get("api/info", {"id": ",".join(fullnames)}, deadline)
        return parse_listing(body, "", time.time())

    def _get(self, path: str, params: dict[str, str | int], deadline: float | None) -> Any:
        """GET through PRAW, after waiting out a used-up rate-limit window; a 429 is retried
        after Reddit's Retry-After, within the configured bounds."""
        self.wait_for_window(deadline)
        retrying = Retrying(
            retry=retry_if_exception_type(prawcore.exceptions.TooManyRequests),
            stop=stop_after_attempt(self.settings.reddit_max_attempts_on_429),
            wait=_wait_retry_after(self.settings.reddit_max_retry_after_seconds, deadline),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                body = self.reddit.request(method="GET", path=path, params=params)
        return body

    def pages(
        self,
        subreddit: str,
        listing: Listing,
        limit: int | None = None,
        deadline: float | None = None,
    ) -> Iterator[ListingPage]:
        """The listing a page at a time, up to `limit` items, each item once.

        Follows `after` like PRAW's ListingGenerator: stops at `limit` items, an empty page,
        or an `after` that does not move. A failure raises ListingFailed; the pages before it
        were yielded (and stored by the cycle) already. A page's `rejected` things come with
        it, also when none of its items is new.
        """
        seen: set[str] = set()
        remaining = limit or self.settings.collection_limit
        after: str | None = None
        while remaining > 0:
            try:
                page = self.page(subreddit, listing, after, remaining, deadline)
            except Exception as error:  # every upstream failure is data for the run record
                log.warning(
                    "listing r/%s/%s failed: %s", subreddit, listing.value, describe_error(error)
                )
                raise ListingFailed(error, []) from error
            fresh = [item for item in page.items if item.id not in seen][:remaining]
            seen.update(item.id for item in fresh)
            remaining -= len(fresh)
            if fresh or page.rejected:
                yield ListingPage(fresh, page.after, page.rejected)
            if not page.items or page.after is None or page.after == after:
                return
            after = page.after

    def fetch_comment_tree(self, post_id: str, subreddit: str, more_limit: int) -> ListingPage:
        """Every comment of one post: one request for the tree plus at most `more_limit`
        morechildren calls, made one after another (Reddit answers 429 to parallel ones)."""
        tree = ListingPage([], None)
        got: dict[str, Item] = {}
        try:
            submission = self.reddit.submission(id=post_id.removeprefix("t3_"))
            forest = submission.comments
            forest.replace_more(limit=more_limit)
            now = time.time()
            for comment in forest.list():
                try:
                    item = to_item(comment, subreddit, now)
                except ItemRejected as rejected:
                    tree.rejected.append(rejected)
                    continue
                if item is not None:
                    got.setdefault(item.id, item)
        except Exception as error:
            log.warning("comment tree of %s failed: %s", post_id, describe_error(error))
            raise ListingFailed(error, list(got.values())) from error
        tree.items = list(got.values())
        return tree


_LISTING_PATHS = {Listing.NEW: "new", Listing.HOT: "hot", Listing.COMMENTS: "comments/"}


@dataclass
class ListingPage:
    items: list[Item]
    after: str | None
    rejected: list[ItemRejected] = field(default_factory=list)


def parse_listing(body: Any, subreddit: str, collected_at: float) -> ListingPage:
    """Items of one listing page of Reddit's JSON, each once, in Reddit's order.

    Things that are not t1/t3 (`more` stubs, subreddits) are not items and are passed over;
    a t1/t3 that cannot be kept is returned in `rejected` with its reason; the rest of the
    page is kept either way.
    """
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("children"), list):
        raise MalformedListing(f"expected a Listing, got {type(body).__name__}")
    children: list[Any] = data["children"]
    page = ListingPage([], None)
    seen: set[str] = set()
    for child in children:
        kind = child.get("kind") if isinstance(child, dict) else None
        if not isinstance(kind, str) or kind not in _THING_KINDS:  # a list or object: junk
            continue
        thing = child.get("data")
        try:
            if not isinstance(thing, dict):
                raise ItemRejected(kind, "the thing has no data object")
            item = item_from_data(thing, kind, subreddit, collected_at)
        except ItemRejected as rejected:
            page.rejected.append(rejected)
            continue
        if item.id not in seen:  # Reddit repeats a thing on a page now and then
            seen.add(item.id)
            page.items.append(item)
    after = data.get("after")
    page.after = after if isinstance(after, str) and _FULLNAME.fullmatch(after) else None
    return page
