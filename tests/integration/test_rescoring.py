"""A text is scored once: an item seen again with the same text keeps its stored scores, and
one whose text changed is scored again (and the aggregates move with it). Real PRAW against
the fake Reddit, a real SQLite file, VADER in the cycle's thread."""

from __future__ import annotations

import asyncio
import copy
import json
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from fakereddit import FakeReddit
from reddit_sentiment.collection.analyzer import Analyzer, ScoringJob
from reddit_sentiment.collection.cycle import CollectionCycle, build_cycle
from reddit_sentiment.models import Item, RunStatus
from reddit_sentiment.store.sqlite import SqliteStore
from tests.integration.conftest import settings_for

SAMPLE: dict[str, Any] = json.loads(FakeReddit.sample_path().read_text(encoding="utf-8"))
# Things of r/python in the sample whose text Reddit shows as "[deleted]" or "[removed]":
# purged, so there is nothing to score.
PURGED_IN_SAMPLE = sum(
    thing.get(field) in ("[deleted]", "[removed]")
    for sub in SAMPLE["subreddits"]
    if sub["name"] == "python"
    for post in sub["submissions"]
    for thing, field in [(post, "selftext"), *((c, "body") for c in post.get("comments", []))]
)


class CountingAnalyzer(Analyzer):
    """The real analyzer, counting the texts handed to it for scoring."""

    submitted: int = 0

    def submit(self, items: Sequence[Item]) -> ScoringJob:
        self.submitted += len(items)
        return super().submit(items)


@contextmanager
def cycle_against(
    data: dict[str, Any], db: SqliteStore
) -> Iterator[tuple[CollectionCycle, CountingAnalyzer]]:
    """A cycle reading `data` from a fake Reddit (stopped on exit), and its counting analyzer."""
    with FakeReddit.from_dataset(data).start() as fake:
        settings = settings_for(fake, ["python"], analyzer_mode="inline")
        cycle = build_cycle(settings, db)
        analyzer = CountingAnalyzer(settings.analyzer_max_chars, mode="inline")
        cycle.analyzer = analyzer
        yield cycle, analyzer


async def test_unchanged_texts_are_not_scored_again_and_changed_ones_are(
    db: SqliteStore,
) -> None:
    with cycle_against(SAMPLE, db) as (first, scored):
        run = await asyncio.to_thread(first.run)
    assert run.status is RunStatus.SUCCEEDED, run.errors
    counts = run.subreddits["python"]
    assert counts.new > 0
    # A new store: every text is scored, but for the deleted and removed items' (issue 17).
    assert scored.submitted == counts.fetched - PURGED_IN_SAMPLE > 0

    # The same listings again, with one post's text edited into something bitter.
    edited = copy.deepcopy(SAMPLE)
    python = next(s for s in edited["subreddits"] if s["name"] == "python")
    post = python["submissions"][1]
    post["title"] = "This release is a terrible, awful disaster and I hate it"
    post["selftext"] = ""
    before = await db.get_item(f"t3_{post['id']}")
    assert before is not None and before.compound > 0

    with cycle_against(edited, db) as (second, scored):
        again = await asyncio.to_thread(second.run)
    assert again.status is RunStatus.SUCCEEDED, again.errors
    assert again.subreddits["python"].fetched == counts.fetched
    assert scored.submitted == 1  # only the edited text

    after = await db.get_item(f"t3_{post['id']}")
    assert after is not None
    expected = SentimentIntensityAnalyzer().polarity_scores(post["title"])["compound"]
    assert after.compound == expected < 0
    assert after.text_hash != before.text_hash
    (total,) = await db.aggregates(subreddit="python")
    stored = list(db.iter_items(subreddit="python"))
    assert math.isclose(total.sum_compound, sum(i.compound for i in stored), abs_tol=1e-9)
    assert total.negative == sum(i.compound <= -0.05 for i in stored)


async def test_a_store_from_before_fingerprints_scores_each_text_once_more(
    db: SqliteStore, tmp_path: Path
) -> None:
    with cycle_against(SAMPLE, db) as (cycle, scored):
        await asyncio.to_thread(cycle.run)
        # As an older version left it: no fingerprint on any item.
        conn = db._connect()
        conn.execute("UPDATE items SET text_hash = ''")
        scored.submitted = 0
        rescored = await asyncio.to_thread(cycle.run)
        assert scored.submitted == rescored.subreddits["python"].fetched - PURGED_IN_SAMPLE
        scored.submitted = 0
        await asyncio.to_thread(cycle.run)
        assert scored.submitted == 0
