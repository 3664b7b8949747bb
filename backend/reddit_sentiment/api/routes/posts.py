"""Stored posts, filtered and cursor-paged, and one post with its comments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from ...models import ItemState, Kind, Label
from ...store.base import ItemQuery, Sort
from ..convert import item_out
from ..deps import StoreDep
from ..params import (
    CursorParam,
    SinceParam,
    SubredditParam,
    UntilParam,
    cursor_checked,
    normalise_subreddit,
    time_range,
)
from ..schemas import ItemOut, Page, PostWithComments

router = APIRouter(prefix="/posts", tags=["posts"])

MAX_LIMIT = 100
MAX_COMMENTS = 500


@router.get(
    "",
    response_model=Page[ItemOut],
    summary="Posts, newest first by default",
    description="`since`/`until` bound the posts' creation time (ISO 8601; since inclusive, "
    "until exclusive; 422 when since is not before until).",
)
async def list_posts(
    store: StoreDep,
    subreddit: SubredditParam = None,
    label: Annotated[Label | None, Query(description="Only posts with this label")] = None,
    state: Annotated[
        ItemState | None,
        Query(description="Only posts in this state: live, edited, deleted, removed"),
    ] = None,
    sort: Annotated[Sort, Query(description="new: created time; score; compound")] = Sort.NEW,
    order: Annotated[str, Query(pattern="^(asc|desc)$", description="asc or desc")] = "desc",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size, 1-100")] = 25,
    cursor: CursorParam = None,
    since: SinceParam = None,
    until: UntilParam = None,
) -> Page[ItemOut]:
    start, end = time_range(since, until)
    query = ItemQuery(
        kind=Kind.POST,
        subreddit=normalise_subreddit(subreddit),
        label=label,
        state=state,
        since=start,
        until=end,
        sort=sort,
        descending=order == "desc",
        limit=limit,
        cursor=cursor,
    )
    with cursor_checked():
        page = await store.list_items(query)
    return Page[ItemOut](items=[item_out(i) for i in page.items], next_cursor=page.next_cursor)


@router.get(
    "/{post_id}",
    response_model=PostWithComments,
    summary="One post with its stored comments (oldest first)",
    responses={404: {"description": "No such post stored"}},
)
async def get_post(
    store: StoreDep,
    post_id: Annotated[
        str,
        Path(
            pattern=r"^(t3_)?[a-z0-9]{1,13}$",
            description="Reddit id (abc123) or fullname (t3_abc123)",
        ),
    ],
    comments_limit: Annotated[int, Query(ge=0, le=MAX_COMMENTS)] = 200,
    subreddit: SubredditParam = None,
) -> PostWithComments:
    """`subreddit`: the post's, when the caller knows it (an item's `subreddit`): Cosmos DB then
    reads the post by a point read instead of a query across partitions; a post stored in
    another subreddit is then not found."""
    fullname = post_id if post_id.startswith("t3_") else f"t3_{post_id}"
    post = await store.get_item(fullname, normalise_subreddit(subreddit))
    if post is None:
        where = "" if subreddit is None else f" in r/{normalise_subreddit(subreddit)}"
        raise HTTPException(404, f"post {fullname} is not stored{where}")
    comments: list[ItemOut] = []
    if comments_limit:
        page = await store.list_items(
            ItemQuery(
                kind=Kind.COMMENT,
                subreddit=post.subreddit,  # one partition in Cosmos DB
                link_id=fullname,
                sort=Sort.NEW,
                descending=False,
                limit=comments_limit,
            )
        )
        comments = [item_out(i) for i in page.items]
    return PostWithComments(post=item_out(post), comments=comments)
