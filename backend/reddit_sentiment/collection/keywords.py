"""Tracked keywords: which of TRACK_KEYWORDS an item mentions.

A `$TICKER` entry matches `$tsla` in any case, or `TSLA` only as an upper-case whole word, so
the everyday words that are also tickers ("ON", "CAN", "GO", "ALL") do not count when written
in lower or mixed case. An entry with a character of a script written without spaces between
words (Chinese, Japanese, Thai, Lao, Khmer, Burmese) matches anywhere in the text, in any case:
there a word runs into the next with nothing to mark where it starts ("我今天买了比特币很开心").
Any other entry matches as a whole word or phrase in any case.
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


# Scripts written without spaces between words, as Unicode blocks (whole blocks, so a code
# point Unicode has not assigned yet, or this Python's tables do not name, counts as its
# block's): Han ideographs (the unified block, its extensions and the compatibility
# ideographs), Hiragana, Katakana (with its extensions and the half-width forms), Thai, Lao,
# Khmer and Myanmar. Not Hangul: Korean puts spaces between words, so its keywords keep
# whole-word matching.
_UNSPACED_BLOCKS = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x19E0, 0x19FF),  # Khmer symbols
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xA9E0, 0xA9FF),  # Myanmar extended-B
    (0xAA60, 0xAA7F),  # Myanmar extended-A
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana
    (0x20000, 0x323AF),  # CJK extensions B to H, compatibility supplement
)


def _unspaced(keyword: str) -> bool:
    """The keyword has a character of a script written without spaces between words."""
    return any(low <= ord(char) <= high for char in keyword for low, high in _UNSPACED_BLOCKS)


def _pattern(keyword: str) -> re.Pattern[str]:
    if keyword.startswith("$") and len(keyword) > 1:
        symbol = re.escape(keyword[1:])
        # "$tsla" in any case, or "TSLA" upper-case as a whole word (not "$TSLA" twice).
        return re.compile(rf"(?i:\${symbol}\b)|(?<![\w$]){symbol.upper()}(?!\w)")
    words = r"\s+".join(re.escape(part) for part in keyword.split())
    if _unspaced(keyword):
        # No word boundary to look for: "比特币" in "我今天买了比特币很开心", and "Tesla特斯拉"
        # after "了" (a word character to `\w`, as every ideograph is).
        return re.compile(words, re.IGNORECASE)
    return re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE)
