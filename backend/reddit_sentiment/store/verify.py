"""Aggregates as a verified invariant: recompute every aggregate from the stored items and
compare it with what the store keeps (`verify`), or rebuild it (`repair`).

The recomputation goes through the delta engine itself: each stored item's `Version` is added
to one `Deltas`, whose rows of every kind in `deltas.KINDS` are what the store should hold. A
kind added to the engine is verified with no change here. Items are streamed
(`Store.iter_items`); memory grows with the number of aggregate rows, not items.

The items and the aggregates are read in one snapshot where the store has one (SQLite). Where
it has none (Cosmos DB), a batch written between the two reads by a running collector would
look like drift; so what differs is looked at again, and only a difference (stored minus
expected) seen twice is reported (the others are counted as `unconfirmed`). The scheduled
verify runs between the collector's cycles anyway.

The term kinds count no item created before the store's `terms_from` (trending never reads
that far back; store/deltas.py): they are compared from there on, on every store.

A store that keeps its buckets exact only from some start (`kept_aggregates`; Cosmos DB, whose
TTL expires collected hours one by one) keeps imported items in documents of their own, which
no TTL expires: those (`imported_rows`) are compared with the imported items alone, for all
time (a kind it keeps in one document for both origins, Cosmos DB's links, has none).

Counts must match exactly; float figures (sums of compounds) within `SUM_TOLERANCE`,
since a store adds them in another order than the recomputation does. A row whose figures are
all zero counts as no row (a bucket emptied by moves or deletes).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .base import Store
from .deltas import KINDS, TERM_KINDS, AggregateKind, Deltas, Row, Version

SUM_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Drift:
    """One aggregate row that differs from the recomputation (None: no such row)."""

    kind: str
    key: tuple[Any, ...]
    stored: tuple[float, ...] | None
    expected: tuple[float, ...] | None

    def describe(self) -> str:
        names = KINDS[self.kind].figures
        key = ", ".join(f"{n}={v}" for n, v in zip(KINDS[self.kind].key, self.key, strict=True))

        def show(values: tuple[float, ...] | None) -> str:
            if values is None:
                return "(no row)"
            return " ".join(f"{n}={_number(v)}" for n, v in zip(names, values, strict=True))

        return f"{self.kind} [{key}]: stored {show(self.stored)} expected {show(self.expected)}"


@dataclass
class Report:
    """What one verify found."""

    store: str
    started_at: float
    items: int = 0
    rows: dict[str, int] = field(default_factory=dict)  # rows compared, per kind
    drifts: list[Drift] = field(default_factory=list)
    seconds: float = 0.0
    unconfirmed: int = 0  # differences gone or changed on the second look (writes under way)

    @property
    def ok(self) -> bool:
        return not self.drifts


def recompute(versions: Iterable[Version]) -> tuple[Deltas, int]:
    """Every aggregate row the items should make, and how many items there were."""
    deltas = Deltas()
    count = 0
    for version in versions:
        deltas.add(version, +1)
        count += 1
    return deltas, count


def compare(
    kind: AggregateKind, stored: Iterable[Row], expected: Iterable[Row], since: float | None
) -> tuple[list[Drift], int]:
    """The rows of `kind` that differ (buckets starting before `since` left out, and with a
    `since`, rows dated by a figure that neither side dates from `since` on), and how many
    keys were compared."""
    width = len(kind.key)
    dated = since is not None and kind.time is None and kind.dated_by is not None

    def keep(row: Row) -> bool:
        if since is None or (kind.time is None and kind.dated_by is None):
            return True
        start = kind.start(row)
        return start is not None and start >= since

    if dated:  # a row is compared when either side dates it from `since` on
        held = {_key(row[:width]): tuple(row[width:]) for row in stored}
        want = {_key(row[:width]): tuple(row[width:]) for row in expected}
        keys = {k for k, v in held.items() if keep((*k, *v))}
        keys |= {k for k, v in want.items() if keep((*k, *v))}
    else:
        held = {_key(row[:width]): tuple(row[width:]) for row in stored if keep(row)}
        want = {_key(row[:width]): tuple(row[width:]) for row in expected if keep(row)}
        keys = held.keys() | want.keys()
    drifts: list[Drift] = []
    for key in sorted(keys, key=repr):
        got, should = _nonzero(kind, held.get(key)), _nonzero(kind, want.get(key))
        if got is None and should is None:
            continue
        if got is None or should is None or not _same(kind.figures, got, should):
            drifts.append(Drift(kind.name, key, got, should))
    return drifts, len(keys)


def verify(store: Store) -> Report:
    """Recompute every aggregate the store keeps from its items and compare; what differs is
    looked at twice (see the module docstring)."""
    started = time.monotonic()
    report = _look(store)
    if report.drifts:
        again = _look(store)
        first = {(d.kind, d.key): _difference(d) for d in report.drifts}
        report.drifts = [
            d
            for d in again.drifts
            if (d.kind, d.key) in first and _same_difference(first[(d.kind, d.key)], d)
        ]
        report.unconfirmed = len(first) - len(report.drifts)
        report.items, report.rows = again.items, again.rows
    report.seconds = time.monotonic() - started
    return report


def _look(store: Store) -> Report:
    report = Report(store=store.name, started_at=time.time())
    with store.snapshot():
        expected, imported = Deltas(), Deltas()
        terms_since = store.terms_from()  # the term kinds' starts are this or later
        for item in store.iter_items():
            version = Version.of(item, terms_since)
            expected.add(version, +1)
            if item.imported:
                imported.add(version, +1)
            report.items += 1
        for name, since in store.kept_aggregates().items():
            drifts, compared = compare(
                KINDS[name], store.aggregate_rows(name, since), expected.rows(name), since
            )
            own = None if since is None else store.imported_rows(name)
            if own is not None:  # imported history's own rows, exact for all time
                start = terms_since if name in TERM_KINDS else None  # (terms: from their start)
                kept, more = compare(KINDS[name], own, imported.rows(name), start)
                drifts, compared = drifts + kept, compared + more
            report.drifts.extend(drifts)
            report.rows[name] = compared
    return report


def _difference(drift: Drift) -> tuple[float, ...]:
    width = len(KINDS[drift.kind].figures)
    stored, expected = drift.stored or (0,) * width, drift.expected or (0,) * width
    return tuple(a - b for a, b in zip(stored, expected, strict=True))


def _same_difference(first: tuple[float, ...], drift: Drift) -> bool:
    return _same(KINDS[drift.kind].figures, first, _difference(drift))


def repair(store: Store) -> tuple[int, Report]:
    """Rebuild the aggregates from the items, then verify; the caller holds the collector
    lease (the `repair` command), so no writer races the rebuild. Returns the rows rewritten
    and the verify after."""
    return store.rebuild_aggregates(), verify(store)


def _key(values: Row) -> tuple[Any, ...]:
    """A key as both sides spell it (a JSON number may come back as 3600.0)."""
    return tuple(int(v) if isinstance(v, float) and v.is_integer() else v for v in values)


def _nonzero(kind: AggregateKind, values: tuple[float, ...] | None) -> tuple[float, ...] | None:
    """`values`, or None for no row or an empty one (a sum may keep a rounding residue)."""
    if values is None or _same(kind.figures, values, (0,) * len(values)):
        return None
    return values


def _same(names: tuple[str, ...], got: tuple[float, ...], should: tuple[float, ...]) -> bool:
    for _name, a, b in zip(names, got, should, strict=True):
        if isinstance(a, float) or isinstance(b, float):  # sums and sums of differences
            if not math.isclose(a, b, rel_tol=SUM_TOLERANCE, abs_tol=SUM_TOLERANCE):
                return False
        elif a != b:
            return False
    return True


def _number(value: float) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.6f}"
    return str(int(value))
