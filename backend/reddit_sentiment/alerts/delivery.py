"""The delivery worker: one thread sends each fired alert to its rule's targets with Apprise,
retries a failed target with bounded exponential backoff, and records every target's final
status in the store. A cycle only queues; nothing here can block or fail it.

Notify URLs carry secrets: they are used here and nowhere else, never logged; Apprise's own
log lines are captured per send (not propagated) and only their text, with the URL's parts
starred, is kept as a failed target's error.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlsplit

from ..models import Alert, AlertRule, DeliveryStatus
from ..store.base import Store

log = logging.getLogger(__name__)

# Apprise logs each send (and, at DEBUG, its URL): kept out of the service's log, and out of
# logging's last-resort stderr handler too.
_APPRISE_LOG = logging.getLogger("apprise")
_APPRISE_LOG.propagate = False
_APPRISE_LOG.addHandler(logging.NullHandler())

MAX_BACKOFF_SECONDS = 300.0

Sender = Callable[[str, str, str], str | None]


def _scrub(text: str, url: str) -> str:
    """`text` with the URL and each of its parts that could be a secret starred."""
    parts = urlsplit(url)
    secrets = [parts.password or "", parts.username or "", parts.query]
    secrets += parts.path.split("/")
    secrets += [p.split("=", 1)[-1] for p in parts.query.split("&") if "=" in p]
    # Parts shorter than 3 characters would star out ordinary words and say nothing anyway.
    for secret in sorted({url, *(s for s in secrets if len(s) > 2)}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text[:300]


def apprise_send(url: str, title: str, body: str) -> str | None:
    """Send once; None when it went through, else why not (scrubbed of the URL)."""
    import apprise

    notifier = apprise.Apprise()
    if not notifier.add(url):
        return "the notify URL is no longer one Apprise can parse"
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:  # type: ignore[no-untyped-call]
        ok = notifier.notify(title=title, body=body)
        text = captured.getvalue().strip()
    if ok:
        return None
    last = text.splitlines()[-1] if text else "the target refused the notification"
    return _scrub(last, url)


class Dispatcher:
    """Queue + one worker thread; counts deliveries failed per rule."""

    def __init__(
        self,
        store: Store,
        *,
        attempts: int = 4,
        backoff_seconds: float = 5.0,
        send: Sender = apprise_send,
    ) -> None:
        self.store = store
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self._send = send
        self._queue: queue.Queue[tuple[Alert, AlertRule] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.failed: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()

    def submit(self, alert: Alert, rule: AlertRule) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="alert-delivery", daemon=True
                )
                self._thread.start()
        self._queue.put((alert, rule))

    def idle(self, timeout: float = 30.0) -> bool:
        """Wait until every queued alert is delivered or given up (tests, the CLI)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self) -> None:
        """Stop after the current send; what is still queued, or waiting to be retried, stays
        `pending` in the store (`Alerting.resume_pending` sends it from the next process)."""
        self._stop.set()
        self._queue.put(None)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is None or self._stop.is_set():
                    return
                self._deliver(*job)
            except Exception as error:  # a store or library failure: the next alert goes on
                log.error("alert delivery failed: %s", type(error).__name__)
            finally:
                self._queue.task_done()

    def _deliver(self, alert: Alert, rule: AlertRule) -> None:
        for delivery in alert.deliveries:
            if delivery.status is not DeliveryStatus.PENDING:
                continue  # sent or given up before this process resumed the alert
            url = rule.notify[delivery.index] if delivery.index < len(rule.notify) else None
            for attempt in range(1, self.attempts + 1):
                delivery.attempts = attempt
                error = (
                    "the rule no longer has this target"
                    if url is None
                    else self._send(url, alert.title, alert.body)
                )
                if error is None:
                    delivery.status, delivery.error = DeliveryStatus.SENT, None
                    break
                delivery.error = error
                if attempt < self.attempts:
                    if self._stop.wait(self._backoff(attempt)):
                        return  # stopping: not given up, the next process resumes it
                    continue
                delivery.status = DeliveryStatus.FAILED
                break
            delivery.updated_at = time.time()
            if delivery.status is DeliveryStatus.FAILED:
                self.failed[rule.id] += 1
                log.warning(
                    "alert %s: delivery to %s failed after %d attempt(s): %s",
                    alert.id, delivery.target, delivery.attempts, delivery.error,
                )  # fmt: skip
            else:
                self.sent[rule.id] += 1
            self.store.save_alert(alert)

    def _backoff(self, attempt: int) -> float:
        return float(min(self.backoff_seconds * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS))
