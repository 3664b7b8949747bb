"""`make soak`: one service process through 200 short collection cycles while the data changes.

The real service (`python -m reddit_sentiment serve`, one uvicorn process) collects from the
bundled fake Reddit every `--interval` seconds (COLLECTION_INTERVAL_SECONDS). Every
`--churn-every` cycles the fake's data set moves on (`POST /_fake/churn`: new posts and
comments, dated now, and known items with a new score and text), so the cycles store new items
and update known ones, not just re-read the same pages. Checks:

1. resources  the service process's RSS, open file descriptors and threads, and the same summed
              over its child processes (the cycle process, its scorer, multiprocessing's
              helpers), after the last cycle within 10 % of their level after cycle 10
              (`--baseline`), with two allowances measured to be no leak (see `figures`): the
              service's SQLite connections (one per thread that touched the store) may number
              up to its threads, and its threads may move by the API reads made at once. The
              figures are read from /proc right after a run finishes, while the service is
              between cycles. A figure that fell passes: a soak looks for growth. After every
              cycle `--readers` API reads at once (dashboard, posts, runs, trending, readiness,
              metrics) keep the API side busy too.
2. finalised  after SIGTERM to the service (it stops its own children and exits 0, leaving no
              process in its group), no run in the SQLite file is still `running`
3. runs ok    every run succeeded, except at most one `interrupted` by that SIGTERM
4. no dupes   the items stored are exactly as many as the fake's data set holds (every item it
              served, each once), and the runs' `new` counts add up to the items stored (each
              item counted new exactly once, however often it was seen again or changed)

Prints a table and writes results/soak.json (figures, a per-cycle series, counts, timings,
machine). Exit status 0 when every check passes, 1 otherwise. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from .target import NO_RETENTION, REPO, Client, FakeRedditProcess, collector_env, free_port

RESULTS = REPO / "results" / "soak.json"
COMMAND = "make soak"
TOLERANCE = 0.10  # end figure <= (1 + TOLERANCE) x the baseline figure
FINAL_STATUSES = frozenset({"succeeded", "partial", "failed", "interrupted"})
# In the service's log (WARNING and above), any of these fails the clean-stop check.
LOG_TROUBLE = ("Traceback", "ERROR", "CRITICAL", "leaked", "did not finish")


# --------------------------------------------------------------------------- /proc


@dataclass
class Usage:
    """Resident memory (KiB), open file descriptors and threads of one or more processes."""

    rss_kib: int = 0
    fds: int = 0
    threads: int = 0
    processes: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.rss_kib + other.rss_kib,
            self.fds + other.fds,
            self.threads + other.threads,
            self.processes + other.processes,
        )


def process_usage(pid: int) -> Usage | None:
    """The figures of one process, or None once it is gone."""
    try:
        fields = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        )
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, ValueError):
        return None
    if fields.get("State", "").strip().startswith("Z"):
        return None
    return Usage(
        rss_kib=int(fields.get("VmRSS", "0 kB").split()[0]),
        fds=fds,
        threads=int(fields["Threads"]),
        processes=1,
    )


def fd_kinds(pid: int) -> dict[str, int]:
    """Open file descriptors of a process by what they point at (the file name for files, the
    kind for sockets, pipes and anonymous inodes): where a growing fd count comes from."""
    kinds: Counter[str] = Counter()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                kinds[target.split(":", 1)[0] if ":" in target else Path(target).name] += 1
    return dict(sorted(kinds.items()))


def _stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state, ppid, pgrp, ...)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def descendants(pid: int) -> list[int]:
    """Children, grandchildren, ... of `pid` (from the parent pid of every process)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(entry)) is not None:
            children.setdefault(int(stat[1]), []).append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return sorted(found)


def in_group(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group."""
    found = []
    for entry in os.listdir("/proc"):
        stat = _stat(entry) if entry.isdigit() else None
        if stat is not None and int(stat[2]) == pgid and stat[0] != "Z":
            found.append(int(entry))
    return sorted(found)


@dataclass
class Sample:
    """The service process and its descendants at one moment."""

    cycle: int
    seconds: float  # since the service started
    service: Usage
    children: Usage
    sqlite_connections: int  # the service's fds on the database file (each has one on its WAL)


def sample(pid: int, cycle: int, started: float, db: Path) -> Sample:
    service = process_usage(pid)
    if service is None:
        raise RuntimeError("the service process is gone")
    children = Usage()
    for child in descendants(pid):
        usage = process_usage(child)
        if usage is not None:
            children = children + usage
    connections = fd_kinds(pid).get(db.name, 0)
    return Sample(cycle, round(time.monotonic() - started, 2), service, children, connections)


# --------------------------------------------------------------------------- the processes


class Service:
    """`python -m reddit_sentiment serve` in its own session (so its whole process group can
    be stopped), from a scratch directory (no developer `.env`), logging to a file."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.port = int(env["PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "service.log"
        self._log = self.log.open("ab")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "reddit_sentiment", "serve"],
            cwd=workdir,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.proc.pid

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_healthy(self, timeout: float = 60.0) -> None:
        client = Client(self.url, timeout=2.0)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"service exited at start-up:\n{self.tail()}")
                with contextlib.suppress(OSError, http.client.HTTPException):
                    if client.get("/api/v1/health")[0] == 200:
                        return
                time.sleep(0.05)
        finally:
            client.close()
        raise RuntimeError(f"service did not answer /api/v1/health in {timeout:.0f}s")

    def terminate(self, timeout: float) -> tuple[int | None, float]:
        """SIGTERM to the service alone, as docker or k8s send it: (exit code or None when it
        had to be killed, seconds it took)."""
        started = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                return None, time.monotonic() - started
        return self.proc.returncode, time.monotonic() - started

    def kill_group(self) -> None:
        """Whatever is left of the service's process group (its children included)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        self._log.close()


# What a dashboard with a few users reads between two cycles (`--readers` at once).
READS = (
    "/api/v1/dashboard/summary",
    "/api/v1/dashboard/sentiment?bucket=hour",
    "/api/v1/posts?limit=20",
    "/api/v1/posts?sort=compound&order=asc&limit=20",
    "/api/v1/collections?limit=20",
    "/api/v1/trending?window=24h",
    "/api/v1/health/ready",
    "/metrics",
)


def read_burst(url: str, readers: ThreadPoolExecutor, count: int, first: int) -> Counter[int]:
    """`count` GETs at once, each on its own connection, from READS in turn: status counts."""

    def one(path: str) -> int:
        client = Client(url, timeout=10.0)
        try:
            return client.get(path)[0]
        except (OSError, http.client.HTTPException):
            return 0
        finally:
            client.close()

    paths = [READS[(first + i) % len(READS)] for i in range(count)]
    return Counter(readers.map(one, paths))


def fake_call(url: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """GET (no payload) or POST a JSON payload to the fake's control endpoints."""
    data = None if payload is None else json.dumps(payload).encode()
    method = "GET" if data is None else "POST"
    request = urllib.request.Request(f"{url}{path}", data=data, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        body: dict[str, Any] = json.loads(response.read())
        return body


# --------------------------------------------------------------------------- the soak


@dataclass(frozen=True)
class Plan:
    cycles: int = 200
    interval: int = 1
    baseline: int = 10
    subreddits: int = 3
    posts: int = 30  # per subreddit, at the start
    comments: int = 40  # per subreddit, at the start
    limit: int = 100  # COLLECTION_LIMIT: the whole initial data set fits in one page
    churn_every: int = 4
    churn_posts: int = 1  # per subreddit and round
    churn_comments: int = 1
    churn_edits: int = 4
    quiet: int = 5  # last cycles without churn: they collect the last changes
    readers: int = 8  # API requests at once after every cycle (0: none)
    seed: int = 1

    def churn_due(self, cycle: int) -> bool:
        return cycle % self.churn_every == 0 and cycle <= self.cycles - self.quiet


def _runs_page(client: Client) -> list[dict[str, Any]]:
    status, body = client.json("GET", "/api/v1/collections?limit=20")
    if status != 200:
        raise RuntimeError(f"GET /api/v1/collections answered {status}: {body}")
    runs: list[dict[str, Any]] = body["items"]
    return runs


def soak(plan: Plan, workdir: Path, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the soak; return the results (figures, checks, series, counts)."""
    results: dict[str, Any] = {
        "command": COMMAND,
        "taken_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(),
        "plan": asdict(plan),
    }
    db = workdir / "soak.db"
    series: list[Sample] = []
    churned = Counter[str]()
    reads = Counter[int]()  # API answers by status (0: no answer)
    fd_changes: list[dict[str, Any]] = []  # the service's fds by kind whenever their count moved
    with FakeRedditProcess(plan.subreddits, plan.posts, plan.comments, seed=plan.seed) as fake:
        settings = collector_env(
            fake,
            COLLECTION_INTERVAL_SECONDS=str(plan.interval),
            COLLECTION_START_DELAY_SECONDS="1",
            COLLECTION_LIMIT=str(plan.limit),
            # the fake allows a million requests per 10 minutes: no rate-budget warnings
            REDDIT_REQUESTS_PER_MINUTE="100000",
            **{
                **NO_RETENTION,  # the data set's ages are fixed: nothing is old enough to go
                # Time compressed like the interval, so the periodic jobs run many times too:
                # the lease renewal every cycle (by default 45 times a cycle, not once every 20
                # cycles), the retention cleanup and the trending refresh every 10 s.
                "LEASE_TTL_SECONDS": str(3 * plan.interval),
                "RETENTION_INTERVAL_SECONDS": "10",
                "TRENDING_INTERVAL_SECONDS": "10",
            },
        )
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("REDDIT_", "SUBREDDITS"))},
            "HOST": "127.0.0.1",
            "PORT": str(free_port()),
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
            "SQLITE_PATH": str(db),
            **settings,
        }
        results["settings"] = {
            k: v for k, v in settings.items() if not any(x in k for x in ("SECRET", "KEY"))
        }
        service = Service(env, workdir)
        seen_children: dict[int, str] = {}  # pid -> its start time (pids are reused)
        readers = ThreadPoolExecutor(max(1, plan.readers), thread_name_prefix="reader")
        try:
            service.wait_healthy()
            log(f"soak: service pid {service.pid} on {service.url}, fake Reddit on {fake.url}")
            client = Client(service.url, timeout=10.0)
            finished: dict[str, str] = {}
            last_progress = time.monotonic()
            deadline = time.monotonic() + 60 + plan.cycles * plan.interval * 3
            while len(finished) < plan.cycles:
                now = time.monotonic()
                if now > deadline or now - last_progress > 60 + 5 * plan.interval:
                    raise RuntimeError(
                        f"only {len(finished)} of {plan.cycles} cycles finished in time\n"
                        + service.tail()
                    )
                if service.proc.poll() is not None:
                    raise RuntimeError(f"the service exited mid-soak:\n{service.tail()}")
                before = len(finished)
                for run in _runs_page(client):
                    if run["status"] in FINAL_STATUSES and run["id"] not in finished:
                        finished[run["id"]] = run["status"]
                if len(finished) == before:
                    time.sleep(0.05)
                    continue
                last_progress = time.monotonic()
                cycle = min(len(finished), plan.cycles)
                # Between cycles: the run record is written as the cycle's last step.
                series.append(sample(service.pid, cycle, service.started, db))
                if len(series) == 1 or series[-1].service.fds != series[-2].service.fds:
                    fd_changes.append({"cycle": cycle, "service": fd_kinds(service.pid)})
                for child in descendants(service.pid):
                    seen_children.setdefault(child, _started(child))
                for round_ in range(before + 1, cycle + 1):
                    if plan.churn_due(round_):
                        change = {
                            "posts": plan.churn_posts,
                            "comments": plan.churn_comments,
                            "edits": plan.churn_edits,
                            "seed": plan.seed * 1_000_003 + round_,
                        }
                        reply = fake_call(fake.url, "/_fake/churn", change)
                        churned.update(
                            {k: v for k, v in reply.items() if k.startswith(("added", "edited"))}
                        )
                        churned["rounds"] += 1
                if plan.readers:
                    reads.update(read_burst(service.url, readers, plan.readers, cycle))
                if cycle % 20 == 0 or cycle == plan.baseline:
                    s = series[-1]
                    log(
                        f"soak: cycle {cycle:>4}  service {s.service.rss_kib / 1024:6.1f} MiB "
                        f"{s.service.fds:3} fds {s.service.threads:3} threads | "
                        f"{s.children.processes} children {s.children.rss_kib / 1024:6.1f} MiB "
                        f"{s.children.fds:3} fds {s.children.threads:3} threads"
                    )
            client.close()
            served = fake_call(fake.url, "/_fake/churn")
            soak_seconds = time.monotonic() - service.started
            # Stop as docker would: SIGTERM to the service alone; it stops its own children.
            code, stop_seconds = service.terminate(timeout=60)
            time.sleep(0.5)  # children that outlive the service would be reparented by now
            left = set(in_group(service.pid))
            left |= {pid for pid, born in seen_children.items() if born and _started(pid) == born}
        finally:
            readers.shutdown(wait=False, cancel_futures=True)
            service.kill_group()
    results["stop"] = {
        "exit_code": code,
        "seconds": round(stop_seconds, 2),
        "processes_left": sorted(left),
        "log_trouble": [
            line
            for line in service.tail(100_000).splitlines()
            if any(t in line for t in LOG_TROUBLE)
        ],
        "log_warnings": sum(" WARNING " in line for line in service.tail(100_000).splitlines()),
        "log_tail": service.tail(15).splitlines(),
    }
    results["seconds"] = round(soak_seconds, 1)
    results["churn"] = dict(churned)
    results["reads"] = {str(k): v for k, v in sorted(reads.items())}
    results["series"] = [asdict(s) for s in series]
    results["fd_changes"] = fd_changes
    base = next(s for s in series if s.cycle >= plan.baseline)
    end = series[-1]
    results["figures"] = figures(base, end, plan)
    results["store"] = store_counts(db)
    results["served"] = {"posts": served["posts"], "comments": served["comments"]}
    results["checks"] = checks(results, plan)
    return results


def _started(pid: int) -> str:
    """A live process's start time (clock ticks since boot); "" when it is gone or a zombie."""
    stat = _stat(pid)
    return stat[19] if stat is not None and stat[0] != "Z" else ""


def store_counts(db: Path) -> dict[str, Any]:
    """Runs and items as the SQLite file holds them after the service stopped."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute(
            "SELECT status, started_at, finished_at, subreddits FROM runs ORDER BY started_at"
        ).fetchall()
        posts, comments = conn.execute(
            "SELECT SUM(id LIKE 't3\\_%' ESCAPE '\\'), SUM(id LIKE 't1\\_%' ESCAPE '\\') FROM items"
        ).fetchone()
        distinct = conn.execute("SELECT COUNT(DISTINCT id), COUNT(*) FROM items").fetchone()
    finally:
        conn.close()
    totals = Counter[str]()
    for *_, subreddits in rows:
        for counts in json.loads(subreddits).values():
            totals.update({k: v for k, v in counts.items() if isinstance(v, int)})
    durations = [end - start for _, start, end, _ in rows if end is not None]
    starts = [start for _, start, _, _ in rows]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    return {
        "runs": len(rows),
        "statuses": [status for status, *_ in rows],
        "by_status": dict(Counter(status for status, *_ in rows)),
        "counts": dict(totals),
        "items": {"posts": posts or 0, "comments": comments or 0, "total": distinct[1]},
        "distinct_ids": distinct[0],
        "cycle_seconds": _spread(durations),
        "start_to_start_seconds": _spread(gaps),
    }


def _spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 3),
        "p95": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 3),
        "max": round(ordered[-1], 3),
    }


def _row(
    label: str,
    first: float,
    last: float,
    limit: float | None,
    ok: bool | None = None,
    why: str = "",
) -> dict[str, Any]:
    return {
        "figure": label,
        "baseline": first,
        "end": last,
        "ratio": round(last / first, 3) if first else None,
        "limit": None if limit is None else round(limit, 1),
        "ok": (last <= limit) if ok is None and limit is not None else bool(ok),
        "why": why,
    }


def figures(base: Sample, end: Sample, plan: Plan) -> list[dict[str, Any]]:
    """Each figure after the last cycle against its level after the baseline cycle.

    Within TOLERANCE, but for two things measured to move without leaking (`fd_changes` has
    the service's fds by kind whenever their count moved, `series` the threads per cycle):

    * a thread opens its own SQLite connection (two fds: the database and its WAL) the first
      time it touches the store, and some only do after the baseline: the collector thread
      (the cycles run in a child process) when the retention job first runs, 60 s after
      start; threads of the lazily grown pools (SQLite readers, asyncio's default executor,
      which the lease renewal uses). So the service's fds are judged in two parts: the ones
      that are not SQLite's within TOLERANCE, and the SQLite connections at most one per
      thread (connections of threads that ended, or one per request, would outnumber them);
    * FastAPI runs the routes' sync dependencies on anyio's worker threads, started when a
      request finds none idle and stopped after 10 s idle, so after a burst of `readers`
      requests at once the service's threads move by up to `readers` from cycle to cycle.

    A leak of one per cycle, per request or per churn round still exceeds these by far."""
    mib = 1 / 1024
    b, e = base.service, end.service
    other_b, other_e = b.fds - 2 * base.sqlite_connections, e.fds - 2 * end.sqlite_connections
    other = _row("  not SQLite's", other_b, other_e, other_b * (1 + TOLERANCE))
    conns = _row(
        "  SQLite connections",
        base.sqlite_connections,
        end.sqlite_connections,
        max(base.sqlite_connections * (1 + TOLERANCE), e.threads),
        why="at most one per thread",
    )
    rows = [
        _row(
            "service RSS (MiB)",
            round(b.rss_kib * mib, 1),
            round(e.rss_kib * mib, 1),
            b.rss_kib * mib * (1 + TOLERANCE),
        ),
        _row(
            "service open fds",
            b.fds,
            e.fds,
            None,
            other["ok"] and conns["ok"],
            why="judged in the two parts below",
        ),
        other,
        conns,
        _row(
            "service threads",
            b.threads,
            e.threads,
            max(b.threads * (1 + TOLERANCE), b.threads + plan.readers),
            why=f"anyio worker threads move with the {plan.readers} reads at once",
        ),
    ]
    bc, ec = base.children, end.children
    rows += [
        _row(
            "children RSS (MiB, sum)",
            round(bc.rss_kib * mib, 1),
            round(ec.rss_kib * mib, 1),
            bc.rss_kib * mib * (1 + TOLERANCE),
        ),
        _row("children open fds (sum)", bc.fds, ec.fds, bc.fds * (1 + TOLERANCE)),
        _row("children threads (sum)", bc.threads, ec.threads, bc.threads * (1 + TOLERANCE)),
        _row("child processes", bc.processes, ec.processes, bc.processes),
    ]
    for row in rows:
        row["cycles"] = [base.cycle, end.cycle]
    return rows


def checks(results: dict[str, Any], plan: Plan) -> list[dict[str, Any]]:
    store, stop, served = results["store"], results["stop"], results["served"]
    rows = []

    def check(name: str, ok: bool, detail: str) -> None:
        rows.append({"check": name, "ok": ok, "detail": detail})

    grown = [row["figure"] for row in results["figures"] if not row["ok"]]
    check(
        "resources",
        not grown,
        f"after cycle {plan.cycles} within {TOLERANCE:.0%} of cycle {plan.baseline} "
        "(with the allowances in the table)" + (f"; grew: {', '.join(grown)}" if grown else ""),
    )
    # uvicorn ends a graceful shutdown by re-raising the signal it caught: -SIGTERM is clean.
    check(
        "clean stop",
        stop["exit_code"] in (0, -signal.SIGTERM)
        and not stop["processes_left"]
        and not stop["log_trouble"],
        f"SIGTERM: exit code {stop['exit_code']} in {stop['seconds']} s, "
        f"{len(stop['processes_left'])} processes left, "
        f"{len(stop['log_trouble'])} log lines with {'/'.join(LOG_TROUBLE)}",
    )
    running = store["by_status"].get("running", 0)
    check(
        "runs finalised",
        running == 0 and store["runs"] >= plan.cycles,
        f"{store['runs']} runs in the store, {running} running",
    )
    statuses = store["statuses"]
    bad = [s for s in statuses[:-1] if s != "succeeded"]
    if statuses and statuses[-1] not in {"succeeded", "interrupted"}:
        bad.append(statuses[-1])
    check("runs ok", not bad, f"by status {store['by_status']}")
    reads = results["reads"]
    check(
        "reads ok",
        set(reads) <= {"200"},
        f"{sum(reads.values())} API reads between cycles, by status {reads}",
    )
    items = store["items"]
    expected = served["posts"] + served["comments"]
    new = store["counts"].get("new", 0)
    check(
        "no duplicate",
        items["total"] == expected == new
        and (items["posts"], items["comments"]) == (served["posts"], served["comments"]),
        f"stored {items['posts']} posts + {items['comments']} comments = {items['total']}; "
        f"the fake served {served['posts']} + {served['comments']} = {expected}; "
        f"new over all runs {new} (updated {store['counts'].get('updated', 0)})",
    )
    return rows


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": os.getloadavg()[0],
    }


def render(results: dict[str, Any]) -> str:
    plan = results["plan"]
    lines = [
        f"{'figure':<26} {'cycle ' + str(plan['baseline']):>10} "
        f"{'cycle ' + str(plan['cycles']):>10} {'ratio':>7} {'limit':>8}",
        "-" * 72,
    ]
    for row in results["figures"]:
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.3f}"
        limit = "-" if row["limit"] is None else row["limit"]
        lines.append(
            f"{row['figure']:<26} {row['baseline']:>10} {row['end']:>10} {ratio:>7} "
            f"{limit:>8}  {'ok' if row['ok'] else 'GREW':<4}  {row['why']}".rstrip()
        )
    lines.append("")
    for row in results["checks"]:
        lines.append(f"{'ok  ' if row['ok'] else 'FAIL'} {row['check']}: {row['detail']}")
    store = results["store"]
    m = results["machine"]
    lines.append(
        f"\ncycle seconds {store['cycle_seconds']}; "
        f"start to start {store['start_to_start_seconds']}; churn {results['churn']}"
    )
    lines.append(f"{m['cpu']}, {m['cores']} cores, Python {m['python']}; {results['seconds']}s")
    return "\n".join(lines)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # so the `finally`s stop both processes


def main(argv: list[str] | None = None) -> int:
    defaults = Plan()
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--cycles", type=int, default=defaults.cycles, help="cycles to run")
    parser.add_argument(
        "--interval", type=int, default=defaults.interval, help="COLLECTION_INTERVAL_SECONDS"
    )
    parser.add_argument(
        "--baseline", type=int, default=defaults.baseline, help="the cycle compared with the end"
    )
    parser.add_argument(
        "--churn-every", type=int, default=defaults.churn_every, help="cycles between changes"
    )
    parser.add_argument(
        "--readers", type=int, default=defaults.readers, help="API reads at once after a cycle"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS,
        help="where to write the JSON (the service's log goes beside it, *-service.log)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the working directory (database, service log)"
    )
    args = parser.parse_args(argv)
    plan = Plan(
        cycles=args.cycles,
        interval=args.interval,
        baseline=args.baseline,
        churn_every=args.churn_every,
        readers=args.readers,
    )
    if not 1 <= plan.baseline < plan.cycles or min(plan.interval, plan.churn_every) < 1:
        parser.error("need 1 <= --baseline < --cycles, --interval >= 1, --churn-every >= 1")
    if plan.readers < 0:
        parser.error("need --readers >= 0")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    service_log = args.out.with_name(f"{args.out.stem}-service.log")
    signal.signal(signal.SIGTERM, _interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    try:
        results = soak(plan, workdir)
    except (RuntimeError, OSError) as error:
        print(f"soak: FAILED before the checks: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("soak: interrupted; both processes stopped", file=sys.stderr)
        return 130
    finally:
        with contextlib.suppress(OSError):
            shutil.copyfile(workdir / "service.log", service_log)
        if args.keep:
            print(f"working directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(render(results))
    print(f"written to {args.out} (the service's log: {service_log})")
    return 0 if all(row["ok"] for row in results["checks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
