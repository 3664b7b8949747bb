"""What an alert rule is: its fields checked once, for the API and ALERT_RULES_FILE alike."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..models import AlertRule, canonical
from ..settings import Settings
from ..store.base import Store

METRICS = ("mean_compound", "mentions", "negative_share")
# Window name -> hours.
WINDOWS = {"1h": 1, "6h": 6, "24h": 24}
CONDITIONS = ("below", "above", "zscore_above", "zscore_below")
MAX_TARGETS = 10
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_FIELDS = (
    "id", "name", "subreddit", "keyword", "metric", "window", "condition", "min_items",
    "min_authors", "cooldown", "notify",
)  # fmt: skip
_SUBREDDIT = re.compile(r"^[A-Za-z0-9_]{2,21}$")
_RULE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class RuleError(ValueError):
    """A rule that cannot be kept; the message says which field and why."""


def parse_duration(value: object, field: str = "cooldown") -> float:
    """Seconds of a duration like "30m", "6h", "1d" (or a number of seconds)."""
    if isinstance(value, bool):
        raise RuleError(f"{field}: expected a duration like '6h', got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise RuleError(f"{field}: expected a duration like '30m', '6h' or '1d', got {value!r}")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if not 0 <= seconds <= 30 * 86400:
        raise RuleError(f"{field}: must be between 0 and 30 days")
    return seconds


def mask_url(url: str) -> str:
    """A notify URL as it may be shown: its scheme and host, every secret starred."""
    from apprise import Apprise

    plugin = Apprise.instantiate(url, suppress_exceptions=True)
    shown = str(plugin.url(privacy=True)) if plugin else url  # type: ignore[no-untyped-call]
    scheme, _, rest = shown.partition("://")
    rest = rest.split("?", 1)[0]
    host, _, path = rest.partition("/")
    host = host.rpartition("@")[2] if plugin is None else host
    masked_path = "/".join(f"{part[:1]}***" for part in path.split("/") if part)
    return f"{scheme}://{host}" + (f"/{masked_path}" if masked_path else "")


def _notify_urls(value: object) -> list[str]:
    from apprise import Apprise

    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise RuleError("notify: expected a non-empty list of Apprise URLs")
    if len(value) > MAX_TARGETS:
        raise RuleError(f"notify: at most {MAX_TARGETS} URLs")
    urls: list[str] = []
    for index, url in enumerate(value):
        if not isinstance(url, str) or Apprise.instantiate(url, suppress_exceptions=True) is None:
            # Never the URL itself in the message: it may carry a token.
            scheme = str(url).partition("://")[0] if "://" in str(url) else ""
            hint = f" (scheme {scheme!r} is not one Apprise knows)" if scheme else ""
            raise RuleError(f"notify[{index}]: not a URL Apprise can send to{hint}")
        urls.append(url)
    return urls


def _condition(value: object) -> dict[str, float]:
    if not isinstance(value, Mapping) or len(value) != 1:
        raise RuleError(
            f"condition: expected one of {{{', '.join(f'{c!r}: x' for c in CONDITIONS)}}}"
        )
    ((name, threshold),) = value.items()
    if name not in CONDITIONS:
        raise RuleError(f"condition: unknown {name!r}; expected one of {', '.join(CONDITIONS)}")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise RuleError(f"condition.{name}: expected a number, got {threshold!r}")
    number = float(threshold)
    if number != number or abs(number) > 1e9:
        raise RuleError(f"condition.{name}: expected a finite number")
    return {str(name): number}


def _count(data: Mapping[str, Any], field: str) -> int:
    value = data.get(field, 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1_000_000:
        raise RuleError(f"{field}: expected a whole number from 0 to 1000000, got {value!r}")
    return value


def build_rule(
    data: Mapping[str, Any],
    settings: Settings,
    *,
    rule_id: str | None = None,
    source: str = "api",
    now: float | None = None,
) -> AlertRule:
    """A checked rule from its fields (an API body, a file entry); RuleError says what is
    wrong: an unknown field or metric, a keyword that is not tracked, a notify URL Apprise
    cannot parse, a subreddit that is not collected."""
    if not isinstance(data, Mapping):
        raise RuleError("a rule is an object of fields")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise RuleError(f"unknown field(s): {', '.join(map(str, unknown))}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise RuleError("name: expected a non-empty text of at most 200 characters")
    metric = data.get("metric")
    if not isinstance(metric, str) or metric not in METRICS:
        raise RuleError(f"metric: unknown {metric!r}; expected one of {', '.join(METRICS)}")
    window = data.get("window")
    if not isinstance(window, str) or window not in WINDOWS:
        raise RuleError(f"window: unknown {window!r}; expected one of {', '.join(WINDOWS)}")
    subreddit = data.get("subreddit")
    if subreddit is not None:
        if not isinstance(subreddit, str) or not _SUBREDDIT.match(
            subreddit.removeprefix("r/").removeprefix("/r/")
        ):
            raise RuleError(f"subreddit: not a subreddit name: {subreddit!r}")
        subreddit = subreddit.removeprefix("r/").removeprefix("/r/").lower()
        if settings.subreddits and subreddit not in settings.subreddits:
            raise RuleError(
                f"subreddit: r/{subreddit} is not collected (SUBREDDITS: "
                f"{', '.join(settings.subreddits)})"
            )
    keyword = data.get("keyword")
    if keyword is not None:
        if not isinstance(keyword, str) or canonical(keyword) not in settings.track_keywords:
            tracked = ", ".join(settings.track_keywords) or "none"
            raise RuleError(f"keyword: {keyword!r} is not tracked (TRACK_KEYWORDS: {tracked})")
        keyword = canonical(keyword)
    cooldown = data.get("cooldown", "6h")
    parse_duration(cooldown)
    given_id = data.get("id", rule_id)
    if given_id is not None and (not isinstance(given_id, str) or not _RULE_ID.match(given_id)):
        raise RuleError("id: expected 1-64 letters, digits, '-' or '_'")
    return AlertRule(
        id=given_id or uuid.uuid4().hex[:12],
        name=name.strip(),
        metric=str(metric),
        window=str(window),
        condition=_condition(data.get("condition")),
        notify=_notify_urls(data.get("notify")),
        subreddit=subreddit,
        keyword=keyword,
        min_items=_count(data, "min_items"),
        min_authors=_count(data, "min_authors"),
        cooldown=str(cooldown),
        created_at=time.time() if now is None else now,
        source=source,
    )


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:50]
    return slug or "rule"


def load_rules_file(path: Path, settings: Settings) -> list[AlertRule]:
    """The rules of a YAML or JSON file: a list of rules, or {"rules": [...]}. A rule without
    an `id` gets one from its name (`file-<name>`), so a restart replaces rather than adds.
    RuleError names the file, the rule and the field."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RuleError(f"{path}: cannot be read: {error.strerror or error}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise RuleError(f"{path}: not valid {path.suffix.lstrip('.') or 'YAML'}: {first}") from None
    if isinstance(data, Mapping):
        data = data.get("rules")
    if data is None:
        return []
    if not isinstance(data, Sequence) or isinstance(data, str):
        raise RuleError(f"{path}: expected a list of rules (or an object with 'rules')")
    rules: list[AlertRule] = []
    for index, entry in enumerate(data):
        label = entry.get("name", index) if isinstance(entry, Mapping) else index
        try:
            fallback = (
                f"file-{_slug(str(entry.get('name', '')))}" if isinstance(entry, Mapping) else None
            )
            rules.append(build_rule(entry, settings, rule_id=fallback, source="file"))
        except RuleError as error:
            raise RuleError(f"{path}: rule {label!r}: {error}") from None
    ids = [rule.id for rule in rules]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise RuleError(f"{path}: rule id(s) used twice: {', '.join(duplicated)}")
    return rules


async def install_rules_file(settings: Settings, store: Store) -> int:
    """Put ALERT_RULES_FILE's rules in the store (replacing them by id) and take out the
    rules an earlier version of the file had; returns how many the file holds."""
    import asyncio

    if settings.alert_rules_file is None:
        return 0
    rules = load_rules_file(settings.alert_rules_file, settings)
    kept = {rule.id for rule in rules}
    stale = [
        r.id for r in await store.list_alert_rules() if r.source == "file" and r.id not in kept
    ]

    def write() -> None:
        for rule in rules:
            store.save_alert_rule(rule)
        for rule_id in stale:
            store.delete_alert_rule(rule_id)

    await asyncio.to_thread(write)
    return len(rules)
