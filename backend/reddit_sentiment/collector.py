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
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
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

from .models import Item, Kind, Listing
from .settings import Settings

if TYPE_CHECKING:
    import praw

log = logging.getLogger(__name__)


class TimeoutRequestor(prawcore.Requestor):
    """prawcore's Session passes its import-time 16 s to every request; use the setting.

    The environment's proxy and CA-bundle settings are read once, here: requests re-reads
    them on every call (a pass over os.environ per request, a tenth of a cycle's CPU in a
    container with a large environment), and the two Reddit hosts never change.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        session = self._http
        session.proxies.update(proxies_for(self.oauth_url, self.reddit_url))
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle and session.verify is True:
            session.verify = bundle
        session.trust_env = False  # also keeps a ~/.netrc entry from replacing the token

    def request(self, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        return super().request(*args, timeout=self.timeout, **kwargs)


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


# Reddit serves at most 100 things per listing page, whatever `limit` asks for.
PAGE_SIZE = 100


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


class MalformedListing(ValueError):
    """Valid JSON that is not a Reddit listing."""


def describe_error(error: BaseException) -> str:
    """One line for the run record and the log; never includes credentials."""
    bad_json = getattr(prawcore.exceptions, "BadJSON", None)
    if bad_json is not None and isinstance(error, bad_json):
        return "malformed response: Reddit sent a body that is not valid JSON"
    if isinstance(error, prawcore.exceptions.ResponseException):
        status = error.response.status_code
        reason = {
            401: "unauthorized: Reddit refused the credentials (REDDIT_CLIENT_ID/SECRET)",
            403: "forbidden (private, quarantined or banned subreddit)",
            404: "not found (no such subreddit or it was banned)",
            429: "rate limited by Reddit",
        }.get(status, "server error" if status >= 500 else "error response")
        return f"HTTP {status}: {reason}"
    if isinstance(error, prawcore.exceptions.Redirect):
        return "redirected: the subreddit does not exist (Reddit redirects to search)"
    if isinstance(error, prawcore.exceptions.OAuthException):
        return f"Reddit refused the credentials: {error}"
    if isinstance(error, prawcore.exceptions.RequestException):
        return f"request failed: {type(error.original_exception).__name__}"
    if isinstance(error, ValueError):  # bad JSON from requests' json(), or not a listing
        return f"malformed response: {str(error)[:200]}"

    return f"{type(error).__name__}: {str(error)[:200]}"


def _wait_retry_after(max_wait: float) -> Any:
    """Honour Reddit's Retry-After on 429 (prawcore does not retry 429 itself), capped."""

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        header = getattr(error, "retry_after", None)
        try:
            seconds = float(header) if header else 1.0
        except ValueError:
            seconds = 1.0
        return max(0.0, min(seconds, max_wait))

    return wait


def _kind(fullname: str) -> Kind:
    return Kind.COMMENT if fullname.startswith("t1_") else Kind.POST


def _name(value: Any) -> str | None:
    """A name from Reddit's JSON (a string, "[deleted]" for a deleted author) or from PRAW,
    which turns author/subreddit into objects and deleted authors into None."""
    if value is None or value == "[deleted]":
        return None
    if isinstance(value, str):
        return value
    # Only what PRAW already holds: getattr on a lazy Subreddit would fetch /about.
    known = vars(value)
    return str(known.get("display_name") or known.get("name") or value)


def to_item(thing: Any, subreddit: str, collected_at: float) -> Item | None:
    """Build an Item from a PRAW model, without touching its lazy attributes."""
    data: dict[str, Any] = vars(thing)
    if not data.get("id"):
        return None
    return item_from_data(data, subreddit, collected_at, data.get("name") or thing.fullname)


def item_from_data(
    data: Mapping[str, Any], subreddit: str, collected_at: float, fullname: str | None = None
) -> Item | None:
    """Build an Item from the fields Reddit sent for one t1 or t3 thing."""
    thing_id = data.get("id")
    if not thing_id:
        return None
    fullname = str(fullname or data.get("name") or "")
    if not fullname.startswith(("t1_", "t3_")):
        return None
    kind = _kind(fullname)
    sub = (_name(data.get("subreddit")) or subreddit).lower()
    link_id = data.get("link_id")
    permalink = data.get("permalink")
    if not permalink:
        post = (link_id or fullname).removeprefix("t3_")
        permalink = f"/r/{sub}/comments/{post}/" + (
            f"_/{thing_id}/" if kind is Kind.COMMENT else ""
        )
    if kind is Kind.POST:
        title, body = data.get("title") or "", data.get("selftext") or ""
    else:
        title, body = None, data.get("body") or ""
    return Item(
        id=fullname,
        kind=kind,
        subreddit=sub,
        author=_name(data.get("author")),
        created_utc=float(data.get("created_utc") or collected_at),
        title=title,
        body=body,
        permalink=permalink,
        score=int(data.get("score") or 0),
        num_comments=int(data.get("num_comments") or 0) if kind is Kind.POST else None,
        parent_id=data.get("parent_id"),
        link_id=link_id,
        collected_at=collected_at,
    )


class RedditCollector:
    """Fetches one listing at a time; failures come back as ListingFailed, never crash."""

    def __init__(self, settings: Settings, reddit: praw.Reddit | None = None) -> None:
        self.settings = settings
        self._reddit = reddit

    @property
    def reddit(self) -> praw.Reddit:
        if self._reddit is None:
            import praw  # imported on first use: ~0.5 s of start-up the API need not wait for

            s = self.settings
            self._reddit = praw.Reddit(
                client_id=s.reddit_client_id,
                client_secret=s.reddit_client_secret.get_secret_value(),
                user_agent=s.reddit_user_agent,
                reddit_url=s.reddit_url,
                oauth_url=s.reddit_oauth_url,
                check_for_updates=False,
                requestor_class=TimeoutRequestor,
                requestor_kwargs={"timeout": s.reddit_timeout_seconds},
            )
            self._reddit.read_only = True
        return self._reddit

    def page(self, subreddit: str, listing: Listing, after: str | None, limit: int) -> ListingPage:
        """One page of a listing (the path and parameters PRAW's own listings use); a 429
        is retried after Reddit's Retry-After, within the configured bounds."""
        path = f"r/{subreddit}/{_LISTING_PATHS[listing]}"
        params: dict[str, str | int] = {"limit": min(limit, PAGE_SIZE)}
        if after:
            params["after"] = after
        retrying = Retrying(
            retry=retry_if_exception_type(prawcore.exceptions.TooManyRequests),
            stop=stop_after_attempt(self.settings.reddit_max_attempts_on_429),
            wait=_wait_retry_after(self.settings.reddit_max_retry_after_seconds),
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                body = self.reddit.request(method="GET", path=path, params=params)
        return parse_listing(body, subreddit, time.time())

    def pages(
        self, subreddit: str, listing: Listing, limit: int | None = None
    ) -> Iterator[list[Item]]:
        """The listing a page at a time, up to `limit` items, each item once.

        Follows `after` like PRAW's ListingGenerator: stops at `limit` items, an empty page,
        or an `after` that does not move. A failure raises ListingFailed; the pages before it
        were yielded (and stored by the cycle) already.
        """
        seen: set[str] = set()
        remaining = limit or self.settings.collection_limit
        after: str | None = None
        while remaining > 0:
            try:
                page = self.page(subreddit, listing, after, remaining)
            except Exception as error:  # every upstream failure is data for the run record
                log.warning(
                    "listing r/%s/%s failed: %s", subreddit, listing.value, describe_error(error)
                )
                raise ListingFailed(error, []) from error
            fresh = [item for item in page.items if item.id not in seen][:remaining]
            seen.update(item.id for item in fresh)
            remaining -= len(fresh)
            if fresh:
                yield fresh
            if not page.items or page.after is None or page.after == after:
                return
            after = page.after

    def fetch_comment_tree(self, post_id: str, subreddit: str, more_limit: int) -> list[Item]:
        """Every comment of one post: one request for the tree plus at most `more_limit`
        morechildren calls, made one after another (Reddit answers 429 to parallel ones)."""
        got: dict[str, Item] = {}
        try:
            submission = self.reddit.submission(id=post_id.removeprefix("t3_"))
            forest = submission.comments
            forest.replace_more(limit=more_limit)
            now = time.time()
            for comment in forest.list():
                item = to_item(comment, subreddit, now)
                if item is not None and item.kind is Kind.COMMENT:
                    got[item.id] = item
        except Exception as error:
            log.warning("comment tree of %s failed: %s", post_id, describe_error(error))
            raise ListingFailed(error, list(got.values())) from error
        return list(got.values())


_LISTING_PATHS = {Listing.NEW: "new", Listing.HOT: "hot", Listing.COMMENTS: "comments/"}


@dataclass
class ListingPage:
    items: list[Item]
    after: str | None


def parse_listing(body: Any, subreddit: str, collected_at: float) -> ListingPage:
    """Items of one listing page of Reddit's JSON; things that are not t1/t3 are skipped."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("children"), list):
        raise MalformedListing(f"expected a Listing, got {type(body).__name__}")
    children: list[Any] = data["children"]
    items = []
    for child in children:
        if not isinstance(child, dict) or child.get("kind") not in ("t1", "t3"):
            continue
        thing = child.get("data")
        if isinstance(thing, dict):
            item = item_from_data(thing, subreddit, collected_at)
            if item is not None:
                items.append(item)
    after = data.get("after")
    return ListingPage(items, after if isinstance(after, str) and after else None)
