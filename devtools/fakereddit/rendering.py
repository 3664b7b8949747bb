"""Reddit JSON: things (t1, t3, t5, more), Listings and error bodies, as Reddit shapes them."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from .model import _Comment, _stable_id, _Submission, _Subreddit

JSON = dict[str, Any]


def _encode(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _slug(title: str) -> str:
    """Permalink slug like Reddit's (lower-case words joined by underscores)."""
    words = re.findall(r"[a-z0-9]+", title.lower())
    return "_".join(words)[:50].rstrip("_") or "_"


def _md_html(text: str) -> str:
    """A rough ``*_html`` rendering; clients rarely need more than presence."""
    paragraphs = "".join(f"<p>{html.escape(p)}</p>\n" for p in text.split("\n\n") if p)
    return f'<!-- SC_OFF --><div class="md">{paragraphs}</div><!-- SC_ON -->'


def _listing(children: list[JSON], after: str | None = None, before: str | None = None) -> JSON:
    """Wrap things in a Reddit Listing."""
    return {
        "kind": "Listing",
        "data": {
            "after": after,
            "before": before,
            "children": children,
            "dist": len(children),
            "modhash": "",
            "geo_filter": "",
        },
    }


def _error_body(status: int, **extra: Any) -> JSON:
    """Reddit's usual error JSON."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return {**extra, "message": phrase, "error": status}


def _flatten(things: list[JSON]) -> Iterator[JSON]:
    """Depth-first flat list (``/api/morechildren`` answers flat, parents first)."""
    for thing in things:
        replies = thing["data"].get("replies") if thing["kind"] == "t1" else None
        if thing["kind"] == "t1":
            thing["data"]["replies"] = ""
        yield thing
        if isinstance(replies, dict):
            yield from _flatten(replies["data"]["children"])


def subreddit_thing(sub: _Subreddit) -> JSON:
    """A t5 thing (``/r/x/about``)."""
    return {
        "kind": "t5",
        "data": {
            "id": sub.id,
            "name": f"t5_{sub.id}",
            "display_name": sub.name,
            "display_name_prefixed": f"r/{sub.name}",
            "title": sub.title,
            "public_description": sub.description,
            "description": sub.description,
            "subscribers": sub.subscribers,
            "active_user_count": max(1, sub.subscribers // 500),
            "created_utc": sub.created_utc,
            "created": sub.created_utc,
            "over18": False,
            "subreddit_type": "public",
            "lang": "en",
            "url": f"/r/{sub.name}/",
            "quarantine": False,
        },
    }


def submission_thing(post: _Submission, sub: _Subreddit) -> JSON:
    """A t3 thing."""
    permalink = f"/r/{sub.name}/comments/{post.id}/{_slug(post.title)}/"
    is_self = post.url is None
    deleted = post.author == "[deleted]"
    data: JSON = {
        "id": post.id,
        "name": post.name,
        "title": post.title,
        "selftext": post.selftext,
        "selftext_html": _md_html(post.selftext) if is_self and post.selftext else None,
        "author": post.author,
        "subreddit": sub.name,
        "subreddit_id": f"t5_{sub.id}",
        "subreddit_name_prefixed": f"r/{sub.name}",
        "subreddit_type": "public",
        "subreddit_subscribers": sub.subscribers,
        "created_utc": post.created_utc,
        "created": post.created_utc,
        "score": post.score,
        "ups": post.score,
        "downs": 0,
        "upvote_ratio": post.upvote_ratio,
        "num_comments": len(post.comments),
        "permalink": permalink,
        "url": post.url or f"https://www.reddit.com{permalink}",
        "domain": f"self.{sub.name}"
        if is_self
        else (urlsplit(post.url or "").netloc or "reddit.com"),
        "is_self": is_self,
        "stickied": post.stickied,
        "pinned": False,
        "over_18": post.over_18,
        "spoiler": False,
        "locked": False,
        "archived": False,
        "hidden": False,
        "saved": False,
        "clicked": False,
        "visited": False,
        "likes": None,
        "edited": post.edited or False,
        "distinguished": "moderator" if post.stickied else None,
        "link_flair_text": post.link_flair_text,
        "author_flair_text": None,
        "gilded": 0,
        "total_awards_received": 0,
        "num_crossposts": 0,
        "is_video": False,
        "thumbnail": "self" if is_self else "default",
        "media": None,
        "secure_media": None,
        "media_embed": {},
        "secure_media_embed": {},
        "quarantine": False,
        "contest_mode": False,
        "suggested_sort": None,
        "send_replies": True,
        "removed_by_category": post.removed_by or ("deleted" if deleted else None),
    }
    if not deleted:
        data["author_fullname"] = f"t2_{_stable_id('t2' + post.author)}"
    return {"kind": "t3", "data": data}


def comment_thing(
    comment: _Comment,
    post: _Submission,
    sub: _Subreddit,
    *,
    depth: int = 0,
    replies: JSON | str = "",
    link: bool = False,
) -> JSON:
    """A t1 thing; ``link`` adds the link_* fields of subreddit comment listings."""
    post_permalink = f"/r/{sub.name}/comments/{post.id}/{_slug(post.title)}/"
    deleted = comment.author == "[deleted]"
    data: JSON = {
        "id": comment.id,
        "name": comment.name,
        "body": comment.body,
        "body_html": _md_html(comment.body)
        .replace("<!-- SC_OFF -->", "")
        .replace("<!-- SC_ON -->", ""),
        "author": comment.author,
        "link_id": post.name,
        "parent_id": comment.parent,
        "subreddit": sub.name,
        "subreddit_id": f"t5_{sub.id}",
        "subreddit_name_prefixed": f"r/{sub.name}",
        "subreddit_type": "public",
        "created_utc": comment.created_utc,
        "created": comment.created_utc,
        "score": comment.score,
        "ups": comment.score,
        "downs": 0,
        "permalink": f"{post_permalink}{comment.id}/",
        "replies": replies,
        "depth": depth,
        "is_submitter": not deleted and comment.author == post.author,
        "stickied": comment.stickied,
        "score_hidden": False,
        "controversiality": 0,
        "distinguished": comment.distinguished,
        "edited": comment.edited or False,
        "gilded": 0,
        "total_awards_received": 0,
        "collapsed": False,
        "archived": False,
        "locked": False,
        "saved": False,
        "likes": None,
        "send_replies": True,
        "no_follow": True,
        "author_flair_text": None,
    }
    if not deleted:
        data["author_fullname"] = f"t2_{_stable_id('t2' + comment.author)}"
    if link:
        data.update(
            {
                "link_title": post.title,
                "link_author": post.author,
                "link_permalink": f"https://www.reddit.com{post_permalink}",
                "link_url": post.url or f"https://www.reddit.com{post_permalink}",
                "num_comments": len(post.comments),
                "over_18": post.over_18,
                "quarantine": False,
            }
        )
    return {"kind": "t1", "data": data}


def more_thing(ids: list[str], parent: str, depth: int, count: int) -> JSON:
    """A ``more`` object: comments of one parent that did not fit."""
    return {
        "kind": "more",
        "data": {
            "count": count,
            "name": f"t1_{ids[0]}",
            "id": ids[0],
            "parent_id": parent,
            "depth": depth,
            "children": ids,
        },
    }
