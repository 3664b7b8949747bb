"""Run the fake Reddit API as a process (demo mode, out-of-process tests, load tests).

Usage::

    python -m fakereddit --host 127.0.0.1 --port 8081 \
        [--data FILE] [--recordings DIR] [--generate N_SUBS,POSTS,COMMENTS] [--latency SECONDS]
        [--seed N] [--private SUB1,SUB2] [--no-auth] [--background]

Without ``--data``/``--recordings``/``--generate`` the bundled sample data is served.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from .server import FakeReddit


def _generate_spec(value: str) -> tuple[int, int, int]:
    """Parse ``N_SUBS,POSTS,COMMENTS``."""
    try:
        subs, posts, comments = (int(part) for part in value.split(","))
    except ValueError:
        msg = "expected N_SUBS,POSTS,COMMENTS, e.g. 5,2000,4000"
        raise argparse.ArgumentTypeError(msg) from None
    if min(subs, posts, comments) < 0:
        msg = "counts must be >= 0"
        raise argparse.ArgumentTypeError(msg)
    return subs, posts, comments


def build_parser() -> argparse.ArgumentParser:
    """The CLI definition (kept separate so it can be tested)."""
    parser = argparse.ArgumentParser(
        prog="python -m fakereddit", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument(
        "--data", type=Path, action="append", default=[], help="data set JSON (repeatable)"
    )
    parser.add_argument(
        "--recordings", type=Path, action="append", default=[], help="cassette file or directory"
    )
    parser.add_argument(
        "--generate", type=_generate_spec, help="N_SUBS,POSTS,COMMENTS of synthetic data"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for --generate")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds added to every API response"
    )
    parser.add_argument("--private", default="", help="comma-separated subreddits that answer 403")
    parser.add_argument(
        "--background",
        action="store_true",
        help="run in the idle CPU scheduling class: a benchmark's stand-in for Reddit's own "
        "servers must not take CPU from the service it measures",
    )
    parser.add_argument(
        "--no-auth", action="store_true", help="accept API calls without a bearer token (curl)"
    )
    return parser


def _run_in_background() -> None:
    """The service's own idle-class policy for its workers, so a benchmark's fake competes for
    CPU exactly as they do: one implementation (reddit_sentiment's), not a copy that drifts."""
    try:
        from reddit_sentiment.collection.workers import run_in_background
    except ImportError:
        msg = "--background needs reddit_sentiment installed (make install)"
        raise SystemExit(msg) from None
    run_in_background()


def build_fake(args: argparse.Namespace) -> FakeReddit:
    """Assemble the fake from parsed arguments."""
    fake = FakeReddit()
    if args.recordings:
        fake.add_recordings(*args.recordings)
    for data in args.data:
        fake.add_dataset(data)
    if args.generate:
        subs, posts, comments = args.generate
        fake.add_generated(subs, posts, comments, seed=args.seed)
    if not (args.recordings or args.data or args.generate):
        fake = FakeReddit.sample()
    fake.set_latency(args.latency)
    fake.require_auth = not args.no_auth
    fake.private_subreddits |= {s.strip().lower() for s in args.private.split(",") if s.strip()}
    return fake


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGINT/SIGTERM, then stop cleanly and return 0."""
    args = build_parser().parse_args(argv)
    if args.background:
        _run_in_background()  # before the server starts: its threads inherit the class
    fake = build_fake(args).start(host=args.host, port=args.port)
    done = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    print(f"fake reddit listening on {fake.url}", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
