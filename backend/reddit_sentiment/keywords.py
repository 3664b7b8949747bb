"""Tracked keywords: which of TRACK_KEYWORDS an item mentions.

A `$TICKER` entry matches `$tsla` in any case, or `TSLA` only as an upper-case whole word, so
the everyday words that are also tickers ("ON", "CAN", "GO", "ALL") do not count when written
in lower or mixed case. Any other entry matches as a whole word or phrase in any case.
"""

from __future__ import annotations

import re
from collections.abc import Iterable


class KeywordMatcher:
    def __init__(self, keywords: Iterable[str]) -> None:
        self.keywords: list[str] = []
        self._patterns: list[tuple[str, re.Pattern[str]]] = []
        for raw in keywords:
            keyword = raw.strip()
            if not keyword or keyword in self.keywords:
                continue
            self.keywords.append(keyword)
            self._patterns.append((keyword, _pattern(keyword)))

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def find(self, text: str) -> list[str]:
        """The tracked keywords the text mentions, in configuration order."""
        return [keyword for keyword, pattern in self._patterns if pattern.search(text)]


def _pattern(keyword: str) -> re.Pattern[str]:
    if keyword.startswith("$") and len(keyword) > 1:
        symbol = re.escape(keyword[1:])
        # "$tsla" in any case, or "TSLA" upper-case as a whole word (not "$TSLA" twice).
        return re.compile(rf"(?i:\${symbol}\b)|(?<![\w$]){symbol.upper()}(?!\w)")
    words = r"\s+".join(re.escape(part) for part in keyword.split())
    return re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE)


def canonical(keyword: str) -> str:
    """How a keyword is stored and looked up: tickers upper-case, words lower-case."""
    keyword = " ".join(keyword.split())
    return keyword.upper() if keyword.startswith("$") else keyword.lower()
