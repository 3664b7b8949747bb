"""The dump import measured: throughput against raw VADER, and peak memory against file size.

* throughput: items scored and stored per second by `python -m reddit_sentiment import` on a
  generated `.zst` dump (bench/dumpfile.py: the realistic mix), from its run record's start
  to end / raw VADER `polarity_scores` per second on the same texts in this process, one
  core, measured just before and just after the import (the better of the two, as for the
  cycle: noise on a shared machine only ever slows a side down).
* memory: the import process's peak RSS (`VmHWM`, the process itself; its scoring worker's
  `ru_maxrss` is reported beside it, an upper bound) on the largest file, and its ratio to
  the peak on the smallest: a reader that streamed nothing would grow with the file.

Each import runs in a fresh process against a fresh SQLite file; the generated files are
cached under results/bench-cache/ by size, seed and generator version.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from reddit_sentiment.collection.analyzer import text_of
from reddit_sentiment.collection.collector import ItemRejected, item_from_data
from reddit_sentiment.collection.dumps import DumpReader

from . import dumpfile
from .target import REPO

GENERATOR_VERSION = 2  # bench/dumpfile.py's mix
SEED = 20
# Runs the CLI in this interpreter and reports its own peak RSS and its children's (the
# scoring worker) on stderr, whatever the command's exit.
_CHILD = """
import resource, runpy, sys
sys.argv = ["reddit_sentiment", "import", "--no-lease", sys.argv[1]]
code = 0
try:
    runpy.run_module("reddit_sentiment", run_name="__main__")
except SystemExit as exit:
    code = exit.code or 0
# VmHWM, not ru_maxrss: Linux carries the forking parent's peak over into the latter.
own = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
print(f"PEAK_RSS_KB {own} {kids.ru_maxrss} {cpu}", file=sys.stderr)
sys.exit(code)
"""


# The throughput file has the dumps' 2 GiB window. The memory files have a 4 MiB one: a
# zstandard decoder keeps up to a window of the text it has written (the format's long-distance
# matches refer back that far), so a file smaller than its window costs its whole text in
# memory whatever the reader does (measured: specs/measurements.md#import-memory); with a
# window below both sizes, the figure is the import's own.
THROUGHPUT_WINDOW_LOG = 31
MEMORY_WINDOW_LOG = 22


def dump_file(lines: int, cache_dir: Path, window_log: int = THROUGHPUT_WINDOW_LOG) -> Path:
    path = cache_dir / f"dump-v{GENERATOR_VERSION}-{lines}-{SEED}-w{window_log}.zst"
    if not path.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"partial-{path.name}")  # still .zst: compressed
        dumpfile.write_dump(partial, dumpfile.things(lines, seed=SEED), window_log=window_log)
        partial.rename(path)
    return path


def texts_of(path: Path) -> list[str]:
    """What the import scores of each line: the same parsing, then `text_of`."""
    texts = []
    with DumpReader(path) as reader:
        for record in reader.records():
            if record.data is None or record.thing_kind is None:
                continue
            try:
                item = item_from_data(record.data, record.thing_kind, "", 0.0)
            except ItemRejected:
                continue
            texts.append(text_of(item))
    return texts


def import_once(path: Path, workdir: Path) -> dict[str, Any]:
    db = workdir / f"import-{path.stem}.db"
    env = {
        **os.environ,
        "SQLITE_PATH": str(db),
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"import failed ({done.returncode}): {done.stderr[-2000:]}")
    own_kb, children_kb, cpu = next(
        line.split()[1:] for line in done.stderr.splitlines() if line.startswith("PEAK_RSS_KB")
    )
    with sqlite3.connect(db) as conn:
        began, ended, counts = conn.execute(
            "SELECT started_at, finished_at, subreddits FROM runs WHERE kind = 'import'"
        ).fetchone()
        stored_items = conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
    stored = sum(c["new"] + c["updated"] for c in json.loads(counts).values())
    db.unlink(missing_ok=True)
    return {
        "lines": stored,
        "stored_items": stored_items,
        "seconds": round(ended - began, 3),
        "wall_seconds": round(wall, 3),
        "items_per_second": round(stored / (ended - began), 1),
        # CPU seconds of the import and its scoring worker, start-up included: on a machine
        # shared with other work the wall-time rate says how much of it the import got.
        "cpu_seconds": round(float(cpu), 2),
        "peak_rss_mb": round(int(own_kb) / 1024, 1),
        "worker_peak_rss_mb": round(int(children_kb) / 1024, 1),
        "file_mb": round(path.stat().st_size / 2**20, 1),
    }


def raw_vader(texts: list[str]) -> tuple[float, float]:
    """Bare `polarity_scores` over `texts` in this process: (texts per wall second, texts
    per CPU second)."""
    vader = SentimentIntensityAnalyzer()
    wall, cpu = time.perf_counter(), time.process_time()
    for text in texts:
        vader.polarity_scores(text)
    return len(texts) / (time.perf_counter() - wall), len(texts) / (time.process_time() - cpu)


def measure(lines: tuple[int, int, int], cache_dir: Path) -> dict[str, Any]:
    """`lines`: (smallest file, the throughput file, largest file). Each step's result is also
    written to cache_dir/import-partial.json as it comes (a long run cut short keeps them)."""
    small, mid, large = lines
    partial: dict[str, Any] = {}

    def keep(name: str, value: Any) -> None:
        partial[name] = value
        (cache_dir / "import-partial.json").write_text(json.dumps(partial, indent=2))

    through_file = dump_file(mid, cache_dir)
    memory_files = {n: dump_file(n, cache_dir, MEMORY_WINDOW_LOG) for n in (small, large)}
    texts = texts_of(through_file)
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        before, before_cpu = raw_vader(texts)
        keep("raw_before", [before, before_cpu])
        through = import_once(through_file, Path(tmp))
        keep("throughput_run", through)
        after, after_cpu = raw_vader(texts)
        keep("raw_after", [after, after_cpu])
        del texts
        runs = {}
        for n, path in memory_files.items():
            runs[n] = import_once(path, Path(tmp))
            keep(f"memory_run_{n}", runs[n])
    raw = max(before, after)
    raw_cpu = max(before_cpu, after_cpu)
    return {
        # This section may be run on its own (`python -m bench --only import`): when and under
        # what load, beside the run's own.
        "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average_at_end": os.getloadavg()[0],
        "throughput": {
            "ratio": round(through["items_per_second"] / raw, 3),
            "import_items_per_second": through["items_per_second"],
            "raw_vader_items_per_second": round(raw, 1),
            "raw_vader_passes": [round(before, 1), round(after, 1)],
            # per CPU second (the import's two processes together / raw VADER's one): what
            # the pipeline costs beside VADER, whatever share of the machine each side got
            "cpu_ratio": round(through["lines"] / through["cpu_seconds"] / raw_cpu, 3),
            "raw_vader_items_per_cpu_second": round(raw_cpu, 1),
            "lines": mid,
            "window_log": THROUGHPUT_WINDOW_LOG,
            "run": through,
        },
        "memory": {
            "peak_rss_mb": runs[large]["peak_rss_mb"],
            "growth": round(runs[large]["peak_rss_mb"] / runs[small]["peak_rss_mb"], 3),
            "small_lines": small,
            "large_lines": large,
            "small_peak_rss_mb": runs[small]["peak_rss_mb"],
            "window_log": MEMORY_WINDOW_LOG,
            "runs": {str(n): run for n, run in sorted(runs.items())},
        },
    }
