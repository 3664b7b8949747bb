"""`make load`: locust against the real service while it collects, with a verdict.

Starts the fake Reddit (a generated data set) and the service (`python -m reddit_sentiment
serve`, one uvicorn process) pointed at it, keeps a collection cycle running for the whole
measurement (`POST /api/v1/collections` again as soon as one ends), then runs locust headless
once per phase in thresholds.toml (50 users, then 200). Locust's CSV and HTML reports land in
results/load/; the verdict uses exact percentiles of the requests made while the collector was
busy (a cycle and its post-cycle work). Exits 1 when a threshold is missed.

    python -m tests.performance.run_load [--config FILE] [--out DIR] [--smoke]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.target import (
    REPO,
    Client,
    FakeRedditProcess,
    ServiceProcess,
    collector_env,
    get_run,
    percentile,
    start_collection,
)

from .scenarios import category

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "thresholds.toml"
LOCUSTFILE = HERE / "locustfile.py"
RESULTS = REPO / "results" / "load"


@dataclass
class Phase:
    name: str
    users: int
    spawn_rate: float
    seconds: float
    health_p99_ms: float | None = None
    dashboard_p99_ms: float | None = None
    max_failures: int | None = None
    # The collector runs in the idle CPU class: under load it must still get somewhere.
    min_items_collected: int | None = None


@dataclass
class Check:
    what: str
    measured: float
    limit: float
    ok: bool

    def line(self) -> str:
        return f"{self.what:<48} {self.measured:>10.2f}  limit {self.limit:<8g} " + (
            "ok" if self.ok else "MISS"
        )


@dataclass
class PhaseResult:
    phase: Phase
    requests: int = 0
    failures: int = 0
    rps: float = 0.0
    coverage: float = 0.0
    items_collected: int = 0  # listing items the cycles fetched, scored and stored meanwhile
    by_category: dict[str, dict[str, float]] = field(default_factory=dict)
    locust_p99_ms: dict[str, float] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


def load_config(path: Path, smoke: bool) -> tuple[dict[str, Any], float, list[Phase]]:
    config = tomllib.loads(path.read_text())
    target = dict(config["target"])
    coverage = float(config.get("collection", {}).get("min_coverage", 0.0))
    phases = [Phase(**p) for p in config["phases"]]
    if smoke:
        tiny = config["smoke"]
        target.update({k: tiny[k] for k in ("subreddits", "posts", "comments")})
        phases = [Phase("smoke", tiny["users"], tiny["spawn_rate"], tiny["seconds"])]
        coverage = 0.0
    return target, coverage, phases


class Collector(threading.Thread):
    """Keeps the collector busy and records when it was: polls readiness four times a second.

    `collection.running` in /api/v1/health/ready covers the whole job of the collector thread
    (the run and what it does after the run is recorded); whenever it is false, a new
    collection is started with `POST /api/v1/collections`.
    """

    def __init__(self, url: str, every: float = 0.25) -> None:
        super().__init__(name="keep-collecting", daemon=True)
        self.client = Client(url)
        self.every = every
        self.started: list[str] = []
        self.windows: list[tuple[float, float]] = []
        self.busy_since: float | None = None
        self.error: BaseException | None = None
        self._halt = threading.Event()

    def _running(self) -> bool:
        _, body = self.client.json("GET", "/api/v1/health/ready")
        return bool(body["collection"]["running"])

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                now = time.time()
                if self._running():
                    self.busy_since = self.busy_since or now
                else:
                    if self.busy_since is not None:
                        self.windows.append((self.busy_since, now))
                        self.busy_since = None
                    posted = time.time()
                    run_id = start_collection(self.client)
                    if run_id is not None:
                        self.started.append(run_id)
                        self.busy_since = posted
                self._halt.wait(self.every)
        except BaseException as error:  # reported by the runner
            self.error = error

    def busy_windows(self) -> list[tuple[float, float]]:
        """When the collector was busy, up to now."""
        since = self.busy_since
        return [*self.windows] + ([] if since is None else [(since, time.time())])

    def stop(self) -> None:
        self._halt.set()
        self.join(10)


def items_collected(client: Client, run_ids: list[str]) -> int:
    """Items the runs have fetched, scored and stored so far (a running cycle records its
    counts after every listing)."""
    total = 0
    for run_id in list(run_ids):
        counts = get_run(client, run_id).get("subreddits") or {}
        total += sum(int(c.get("fetched", 0)) for c in counts.values())
    return total


def _coverage(windows: list[tuple[float, float]], start: float, end: float) -> float:
    covered, cursor = 0.0, start
    for a, b in sorted(windows):
        a, b = max(a, cursor), min(b, end)
        if b > a:
            covered += b - a
            cursor = b
    return covered / (end - start) if end > start else 0.0


def run_locust(phase: Phase, url: str, out: Path, subreddits: list[str]) -> Path:
    samples = out / f"{phase.name}_samples.json"
    samples.unlink(missing_ok=True)
    argv = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        url,
        "--users",
        str(phase.users),
        "--spawn-rate",
        str(phase.spawn_rate),
        "--run-time",
        f"{phase.seconds:g}s",
        "--stop-timeout",
        "5",
        "--csv",
        str(out / phase.name),
        "--html",
        str(out / f"{phase.name}.html"),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    env = {**os.environ, "LOAD_SAMPLES_PATH": str(samples), "LOAD_SUBREDDITS": ",".join(subreddits)}
    done = subprocess.run(
        argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=phase.seconds + 120
    )
    (out / f"{phase.name}_locust.log").write_text(done.stdout + done.stderr)
    # Locust exits 1 when any request failed; the verdict counts failures itself.
    if done.returncode not in (0, 1) or not samples.exists():
        raise RuntimeError(f"locust failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return samples


def _locust_p99(stats_csv: Path) -> dict[str, float]:
    if not stats_csv.exists():
        return {}
    with stats_csv.open() as handle:
        return {
            row["Name"]: float(row["99%"])
            for row in csv.DictReader(handle)
            if row.get("99%") not in (None, "", "N/A")
        }


def evaluate(
    phase: Phase,
    samples_path: Path,
    windows: list[tuple[float, float]],
    out: Path,
    min_coverage: float,
) -> PhaseResult:
    samples: list[list[Any]] = json.loads(samples_path.read_text())
    result = PhaseResult(phase)
    if not samples:
        raise RuntimeError(f"{phase.name}: locust made no requests")
    start = min(s[0] for s in samples)
    end = max(s[0] + s[2] / 1000 for s in samples)
    result.requests = len(samples)
    result.failures = sum(1 for s in samples if not s[3])
    result.rps = result.requests / max(end - start, 1e-9)
    result.coverage = _coverage(windows, start, end)
    during: dict[str, list[float]] = {}
    overall: dict[str, list[float]] = {}
    for started, name, ms, _ok in samples:
        kind = category(name)
        overall.setdefault(kind, []).append(ms)
        if any(a <= started <= b for a, b in windows):
            during.setdefault(kind, []).append(ms)
    for kind, values in overall.items():
        busy = during.get(kind, [])
        result.by_category[kind] = {
            "requests": len(values),
            "p50_ms": round(percentile(values, 50), 2),
            "p99_ms": round(percentile(values, 99), 2),
            "requests_during_collection": len(busy),
            "p99_during_collection_ms": round(percentile(busy, 99), 2) if busy else -1.0,
        }
    result.locust_p99_ms = _locust_p99(out / f"{phase.name}_stats.csv")

    def p99_during(kind: str) -> float:
        values = during.get(kind)
        return percentile(values, 99) if values else float("inf")

    if phase.max_failures is not None:
        result.checks.append(
            Check(
                f"{phase.name}: failed requests",
                result.failures,
                phase.max_failures,
                result.failures <= phase.max_failures,
            )
        )
    timed = [
        ("health", phase.health_p99_ms),
        ("dashboard", phase.dashboard_p99_ms),
    ]
    for kind, limit in timed:
        if limit is not None:
            measured = p99_during(kind)
            result.checks.append(
                Check(
                    f"{phase.name}: {kind} p99 during collection, ms",
                    measured,
                    limit,
                    measured < limit,
                )
            )
    if any(limit is not None for _, limit in timed) and min_coverage:
        result.checks.append(
            Check(
                f"{phase.name}: share of the phase with a cycle running",
                result.coverage,
                min_coverage,
                result.coverage >= min_coverage,
            )
        )
    return result


def report(results: list[PhaseResult]) -> str:
    lines = []
    for r in results:
        lines.append(
            f"\n{r.phase.name}: {r.phase.users} users, {r.requests} requests "
            f"({r.rps:.0f}/s), {r.failures} failed, collection running "
            f"{100 * r.coverage:.0f}% of the time, {r.items_collected} items collected"
        )
        for kind, stats in sorted(r.by_category.items()):
            lines.append(
                f"  {kind:<10} n={stats['requests']:<6} p50 {stats['p50_ms']:7.2f} ms   "
                f"p99 {stats['p99_ms']:7.2f} ms   p99 during collection "
                f"{stats['p99_during_collection_ms']:7.2f} ms"
            )
    lines.append("\nverdict")
    for r in results:
        lines.extend("  " + check.line() for check in r.checks)
    passed = all(r.ok for r in results)
    lines.append("\nPASS" if passed else "\nFAIL: a threshold was missed")
    return "\n".join(lines)


def run(config_path: Path = CONFIG, out: Path = RESULTS, smoke: bool = False) -> list[PhaseResult]:
    target, min_coverage, phases = load_config(config_path, smoke)
    out.mkdir(parents=True, exist_ok=True)
    fake = FakeRedditProcess(
        target["subreddits"],
        target["posts"],
        target["comments"],
        seed=target.get("seed", 1),
        latency=target.get("latency", 0.0),
    )
    results: list[PhaseResult] = []
    with fake:
        env = collector_env(fake, COLLECTION_LIMIT=str(target.get("collection_limit", 1000)))
        with ServiceProcess(env=env) as service:
            keeper = Collector(service.url)
            runs = Client(service.url)  # this thread's own connection for the run records
            keeper.start()
            try:
                deadline = time.monotonic() + 30
                while not keeper.started and time.monotonic() < deadline:
                    if keeper.error is not None:
                        break
                    time.sleep(0.05)
                for phase in phases:
                    print(f"load: {phase.name}: {phase.users} users for {phase.seconds:g}s ...")
                    before = items_collected(runs, keeper.started)
                    samples = run_locust(phase, service.url, out, fake.subreddits)
                    collected = items_collected(runs, keeper.started) - before
                    result = evaluate(phase, samples, keeper.busy_windows(), out, min_coverage)
                    result.items_collected = collected
                    if phase.min_items_collected is not None:
                        result.checks.append(
                            Check(
                                f"{phase.name}: items collected during the phase",
                                collected,
                                phase.min_items_collected,
                                collected >= phase.min_items_collected,
                            )
                        )
                    results.append(result)
            finally:
                keeper.stop()
            if keeper.error is not None:
                raise RuntimeError(f"could not keep a collection running: {keeper.error!r}")
    summary = {
        "phases": [
            {
                "name": r.phase.name,
                "users": r.phase.users,
                "seconds": r.phase.seconds,
                "requests": r.requests,
                "failures": r.failures,
                "rps": round(r.rps, 1),
                "collection_coverage": round(r.coverage, 3),
                "items_collected": r.items_collected,
                "categories": r.by_category,
                "locust_p99_ms": r.locust_p99_ms,
                "checks": [check.__dict__ for check in r.checks],
                "ok": r.ok,
            }
            for r in results
        ],
        "ok": all(r.ok for r in results),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.performance.run_load", description=None)
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--smoke", action="store_true", help="tiny and short (the smoke test)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = run(args.config, args.out, args.smoke)
    print(report(results))
    print(f"\nreports in {args.out} ({time.perf_counter() - started:.0f}s)")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
