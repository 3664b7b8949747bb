"""The one boundary where text from Reddit becomes text the service keeps.

Reddit's JSON can carry anything JSON can: lone surrogates (an emoji cut in half, sent as an
escaped `"\\ud83d"`), NUL, zero-width and direction marks, floods of combining characters.
Every text field the collector reads goes through `clean_text` before it is scored, matched
against keywords or stored, so both stores, the API, the page and the exports all see the same
string, and no encoder downstream (SQLite's UTF-8, Cosmos's JSON, a CSV writer) can fail on it:

- a surrogate code point (never valid on its own in UTF-8) becomes U+FFFD, the replacement
  character, so the reader sees that something was there;
- NUL is removed: it carries nothing a reader can see, C APIs treat it as the end of a string,
  and some JSON consumers reject it;
- a text longer than `MAX_TEXT_CHARS` is cut there (Reddit's own limit for a post's text is
  40,000 characters, so only a hostile or broken response reaches it).

Everything else, including zero-width and right-to-left marks and combining characters, is
kept as sent: it is legitimate text in some language.
"""

from __future__ import annotations

import math
import re
from typing import Any

MAX_TEXT_CHARS = 100_000
_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def clean_text(value: str) -> str:
    """`value` as the service keeps it (see the module docstring); idempotent."""
    if len(value) > MAX_TEXT_CHARS:
        value = value[:MAX_TEXT_CHARS]
    if value.isascii():
        return value.replace("\x00", "") if "\x00" in value else value
    if "\x00" in value:
        value = value.replace("\x00", "")
    return _SURROGATE.sub(REPLACEMENT, value)


def text_field(value: Any) -> str:
    """A text field of a Reddit thing: a string cleaned, a number written out, else ""."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return clean_text(str(value))
    return ""


# SQLite's INTEGER and JSON consumers that read numbers as doubles (Cosmos DB, JavaScript)
# agree on integers up to 2**53; a score or count beyond it is clamped, not refused.
_MAX_SAFE_INT = 2**53 - 1


def int_field(value: Any) -> int:
    """A count or score: an int, a float rounded, a numeric string; anything else is 0."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            return 0
        number = round(value)
    elif isinstance(value, str):
        try:
            parsed = float(value.strip())
        except ValueError:
            return 0
        if not math.isfinite(parsed):
            return 0
        number = round(parsed)
    else:
        return 0
    return max(-_MAX_SAFE_INT, min(_MAX_SAFE_INT, number))


# The last second a datetime can hold (9999-12-31T23:59:59Z): an item stamped later could not
# be shown by the API.
MAX_EPOCH = 253_402_300_799.0


def epoch_field(value: Any) -> float | None:
    """A Unix time (int, float or numeric string) between 1970 and 9999, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    try:
        epoch = float(value)
    except OverflowError:  # an integer beyond any float: JSON numbers have no size limit
        return None
    if not math.isfinite(epoch) or not 0 <= epoch <= MAX_EPOCH:
        return None
    return epoch
