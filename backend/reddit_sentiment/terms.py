"""The text of an item and the content words ("terms") trending counts in it.

At the root (beside models) because two layers need the same answer: the analyzer scores
`text_of` an item, and the delta engine counts its `terms_for` per subreddit x hour on write,
from an item being stored or from a stored row alike, so the counts can be recomputed from
the items at any time.
"""

from __future__ import annotations

import re

from .models import Item, Kind

# Reddit's placeholders for removed text carry no sentiment of the author.
PLACEHOLDERS = frozenset({"[deleted]", "[removed]"})

_APOSTROPHES = "'\u2019-"
_WORD = re.compile(rf"[a-z][a-z0-9{_APOSTROPHES}]{{2,}}")
_STOP_TEXT = """
    about above after again against all also although always among and another any anyone
    anything are aren't around because been before being below between both but can can't
    cannot could couldn't did didn't does doesn't doing don't down during each either else
    enough even ever every few for from further get gets getting got had hadn't has hasn't
    have haven't having here hers herself him himself his how however i'd i'll i'm i've into
    isn't it's its itself just know let's like made make many may maybe might more most much
    must my myself need never not now off once one only other our ours ourselves out over own
    really same see she she's should shouldn't since some something still such than that that's
    the their theirs them themselves then there there's these they they'd they'll they're
    they've thing things think this those though through too under until very want was wasn't
    way we'd we'll we're we've well were weren't what what's when where which while who who's
    whom why will with within without won't would wouldn't yes yet you you'd you'll you're
    you've your yours yourself yourselves
    two three four five six seven eight nine ten first second last new old lot lots
    give gave going gone good bad great better best say said says tell told thank thanks
    nobody everyone everybody someone somebody people person guy guys time times year years
    day days today yesterday tomorrow week weeks actually literally probably pretty sure
    deleted removed https http www com amp gt lt nbsp edit
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())


def text_from(kind: str, title: str | None, body: str) -> str:
    """Submissions are scored on title + selftext, comments on their body."""
    body = "" if body.strip() in PLACEHOLDERS else body
    if kind == Kind.POST:
        return f"{title or ''}\n{body}".strip()
    return body.strip()


def text_of(item: Item) -> str:
    return text_from(item.kind, item.title, item.body)


def terms_of(text: str) -> set[str]:
    """Distinct content words: a term counts once per item (a mention, not a repetition)."""
    words = set(_WORD.findall(text.lower()))
    odd = [word for word in words if not word.isalnum()]  # with an apostrophe or hyphen
    if odd:
        words.difference_update(odd)
        for word in odd:
            word = word.strip(_APOSTROPHES)
            if word.endswith(("'s", "\u2019s")):  # possessive: "rocket's" is "rocket"
                word = word[:-2]
            if len(word) >= 3:
                words.add(word)
    return words - STOP_WORDS


def terms_for(kind: str, title: str | None, body: str) -> tuple[str, ...]:
    """The terms of one version of an item, sorted: what the term aggregates count of it."""
    return tuple(sorted(terms_of(text_from(kind, title, body))))
