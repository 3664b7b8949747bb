"""When a rule fires: its metric over a window ending now, from the hourly aggregates.

The window. A rule's window of W hours is the time range [now - W h, now]. The store keeps
hourly buckets, so the window is read as the buckets that overlap it (W + 1 of them, the
current partial hour included), each weighted by the share of it that lies inside:

* the current hour holds only what was created up to now, so all of it is inside (weight 1);
* the window's first hour is cut by now - W h: it counts by the share of the hour after that
  instant (at 10:15 a 1h window is all of 10:00-10:15 and 45/60 of 09:00-10:00);
* every hour between counts whole.

So a window always spans W hours of data, whenever in the hour it is evaluated, and the
figures are weighted sums: `items` (= the `mentions` metric) may be fractional, and
`mean_compound` and `negative_share` are ratios of the weighted sums. Distinct authors cannot
be split: they are counted over all the window's buckets, its first hour whole.

The baseline. The previous N windows (ALERT_BASELINE_WINDOWS, at least 24) of the same length
back to back before the current one, [now - (k+1)W, now - kW] for k = 1..N, weighted the same
way (a bucket cut by a window boundary is shared between the two windows by time). A window
is history only when the scope already had data then (its first bucket is not before the
first hour with items among those read), and, for the two ratio metrics, when it holds
items. The baseline is the mean and population standard deviation of the metric over the
usable windows. With fewer than N usable windows, or a standard deviation of 0 (no spread to
measure against), a z-score rule does not fire; threshold rules show the baseline when there
is one and never need it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..models import AlertRule
from ..store.base import HOUR, hour_of
from .rules import WINDOWS


@dataclass(slots=True, frozen=True)
class HourFigures:
    """One hour bucket of a rule's scope: items, their compound sum, the negative ones."""

    count: int
    sum_compound: float
    negative: int


@dataclass(slots=True, frozen=True)
class Measure:
    """A window's weighted figures."""

    items: float
    sum_compound: float
    negative: float

    def metric(self, name: str) -> float | None:
        """The metric's value; None for a ratio of an empty window."""
        if name == "mentions":
            return self.items
        if self.items <= 0:
            return None
        if name == "mean_compound":
            return self.sum_compound / self.items
        return self.negative / self.items


@dataclass(slots=True)
class Outcome:
    """What evaluating one rule found: whether it fires, and everything the message needs."""

    rule: AlertRule
    fires: bool
    reason: str
    window_start: float
    window_end: float
    value: float | None = None
    items: float = 0.0
    authors: int = 0
    baseline: dict[str, float] = field(default_factory=dict)
    z: float | None = None


def weight(hour: int, start: float, end: float, now: float) -> float:
    """The share of bucket `hour` that lies in [start, end]; the current hour's data spans
    only [hour, now]."""
    stop = min(hour + HOUR, now) if hour == hour_of(now) else hour + HOUR
    span = stop - hour
    if span <= 0:
        return 0.0
    inside = min(stop, end) - max(hour, start)
    return max(0.0, min(1.0, inside / span))


def measure(hours: Mapping[int, HourFigures], start: float, end: float, now: float) -> Measure:
    """Weighted figures of the window [start, end] from the hour buckets."""
    items = total = negative = 0.0
    for hour in range(hour_of(start), hour_of(end) + 1, HOUR):
        figures = hours.get(hour)
        if figures is None:
            continue
        share = weight(hour, start, end, now)
        items += share * figures.count
        total += share * figures.sum_compound
        negative += share * figures.negative
    return Measure(items, total, negative)


def baseline(
    hours: Mapping[int, HourFigures], metric: str, window_hours: int, now: float, windows: int
) -> tuple[list[float], float | None]:
    """The metric over the previous `windows` windows that are history (see the module
    docstring), newest first, and the previous window's value (None when it has none)."""
    length = window_hours * HOUR
    seen = [hour for hour, figures in hours.items() if figures.count > 0]
    first = min(seen) if seen else None
    values: list[float] = []
    previous: float | None = None
    for k in range(1, windows + 1):
        start, end = now - (k + 1) * length, now - k * length
        value = measure(hours, start, end, now).metric(metric)
        if k == 1:
            previous = value
        if first is None or hour_of(start) < first or value is None:
            continue
        values.append(value)
    return values, previous


def evaluate(
    rule: AlertRule,
    hours: Mapping[int, HourFigures],
    authors: int,
    now: float,
    baseline_windows: int,
) -> Outcome:
    """Whether `rule` fires at `now` on these hour buckets (which must reach back over the
    baseline: `span_start`) and the window's distinct authors. Pure: no store, no clock."""
    length = WINDOWS[rule.window] * HOUR
    start = now - length
    current = measure(hours, start, now, now)
    value = current.metric(rule.metric)
    history, previous = baseline(hours, rule.metric, WINDOWS[rule.window], now, baseline_windows)
    outcome = Outcome(rule, False, "", start, now, value, current.items, authors)
    if previous is not None:
        outcome.baseline["previous"] = previous
    z: float | None = None
    if history:
        mean = statistics.fmean(history)
        spread = statistics.pstdev(history)
        outcome.baseline.update(mean=mean, stdev=spread, windows=float(len(history)))
        if value is not None and spread > 0 and len(history) >= baseline_windows:
            z = (value - mean) / spread
    outcome.z = z
    if value is None:
        outcome.reason = "no items in the window"
        return outcome
    if current.items < rule.min_items:
        outcome.reason = f"{current.items:.1f} items, fewer than min_items {rule.min_items}"
        return outcome
    if authors < rule.min_authors:
        outcome.reason = f"{authors} authors, fewer than min_authors {rule.min_authors}"
        return outcome
    ((condition, threshold),) = rule.condition.items()
    if condition.startswith("zscore"):
        if len(history) < baseline_windows:
            outcome.reason = (
                f"too little history: {len(history)} of {baseline_windows} previous windows"
            )
            return outcome
        if z is None:
            outcome.reason = "the baseline has no spread (standard deviation 0)"
            return outcome
        compared = z
    else:
        compared = value
    holds = compared < threshold if condition.endswith("below") else compared > threshold
    outcome.fires = holds and math.isfinite(compared)
    shown = f"z = {compared:.2f}" if condition.startswith("zscore") else f"{compared:.4g}"
    outcome.reason = f"{shown} {'is' if holds else 'is not'} {condition} {threshold:g}"
    return outcome


def span_start(rule: AlertRule, now: float, baseline_windows: int) -> float:
    """The earliest instant `evaluate` needs buckets from: the oldest baseline window's start."""
    return now - (baseline_windows + 1) * WINDOWS[rule.window] * HOUR
