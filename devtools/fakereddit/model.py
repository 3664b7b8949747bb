"""The data set's things (subreddits, submissions, comments) and Reddit-style ids."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field


def _base36(number: int) -> str:
    """Encode like Reddit ids."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    if number == 0:
        return "0"
    out = []
    while number:
        number, rem = divmod(number, 36)
        out.append(digits[rem])
    return "".join(reversed(out))


def _stable_id(text: str) -> str:
    """Deterministic pseudo id (for users and subreddits that have no explicit one)."""
    return _base36(zlib.crc32(text.encode("utf-8")) + 36**5)


@dataclass
class _Comment:
    """A comment of the data set."""

    id: str
    submission_id: str
    parent: str  # fullname: t3_<submission> or t1_<comment>
    author: str
    body: str
    created_utc: float
    score: int
    sentiment: str | None = None
    stickied: bool = False
    distinguished: str | None = None
    edited: float | None = None  # Reddit's `edited`: false, or when
    removed_by: str | None = None  # Reddit's `removed_by_category` (text "[removed]")

    @property
    def name(self) -> str:
        """Reddit fullname."""
        return f"t1_{self.id}"


@dataclass
class _Submission:
    """A submission of the data set, with its comments indexed by parent."""

    id: str
    subreddit: str  # lower-case key
    title: str
    selftext: str
    author: str
    created_utc: float
    score: int
    url: str | None = None
    stickied: bool = False
    over_18: bool = False
    link_flair_text: str | None = None
    upvote_ratio: float = 0.9
    sentiment: str | None = None
    edited: float | None = None  # Reddit's `edited`: false, or when
    removed_by: str | None = None  # Reddit's `removed_by_category` (text "[removed]")
    comments: list[_Comment] = field(default_factory=list)
    children: dict[str, list[_Comment]] = field(default_factory=dict)
    _sizes: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """Reddit fullname."""
        return f"t3_{self.id}"

    def index_comments(self) -> None:
        """Rebuild the parent -> replies index (after comments were added)."""
        self.children = {}
        self._sizes = {}
        for comment in self.comments:
            self.children.setdefault(comment.parent, []).append(comment)

    def subtree_size(self, comment: _Comment) -> int:
        """Number of comments in the subtree rooted at ``comment`` (itself included)."""
        cached = self._sizes.get(comment.id)
        if cached is not None:
            return cached
        # Iterative post-order so that deep generated threads cannot hit recursion limits.
        stack: list[tuple[_Comment, bool]] = [(comment, False)]
        while stack:
            node, done = stack.pop()
            if done:
                self._sizes[node.id] = 1 + sum(
                    self._sizes[c.id] for c in self.children.get(node.name, [])
                )
                continue
            if node.id in self._sizes:
                continue
            stack.append((node, True))
            stack.extend(
                (c, False) for c in self.children.get(node.name, []) if c.id not in self._sizes
            )
        return self._sizes[comment.id]


@dataclass
class _Subreddit:
    """A subreddit of the data set."""

    name: str
    id: str
    title: str
    description: str
    subscribers: int
    created_utc: float
    submissions: list[_Submission] = field(default_factory=list)
