"""The delta engine on its own: what one upsert moves, and that the moves add up."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reddit_sentiment.models import Kind
from reddit_sentiment.store.base import DAY, HOUR
from reddit_sentiment.store.deltas import (
    MAX_ENGAGEMENT,
    Deltas,
    Row,
    Version,
    engagement_of,
    item_change,
    terms_from,
)

from ..factories import BASE_TIME, make_item

HOUR0 = (int(BASE_TIME) // HOUR) * HOUR
ALL_TERMS = terms_from(BASE_TIME)  # the factories' items count their terms
DAY0 = (int(BASE_TIME) // DAY) * DAY


def version(**changes: Any) -> Version:
    fields: dict[str, Any] = {
        "subreddit": "python",
        "created_utc": BASE_TIME,
        "kind": "post",
        "compound": 0.5,
        "label": "positive",
        "keywords": ("rust", "go"),
    }
    fields.update(changes)
    return Version(**fields)


def test_a_new_item_adds_one_to_its_hour_day_total_and_each_keyword() -> None:
    change = item_change(None, version())
    assert change is not None and change.nonzero()
    assert change.hourly_rows() == [("python", HOUR0, 1, 0, 0.5, 1, 0, 0)]
    assert change.daily_rows() == [("python", DAY0, 1, 0, 0.5, 1, 0, 0)]
    assert change.total_rows() == [("python", 1, 0, 0.5, 1, 0, 0)]
    assert change.keyword_rows() == [
        ("rust", "python", HOUR0, 1, 0.5, 1, 0, 0),
        ("go", "python", HOUR0, 1, 0.5, 1, 0, 0),
    ]


def test_a_comment_counts_as_a_comment() -> None:
    change = item_change(None, version(kind="comment", keywords=()))
    assert change is not None
    assert change.hourly_rows() == [("python", HOUR0, 0, 1, 0.5, 1, 0, 0)]
    assert change.keyword_rows() == []


def test_a_rescored_item_moves_from_its_old_label_and_compound_to_the_new() -> None:
    change = item_change(version(), version(compound=-0.25, label="negative", keywords=("go",)))
    assert change is not None
    assert change.hourly_rows() == [("python", HOUR0, 0, 0, -0.75, -1, 0, 1)]
    assert change.daily_rows() == [("python", DAY0, 0, 0, -0.75, -1, 0, 1)]
    assert change.total_rows() == [("python", 0, 0, -0.75, -1, 0, 1)]
    assert change.keyword_rows() == [
        ("rust", "python", HOUR0, -1, -0.5, -1, 0, 0),
        ("go", "python", HOUR0, 0, -0.75, -1, 0, 1),
    ]


def test_an_item_counted_the_same_moves_nothing() -> None:
    assert item_change(version(), version()) is None
    # What the aggregates do not count (permalink, collection time) is no change.
    item = make_item(compound=0.5)
    again = make_item(compound=0.5, item_id=item.id)
    again.title, again.author, again.collected_at = item.title, item.author, 1.0
    again.permalink = "/r/python/comments/elsewhere/"
    assert item_change(Version.of(item, ALL_TERMS), Version.of(again, ALL_TERMS)) is None
    deltas = Deltas()
    assert deltas.add_upsert(version(), version()) is False
    assert not deltas.nonzero() and deltas.hourly_rows() == deltas.daily_rows() == []


def test_authors_are_counted_per_subreddit_hour_and_per_keyword() -> None:
    change = item_change(None, version(author="alice"))
    assert change is not None
    assert change.author_rows() == [
        ("", "python", HOUR0, "alice", 1),
        ("rust", "python", HOUR0, "alice", 1),
        ("go", "python", HOUR0, "alice", 1),
    ]
    # A deleted author is counted in every figure but the authors.
    gone = item_change(version(author="alice"), version(author=None))
    assert gone is not None and gone.hourly_rows() == []
    assert sorted(gone.author_rows()) == [
        ("", "python", HOUR0, "alice", -1),
        ("go", "python", HOUR0, "alice", -1),
        ("rust", "python", HOUR0, "alice", -1),
    ]
    assert Version.of(make_item(), ALL_TERMS).author is not None
    deleted = make_item()
    deleted.author = "[deleted]"
    assert Version.of(deleted, ALL_TERMS).author is None


def test_merge_with_sign_minus_one_cancels() -> None:
    first = item_change(None, version())
    second = item_change(version(), version(compound=-0.5, label="negative"))
    assert first is not None and second is not None
    total = Deltas()
    total.merge(first)
    total.merge(second)
    assert total.nonzero()
    total.merge(second, sign=-1)
    total.merge(first, sign=-1)
    assert not total.nonzero()
    assert total.daily_rows() == total.total_rows() == total.keyword_rows() == []


def test_days_and_totals_are_the_changed_hours_summed() -> None:
    deltas = Deltas()
    for offset in (0, HOUR, 2 * HOUR, DAY):
        deltas.add_upsert(None, version(created_utc=DAY0 + offset, keywords=()))
    deltas.add_upsert(None, version(subreddit="go", created_utc=DAY0, keywords=()))
    assert len(deltas.hourly_rows()) == 5
    assert deltas.daily_rows() == [
        ("python", DAY0, 3, 0, 1.5, 3, 0, 0),
        ("python", DAY0 + DAY, 1, 0, 0.5, 1, 0, 0),
        ("go", DAY0, 1, 0, 0.5, 1, 0, 0),
    ]
    assert deltas.total_rows() == [("python", 4, 0, 2.0, 4, 0, 0), ("go", 1, 0, 0.5, 1, 0, 0)]


# -- property: the deltas of any upserts add up to the aggregates of the final versions ----

# A few items, each with a fixed place (as the stores keep it); what changes is its score.
PLACES = [
    ("python", HOUR0, "post"),
    ("python", HOUR0 + 1800, "comment"),  # the same hour
    ("python", HOUR0 + 5 * HOUR, "comment"),  # another hour, maybe another day
    ("go", HOUR0, "post"),
    ("go", HOUR0 + DAY, "comment"),  # another day
]
SCORES = [(-0.75, "negative"), (-0.125, "neutral"), (0.0, "neutral"), (0.5, "positive")]
KEYWORDS = st.lists(st.sampled_from(["rust", "go", "c#"]), unique=True, max_size=3)
UPSERT = st.tuples(st.integers(0, len(PLACES) - 1), st.sampled_from(SCORES), KEYWORDS)


def _apply(table: dict[Row, list[float]], rows: list[Row], width: int) -> None:
    for row in rows:
        key, figures = row[:-width], row[-width:]
        sums = table.setdefault(key, [0] * width)
        for index, value in enumerate(figures):
            sums[index] += value


def _recomputed(final: dict[int, Version]) -> dict[str, dict[Row, list[float]]]:
    """The aggregates counted from scratch, without the engine."""
    tables: dict[str, dict[Row, list[float]]] = {n: {} for n in ("hourly", "daily", "totals")}
    tables["keyword_hourly"] = {}
    for v in final.values():
        hour = int(v.created_utc // HOUR) * HOUR
        label = ["positive", "neutral", "negative"].index(v.label)
        figures = [int(v.kind == Kind.POST), int(v.kind == Kind.COMMENT), v.compound, 0, 0, 0]
        figures[3 + label] = 1
        for name, key in (
            ("hourly", (v.subreddit, hour)),
            ("daily", (v.subreddit, hour // DAY * DAY)),
            ("totals", (v.subreddit,)),
        ):
            _apply(tables[name], [(*key, *figures)], 6)
        for keyword in v.keywords:
            row = (keyword, v.subreddit, hour, 1, v.compound, *figures[3:])
            _apply(tables["keyword_hourly"], [row], 5)
    return tables


def _nonzero(table: dict[Row, list[float]]) -> dict[Row, list[float]]:
    return {key: figures for key, figures in table.items() if any(figures)}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(UPSERT, max_size=6), max_size=6))
def test_applied_deltas_equal_the_aggregates_of_the_final_versions(
    batches: list[list[tuple[int, tuple[float, str], list[str]]]],
) -> None:
    stored: dict[int, Version] = {}
    tables: dict[str, dict[Row, list[float]]] = {
        n: {} for n in ("hourly", "daily", "totals", "keyword_hourly")
    }
    for batch in batches:
        latest = {n: (score, keywords) for n, score, keywords in batch}  # last one wins
        written: dict[int, Version] = {}
        deltas = Deltas()  # one batch, as SQLite applies it
        merged = Deltas()  # item by item, merged, as Cosmos applies it
        for n, ((compound, label), keywords) in latest.items():
            subreddit, created, kind = PLACES[n]
            after = Version(subreddit, created, kind, compound, label, tuple(keywords))
            deltas.add_upsert(stored.get(n), after)
            change = item_change(stored.get(n), after)
            if change is not None:
                merged.merge(change)
            written[n] = after
        assert merged.hourly_rows() == deltas.hourly_rows()
        assert merged.keyword_rows() == deltas.keyword_rows()
        stored.update(written)
        _apply(tables["hourly"], deltas.hourly_rows(), 6)
        _apply(tables["daily"], deltas.daily_rows(), 6)
        _apply(tables["totals"], deltas.total_rows(), 6)
        _apply(tables["keyword_hourly"], deltas.keyword_rows(), 5)
    expected = _recomputed(stored)
    for name, table in tables.items():
        assert _nonzero(table) == _nonzero(expected[name]), name


def test_every_aggregate_the_engine_keeps_is_a_verified_kind() -> None:
    """verify and repair cover the kinds in `KINDS`: a dict of rows added to `Deltas` without
    its entry there (and its rows method) would go unverified."""
    from reddit_sentiment.store.deltas import _ROWS, KINDS

    deltas = Deltas()
    post = Version("python", 3600.0, "post", 0.5, "positive", ("rust",), "someone", True,
                   ("launch",), "t3_x", None, 3)  # fmt: skip
    deltas.add(post, +1)
    kept = {name for name, value in vars(deltas).items() if isinstance(value, dict)}
    assert kept <= set(KINDS), f"aggregates not listed in deltas.KINDS: {kept - set(KINDS)}"
    assert set(_ROWS) == set(KINDS)
    for name, kind in KINDS.items():
        rows = deltas.rows(name)
        assert rows, name
        assert all(len(row) == len(kind.key) + len(kind.figures) for row in rows), name


def test_an_edit_moves_only_the_trending_rows_it_changes() -> None:
    item = make_item(compound=0.5, body="rocket launch", score=3)
    item.title = ""
    edited = make_item(compound=0.5, item_id=item.id, body="rocket landing", score=10)
    edited.title = ""
    change = item_change(Version.of(item, ALL_TERMS), Version.of(edited, ALL_TERMS))
    assert change is not None
    assert change.hourly_rows() == [] and change.keyword_rows() == []
    hour = (int(item.created_utc) // 3600) * 3600
    assert sorted(change.term_rows()) == [
        ("python", hour, "landing", 1),
        ("python", hour, "launch", -1),
    ]
    assert change.link_rows() == [("python", item.id, 0, 0, 0.0, 7, 0, 0.0)]


def test_engagement_stays_where_a_store_adds_it_up_exactly() -> None:
    """A score and comment count at the edge of what clean.py keeps (2**53 - 1) must not make
    an engagement a double-based store (Cosmos DB) rounds: found on hostile listings."""
    edge = 2**53 - 1
    assert engagement_of(Kind.POST, -edge, -338) == -MAX_ENGAGEMENT
    assert engagement_of(Kind.POST, edge, 5) == MAX_ENGAGEMENT
    assert engagement_of(Kind.POST, 12, 3) == 15 and engagement_of(Kind.COMMENT, 12, 3) == 0
    # Moving from one edge to the other stays exact in doubles, as a patch applies it.
    change = float(MAX_ENGAGEMENT) - float(-MAX_ENGAGEMENT)
    assert float(-MAX_ENGAGEMENT) + change == MAX_ENGAGEMENT
