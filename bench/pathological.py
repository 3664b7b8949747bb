"""The `pathological` section of `make bench`: texts that make VADER slow, scored within bounds.

VADER's time grows with its words (emoji become words), and for some of them with the square of
the words; `score_text` cuts a text at a fixed budget of that work (see `WORK_BUDGET` in
reddit_sentiment/analyzer.py). Measured here, on a deterministic corpus of such texts:

1. worst text   the slowest single `score_text` over the corpus, ms (each text: best of 5, in
                this process; the Analyzer's default of 5,000 characters), which kind it is, and
                an ordinary post of 5,000 characters measured alongside
2. page         100 pathological texts / 100 ordinary ones, `score_text` in this process
3. cycles       a collection cycle of the real service against a fake Reddit serving those texts
                next to one serving ordinary texts, same shape (posts, comments per post)
"""

from __future__ import annotations

import itertools
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from reddit_sentiment.collection.analyzer import score_text

from .dataset import _WORDS
from .target import (
    Client,
    FakeRedditProcess,
    ServiceProcess,
    _Process,
    collector_env,
    get_run,
    start_collection,
)

if TYPE_CHECKING:
    from .bench import Profile

MAX_CHARS = 5000  # the Analyzer's default (ANALYZER_MAX_CHARS)
PAGE = 100
# By profile name: timings of each text and page (the best of), and the fake Reddit's data
# sets (posts, comments per post) with the cycles run on each.
SIZES = {"full": (5, 60, 2, 2), "tiny": (1, 4, 1, 1)}


def corpus(seed: int = 1) -> dict[str, str]:
    """One text per kind, the same for the same seed."""
    rng = random.Random(seed)
    vader = SentimentIntensityAnalyzer()
    emoji = sorted(key for key in vader.emojis if len(key) == 1)
    return {
        # emoji: each is replaced by its description, up to 7 words
        "emoji flood 😀 x5000": "😀" * 5000,
        "emoji flood 😍 x5000": "😍" * 5000,
        "emoji flood ✔ x5000": "✔" * 5000,
        "emoji flood, 5000 random": "".join(rng.choice(emoji) for _ in range(5000)),
        "emoji glued to words": "lol😀" * 1250,
        "emoji between words": "😀 x " * 1250,
        # words: a lexicon word after non-lexicon ones copies the whole word list up to 4 times
        "one word x5000": "good " * 5000,
        "'x good' x1000": "x good " * 1000,
        "'X GOOD' x1000": "X GOOD " * 1000,
        "'x x x good' x600": "x, x, x, good! " * 600,
        "'no x' x1000": "no x " * 1000,
        "'never good' x500": "never good " * 500,
        "'least good' x500": "least good " * 500,
        "'kind of good' x400": "kind of good " * 400,
        # "but": a list.index scan per word
        "'but' x2000": "but " * 2000,
        "'but' then 'good' x1200": "but " + "good " * 1200,
        "'good' x1200 then 'but'": "good " * 1200 + "but",
        "'but' then 'x good' x800": "but " + "x good " * 800,
        # punctuation, long tokens, marks, other scripts
        "'!' x5000": "good " + "!" * 5000,
        "'?' x5000": "bad " + "?" * 5000,
        "'good!!!!' x800": "good!!!! " * 800,
        "one token of 5000": "x" * 5000,
        "long repeated token": "supercalifragilistic" * 250,
        "long URL": "https://example.com/" + "a/" * 2500,
        "URLs x150": "https://example.com/x?q=good&r=bad " * 150,
        "combining marks x5000": "a" + "\u0301" * 5000,
        "combining marks in words": ("a" + "\u0301" * 30 + " good ") * 160,
        "RTL and zero-width": ("مرحبا\u200f good \u200b \u202e") * 300,
        "CJK x5000": "我" * 5000,
        "CJK words and 'good'": "我们 good " * 700,
    }


def ordinary(count: int, seed: int = 1) -> list[str]:
    """Texts like the generated data sets' (6 to 30 words)."""
    rng = random.Random(seed)
    return [
        " ".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 30))).capitalize() + "."
        for _ in range(count)
    ]


def long_ordinary() -> str:
    """An ordinary post of 5,000 characters: the sample data's longest selftext, repeated."""
    sample = resources.files("fakereddit") / "sample_data.json"
    posts = [
        post for sub in json.loads(sample.read_text())["subreddits"] for post in sub["submissions"]
    ]
    longest: str = max((post["selftext"] for post in posts), key=len)
    return ((longest + "\n\n") * (MAX_CHARS // len(longest) + 1))[:MAX_CHARS]


def _best_of(repeats: int, run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def worst_text(texts: dict[str, str], repeats: int = 3) -> dict[str, Any]:
    """The slowest single `score_text` of `texts`, in ms: each text's best of `repeats`, taken
    in turns (every text once, then again), so a burst of load on a shared machine slows one
    round of all of them rather than every try of one. An ordinary post of 5,000 characters
    takes its turns alongside, as a reference."""
    vader = SentimentIntensityAnalyzer()
    reference = "ordinary post, 5000 chars"
    timed = {**texts, reference: long_ordinary()}
    best = dict.fromkeys(timed, float("inf"))
    for _ in range(repeats):
        for kind, text in timed.items():
            start = time.perf_counter()
            score_text(vader, text, MAX_CHARS)
            best[kind] = min(best[kind], time.perf_counter() - start)
    kinds = {
        kind: {
            "ms": round(best[kind] * 1000, 2),
            "chars": len(text),
            "truncated": score_text(vader, text, MAX_CHARS)[4],
        }
        for kind, text in timed.items()
    }
    ordinary = kinds.pop(reference)
    worst = max(kinds, key=lambda kind: kinds[kind]["ms"])
    return {
        "worst_text_ms": kinds[worst]["ms"],
        "worst_kind": worst,
        "ordinary_5000_chars_ms": ordinary["ms"],
        "ordinary_5000_chars_truncated": ordinary["truncated"],
        "worst_over_ordinary": round(kinds[worst]["ms"] / ordinary["ms"], 2),
        "repeats": repeats,
        "max_chars": MAX_CHARS,
        "kinds": dict(sorted(kinds.items(), key=lambda kv: -kv[1]["ms"])),
    }


def _score_all(vader: SentimentIntensityAnalyzer, texts: list[str]) -> None:
    for text in texts:
        score_text(vader, text, MAX_CHARS)


def page(texts: list[str], normal: list[str], repeats: int = 3) -> dict[str, Any]:
    """`score_text` over a page of pathological texts / over a page of ordinary ones."""
    vader = SentimentIntensityAnalyzer()
    seconds = {
        name: _best_of(repeats, partial(_score_all, vader, group))
        for name, group in (("pathological", texts), ("ordinary", normal))
    }
    return {
        "texts": len(texts),
        "pathological_ms": round(seconds["pathological"] * 1000, 1),
        "ordinary_ms": round(seconds["ordinary"] * 1000, 1),
        "ratio": round(seconds["pathological"] / seconds["ordinary"], 1),
    }


# -- cycles against a fake Reddit serving a given data set --------------------------------------
def data_set(name: str, texts: list[str], posts: int, comments: int) -> dict[str, Any]:
    """The fake Reddit's data set JSON: one subreddit, `texts` used in turn for selftexts and
    comment bodies."""
    source = itertools.cycle(texts)
    submissions = []
    for p in range(posts):
        submissions.append(
            {
                "id": f"{name[:2]}{p:04d}",
                "title": f"{name} post {p}",
                "selftext": next(source),
                "author": f"author{p % 17}",
                "age_seconds": 60 + p * 60,
                "score": p % 50,
                "comments": [
                    {
                        "id": f"{name[:2]}{p:04d}c{c}",
                        "parent": None,
                        "author": f"commenter{c}",
                        "body": next(source),
                        "age_seconds": 30 + p * 60,
                        "score": c,
                    }
                    for c in range(comments)
                ],
            }
        )
    return {"subreddits": [{"name": name, "submissions": submissions}]}


class FakeRedditData(FakeRedditProcess):
    """`python -m fakereddit --data FILE` on a free port."""

    def __init__(self, path: Path, subreddits: list[str]) -> None:
        super().__init__(0, 0, 0)
        self.path = path
        self.subreddits = subreddits

    def start(self) -> Self:
        argv = [sys.executable, "-m", "fakereddit", "--port", "0"]
        argv += ["--data", str(self.path), "--background"]
        self._proc = _Process(argv, os.environ, Path(tempfile.gettempdir()))
        self.url = self._proc.wait_for_line(r"(http://\S+)", timeout=120).group(1)
        return self


def _ready(status: Client) -> dict[str, Any]:
    _, body = status.json("GET", "/api/v1/health/ready")
    collection: dict[str, Any] = body["collection"]
    return collection


def _wait(status: Client, key: str, value: bool, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _ready(status)[key] is not value:
        if time.monotonic() > deadline:
            raise RuntimeError(f"collection.{key} did not become {value} in {timeout:.0f}s")
        time.sleep(0.05)


def _finished(status: Client, run_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not (run := get_run(status, run_id)).get("finished_at"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"run {run_id} did not finish in {timeout:.0f}s")
        time.sleep(0.05)
    return run


def cycle_seconds(path: Path, subreddit: str, cycles: int) -> dict[str, Any]:
    """Collection cycles of the real service against the data set at `path`: the best one.

    Each cycle is the first of a new service (an empty database): a second cycle over the same
    data finds every item known and unchanged, and scores none of them.
    """
    runs = []
    with FakeRedditData(path, [subreddit]) as fake:
        for _ in range(cycles):
            service = ServiceProcess(env=collector_env(fake)).start()
            try:
                status = Client(service.url)
                _wait(status, "warm", True, 60)
                run_id = start_collection(status)
                if run_id is None:
                    raise RuntimeError("a collection was already running")
                runs.append(_finished(status, run_id, 600))
            finally:
                service.stop()
    timed = []
    for run in runs:
        seconds = _epoch(run["finished_at"]) - _epoch(run["started_at"])
        fetched = sum(sub["fetched"] for sub in run["subreddits"].values())
        timed.append({"status": run["status"], "seconds": round(seconds, 3), "items": fetched})
    best = min(timed, key=lambda run: run["seconds"])
    return {**best, "cycles": timed}


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def measure(profile: Profile) -> dict[str, Any]:
    repeats, posts, comments, cycles = SIZES.get(profile.name, SIZES["full"])
    texts = corpus(profile.seed)
    results: dict[str, Any] = worst_text(texts, repeats)
    pathological = [texts[kind] for kind in sorted(texts)]
    group = (pathological * (PAGE // len(pathological) + 1))[:PAGE]
    results["page"] = page(group, ordinary(PAGE, profile.seed), repeats)
    with tempfile.TemporaryDirectory(prefix="bench-pathological-") as tmp:
        measured = {}
        for name, source in (
            ("ordinary", ordinary(len(texts), profile.seed)),
            ("pathological", pathological),
        ):
            path = Path(tmp) / f"{name}.json"
            path.write_text(json.dumps(data_set(name, source, posts, comments)))
            measured[name] = cycle_seconds(path, name, cycles)
    results["cycle"] = {
        "posts": posts,
        "comments_per_post": comments,
        "ordinary": measured["ordinary"],
        "pathological": measured["pathological"],
        "ratio": round(measured["pathological"]["seconds"] / measured["ordinary"]["seconds"], 1),
    }
    return results
