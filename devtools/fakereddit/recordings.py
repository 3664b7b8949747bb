"""Recorded replay: PRAW cassettes (``{"interactions": [...]}``) answered verbatim.

Requests match recordings by method, normalised path and the query/body parameters that
decide the answer (page size and ``raw_json`` do not).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

JSON = dict[str, Any]
ACCESS_TOKEN_PATH = "/api/v1/access_token"
# Query/body parameters that never decide which recording answers a request.
IGNORED_MATCH_PARAMS = frozenset({"raw_json", "limit", "count", "api_type"})


@dataclass
class Interaction:
    """One recorded request/response pair from a cassette."""

    method: str
    path: str
    query: str
    request_body: str
    status: int
    body: str
    source: str

    def to_dict(self) -> JSON:
        """Return a JSON-friendly summary (without the potentially huge body)."""
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "source": self.source,
        }


def _normalize_path(path: str) -> str:
    """Canonical form used for routing and matching.

    Reddit ignores case in subreddit names, trailing slashes and a ``.json``
    suffix; ids are lower-case base36, so lower-casing everything is safe.
    """
    path = re.sub(r"/{2,}", "/", path.strip() or "/").lower()
    if path.endswith(".json"):
        path = path[: -len(".json")]
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    if not path.startswith("/"):
        path = "/" + path
    return path


def _parse_query(query: str) -> dict[str, str]:
    """Parse a query string into a dict (last value wins, as Reddit does)."""
    return dict(parse_qsl(query, keep_blank_values=True))


def _match_key(
    method: str, path: str, params: Mapping[str, str]
) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """Key under which recordings are matched: order and page size do not matter."""
    relevant = tuple(sorted((k, v) for k, v in params.items() if k not in IGNORED_MATCH_PARAMS))
    return method.upper(), _normalize_path(path), relevant


class _Recordings:
    """Replays cassettes; remembers what was played so tests can assert coverage."""

    def __init__(self) -> None:
        self.interactions: list[Interaction] = []
        self._by_key: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[int]] = {}
        self._played: set[int] = set()
        self._lock = threading.Lock()

    def load(self, *paths: Path | str) -> None:
        """Load cassette files, or every ``*.json`` file of directories."""
        files: list[Path] = []
        for raw in paths:
            path = Path(raw)
            if path.is_dir():
                files.extend(sorted(path.glob("*.json")))
            elif path.is_file():
                files.append(path)
            else:
                msg = f"recording path does not exist: {path}"
                raise FileNotFoundError(msg)
        if not files:
            msg = f"no recordings found in {[str(p) for p in paths]}"
            raise FileNotFoundError(msg)
        for file in files:
            data = json.loads(file.read_text(encoding="utf-8"))
            for raw_interaction in data["interactions"]:
                self._add(raw_interaction, file.name)

    def _add(self, raw: Mapping[str, Any], source: str) -> None:
        status = raw.get("status", 200)
        if isinstance(status, Mapping):
            status = status.get("code", 200)
        body = raw.get("body", "")
        if not isinstance(body, str):
            body = json.dumps(body)
        interaction = Interaction(
            method=str(raw["method"]).upper(),
            path=str(raw["path"]),
            query=str(raw.get("query") or ""),
            request_body=str(raw.get("request_body") or ""),
            status=int(status),
            body=body,
            source=source,
        )
        index = len(self.interactions)
        self.interactions.append(interaction)
        key = self._key_for(
            interaction.method, interaction.path, interaction.query, interaction.request_body
        )
        self._by_key.setdefault(key, []).append(index)

    @staticmethod
    def _key_for(
        method: str, path: str, query: str, body: str
    ) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        params = _parse_query(query)
        if method.upper() == "POST" and _normalize_path(path) != ACCESS_TOKEN_PATH:
            params.update(_parse_query(body))
        return _match_key(method, path, params)

    def match(self, method: str, path: str, query: str, body: str) -> Interaction | None:
        """Return the first unplayed matching interaction (or repeat the last one)."""
        key = self._key_for(method, path, query, body)
        with self._lock:
            indexes = self._by_key.get(key)
            if not indexes:
                return None
            chosen = next((i for i in indexes if i not in self._played), indexes[-1])
            self._played.add(chosen)
            return self.interactions[chosen]

    def unplayed(self, *, include_auth: bool = False) -> list[Interaction]:
        """Interactions never served."""
        with self._lock:
            return [
                item
                for i, item in enumerate(self.interactions)
                if i not in self._played
                and (include_auth or _normalize_path(item.path) != ACCESS_TOKEN_PATH)
            ]
