"""A data set (subreddits -> submissions -> comments): loading, listing order, comment trees."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from .model import _Comment, _stable_id, _Submission, _Subreddit
from .rendering import (
    JSON,
    _encode,
    _listing,
    comment_thing,
    more_thing,
    submission_thing,
    subreddit_thing,
)

TIME_FILTERS: dict[str, float | None] = {
    "hour": 3600.0,
    "day": 86400.0,
    "week": 7 * 86400.0,
    "month": 30 * 86400.0,
    "year": 365 * 86400.0,
    "all": None,
}


def _sort_comments(comments: Iterable[_Comment], sort: str) -> list[_Comment]:
    """Order sibling comments like Reddit's ``sort`` parameter does."""
    items = list(comments)
    if sort == "new":
        return sorted(items, key=lambda c: (-c.created_utc, c.id))
    if sort == "old":
        return sorted(items, key=lambda c: (c.created_utc, c.id))
    if sort == "controversial":
        return sorted(items, key=lambda c: (abs(c.score), c.id))
    # confidence, top, qa, best, random, live: score order is a fine stand-in
    return sorted(items, key=lambda c: (not c.stickied, -c.score, -c.created_utc, c.id))


class _Dataset:
    """Subreddits -> submissions -> comments, rendered as Reddit JSON on demand."""

    def __init__(self) -> None:
        self.subreddits: dict[str, _Subreddit] = {}
        self.submissions: dict[str, _Submission] = {}
        self.comments: dict[str, _Comment] = {}
        self.private: set[str] = set()
        self._cache: dict[tuple[str, ...], list[_Submission] | list[_Comment]] = {}
        # Listing things as JSON, by fullname: a page is then a join of bytes, so the fake is
        # not the slow end of a benchmark that pages through thousands of items.
        self._encoded: dict[str, bytes] = {}

    # ---- loading

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, now: float | None = None) -> _Dataset:
        """Load the data set JSON format (ages are relative to ``now``)."""
        now = time.time() if now is None else now
        dataset = cls()
        dataset.private = {str(name).lower() for name in data.get("private_subreddits", [])}
        for raw_sub in data.get("subreddits", []):
            name = str(raw_sub["name"])
            sub = _Subreddit(
                name=name,
                id=str(raw_sub.get("id") or _stable_id("t5" + name.lower())),
                title=str(raw_sub.get("title", name)),
                description=str(raw_sub.get("description", "")),
                subscribers=int(raw_sub.get("subscribers", 1000)),
                created_utc=float(raw_sub.get("created_utc", 1_200_000_000.0)),
            )
            for raw_post in raw_sub.get("submissions", []):
                post = _Submission(
                    id=str(raw_post["id"]).lower(),
                    subreddit=name.lower(),
                    title=str(raw_post["title"]),
                    selftext=str(raw_post.get("selftext", "")),
                    author=str(raw_post.get("author", "[deleted]")),
                    created_utc=_created(raw_post, now),
                    score=int(raw_post.get("score", 1)),
                    url=raw_post.get("url"),
                    stickied=bool(raw_post.get("stickied", False)),
                    over_18=bool(raw_post.get("over_18", False)),
                    link_flair_text=raw_post.get("link_flair_text"),
                    upvote_ratio=float(raw_post.get("upvote_ratio", 0.9)),
                    sentiment=raw_post.get("sentiment"),
                )
                for raw_comment in raw_post.get("comments", []):
                    parent = raw_comment.get("parent")
                    post.comments.append(
                        _Comment(
                            id=str(raw_comment["id"]).lower(),
                            submission_id=post.id,
                            parent=f"t1_{str(parent).lower()}" if parent else post.name,
                            author=str(raw_comment.get("author", "[deleted]")),
                            body=str(raw_comment.get("body", "")),
                            created_utc=_created(raw_comment, now),
                            score=int(raw_comment.get("score", 1)),
                            sentiment=raw_comment.get("sentiment"),
                            stickied=bool(raw_comment.get("stickied", False)),
                            distinguished=raw_comment.get("distinguished"),
                        )
                    )
                sub.submissions.append(post)
            dataset.add_subreddit(sub)
        return dataset

    def add_subreddit(self, sub: _Subreddit) -> None:
        """Register a subreddit and index its content (ids must be unique)."""
        self.subreddits[sub.name.lower()] = sub
        for post in sub.submissions:
            if post.id in self.submissions:
                msg = f"duplicate submission id {post.id!r}"
                raise ValueError(msg)
            post.index_comments()
            self.submissions[post.id] = post
            for comment in post.comments:
                if comment.id in self.comments:
                    msg = f"duplicate comment id {comment.id!r}"
                    raise ValueError(msg)
                self.comments[comment.id] = comment
        self._cache.clear()
        self._encoded.clear()

    def merge(self, other: _Dataset) -> None:
        """Add another data set's subreddits (later wins for equal names)."""
        for sub in other.subreddits.values():
            self.add_subreddit(sub)
        self.private |= other.private

    # ---- ordering

    def sorted_submissions(
        self, subs: Sequence[str], sort: str, time_filter: str, now: float
    ) -> list[_Submission]:
        """Submissions of ``subs`` in listing order (cached; the data set is static)."""
        key = ("t3", ",".join(subs), sort, time_filter if sort in {"top", "controversial"} else "")
        cached = self._cache.get(key)
        if cached is None:
            posts = [p for s in subs for p in self.subreddits[s].submissions]
            if sort in {"top", "controversial"}:
                window = TIME_FILTERS.get(time_filter, TIME_FILTERS["day"])
                if window is not None:
                    posts = [p for p in posts if p.created_utc >= now - window]
            if sort == "hot":
                posts.sort(key=lambda p: (not p.stickied, -p.score, -p.created_utc, p.id))
            elif sort == "top":
                posts.sort(key=lambda p: (-p.score, -p.created_utc, p.id))
            elif sort == "controversial":
                posts.sort(key=lambda p: (p.upvote_ratio, -len(p.comments), p.id))
            else:  # new, rising
                posts.sort(key=lambda p: (-p.created_utc, p.id))
            cached = posts
            if sort not in {"top", "controversial"} or time_filter == "all":
                self._cache[key] = cached
        return cast("list[_Submission]", cached)

    def sorted_comments(self, subs: Sequence[str]) -> list[_Comment]:
        """All comments of ``subs``, newest first (the ``/r/x/comments`` listing)."""
        key = ("t1", ",".join(subs))
        cached = self._cache.get(key)
        if cached is None:
            cached = sorted(
                (c for s in subs for p in self.subreddits[s].submissions for c in p.comments),
                key=lambda c: (-c.created_utc, c.id),
            )
            self._cache[key] = cached
        return cast("list[_Comment]", cached)

    # ---- rendering

    def render_subreddit(self, sub: _Subreddit) -> JSON:
        """A t5 thing (``/r/x/about``)."""
        return subreddit_thing(sub)

    def encoded_listing(
        self, things: Sequence[_Submission | _Comment], after: str | None, before: str | None
    ) -> bytes:
        """The bytes of `_listing([render(t) for t in things], ...)`, rendered once per thing."""
        fragments = []
        for thing in things:
            fragment = self._encoded.get(thing.name)
            if fragment is None:
                if isinstance(thing, _Comment):
                    rendered = self.render_comment(thing, depth=self.depth_of(thing), link=True)
                else:
                    rendered = self.render_submission(thing)
                fragment = _encode(rendered)
                self._encoded[thing.name] = fragment
            fragments.append(fragment)
        shell = _listing([], after, before)
        shell["data"]["dist"] = len(fragments)
        head, _, tail = _encode(shell).partition(b'"children":[]')
        return head + b'"children":[' + b",".join(fragments) + b"]" + tail

    def render_submission(self, post: _Submission) -> JSON:
        """A t3 thing."""
        return submission_thing(post, self.subreddits[post.subreddit])

    def render_comment(
        self, comment: _Comment, *, depth: int = 0, replies: JSON | str = "", link: bool = False
    ) -> JSON:
        """A t1 thing; ``link`` adds the link_* fields of subreddit comment listings."""
        post = self.submissions[comment.submission_id]
        sub = self.subreddits[post.subreddit]
        return comment_thing(comment, post, sub, depth=depth, replies=replies, link=link)

    def depth_of(self, comment: _Comment) -> int:
        """Nesting depth (0 for top-level comments)."""
        depth = 0
        parent = comment.parent
        while parent.startswith("t1_") and parent[3:] in self.comments:
            depth += 1
            parent = self.comments[parent[3:]].parent
        return depth

    def comment_tree(
        self, post: _Submission, roots: list[_Comment], *, sort: str, budget: int
    ) -> list[JSON]:
        """Nested things for ``roots`` and their replies; the overflow becomes ``more`` objects.

        The walk is depth-first and spends ``budget`` comments; siblings that did
        not fit are summarised per parent in one ``more`` object, as Reddit does.
        """
        remaining = [budget]
        base_depth = self.depth_of(roots[0]) if roots else 0
        return self._walk(post, roots, base_depth, remaining, sort)

    def _walk(
        self,
        post: _Submission,
        siblings: list[_Comment],
        depth: int,
        remaining: list[int],
        sort: str,
    ) -> list[JSON]:
        things: list[JSON] = []
        for index, comment in enumerate(siblings):
            if remaining[0] <= 0:
                things.extend(self._more_objects(post, siblings[index:], depth))
                break
            remaining[0] -= 1
            kids = _sort_comments(post.children.get(comment.name, []), sort)
            child_things = self._walk(post, kids, depth + 1, remaining, sort) if kids else []
            replies: JSON | str = _listing(child_things) if child_things else ""
            things.append(self.render_comment(comment, depth=depth, replies=replies))
        return things

    def _more_objects(self, post: _Submission, rest: list[_Comment], depth: int) -> list[JSON]:
        """One ``more`` per parent for comments that did not fit."""
        groups: dict[str, list[_Comment]] = {}
        for comment in rest:
            groups.setdefault(comment.parent, []).append(comment)
        return [
            more_thing(
                [c.id for c in comments], parent, depth, sum(post.subtree_size(c) for c in comments)
            )
            for parent, comments in groups.items()
        ]


def _created(raw: Mapping[str, Any], now: float) -> float:
    """``created_utc`` from an absolute value or an age relative to load time."""
    if "created_utc" in raw:
        return float(raw["created_utc"])
    return float(math.floor(now - float(raw.get("age_seconds", 0))))
