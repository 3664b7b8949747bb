"""Property-based, from the app's own OpenAPI schema: every operation, bounded examples, must
answer without a server error and conform to the schema it documents.

Two runs. Negative data (what the schema forbids) must be refused. Positive data (what it
allows) must be accepted, `positive_data_acceptance` on for every operation: strategies
supply what a schema cannot say, dates to the ends of the calendar and of time zones, `since`
before `until`, cursors the API handed out, keywords that are tracked."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.hooks import HookContext
from schemathesis.schemas import BaseSchema

from reddit_sentiment.api.app import create_app
from reddit_sentiment.models import Kind
from reddit_sentiment.settings import load_settings
from reddit_sentiment.store.base import ItemQuery, Sort
from reddit_sentiment.store.sqlite import SqliteStore
from tests.api.strategies import parse, rfc3339_texts
from tests.factories import BASE_TIME, make_alert, make_item, make_run

TRACKED = "python"

# The schema's `date-time` is RFC 3339, which Hypothesis draws mostly from our own era; these
# reach the ends of the calendar at offsets up to ±23:59, where an instant leaves years 1-9999
# in UTC. Registered for the process: only these tests generate from a schema.
schemathesis.openapi.format("date-time", rfc3339_texts)


def _seeded_store() -> SqliteStore:
    store = SqliteStore(Path(tempfile.mkdtemp(prefix="schemathesis-")) / "st.db")
    store.open()
    post = make_item(item_id="t3_abc123", compound=0.4)
    older = make_item(created_utc=BASE_TIME - 9, score=3, compound=-0.2)
    for item in (post, older):
        item.keywords = [TRACKED]
    store.upsert_items([post, make_item(kind=Kind.COMMENT, link_id=post.id), older])
    store.save_run(make_run("20240101T000000-aaaa", BASE_TIME))
    store.save_run(make_run("20240101T001500-bbbb", BASE_TIME + 900))
    for n in range(2):
        store.save_alert(make_alert(f"alert{n}", BASE_TIME + n))
    return store


def _cursors(store: SqliteStore) -> dict[str, list[str]]:
    """Every first-page `next_cursor` the API hands out for this data, per operation path."""

    async def read() -> dict[str, list[str]]:
        pages = [await store.list_items(ItemQuery(sort=sort, limit=1)) for sort in Sort]
        runs = await store.list_runs(limit=1)
        alerts = await store.list_alerts(limit=1)
        return {
            "/alerts": [alerts.next_cursor] if alerts.next_cursor else [],
            "/posts": [p.next_cursor for p in pages if p.next_cursor],
            "/collections": [runs.next_cursor] if runs.next_cursor else [],
        }

    cursors = asyncio.run(read())
    assert all(cursors.values()), cursors  # the data must page, or there is nothing to draw
    return cursors


STORE = _seeded_store()
CURSORS = _cursors(STORE)
APP = create_app(load_settings(admin_api_key="schema-key", track_keywords=TRACKED), store=STORE)


def _schema(mode: GenerationMode) -> BaseSchema:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", APP)
    schema.config.generation.update(modes=[mode])
    return schema


negative = _schema(GenerationMode.NEGATIVE)
positive = _schema(GenerationMode.POSITIVE)

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.slow
@negative.parametrize()
@SETTINGS
def test_data_the_schema_forbids_is_refused(case: schemathesis.Case[Any]) -> None:
    # Operations that take nothing a request could get wrong are skipped here ("Impossible to
    # generate negative test cases"); the positive run calls them.
    case.call_and_validate()


# -- what the schema cannot say, put into every positive case -------------------------------


def _ordered(query: dict[str, Any]) -> dict[str, Any]:
    """`since` before `until`: a pair drawn in the wrong order is swapped, an empty one loses
    `until` (a one-sided window is valid)."""
    since, until = query.get("since"), query.get("until")
    if not isinstance(since, str) or not isinstance(until, str) or parse(since) < parse(until):
        return query
    if parse(since) == parse(until):
        return {name: value for name, value in query.items() if name != "until"}
    return {**query, "since": until, "until": since}


def map_case(context: HookContext, case: schemathesis.Case[Any]) -> schemathesis.Case[Any]:
    """A case hook, not query and path hooks: only case hooks also run on the coverage phase's
    cases. Deterministic (a hook draws nothing), so a drawn value picks its replacement."""
    if case.query:
        case.query = _ordered(case.query)
        path = case.operation.path.removeprefix("/api/v1")
        drawn = case.query.get("cursor")
        if isinstance(drawn, str) and path in CURSORS:
            # Cursors are opaque: the only valid ones are those a previous page returned.
            case.query["cursor"] = CURSORS[path][len(drawn) % len(CURSORS[path])]
    keyword = (case.path_parameters or {}).get("keyword")
    if isinstance(keyword, str) and len(keyword) % 2:
        # A drawn keyword is almost never tracked: a 404 (accepted, but it serves no series).
        case.path_parameters = {**(case.path_parameters or {}), "keyword": TRACKED}
    return case


@pytest.mark.slow
@positive.hooks.apply(map_case)
@positive.parametrize()
@SETTINGS
def test_data_the_schema_allows_is_served(case: schemathesis.Case[Any]) -> None:
    # Every built-in check, `positive_data_acceptance` included: a 422 here is a bug.
    case.call_and_validate()
