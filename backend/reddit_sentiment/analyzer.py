"""VADER scoring with the standard thresholds and a cap on the text analysed."""

from __future__ import annotations

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from .models import Item, Kind, Label

POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05
# Reddit's placeholders for removed text carry no sentiment of the author.
_PLACEHOLDERS = frozenset({"[deleted]", "[removed]"})


def label_for(compound: float) -> Label:
    if compound >= POSITIVE_THRESHOLD:
        return Label.POSITIVE
    if compound <= NEGATIVE_THRESHOLD:
        return Label.NEGATIVE
    return Label.NEUTRAL


def text_of(item: Item) -> str:
    """Submissions are scored on title + selftext, comments on their body."""
    body = "" if item.body.strip() in _PLACEHOLDERS else item.body
    if item.kind is Kind.POST:
        return f"{item.title or ''}\n{body}".strip()
    return body.strip()


class Analyzer:
    """Built once: loading VADER's lexicon takes ~100 ms."""

    def __init__(self, max_chars: int = 5000) -> None:
        self.max_chars = max_chars
        self._vader = SentimentIntensityAnalyzer()

    def score_text(self, text: str) -> tuple[dict[str, float], bool]:
        # A known vaderSentiment issue makes some long, emoji-heavy texts take tens of
        # seconds, so only the first max_chars are analysed and the item says so.
        truncated = len(text) > self.max_chars
        if truncated:
            text = text[: self.max_chars]
        # Lone surrogates from badly encoded input would crash str methods downstream.
        text = text.encode("utf-8", "replace").decode("utf-8")
        return self._vader.polarity_scores(text), truncated

    def score(self, item: Item) -> Item:
        scores, truncated = self.score_text(text_of(item))
        item.compound = scores["compound"]
        item.pos = scores["pos"]
        item.neu = scores["neu"]
        item.neg = scores["neg"]
        item.label = label_for(item.compound)
        item.truncated = truncated
        return item
