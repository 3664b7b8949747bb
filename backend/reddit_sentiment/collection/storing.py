"""The steps between reading items and the store, shared by the cycle and the dump import.

`split_scored` fingerprints and tags a batch and takes, for each item the store already has
with the same text, the stored scores (an unchanged text is not scored again; a purged item
keeps what the lifecycle rule keeps). `upsert_isolating` stores a batch, and when the store
refuses it for something in the items (rather than for being unavailable), stores it again in
ever smaller parts so that only the items it refuses are rejected.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

from ..models import Item, UpsertResult
from ..settings import DeletedItems
from ..store.base import Store, StoreUnavailable
from .analyzer import Analyzer, text_of
from .keywords import KeywordMatcher
from .reconcile import settle_purged

log = logging.getLogger(__name__)


def split_scored(
    items: Sequence[Item],
    store: Store,
    analyzer: Analyzer,
    keywords: KeywordMatcher,
    deleted_items: DeletedItems,
    *,
    placed: Mapping[str, tuple[str, float]] | None = None,
) -> tuple[list[Item], list[Item]]:
    """(items ready to store, items to score). Every item gets its fingerprint and keywords;
    an item the store has keeps its subreddit, creation time and reconcile state (where and
    when something was posted never changes). `placed`: where items not stored yet but on
    their way are going (subreddit, creation time), by fullname."""
    for item in items:
        text = text_of(item)
        item.text_hash = analyzer.text_hash(text)
        if keywords:
            item.keywords = keywords.find(text)
    known = store.known_scores(items) if items else {}
    ready: list[Item] = []
    to_score: list[Item] = []
    for item in items:
        before = known.get(item.id)
        if before is not None:
            item.subreddit, item.created_utc = before.subreddit, before.created_utc
            item.checked_at, item.reconcile_stage = before.checked_at, before.reconcile_stage
        elif placed is not None and item.id in placed:
            item.subreddit, item.created_utc = placed[item.id]
        if item.purged:  # no text to score: what it keeps comes from its stored version
            ready.append(settle_purged(item, before, deleted_items))
        elif before is None or before.text_hash != item.text_hash:
            to_score.append(item)
        else:
            item.take_scores(before)
            ready.append(item)
    return ready, to_score


def upsert_isolating(
    store: Store, items: Sequence[Item], reject: Callable[[Item, str], None]
) -> UpsertResult:
    """Store `items`; `reject(item, reason)` for each one the store refuses. StoreUnavailable
    (nothing more can be stored) is raised."""
    try:
        return store.upsert_items(items)
    except StoreUnavailable:
        raise
    except Exception as error:
        if len(items) == 1:
            log.warning("item %s rejected by the store: %s", items[0].id, describe(error))
            reject(items[0], f"not stored: {describe(error)}")
            return UpsertResult()
    # In halves: a batch of thousands with one bad item costs a few writes, not thousands.
    middle = len(items) // 2
    result = upsert_isolating(store, items[:middle], reject)
    result.merge(upsert_isolating(store, items[middle:], reject))
    return result


def message_of(error: BaseException) -> str:
    """The start of an error's message, on one line."""
    return " ".join(str(error).split())[:300]


def describe(error: BaseException) -> str:
    """An error as one line: its class and the start of its message."""
    message = message_of(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__
