"""A local fake Reddit HTTP API that real PRAW can talk to.

Why: the project must be testable without internet access or Reddit
credentials, yet exercise the real PRAW/prawcore stack (auth, pagination,
retries, error mapping).  The server speaks just enough of Reddit's OAuth API
for read-only clients, from two sources:

* recordings: PRAW's own cassettes (``{"interactions": [...]}``) replayed
  verbatim, so responses are byte-for-byte real Reddit JSON;
* a data set (subreddits -> submissions -> comments) from which realistic
  Reddit JSON is built on the fly, with real pagination and comment trees.

Faults (errors, 429s, slow answers, bad JSON, connection resets) and global
latency can be injected in-process or over HTTP (``/_fake/...``).

Only the standard library is used so that the fake can run anywhere.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal, NamedTuple
from urllib.parse import urlsplit

from .dataset import _Dataset, _sort_comments
from .faults import Fault, _ActiveFault
from .generated import _churned, _generate_dataset
from .model import _Comment, _Submission
from .recordings import ACCESS_TOKEN_PATH, Interaction, _normalize_path, _parse_query, _Recordings
from .rendering import JSON, _encode, _error_body, _flatten, _listing

SAMPLE_DATA_PATH = Path(__file__).with_name("sample_data.json")
CONTROL_PREFIX = "/_fake"
LISTING_SORTS = frozenset({"hot", "new", "top", "rising", "controversial", "comments", "search"})
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
RATELIMIT_WINDOW = 600


class RequestRecord(NamedTuple):
    """One API request seen by the server (control endpoints excluded)."""

    method: str
    path: str
    query: dict[str, str]


def _page_size(query: Mapping[str, str]) -> int:
    """Reddit's ``limit`` handling: default 25, clamped to 1..100."""
    try:
        limit = int(query.get("limit", DEFAULT_PAGE_SIZE))
    except ValueError:
        return DEFAULT_PAGE_SIZE
    if limit <= 0:
        return DEFAULT_PAGE_SIZE
    return min(limit, MAX_PAGE_SIZE)


# --------------------------------------------------------------------------- HTTP plumbing


@dataclass
class _Reply:
    """What the handler should send (or ``reset`` to drop the connection)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False

    @classmethod
    def json(
        cls, payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> _Reply:
        """A JSON reply."""
        return cls(status=status, body=_encode(payload), headers=dict(headers or {}))


class _Server(ThreadingHTTPServer):
    """Threaded server that can forcibly close idle keep-alive connections on stop."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], fake: FakeReddit) -> None:
        self.fake = fake
        self.open_connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Remember the connection so that ``stop()`` can close it."""
        with self.connections_lock:
            self.open_connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forget the connection once its handler is done."""
        with self.connections_lock:
            self.open_connections.discard(request)
        super().shutdown_request(request)

    def close_all_connections(self) -> None:
        """Unblock handler threads waiting on idle keep-alive connections."""
        with self.connections_lock:
            connections = list(self.open_connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP requests into ``FakeReddit._dispatch`` calls."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms stalls
    server: _Server
    server_version = "fakereddit/1.0"

    def do_GET(self) -> None:
        """Handle GET."""
        self._handle("GET")

    def do_POST(self) -> None:
        """Handle POST."""
        self._handle("POST")

    def do_DELETE(self) -> None:
        """Handle DELETE."""
        self._handle("DELETE")

    def do_PUT(self) -> None:
        """Handle PUT."""
        self._handle("PUT")

    def do_PATCH(self) -> None:
        """Handle PATCH."""
        self._handle("PATCH")

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        try:
            reply = self.server.fake._dispatch(method, self.path, dict(self.headers.items()), body)
        except Exception as exc:
            reply = _Reply.json(
                {"message": f"fake reddit error: {exc!r}", "error": 500}, status=500
            )
        if reply.reset:
            self._reset()
            return
        try:
            self.send_response(reply.status)
            headers = {"Content-Type": "application/json; charset=UTF-8", **reply.headers}
            if self.close_connection:
                # prawcore's token request says "Connection: close"; echo it, otherwise
                # urllib3 pools the socket we are about to close and the next call fails.
                headers["Connection"] = "close"
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(reply.body)
            self.wfile.flush()
        except OSError:  # client gave up (e.g. its timeout hit during a slow fault)
            self.close_connection = True

    def _reset(self) -> None:
        """Abort the connection with a TCP RST instead of an answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet; the request log is kept in ``FakeReddit.requests``."""


# --------------------------------------------------------------------------- the fake


class FakeReddit:
    """A fake Reddit API server for real PRAW clients.

    Build it with one of the class methods, ``start()`` it (or use it as a
    context manager) and point PRAW's ``reddit_url`` and ``oauth_url`` at
    ``url``.

    Knobs (constructor arguments, also plain attributes):

    * ``listing_cap``: listings end after this many items, like Reddit's ~1000
      (``None`` = no cap);
    * ``comment_page_limit`` / ``morechildren_limit``: comments per
      ``/comments/{id}`` and per ``/api/morechildren`` answer; the rest become
      ``more`` objects;
    * ``ratelimit_budget``: requests per 600 s window reported in the
      ``x-ratelimit-*`` headers; prawcore sleeps when the used share runs ahead
      of the window, so the default is large enough never to throttle;
    * ``unknown_subreddit_redirect``: answer unknown subreddits with a 302 to
      the search page (``prawcore.Redirect``) instead of a 404;
    * ``require_auth``: demand a bearer token from ``/api/v1/access_token``.
    """

    def __init__(
        self,
        *,
        private_subreddits: Iterable[str] = (),
        banned_subreddits: Iterable[str] = (),
        latency: float = 0.0,
        listing_cap: int | None = 1000,
        comment_page_limit: int = 500,
        morechildren_limit: int = 100,
        ratelimit_budget: int = 1_000_000,
        unknown_subreddit_redirect: bool = False,
        require_auth: bool = True,
    ) -> None:
        """Create an empty fake; add data with ``add_dataset``/``add_recordings``."""
        self.private_subreddits: set[str] = {s.lower() for s in private_subreddits}
        self.banned_subreddits: set[str] = {s.lower() for s in banned_subreddits}
        self.latency = latency
        self.listing_cap = listing_cap
        self.comment_page_limit = comment_page_limit
        self.morechildren_limit = morechildren_limit
        self.ratelimit_budget = ratelimit_budget
        self.unknown_subreddit_redirect = unknown_subreddit_redirect
        self.require_auth = require_auth
        self.requests: list[RequestRecord] = []
        self.unmatched: list[RequestRecord] = []
        self._dataset: _Dataset | None = None
        self._recordings: _Recordings | None = None
        self._faults: list[_ActiveFault] = []
        self._lock = threading.Lock()
        self._tokens: set[str] = set()
        self._token_counter = 0
        self._gone: set[str] = set()  # served by no /api/info any more (``revise``)
        self._window_start = time.time()
        self._window_used = 0
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # ---- construction

    @classmethod
    def from_recordings(cls, *paths: Path | str) -> FakeReddit:
        """Replay PRAW cassettes (files or directories of ``*.json``)."""
        return cls().add_recordings(*paths)

    @classmethod
    def from_dataset(cls, path_or_dict: Path | str | Mapping[str, Any]) -> FakeReddit:
        """Serve a data set (a JSON file path or the already-parsed mapping)."""
        return cls().add_dataset(path_or_dict)

    @classmethod
    def generated(cls, subreddits: int, posts: int, comments: int, seed: int = 0) -> FakeReddit:
        """Serve deterministic synthetic data: subreddits ``sub0..``, ``comments`` per subreddit."""
        fake = cls()
        fake._add(_generate_dataset(subreddits, posts, comments, seed, time.time()))
        return fake

    @classmethod
    def sample(cls) -> FakeReddit:
        """Serve the bundled demo data set (``sample_data.json``)."""
        return cls.from_dataset(SAMPLE_DATA_PATH)

    @staticmethod
    def sample_path() -> Path:
        """Where the bundled demo data set lives (to combine it with other sources)."""
        return SAMPLE_DATA_PATH

    def add_recordings(self, *paths: Path | str) -> FakeReddit:
        """Add cassettes; they take precedence over the data set."""
        if self._recordings is None:
            self._recordings = _Recordings()
        self._recordings.load(*paths)
        return self

    def add_responses(self, interactions: Iterable[Mapping[str, Any]]) -> FakeReddit:
        """Add interactions given in code, replayed like recordings: each a mapping of
        ``method``, ``path``, ``query`` (``limit``/``raw_json`` are ignored for matching,
        ``after`` is not), ``status`` and ``body``. A ``str`` body is sent as it is (truncated
        JSON, or JSON text with escaped lone surrogates as Reddit sends them); anything else
        is sent as its JSON."""
        if self._recordings is None:
            self._recordings = _Recordings()
        for interaction in interactions:
            self._recordings._add(interaction, "added")
        return self

    def add_dataset(self, path_or_dict: Path | str | Mapping[str, Any]) -> FakeReddit:
        """Add a data set (merged with any existing one)."""
        if isinstance(path_or_dict, Mapping):
            data: Mapping[str, Any] = path_or_dict
        else:
            data = json.loads(Path(path_or_dict).read_text(encoding="utf-8"))
        self._add(_Dataset.from_mapping(data))
        return self

    def add_generated(
        self, subreddits: int, posts: int, comments: int, seed: int = 0
    ) -> FakeReddit:
        """Add generated data to this fake (see ``generated``)."""
        self._add(_generate_dataset(subreddits, posts, comments, seed, time.time()))
        return self

    def _add(self, dataset: _Dataset) -> None:
        self.private_subreddits |= dataset.private
        if self._dataset is None:
            self._dataset = dataset
        else:
            self._dataset.merge(dataset)

    # ---- lifecycle

    def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeReddit:
        """Serve in a background daemon thread; ``port=0`` picks a free port."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _Server((host, port), self)
        bound_port = self._httpd.server_address[1]
        display_host = host if host not in {"", "0.0.0.0"} else "127.0.0.1"
        self.url = f"http://{display_host}:{bound_port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fakereddit-{bound_port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake sleeping slow requests and close open connections."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        httpd.close_all_connections()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeReddit:
        """Start on enter (if not started yet)."""
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        """Stop on exit."""
        self.stop()

    # ---- controls

    def add_fault(self, fault: Fault) -> Fault:
        """Inject a fault; the first active matching fault wins."""
        with self._lock:
            self._faults.append(_ActiveFault(fault))
        return fault

    def clear_faults(self) -> None:
        """Remove all faults."""
        with self._lock:
            self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        """Faults that are still active."""
        with self._lock:
            return [entry.fault for entry in self._faults if entry.active]

    def set_latency(self, seconds: float) -> None:
        """Add ``seconds`` to every API response (slow mode)."""
        self.latency = max(0.0, float(seconds))

    def revoke_tokens(self) -> None:
        """Invalidate issued access tokens (next API call gets a 401 and PRAW re-authenticates)."""
        with self._lock:
            self._tokens.clear()

    def churn(
        self,
        posts: int = 0,
        comments: int = 0,
        edits: int = 0,
        seed: int = 0,
        subreddits: Iterable[str] | None = None,
    ) -> dict[str, int]:
        """Move the data set on like a live site; return its sizes (``posts``, ``comments``).

        In each subreddit (all, or ``subreddits``): ``edits`` existing items get a higher
        score, and the self posts and comments among them a new text of the same sentiment;
        then ``posts`` new submissions and ``comments`` new comments (on random posts of the
        subreddit, half of them replies) appear, dated now, with ids after every existing one.
        All counts 0 only reads the sizes.

        Request threads read the data set without a lock, so the change is copy-on-write: a
        new data set is built and swapped in with one assignment, and a request being answered
        keeps the snapshot it started with (the old data set and its items are not touched).
        """
        if min(posts, comments, edits) < 0:
            msg = "posts, comments and edits must be >= 0"
            raise ValueError(msg)
        rng = random.Random(seed)
        now = float(math.floor(time.time()))
        with self._lock:  # one writer at a time
            old = self._require_dataset()
            fresh, done = _churned(
                old,
                posts=posts,
                comments=comments,
                edits=edits,
                rng=rng,
                now=now,
                subreddits=subreddits,
            )
            self._dataset = fresh
            return {"posts": len(fresh.submissions), "comments": len(fresh.comments), **done}

    def revise(
        self,
        fullname: str,
        *,
        score: int | None = None,
        upvote_ratio: float | None = None,
        text: str | None = None,
        state: Literal["deleted", "removed", "gone"] | None = None,
    ) -> None:
        """Change one thing the way Reddit's items change after they are listed: a new score
        or upvote ratio; a new text (marked edited now); deleted by its author ("[deleted]"
        author and text), removed by moderators ("[removed]", removed_by_category
        "moderator"), or gone (no longer served by ``/api/info``). What is served next says
        so, listings and ``/api/info`` alike."""
        with self._lock:
            dataset = self._require_dataset()
            kind, _, thing_id = fullname.partition("_")
            thing: _Submission | _Comment
            if kind == "t3":
                thing = dataset.submissions[thing_id]
            elif kind == "t1":
                thing = dataset.comments[thing_id]
            else:
                msg = f"not a t1/t3 fullname: {fullname!r}"
                raise ValueError(msg)
            if score is not None:
                thing.score = score
            if upvote_ratio is not None and isinstance(thing, _Submission):
                thing.upvote_ratio = upvote_ratio
            if text is not None:
                if isinstance(thing, _Submission):
                    thing.selftext = text
                else:
                    thing.body = text
                thing.edited = float(math.floor(time.time()))
            if state == "gone":
                self._gone.add(fullname)
            elif state is not None:
                thing.author = "[deleted]"
                marker = "[deleted]" if state == "deleted" else "[removed]"
                if isinstance(thing, _Submission):
                    thing.selftext = marker
                else:
                    thing.body = marker
                thing.removed_by = "deleted" if state == "deleted" else "moderator"
            dataset._encoded.pop(fullname, None)  # rendered again from the new version
            dataset._cache.clear()

    def clear_requests(self) -> None:
        """Forget the request log."""
        with self._lock:
            self.requests.clear()
            self.unmatched.clear()

    def request_count(self, path_pattern: str = "", method: str | None = None) -> int:
        """How many logged requests have a path matching ``path_pattern`` (``re.search``)."""
        regex = re.compile(path_pattern, re.IGNORECASE)
        with self._lock:
            return sum(
                1
                for r in self.requests
                if regex.search(r.path) and (method is None or r.method == method.upper())
            )

    def unplayed(self, *, include_auth: bool = False) -> list[Interaction]:
        """Recorded interactions never served (auth token requests excluded by default)."""
        return (
            [] if self._recordings is None else self._recordings.unplayed(include_auth=include_auth)
        )

    # ---- data set introspection (helpers for tests)

    def subreddit_names(self) -> list[str]:
        """Display names of the data set's subreddits."""
        return [] if self._dataset is None else [s.name for s in self._dataset.subreddits.values()]

    def expected_items(
        self,
        subreddit: str,
        kind: Literal["submissions", "comments"] = "submissions",
        sort: str = "new",
    ) -> list[JSON]:
        """The ``data`` dicts the server would serve for a subreddit (uncapped).

        ``kind="comments"`` is always newest first; submissions honour ``sort``
        (``hot``, ``new``, ``top`` with t=all, ``controversial``).
        """
        dataset = self._require_dataset()
        key = subreddit.lower()
        if kind == "comments":
            return [
                dataset.render_comment(c, link=True)["data"] for c in dataset.sorted_comments([key])
            ]
        posts = dataset.sorted_submissions([key], sort, "all", time.time())
        return [dataset.render_submission(p)["data"] for p in posts]

    def sentiment_labels(self) -> dict[str, str]:
        """Fullname -> sentiment label from the data set (for evaluating classifiers)."""
        dataset = self._require_dataset()
        labels = {p.name: p.sentiment for p in dataset.submissions.values() if p.sentiment}
        labels.update({c.name: c.sentiment for c in dataset.comments.values() if c.sentiment})
        return labels

    def _require_dataset(self) -> _Dataset:
        if self._dataset is None:
            msg = "this FakeReddit has no data set"
            raise LookupError(msg)
        return self._dataset

    # ---- request handling

    def _dispatch(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes
    ) -> _Reply:
        """Answer one request (called from handler threads)."""
        split = urlsplit(raw_path)
        path = split.path
        query = _parse_query(split.query)
        norm = _normalize_path(path)
        if norm == CONTROL_PREFIX or norm.startswith(CONTROL_PREFIX + "/"):
            return self._control(method, norm, body)

        record = RequestRecord(method, path, query)
        with self._lock:
            self.requests.append(record)
        if self.latency > 0 and self._stopping.wait(self.latency):
            return _Reply(reset=True)

        fault_reply = self._apply_fault(method, path)
        if fault_reply is not None:
            return fault_reply
        reply = self._answer(
            method, path, norm, split.query, headers, body.decode("utf-8", "replace"), record
        )
        if "x-ratelimit-used" not in reply.headers:
            reply.headers = {**self._ratelimit_headers(), **reply.headers}
        return reply

    def _ratelimit_headers(self) -> dict[str, str]:
        """Headers prawcore's RateLimiter reads; a big budget keeps it from sleeping."""
        now = time.time()
        with self._lock:
            if now - self._window_start >= RATELIMIT_WINDOW:
                self._window_start = now - ((now - self._window_start) % RATELIMIT_WINDOW)
                self._window_used = 0
            self._window_used += 1
            used = self._window_used
            reset = max(1, int(RATELIMIT_WINDOW - (now - self._window_start)))
        remaining = max(0, self.ratelimit_budget - used)
        return {
            "x-ratelimit-remaining": f"{float(remaining):.1f}",
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(reset),
        }

    def _apply_fault(self, method: str, path: str) -> _Reply | None:
        """Consume the first matching active fault and return its reply, if any."""
        with self._lock:
            chosen: Fault | None = None
            hit = 0
            for entry in self._faults:
                fault = entry.fault
                if not entry.active:
                    continue
                if fault.method is not None and fault.method.upper() != method.upper():
                    continue
                if not re.search(fault.path_pattern, path, re.IGNORECASE):
                    continue
                entry.hits += 1
                chosen, hit = fault, entry.hits
                break
        if chosen is None:
            return None
        if chosen.kind == "slow":
            if self._stopping.wait(chosen.delay):
                return _Reply(reset=True)
            return None
        if chosen.kind == "reset":
            return _Reply(reset=True)
        if chosen.kind == "malformed":
            return _Reply(
                status=200,
                body=b'{"kind": "Listing", "data": {"children": [',
                headers=self._ratelimit_headers(),
            )
        if chosen.kind == "flaky":
            return self._status_reply(503) if hit % 2 == 1 else None
        return self._status_reply(chosen.status, chosen.retry_after)

    def _status_reply(self, status: int, retry_after: float | None = None) -> _Reply:
        """An error answer shaped like Reddit's (headers included)."""
        headers = self._ratelimit_headers()
        extra: dict[str, Any] = {}
        if status == 429:
            wait = 1.0 if retry_after is None else retry_after
            headers.update(
                {
                    "Retry-After": f"{wait:g}",
                    "x-ratelimit-remaining": "0.0",
                    "x-ratelimit-used": str(self.ratelimit_budget),
                    "x-ratelimit-reset": str(max(1, math.ceil(wait))),
                }
            )
        elif retry_after is not None:
            headers["Retry-After"] = f"{retry_after:g}"
        if status == 401:
            headers["www-authenticate"] = 'Bearer realm="reddit", error="invalid_token"'
        if status == 403:
            extra["reason"] = "private"
        return _Reply.json(_error_body(status, **extra), status=status, headers=headers)

    def _answer(
        self,
        method: str,
        path: str,
        norm: str,
        raw_query: str,
        headers: Mapping[str, str],
        body: str,
        record: RequestRecord,
    ) -> _Reply:
        """Route an API request: auth, recordings, data set, fallbacks."""
        query = record.query
        if norm == ACCESS_TOKEN_PATH:
            return self._access_token(method, path, headers, body)
        if self.require_auth and not self._authorized(headers):
            return self._status_reply(401)
        if self._recordings is not None:
            interaction = self._recordings.match(method, path, raw_query, body)
            if interaction is not None:
                return _Reply(status=interaction.status, body=interaction.body.encode("utf-8"))
        if self._dataset is not None:
            reply = self._route_dataset(method, norm, query, body)
            if reply is not None:
                return reply
        with self._lock:
            self.unmatched.append(record)
        if self._recordings is not None and method == "GET" and "after" in query:
            # Cassettes only hold the first page: the next page is simply empty.
            return _Reply.json(_listing([]))
        return _Reply.json(_error_body(404), status=404)

    def _access_token(
        self, method: str, path: str, headers: Mapping[str, str], body: str
    ) -> _Reply:
        """``POST /api/v1/access_token``: needs HTTP basic auth, like Reddit."""
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if method != "POST" or not auth.lower().startswith("basic "):
            return _Reply.json(_error_body(401), status=401)
        try:
            base64.b64decode(auth.split(" ", 1)[1], validate=True)
        except ValueError:
            return _Reply.json(_error_body(401), status=401)
        if self._recordings is not None:
            interaction = self._recordings.match(method, path, "", body)
            if interaction is not None:
                try:
                    token = json.loads(interaction.body).get("access_token")
                except (ValueError, AttributeError):
                    token = None
                if isinstance(token, str):
                    with self._lock:
                        self._tokens.add(token)
                return _Reply(status=interaction.status, body=interaction.body.encode("utf-8"))
        form = _parse_query(body)
        if "grant_type" not in form:
            return _Reply.json({"error": "unsupported_grant_type"}, status=200)
        with self._lock:
            self._token_counter += 1
            token = f"fake-token-{self._token_counter}"
            self._tokens.add(token)
        return _Reply.json(
            {"access_token": token, "token_type": "bearer", "expires_in": 86400, "scope": "*"}
        )

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        """Bearer token issued by this server (``revoke_tokens`` invalidates them)."""
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer":
            return False
        with self._lock:
            return token in self._tokens

    # ---- data set routes

    def _route_dataset(
        self, method: str, norm: str, query: dict[str, str], body: str
    ) -> _Reply | None:
        """Answer from the data set, or ``None`` when the route is not one of ours."""
        dataset = self._dataset
        assert dataset is not None
        parts = [p for p in norm.split("/") if p]
        params = dict(query)
        if method == "POST":
            params.update(_parse_query(body))
        elif method != "GET":
            return None
        if parts[:2] == ["api", "morechildren"]:
            return self._morechildren(dataset, params)
        if parts[:2] == ["api", "info"]:
            return self._info(dataset, params)
        if parts and parts[0] == "comments" and len(parts) >= 2:
            return self._submission(
                dataset, parts[1], parts[3] if len(parts) >= 4 else None, params
            )
        if len(parts) >= 2 and parts[0] == "r":
            names = parts[1]
            rest = parts[2:]
            if rest[:1] == ["comments"] and len(rest) >= 2:
                return self._submission(
                    dataset, rest[1], rest[3] if len(rest) >= 4 else None, params, subreddit=names
                )
            resolved = self._resolve_subreddits(dataset, names)
            if isinstance(resolved, _Reply):
                return resolved
            if rest == ["about"]:
                if len(resolved) != 1:
                    return _Reply.json(_error_body(404), status=404)
                return _Reply.json(dataset.render_subreddit(dataset.subreddits[resolved[0]]))
            sort = rest[0] if rest else "hot"
            if len(rest) > 1 or sort not in LISTING_SORTS:
                return None
            return self._subreddit_listing(dataset, resolved, sort, params)
        return None

    def _resolve_subreddits(self, dataset: _Dataset, names: str) -> list[str] | _Reply:
        """Subreddit keys for ``a+b``, ``all``, ``popular``; errors as Reddit gives them."""
        if names in {"all", "popular"}:
            return [
                k
                for k in dataset.subreddits
                if k not in self.private_subreddits | self.banned_subreddits
            ]
        wanted = [n for n in names.split("+") if n]
        if len(wanted) == 1:
            name = wanted[0]
            if name in self.private_subreddits:
                return _Reply.json(_error_body(403, reason="private"), status=403)
            if name in self.banned_subreddits:
                return _Reply.json(_error_body(404, reason="banned"), status=404)
            if name not in dataset.subreddits:
                return self._unknown_subreddit(name)
            return [name]
        found = [
            n
            for n in wanted
            if n in dataset.subreddits and n not in self.private_subreddits | self.banned_subreddits
        ]
        return found or self._unknown_subreddit(names)

    def _unknown_subreddit(self, name: str) -> _Reply:
        if self.unknown_subreddit_redirect:
            location = f"https://www.reddit.com/subreddits/search.json?q={name}"
            return _Reply(status=302, body=b"", headers={"Location": location})
        return _Reply.json(_error_body(404), status=404)

    def _page(
        self, items: Sequence[Any], query: Mapping[str, str]
    ) -> tuple[list[Any], str | None, str | None]:
        """Slice a sorted list by ``after``/``before``/``limit`` like Reddit listings."""
        capped = items if self.listing_cap is None else items[: self.listing_cap]
        size = _page_size(query)
        start = 0
        after, before = query.get("after"), query.get("before")
        names = None
        if after or before:
            names = {item.name: i for i, item in enumerate(capped)}
        if after:
            assert names is not None
            if after not in names:
                return [], None, None
            start = names[after] + 1
            page = list(capped[start : start + size])
        elif before:
            assert names is not None
            if before not in names:
                return [], None, None
            end = names[before]
            start = max(0, end - size)
            page = list(capped[start:end])
        else:
            page = list(capped[:size])
        more_after = start + len(page) < len(capped)
        next_after = page[-1].name if page and more_after else None
        prev_before = page[0].name if page and start > 0 else None
        return page, next_after, prev_before

    def _subreddit_listing(
        self, dataset: _Dataset, subs: list[str], sort: str, query: dict[str, str]
    ) -> _Reply:
        if sort == "comments":
            comments, after, before = self._page(dataset.sorted_comments(subs), query)
            return _Reply(body=dataset.encoded_listing(comments, after, before))
        if sort == "search":
            posts_all = self._search(dataset, subs, query)
        else:
            posts_all = dataset.sorted_submissions(subs, sort, query.get("t", "day"), time.time())
        posts, after, before = self._page(posts_all, query)
        return _Reply(body=dataset.encoded_listing(posts, after, before))

    @staticmethod
    def _search(dataset: _Dataset, subs: list[str], query: Mapping[str, str]) -> list[_Submission]:
        """Plain substring search over titles and self texts (all terms must match)."""
        terms = [
            t for t in re.findall(r"\w+", query.get("q", "").lower()) if t not in {"and", "or"}
        ]
        sort = query.get("sort", "relevance")
        posts = dataset.sorted_submissions(subs, "top", query.get("t", "all"), time.time())
        hits = [p for p in posts if all(t in f"{p.title} {p.selftext}".lower() for t in terms)]
        if sort == "new":
            hits.sort(key=lambda p: (-p.created_utc, p.id))
        elif sort == "comments":
            hits.sort(key=lambda p: (-len(p.comments), p.id))
        elif sort == "relevance":
            hits.sort(
                key=lambda p: (-sum(f"{p.title}".lower().count(t) for t in terms), -p.score, p.id)
            )
        return hits

    def _submission(
        self,
        dataset: _Dataset,
        post_id: str,
        focus: str | None,
        query: dict[str, str],
        subreddit: str | None = None,
    ) -> _Reply:
        """``/comments/{id}/``: the submission listing plus its comment tree."""
        post = dataset.submissions.get(post_id)
        if post is None or (subreddit is not None and subreddit != post.subreddit):
            return _Reply.json(_error_body(404), status=404)
        if post.subreddit in self.private_subreddits:
            return _Reply.json(_error_body(403, reason="private"), status=403)
        sort = query.get("sort", "confidence")
        budget = self._comment_budget(query.get("limit"), self.comment_page_limit)
        if focus and focus != "_":
            comment = dataset.comments.get(focus)
            if comment is None or comment.submission_id != post.id:
                return _Reply.json(_error_body(404), status=404)
            roots = [comment]
        else:
            roots = _sort_comments(post.children.get(post.name, []), sort)
        tree = dataset.comment_tree(post, roots, sort=sort, budget=budget)
        return _Reply.json([_listing([dataset.render_submission(post)]), _listing(tree)])

    @staticmethod
    def _comment_budget(raw: str | None, cap: int) -> int:
        try:
            wanted = int(raw) if raw else cap
        except ValueError:
            wanted = cap
        return max(1, min(wanted, cap))

    def _morechildren(self, dataset: _Dataset, params: Mapping[str, str]) -> _Reply:
        """``/api/morechildren``: the requested comments and their replies, flat."""
        link = params.get("link_id", "")
        post = dataset.submissions.get(link[3:] if link.startswith("t3_") else link)
        if post is None:
            return _Reply.json({"json": {"errors": [["INVALID_ID", "invalid id", "link_id"]]}})
        wanted = [c.strip().lower() for c in params.get("children", "").split(",") if c.strip()]
        comments = [
            dataset.comments[c]
            for c in wanted
            if c in dataset.comments and dataset.comments[c].submission_id == post.id
        ]
        sort = params.get("sort", "confidence")
        tree = dataset.comment_tree(
            post, _sort_comments(comments, sort), sort=sort, budget=self.morechildren_limit
        )
        things = list(_flatten(tree))
        return _Reply.json({"json": {"errors": [], "data": {"things": things}}})

    def _info(self, dataset: _Dataset, params: Mapping[str, str]) -> _Reply:
        """``/api/info?id=t3_a,t1_b``: things by fullname (private ones omitted)."""
        things: list[JSON] = []
        for fullname in (f.strip().lower() for f in params.get("id", "").split(",") if f.strip()):
            if fullname in self._gone:
                continue
            kind, _, thing_id = fullname.partition("_")
            if kind == "t3" and thing_id in dataset.submissions:
                post = dataset.submissions[thing_id]
                if post.subreddit not in self.private_subreddits:
                    things.append(dataset.render_submission(post))
            elif kind == "t1" and thing_id in dataset.comments:
                comment = dataset.comments[thing_id]
                if (
                    dataset.submissions[comment.submission_id].subreddit
                    not in self.private_subreddits
                ):
                    things.append(dataset.render_comment(comment, depth=dataset.depth_of(comment)))
            elif kind == "t5":
                for sub in dataset.subreddits.values():
                    if sub.id == thing_id and sub.name.lower() not in self.private_subreddits:
                        things.append(dataset.render_subreddit(sub))
        return _Reply.json(_listing(things))

    # ---- control endpoints

    def _control(self, method: str, norm: str, body: bytes) -> _Reply:
        """``/_fake/...``: the same controls as the Python API, for other processes."""
        action = norm[len(CONTROL_PREFIX) :].strip("/")
        try:
            payload: Any = json.loads(body.decode("utf-8")) if body.strip() else {}
        except ValueError:
            return _Reply.json({"error": "body is not JSON"}, status=400)
        if action == "health" and method == "GET":
            return _Reply.json({"ok": True, "url": self.url})
        if action == "faults":
            if method == "GET":
                return _Reply.json({"faults": [f.to_dict() for f in self.faults]})
            if method == "DELETE":
                self.clear_faults()
                return _Reply.json({"faults": []})
            if method == "POST":
                if not isinstance(payload, dict):
                    return _Reply.json({"error": "expected a JSON object"}, status=400)
                try:
                    fault = Fault.from_dict(payload)
                except (TypeError, ValueError, re.error) as exc:
                    return _Reply.json({"error": str(exc)}, status=400)
                self.add_fault(fault)
                return _Reply.json({"fault": fault.to_dict()}, status=201)
        if action == "latency":
            if method == "POST":
                try:
                    self.set_latency(float(payload["seconds"]))
                except (KeyError, TypeError, ValueError):
                    return _Reply.json({"error": 'expected {"seconds": <number>}'}, status=400)
            if method in {"GET", "POST"}:
                return _Reply.json({"seconds": self.latency})
        if action == "requests":
            if method == "DELETE":
                self.clear_requests()
            if method in {"GET", "DELETE"}:
                with self._lock:
                    records = [r._asdict() for r in self.requests]
                return _Reply.json({"requests": records, "count": len(records)})
        if action == "unplayed" and method == "GET":
            return _Reply.json({"unplayed": [i.to_dict() for i in self.unplayed()]})
        if action == "tokens" and method == "DELETE":
            self.revoke_tokens()
            return _Reply.json({"tokens": 0})
        if action == "churn" and method in {"GET", "POST"}:
            # GET: the data set's sizes; POST {"posts", "comments", "edits", "seed",
            # "subreddits"} (all optional): see `churn`.
            fields = {"posts", "comments", "edits", "seed", "subreddits"}
            if method == "GET":
                payload = {}
            if not isinstance(payload, dict) or set(payload) - fields:
                msg = f"expected a JSON object of {sorted(fields)}"
                return _Reply.json({"error": msg}, status=400)
            subs = payload.get("subreddits")
            try:
                if subs is not None and not (
                    isinstance(subs, list) and all(isinstance(s, str) for s in subs)
                ):
                    raise TypeError("subreddits must be a list of names")
                sizes = self.churn(
                    posts=int(payload.get("posts", 0)),
                    comments=int(payload.get("comments", 0)),
                    edits=int(payload.get("edits", 0)),
                    seed=int(payload.get("seed", 0)),
                    subreddits=subs,
                )
                return _Reply.json(sizes)
            except (TypeError, ValueError, LookupError) as exc:
                return _Reply.json({"error": str(exc)}, status=400)
        return _Reply.json(_error_body(404), status=404)
