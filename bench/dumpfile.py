"""Generated Reddit dump files: what the public dumps hold, in their shape, at any size.

One JSON object per line with the API's `data` field names; written with zstandard and a long
window (as the real files are: a reader that does not allow one fails on them), gzip or plain.
The mix is deterministic for a seed: five comments (3-40 words) to one post (a title; over half
link posts without text, the self texts with a long tail up to 600 words), 5 % of texts
emoji-heavy, seven words in ten without sentiment, in a handful of subreddits over 2019.
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import zstandard

START = 1_546_300_800  # 2019-01-01T00:00:00Z
SPAN = 365 * 86400
SUBREDDITS = ("python", "rust", "datascience", "AskReddit", "worldnews", "emoji_fans")
_WORDS = (
    *("great", "awful", "release", "bug", "feature", "love", "hate", "slow", "fast", "docs"),
    *("api", "python", "rust", "model", "data", "update", "broken", "fixed", "thanks", "the"),
    *("terrible", "amazing", "question", "answer", "build", "deploy", "test", "crash", "a"),
    *("memory", "speed", "team", "community", "issue", "helpful", "confusing", "clean", "not"),
    *("messy", "simple", "really", "very", "but", "good", "bad", "happy", "sad", "is", "it"),
)
# Most words of a real text carry no sentiment: they are drawn 7 times in 10.
_FILLER = (
    *("the", "a", "to", "of", "and", "in", "that", "it", "with", "for", "on", "this", "was"),
    *("have", "i", "you", "we", "they", "just", "code", "today", "time", "people", "thing"),
    *("way", "year", "my", "your", "there", "what", "when", "which", "new", "version", "if"),
)
_EMOJI = ("😀", "😂", "😡", "🔥", "👍", "💔", "🎉", "😢", "🤔", "❤️")


def _id36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = []
    while number:
        number, rem = divmod(number, 36)
        out.append(digits[rem])
    return "".join(reversed(out)) or "0"


def _text(rng: random.Random, words: int) -> str:
    chosen = (rng.choice(_FILLER if rng.random() < 0.7 else _WORDS) for _ in range(words))
    return " ".join(chosen).capitalize() + "."


def _emoji_text(rng: random.Random) -> str:
    parts = [rng.choice(_EMOJI) if rng.random() < 0.6 else rng.choice(_WORDS) for _ in range(30)]
    return " ".join(parts)


def thing(n: int, rng: random.Random, span: int = SPAN, short: bool = False) -> dict[str, Any]:
    """The n-th thing of a generated dump (the caller's rng gives the variety), created within
    `span` seconds from the start of 2019; `short`: no text longer than 20 words (quick to
    score, for tests)."""
    sub = SUBREDDITS[rng.randrange(len(SUBREDDITS))]
    created = START + rng.randrange(span)
    uid = _id36(36**5 + n)
    roll = rng.random()
    if n % 6 == 0:  # a submission: a title, often a long self text
        # Over half are link posts (no text); self texts have a long tail of long posts.
        words = 20 if short else min(600, int(rng.paretovariate(1.2) * 25))
        body = _text(rng, words) if roll < 0.45 else ""
        if roll > 0.95:
            body = _emoji_text(rng)
        return {
            "id": uid,
            "name": f"t3_{uid}",
            "subreddit": sub,
            "author": f"user{rng.randrange(5000)}",
            "created_utc": created,
            "title": _text(rng, rng.randint(4, 14)),
            "selftext": body,
            "score": rng.randrange(-20, 5000),
            "num_comments": rng.randrange(500),
            "permalink": f"/r/{sub}/comments/{uid}/",
        }
    body = _emoji_text(rng) if roll < 0.05 else _text(rng, rng.randint(3, 20 if short else 40))
    return {
        "id": uid,
        "subreddit": sub,
        "author": f"user{rng.randrange(5000)}",
        "created_utc": str(created) if roll > 0.97 else created,  # old dumps: strings
        "body": body,
        "score": rng.randrange(-20, 500),
        "link_id": f"t3_{_id36(36**5 + n - n % 6)}",
        "parent_id": f"t3_{_id36(36**5 + n - n % 6)}",
    }


def things(
    count: int, seed: int = 1, span: int = SPAN, short: bool = False
) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for n in range(count):
        yield thing(n, rng, span, short)


def open_for_writing(path: Path, window_log: int = 27) -> IO[bytes]:
    """A binary writer for `path` by its suffix: .zst with a long window, .gz, else plain."""
    raw = path.open("wb")
    if path.name.endswith(".zst"):
        params = zstandard.ZstdCompressionParameters.from_level(
            3, window_log=window_log, enable_ldm=True
        )
        compressor = zstandard.ZstdCompressor(compression_params=params)
        return compressor.stream_writer(raw, closefd=True)  # type: ignore[return-value]
    if path.name.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw, mode="wb")  # type: ignore[return-value]
    return raw


def write_lines(path: Path, lines: Iterable[bytes | str], window_log: int = 27) -> Path:
    """Write raw lines (each gets a newline) to a dump file at `path`."""
    with open_for_writing(path, window_log) as out:
        for line in lines:
            out.write(line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line)
            out.write(b"\n")
    return path


def write_dump(path: Path, objects: Iterable[dict[str, Any]], window_log: int = 27) -> Path:
    return write_lines(path, (json.dumps(obj, ensure_ascii=False) for obj in objects), window_log)
