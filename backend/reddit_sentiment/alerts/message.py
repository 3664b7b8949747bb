"""An alert's title and body: what changed, by how much, against which baseline, and the
window's top posts as evidence."""

from __future__ import annotations

from collections.abc import Sequence

from ..models import AlertRule, Item
from .evaluation import Outcome

REDDIT = "https://www.reddit.com"
_LABELS = {
    "mean_compound": "mean sentiment (VADER compound)",
    "mentions": "mentions",
    "negative_share": "share of negative items",
}


def scope(rule: AlertRule) -> str:
    where = f"r/{rule.subreddit}" if rule.subreddit else "all subreddits"
    return f"'{rule.keyword}' in {where}" if rule.keyword else where


def _number(metric: str, value: float) -> str:
    if metric == "negative_share":
        return f"{value:.1%}"
    if metric == "mentions":
        return f"{value:.1f}"
    return f"{value:+.3f}"


def permalink(item: Item) -> str:
    return item.permalink if item.permalink.startswith("http") else REDDIT + item.permalink


def evidence(items: Sequence[Item]) -> list[dict[str, object]]:
    return [
        {"id": i.id, "title": i.title or "", "permalink": permalink(i), "score": i.score}
        for i in items
    ]


def compose(outcome: Outcome, top: Sequence[dict[str, object]]) -> tuple[str, str]:
    """(title, body) of a firing rule."""
    rule = outcome.rule
    metric = rule.metric
    value = outcome.value if outcome.value is not None else 0.0
    label = _LABELS[metric]
    ((condition, threshold),) = rule.condition.items()
    title = f"{rule.name}: {label} {_number(metric, value)} for {scope(rule)} ({rule.window})"
    lines = [
        f"{label.capitalize()} for {scope(rule)} over the last {rule.window}: "
        f"{_number(metric, value)} ({outcome.items:.1f} items from {outcome.authors} authors).",
    ]
    base = outcome.baseline
    if condition.startswith("zscore"):
        lines.append(
            f"Baseline: mean {_number(metric, base['mean'])}, standard deviation "
            f"{base['stdev']:.4g} over the previous {int(base['windows'])} windows of "
            f"{rule.window}; change {value - base['mean']:+.4g}, z = {outcome.z:.2f} "
            f"({condition.replace('_', ' ')} {threshold:g})."
        )
    else:
        lines.append(
            f"Threshold: {condition} {_number(metric, threshold)}; by {abs(value - threshold):.4g}."
        )
        if "previous" in base:
            lines.append(
                f"Previous {rule.window}: {_number(metric, base['previous'])} "
                f"(change {value - base['previous']:+.4g})."
            )
        if "mean" in base:
            lines.append(
                f"Mean of the previous {int(base['windows'])} windows: "
                f"{_number(metric, base['mean'])}."
            )
    if top:
        lines.append("Top posts of the window:")
        lines += [f"{n}. {p['title']} ({p['score']} points) {p['permalink']}"
                  for n, p in enumerate(top, 1)]  # fmt: skip
    return title, "\n".join(lines)
