"""`Alerting`: the one call the end of a collection cycle (or a reconcile pass) makes.

`after_cycle` reads the rules and, per rule, the hourly aggregates over its window and
baseline, the window's distinct authors and the rule's last alert (cooldown); a rule that
fires is recorded with its evidence and handed to the delivery worker. It runs in the
collector thread; the store's async reads are run by `run` (in the service: on the event
loop, awaited like any request's; in the CLI: on its own loop). Nothing in it raises: a rule
that cannot be evaluated is logged and the others go on.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ..models import Alert, AlertRule, Delivery, DeliveryStatus, Item, Kind
from ..settings import Settings
from ..store.base import HOUR, Bucket, ItemQuery, Sort, Store, hour_of
from .delivery import Dispatcher, Sender, apprise_send
from .evaluation import HourFigures, Outcome, evaluate, span_start
from .message import compose, evidence
from .rules import WINDOWS, mask_url, parse_duration

log = logging.getLogger(__name__)

T = TypeVar("T")
Runner = Callable[[Coroutine[Any, Any, Any]], Any]
EVIDENCE_POSTS = 3
# Deliveries an earlier process left pending (it stopped first) are sent by the next process
# that evaluates rules, unless their alert fired longer ago than this: those are recorded
# failed, saying why, rather than sent late.
RESUME_WITHIN_SECONDS = 86400.0
# Posts looked at to find a keyword rule's top three that mention it.
KEYWORD_EVIDENCE_SCAN = 100


class Alerting:
    def __init__(self, settings: Settings, store: Store, send: Sender = apprise_send) -> None:
        self.settings = settings
        self.store = store
        self.baseline_windows = settings.alert_baseline_windows
        self.dispatcher = Dispatcher(
            store,
            attempts=settings.alert_delivery_attempts,
            backoff_seconds=settings.alert_delivery_backoff_seconds,
            send=send,
        )
        self.fired: Counter[str] = Counter()
        self._resumed = False

    def resume_pending(self, run: Runner, now: float | None = None) -> int:
        """Once per process, before its first evaluation: queue again the alerts whose
        deliveries an earlier process left pending; how many were queued. Never raises."""
        if self._resumed:
            return 0
        self._resumed = True
        now = time.time() if now is None else now
        queued = 0
        try:
            cursor: str | None = None
            while True:  # alerts are few (a rule fires at most once per cooldown)
                page = run(self.store.list_alerts(limit=100, cursor=cursor))
                for alert in page.alerts:
                    if any(d.status is DeliveryStatus.PENDING for d in alert.deliveries):
                        queued += self._resume(alert, run, now)
                cursor = page.next_cursor
                if cursor is None:
                    return queued
        except Exception as error:
            log.error("alerts: pending deliveries could not be resumed: %s", error)
            return queued

    def _resume(self, alert: Alert, run: Runner, now: float) -> int:
        rule = run(self.store.get_alert_rule(alert.rule_id))
        why = (
            "the rule was deleted before this alert was delivered"
            if rule is None
            else "the service stopped before delivering, more than a day before it restarted"
            if alert.fired_at < now - RESUME_WITHIN_SECONDS
            else None
        )
        if rule is not None and why is None:
            log.info("alert %s: resuming its pending deliveries", alert.id)
            self.dispatcher.submit(alert, rule)
            return 1
        for delivery in alert.deliveries:
            if delivery.status is DeliveryStatus.PENDING:
                delivery.status, delivery.error = DeliveryStatus.FAILED, why
                delivery.updated_at = now
                self.dispatcher.failed[alert.rule_id] += 1
        self.store.save_alert(alert)
        return 0

    def after_cycle(self, run: Runner, now: float | None = None) -> list[Alert]:
        """Evaluate every rule now; record and queue the ones that fire. Never raises."""
        try:
            rules: list[AlertRule] = run(self.store.list_alert_rules())
        except Exception as error:
            log.error("alerts: could not read the rules: %s", error)
            return []
        now = time.time() if now is None else now
        fired: list[Alert] = []
        for rule in rules:
            try:
                outcome = self.check(rule, run, now)
                if not outcome.fires or self._cooling(rule, run, now):
                    continue
                alert = self.alert_for(outcome, run, now)
                self.store.save_alert(alert)
            except Exception as error:
                log.error("alerts: rule %s could not be evaluated: %s", rule.id, error)
                continue
            self.fired[rule.id] += 1
            log.info("alert %s fired: %s", alert.id, alert.title)
            self.dispatcher.submit(alert, rule)
            fired.append(alert)
        return fired

    def check(self, rule: AlertRule, run: Runner, now: float) -> Outcome:
        """The rule evaluated on the stored aggregates (no cooldown, nothing recorded)."""
        until = hour_of(now) + HOUR
        since = span_start(rule, now, self.baseline_windows)
        hours: dict[int, HourFigures] = {}
        if rule.keyword is not None:
            for k in run(self.store.keyword_aggregates(keyword=rule.keyword,
                         subreddit=rule.subreddit, since=since, until=until,
                         bucket=Bucket.HOUR)):  # fmt: skip
                _add(hours, int(k.bucket_start or 0), k.count, k.sum_compound, k.negative)
        else:
            for a in run(self.store.aggregates(subreddit=rule.subreddit, since=since,
                         until=until, bucket=Bucket.HOUR)):  # fmt: skip
                _add(hours, int(a.bucket_start or 0), a.count, a.sum_compound, a.negative)
        authors = run(self.store.distinct_authors(
            subreddit=rule.subreddit, keyword=rule.keyword,
            since=now - WINDOWS[rule.window] * HOUR, until=until,
        ))  # fmt: skip
        return evaluate(rule, hours, int(authors), now, self.baseline_windows)

    def cooldown_left(self, rule: AlertRule, run: Runner, now: float) -> float:
        """Seconds until the rule may fire again (0: now)."""
        page = run(self.store.list_alerts(limit=1, rule_id=rule.id))
        if not page.alerts:
            return 0.0
        last: float = page.alerts[0].fired_at
        return max(0.0, last + parse_duration(rule.cooldown) - now)

    def _cooling(self, rule: AlertRule, run: Runner, now: float) -> bool:
        return self.cooldown_left(rule, run, now) > 0

    def top_posts(self, outcome: Outcome, run: Runner) -> list[Item]:
        rule = outcome.rule
        query = ItemQuery(
            kind=Kind.POST,
            subreddit=rule.subreddit,
            since=hour_of(outcome.window_start),
            until=outcome.window_end + 1,
            sort=Sort.SCORE,
            limit=KEYWORD_EVIDENCE_SCAN if rule.keyword else EVIDENCE_POSTS,
        )
        items: list[Item] = run(self.store.list_items(query)).items
        if rule.keyword is not None:
            items = [i for i in items if rule.keyword in i.keywords]
        return items[:EVIDENCE_POSTS]

    def alert_for(self, outcome: Outcome, run: Runner, now: float) -> Alert:
        """The record of a firing outcome, its deliveries pending."""
        rule = outcome.rule
        top = evidence(self.top_posts(outcome, run))
        title, body = compose(outcome, top)
        baseline = dict(outcome.baseline)
        if outcome.z is not None:
            baseline["z"] = outcome.z
        return Alert(
            id=f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime(now))}-{uuid.uuid4().hex[:8]}",
            rule_id=rule.id,
            rule_name=rule.name,
            fired_at=now,
            metric=rule.metric,
            window=rule.window,
            window_start=outcome.window_start,
            window_end=outcome.window_end,
            condition=dict(rule.condition),
            value=outcome.value if outcome.value is not None else 0.0,
            items=outcome.items,
            authors=outcome.authors,
            title=title,
            body=body,
            subreddit=rule.subreddit,
            keyword=rule.keyword,
            baseline=baseline or None,
            evidence=top,
            deliveries=[
                Delivery(index=i, target=mask_url(url), updated_at=now)
                for i, url in enumerate(rule.notify)
            ],
        )

    def close(self) -> None:
        self.dispatcher.close()


def _add(hours: dict[int, HourFigures], hour: int, count: int, total: float, neg: int) -> None:
    before = hours.get(hour)
    if before is not None:
        count, total, neg = count + before.count, total + before.sum_compound, neg + before.negative
    hours[hour] = HourFigures(count, total, neg)
