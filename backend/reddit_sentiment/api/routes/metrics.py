"""Prometheus metrics, so alerts can watch the collector instead of a person.

What the store holds (items, labels, means, the newest runs) is read from the store (shared
with the summary for STORE_CACHE_SECONDS), so every process of a deployment says the same;
the `collector_*` figures are this process's own (only the lease holder collects). A store
that cannot answer is reported as `reddit_sentiment_storage_up 0`, not as a failed scrape.

Per-subreddit series are bounded: the METRICS_TOP_SUBREDDITS largest by items keep their
own, the rest are summed under `subreddit="_other"` (no subreddit name starts with `_`).
Beside them: HTTP requests and latency per route template (prometheus-fastapi-instrumentator)
and the process, platform and GC collectors, all in the app's own registry.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, choose_encoder
from prometheus_client.registry import Collector
from prometheus_fastapi_instrumentator import Instrumentator

from ...collection import CollectionService
from ...models import CollectionRun, Label, RunKind, RunStatus, SubredditCounts
from ...store.base import Aggregate, Store, StoreUnavailable
from ..cache import StoreCache
from ..deps import CacheDep, ServiceDep, SettingsDep, StoreDep

router = APIRouter(tags=["metrics"])

PREFIX = "reddit_sentiment_"
# How far back the newest run of each status is looked for.
RUNS_LOOKED_AT = 100
OTHER = "_other"  # the subreddits beyond the top N, summed


def instrument(app: FastAPI) -> None:
    """Count and time every request by route template, in a registry of the app's own (so
    apps built side by side in one process never register a metric twice)."""
    registry = CollectorRegistry(auto_describe=True)
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    Instrumentator(
        should_group_status_codes=True,
        should_group_untemplated=True,  # unknown paths count under handler="none"
        excluded_handlers=["/metrics"],
        registry=registry,
    ).instrument(app, latency_lowr_buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
    app.state.metrics_registry = registry


class _Scraped(Collector):
    """One scrape's metric families, gathered (awaiting the store) before rendering."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


def _gauge(name: str, documentation: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, documentation, labels=list(labels))


def top_subreddits(totals: list[Aggregate], top: int) -> list[Aggregate]:
    """The `top` subreddits with the most items, and the rest summed as OTHER."""
    ranked = sorted(totals, key=lambda a: (-a.count, a.subreddit))
    kept, rest = ranked[:top], ranked[top:]
    if rest:
        other = Aggregate(OTHER, None)
        for agg in rest:
            other = other.plus(agg)
        kept.append(other)
    return kept


def _top_counts(counts: dict[str, SubredditCounts], top: int) -> list[tuple[str, SubredditCounts]]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1].fetched, kv[0]))
    kept, rest = ranked[:top], ranked[top:]
    if rest:
        other = SubredditCounts()
        for _, c in rest:
            for outcome in ("fetched", "new", "updated", "failed"):
                setattr(other, outcome, getattr(other, outcome) + getattr(c, outcome))
        kept.append((OTHER, other))
    return kept


async def _store_families(store: Store, cache: StoreCache, top: int) -> list[Metric]:
    totals = top_subreddits(await cache.get(("totals", None), store.aggregates), top)
    page = await cache.get(
        ("runs", RUNS_LOOKED_AT, RunKind.COLLECT),
        lambda: store.list_runs(RUNS_LOOKED_AT, kind=RunKind.COLLECT),
    )
    runs = page.runs
    items = _gauge("items", "Items stored", ("subreddit", "kind"))
    labels = _gauge("items_by_label", "Items stored by sentiment label", ("subreddit", "label"))
    mean = _gauge("mean_compound", "Mean VADER compound score of the stored items", ("subreddit",))
    for agg in totals:
        items.add_metric([agg.subreddit, "post"], agg.posts)
        items.add_metric([agg.subreddit, "comment"], agg.comments)
        for label in Label:
            labels.add_metric([agg.subreddit, label.value], getattr(agg, label.value))
        if agg.count:
            mean.add_metric([agg.subreddit], agg.sum_compound / agg.count)
    return [items, labels, mean, *_run_families(runs, top)]


def _run_families(runs: list[CollectionRun], top: int) -> list[Metric]:
    """The newest run in detail, and when the newest run of each status ended."""
    status = _gauge("last_run_status", "Status of the newest collection run (1 = its status)",
                    ("status",))  # fmt: skip
    started = _gauge("last_run_start_time_seconds", "When the newest collection run started")
    ended = _gauge("last_run_end_time_seconds", "When the newest collection run ended")
    counts = _gauge("last_run_items", "Items of the newest collection run, by outcome",
                    ("subreddit", "outcome"))  # fmt: skip
    errors = _gauge("last_run_errors", "Listings that failed in the newest collection run")
    by_status = _gauge(
        "run_end_time_seconds",
        f"When the newest run of each status ended (among the last {RUNS_LOOKED_AT} runs)",
        ("status",),
    )
    if runs:
        last = runs[0]
        for value in RunStatus:
            status.add_metric([value.value], 1.0 if last.status is value else 0.0)
        started.add_metric([], last.started_at)
        if last.finished_at is not None:
            ended.add_metric([], last.finished_at)
        for name, c in sorted(_top_counts(last.subreddits, top), key=lambda kv: kv[0]):
            for outcome in ("fetched", "new", "updated", "failed"):
                counts.add_metric([name, outcome], getattr(c, outcome))
        errors.add_metric([], len(last.errors))
    seen: set[RunStatus] = set()
    for run in runs:  # newest first
        if run.finished_at is not None and run.status not in seen:
            seen.add(run.status)
            by_status.add_metric([run.status.value], run.finished_at)
    return [status, started, ended, counts, errors, by_status]


def _collector_families(service: CollectionService) -> list[Metric]:
    enabled = _gauge("collector_enabled", "This process is configured to collect (1) or not")
    enabled.add_metric([], float(service.collection_enabled))
    leader = _gauge("collector_leader", "This process holds the collector lease")
    leader.add_metric([], float(service.is_leader))
    running = _gauge("collector_running", "A collection run is under way in this process")
    running.add_metric([], float(service.busy))
    families: list[Metric] = [enabled, leader, running, *_alert_families(service)]
    report = service.last_verify
    if report is not None:
        ran = _gauge("verify_last_run_time_seconds", "When this process's last scheduled "
                     "verify of the aggregates against the items ended")  # fmt: skip
        ran.add_metric([], report.started_at + report.seconds)
        took = _gauge("verify_duration_seconds", "How long the last scheduled verify took")
        took.add_metric([], report.seconds)
        drift = _gauge("verify_drift_rows", "Aggregate rows the last verify found differing "
                       "from a recomputation from the items, by kind", ("kind",))  # fmt: skip
        for kind in report.rows:
            drift.add_metric([kind], sum(1 for d in report.drifts if d.kind == kind))
        families += [ran, took, drift]
    limits = service.rate_limits
    if limits.seen_at is not None:  # Reddit's X-Ratelimit-* headers of the last response
        for name, doc, value in (
            ("reddit_ratelimit_remaining", "Requests left in Reddit's window", limits.remaining),
            ("reddit_ratelimit_used", "Requests used of Reddit's window", limits.used),
            ("reddit_ratelimit_reset_time_seconds", "When Reddit's window resets",
             limits.reset_at),
        ):  # fmt: skip
            if value is not None:
                gauge = _gauge(name, doc)
                gauge.add_metric([], float(value))
                families.append(gauge)
    next_at = service.next_collection_at()
    if next_at is not None:
        upcoming = _gauge("collector_next_run_time_seconds", "When this process collects next")
        upcoming.add_metric([], next_at.timestamp())
        families.append(upcoming)
    return families


def _alert_families(service: CollectionService) -> list[Metric]:
    """Alerts fired and deliveries failed per rule, by this process (the collecting one
    evaluates the rules) since it started."""
    fired = CounterMetricFamily(PREFIX + "alerts_fired", "Alerts fired by this process, per rule",
                                labels=["rule"])  # fmt: skip
    failed = CounterMetricFamily(
        PREFIX + "alert_deliveries_failed",
        "Alert deliveries given up after their retries by this process, per rule",
        labels=["rule"],
    )
    alerting = service.alerting
    if alerting is not None:
        for rule_id, count in sorted(alerting.fired.items()):
            fired.add_metric([rule_id], count)
        for rule_id, count in sorted(alerting.dispatcher.failed.items()):
            failed.add_metric([rule_id], count)
    return [fired, failed]


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "content": {CONTENT_TYPE_PLAIN_0_0_4: {}},
            "description": "Prometheus text format, or OpenMetrics when the scraper asks for it",
        }
    },
)
async def metrics(
    request: Request, store: StoreDep, service: ServiceDep, cache: CacheDep, settings: SettingsDep
) -> Response:
    up = _gauge("storage_up", "The store answered this scrape")
    families: list[Metric] = []
    try:
        families = await _store_families(store, cache, settings.metrics_top_subreddits)
        up.add_metric([], 1.0)
    except StoreUnavailable:
        up.add_metric([], 0.0)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Scraped([up, *families, *_collector_families(service)]))
    own: CollectorRegistry | None = getattr(request.app.state, "metrics_registry", None)
    if own is not None:
        registry.register(_Scraped(list(own.collect())))
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(registry), headers={"Content-Type": content_type})
