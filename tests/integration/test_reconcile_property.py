"""Random lifecycles (Hypothesis): items get new scores and ratios, are edited into any text,
deleted, removed or no longer served, over a few rounds, each followed by a reconcile pass.

Property: after every pass the store says what Reddit's latest versions say (scores, ratios,
texts, states; purged items have no text or author), an edited text carries the scores VADER
gives it, a purged item keeps its last scores (keep-scores) or counts nowhere (drop), and the
aggregates equal a recomputation from the items. Real PRAW, the fake Reddit, a SQLite file."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakereddit import FakeReddit
from reddit_sentiment.collection.analyzer import Analyzer, text_of
from reddit_sentiment.collection.clean import clean_text
from reddit_sentiment.collection.cycle import build_cycle
from reddit_sentiment.models import ItemState, RunStatus
from reddit_sentiment.store.sqlite import SqliteStore
from tests.integration.conftest import settings_for
from tests.integration.test_reconcile import lifecycle_data
from tests.invariants import assert_aggregates_match_items

POSTS = 4
FULLNAMES = [f"t3_lc{n}" for n in range(POSTS)] + [f"t1_lcc{n}" for n in range(POSTS)]


@dataclass
class Expected:
    score: int
    text: str | None = None  # None: never edited
    ratio: float | None = None
    state: Literal["live", "deleted", "removed", "gone"] = "live"


texts = st.text(max_size=60).filter(lambda t: t.strip() not in ("[deleted]", "[removed]"))
changes = st.one_of(
    st.tuples(st.just("score"), st.integers(-1000, 10**6)),
    st.tuples(st.just("ratio"), st.floats(0, 1)),
    st.tuples(st.just("text"), texts),
    st.tuples(st.sampled_from(["deleted", "removed", "gone"]), st.none()),
)
rounds = st.lists(
    st.lists(st.tuples(st.sampled_from(FULLNAMES), changes), max_size=6), min_size=1, max_size=3
)


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rounds=rounds, drop=st.booleans())
def test_after_every_pass_the_store_says_what_reddit_says(
    rounds: list[list[tuple[str, tuple[str, object]]]], drop: bool
) -> None:
    scorer = Analyzer(5000, mode="inline")
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeReddit.from_dataset(lifecycle_data(posts=POSTS)).start() as fake,
    ):
        store = SqliteStore(Path(tmp) / "property.db")
        store.open()
        config = settings_for(
            fake, ["python"], analyzer_mode="inline",
            deleted_items="drop" if drop else "keep-scores",
        )  # fmt: skip
        cycle = build_cycle(config, store)
        try:
            assert cycle.run().status is RunStatus.SUCCEEDED
            first = {i.id: i for i in asyncio.run(assert_aggregates_match_items(store))}
            expected = {f: Expected(score=first[f].score) for f in FULLNAMES}
            for changes_of_round in rounds:
                for fullname, (change, value) in changes_of_round:
                    want = expected[fullname]
                    if want.state != "live":  # what is gone stays gone
                        continue
                    if change == "score":
                        fake.revise(fullname, score=int(value))  # type: ignore[call-overload]
                        want.score = int(value)  # type: ignore[call-overload]
                    elif change == "ratio" and fullname.startswith("t3_"):
                        fake.revise(fullname, upvote_ratio=float(value))  # type: ignore[arg-type]
                        want.ratio = float(value)  # type: ignore[arg-type]
                    elif change == "text":
                        fake.revise(fullname, text=str(value))
                        want.text = str(value)
                    elif change in ("deleted", "removed", "gone"):
                        fake.revise(fullname, state=change)  # type: ignore[arg-type]
                        want.state = change  # type: ignore[assignment]
                run = cycle.reconcile(older_than=0, max_requests=None)
                assert run.status is RunStatus.SUCCEEDED, run.errors
                items = {i.id: i for i in asyncio.run(assert_aggregates_match_items(store))}
                for fullname, want in expected.items():
                    got = items[fullname]
                    assert got.checked_at is not None
                    if want.state != "live":
                        state = ItemState.DELETED if want.state == "deleted" else ItemState.REMOVED
                        assert got.state is state, (fullname, got.state)
                        assert (got.author, got.body, got.title or "") == (None, "", "")
                        assert got.counted is (not drop)
                        continue
                    assert got.score == want.score, fullname
                    if want.ratio is not None:
                        assert got.upvote_ratio == want.ratio
                    if want.text is not None:
                        assert got.body == clean_text(want.text)
                        assert got.state is ItemState.EDITED
                        assert got.compound == scorer.score(got).compound  # scored again
                    else:
                        assert got.state is ItemState.LIVE
                        assert got.compound == first[fullname].compound
                        assert text_of(got) == text_of(first[fullname])
        finally:
            cycle.close()
            store.close()
            scorer.close()
