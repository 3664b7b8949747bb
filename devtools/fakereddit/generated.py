"""Deterministic synthetic data: generated subreddits, and a data set moved on like a live site."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable
from dataclasses import replace

from .dataset import _Dataset
from .model import _base36, _Comment, _Submission, _Subreddit

_POSITIVE = [
    "love", "great", "amazing", "fantastic", "helpful", "brilliant", "excellent", "wonderful",
    "happy", "impressive", "delightful", "superb", "awesome", "elegant", "reliable", "grateful",
]  # fmt: skip
_NEGATIVE = [
    "hate", "terrible", "awful", "broken", "useless", "disappointing", "horrible", "frustrating",
    "annoying", "worst", "sad", "angry", "buggy", "painful", "slow", "confusing",
]  # fmt: skip
_TOPICS = [
    "release", "library", "update", "article", "dataset", "report", "election", "market",
    "framework", "benchmark", "policy", "tutorial", "question", "compiler", "notebook", "model",
    "interview", "conference", "paper", "pipeline",
]  # fmt: skip
_NEUTRAL = [
    "was published today", "is scheduled for next week", "has three parts",
    "uses the default settings", "was discussed in the meeting", "is available on the website",
    "covers the basics", "lists the changes",
]  # fmt: skip
_POS_TEMPLATES = [
    "I {p} this {t}, it is {p2}.",
    "What a {p} {t}! Really {p2} work.",
    "The new {t} is {p} and {p2}.",
    "Honestly the {t} made me {p2}. {P}!",
]
_NEG_TEMPLATES = [
    "I {n} this {t}, it is {n2}.",
    "What a {n} {t}. Completely {n2}.",
    "The new {t} is {n} and {n2}.",
    "Honestly the {t} is {n2}. {N}.",
]
_NEU_TEMPLATES = [
    "The {t} {u}.",
    "Does anyone know if the {t} {u}?",
    "Note: the {t} {u}.",
]


def _generated_text(rng: random.Random, sentiment: str, sentences: int) -> str:
    """Deterministic text of one sentiment built from word lists."""
    parts = []
    for _ in range(sentences):
        topic = rng.choice(_TOPICS)
        if sentiment == "positive":
            word, word2 = rng.choice(_POSITIVE), rng.choice(_POSITIVE)
            text = rng.choice(_POS_TEMPLATES).format(p=word, p2=word2, P=word.capitalize(), t=topic)
        elif sentiment == "negative":
            word, word2 = rng.choice(_NEGATIVE), rng.choice(_NEGATIVE)
            text = rng.choice(_NEG_TEMPLATES).format(n=word, n2=word2, N=word.capitalize(), t=topic)
        else:
            text = rng.choice(_NEU_TEMPLATES).format(t=topic, u=rng.choice(_NEUTRAL))
        parts.append(text)
    return " ".join(parts)


def _generate_dataset(
    subreddits: int, posts: int, comments: int, seed: int, now: float
) -> _Dataset:
    """Build ``subreddits`` x ``posts`` submissions with ``comments`` comments per subreddit.

    Comments are spread over submissions with a Zipf-like skew (a few big
    threads, many small ones) and half of them are replies, so comment trees
    grow deep and wide enough to need ``more`` objects.
    """
    rng = random.Random(seed)
    dataset = _Dataset()
    sentiments = ["positive", "negative", "neutral"]
    weights = [0.4, 0.35, 0.25]
    counter = 36**5  # 6-character base36 ids, unique across posts and comments
    horizon = 48 * 3600.0
    cum_weights: list[float] = []
    total = 0.0
    for rank in range(posts):
        total += 1.0 / (rank + 1)
        cum_weights.append(total)
    for s in range(subreddits):
        name = f"sub{s}"
        sub = _Subreddit(
            name=name,
            id=_base36(36**4 + s),
            title=f"Generated subreddit {s}",
            description="Synthetic content for load tests.",
            subscribers=rng.randrange(1000, 1_000_000),
            created_utc=1_300_000_000.0,
        )
        post_list: list[_Submission] = []
        for _ in range(posts):
            counter += 1
            sentiment = rng.choices(sentiments, weights)[0]
            deleted = rng.random() < 0.02
            post_list.append(
                _Submission(
                    id=_base36(counter),
                    subreddit=name,
                    title=_generated_text(rng, sentiment, 1),
                    selftext="[deleted]"
                    if deleted
                    else (
                        ""
                        if rng.random() < 0.1
                        else _generated_text(rng, sentiment, rng.randint(1, 4))
                    ),
                    author="[deleted]" if deleted else f"user_{rng.randrange(5000)}",
                    created_utc=float(math.floor(now - rng.uniform(60.0, horizon))),
                    score=int(rng.paretovariate(1.2)) - 1 + rng.randrange(5),
                    upvote_ratio=round(rng.uniform(0.5, 1.0), 2),
                    sentiment=sentiment,
                )
            )
        if posts:
            targets = rng.choices(range(posts), cum_weights=cum_weights, k=comments)
            # shuffle which post is the "big" one so ids and sizes are not correlated
            order = list(range(posts))
            rng.shuffle(order)
            for target in targets:
                post = post_list[order[target]]
                counter += 1
                sentiment = rng.choices(sentiments, weights)[0]
                deleted = rng.random() < 0.03
                parent_comment = (
                    rng.choice(post.comments) if post.comments and rng.random() < 0.5 else None
                )
                earliest = parent_comment.created_utc if parent_comment else post.created_utc
                post.comments.append(
                    _Comment(
                        id=_base36(counter),
                        submission_id=post.id,
                        parent=parent_comment.name if parent_comment else post.name,
                        author="[deleted]" if deleted else f"user_{rng.randrange(5000)}",
                        body="[deleted]"
                        if deleted
                        else _generated_text(rng, sentiment, rng.randint(1, 3)),
                        created_utc=float(
                            math.floor(rng.uniform(earliest + 1, max(earliest + 2, now)))
                        ),
                        score=int(rng.paretovariate(1.5)) - 1 + rng.randrange(-2, 4),
                        sentiment=sentiment,
                    )
                )
        sub.submissions = post_list
        dataset.add_subreddit(sub)
    return dataset


# --------------------------------------------------------------------------- HTTP plumbing


def _churned(
    old: _Dataset,
    *,
    posts: int,
    comments: int,
    edits: int,
    rng: random.Random,
    now: float,
    subreddits: Iterable[str] | None,
) -> tuple[_Dataset, dict[str, int]]:
    """A copy of ``old`` moved on like a live site, and what was done (see ``FakeReddit.churn``).

    ``old`` and its items are not touched: request threads may still be reading it. With all
    counts 0 the answer is ``old`` itself.
    """
    sentiments, weights = ["positive", "negative", "neutral"], [0.4, 0.35, 0.25]
    done = {"added_posts": 0, "added_comments": 0, "edited": 0}
    wanted = set(old.subreddits)
    if subreddits is not None:
        wanted = {str(s).lower() for s in subreddits}
        if wanted - set(old.subreddits):
            msg = f"unknown subreddits: {sorted(wanted - set(old.subreddits))}"
            raise ValueError(msg)
    if not (posts or comments or edits):
        return old, done
    ids = (*old.submissions, *old.comments)
    counter = max((int(i, 36) for i in ids if re.fullmatch("[0-9a-z]+", i)), default=0)
    fresh = _Dataset()
    fresh.private = set(old.private)
    for key, sub in old.subreddits.items():
        copies = [replace(p, comments=list(p.comments)) for p in sub.submissions]
        if key not in wanted:
            fresh.add_subreddit(replace(sub, submissions=copies))
            continue
        editable = [(p, -1) for p, post in enumerate(copies) if post.author != "[deleted]"]
        editable += [
            (p, c)
            for p, post in enumerate(copies)
            for c, comment in enumerate(post.comments)
            if comment.author != "[deleted]"
        ]
        for p, c in rng.sample(editable, min(edits, len(editable))):
            post, bump = copies[p], rng.randint(1, 50)
            if c < 0:
                text = post.selftext
                if post.url is None and text:
                    feeling = post.sentiment or rng.choice(sentiments)
                    text = _generated_text(rng, feeling, rng.randint(1, 3))
                copies[p] = replace(post, score=post.score + bump, selftext=text)
            else:
                comment = post.comments[c]
                feeling = comment.sentiment or rng.choice(sentiments)
                text = _generated_text(rng, feeling, rng.randint(1, 3))
                post.comments[c] = replace(comment, score=comment.score + bump, body=text)
            done["edited"] += 1
        for _ in range(posts):
            counter += 1
            feeling = rng.choices(sentiments, weights)[0]
            copies.append(
                _Submission(
                    id=_base36(counter),
                    subreddit=key,
                    title=_generated_text(rng, feeling, 1),
                    selftext=_generated_text(rng, feeling, rng.randint(1, 3)),
                    author=f"user_{rng.randrange(5000)}",
                    created_utc=now,
                    score=rng.randint(1, 5),
                    upvote_ratio=round(rng.uniform(0.5, 1.0), 2),
                    sentiment=feeling,
                )
            )
            done["added_posts"] += 1
        for _ in range(comments if copies else 0):
            counter += 1
            post = rng.choice(copies)
            feeling = rng.choices(sentiments, weights)[0]
            replying = bool(post.comments) and rng.random() < 0.5
            post.comments.append(
                _Comment(
                    id=_base36(counter),
                    submission_id=post.id,
                    parent=rng.choice(post.comments).name if replying else post.name,
                    author=f"user_{rng.randrange(5000)}",
                    body=_generated_text(rng, feeling, rng.randint(1, 3)),
                    created_utc=now,
                    score=1,
                    sentiment=feeling,
                )
            )
            done["added_comments"] += 1
        fresh.add_subreddit(replace(sub, submissions=copies))
    return fresh, done
