"""Command line: serve, a demo, one-off collection or backfill, streamed export, stats, and
verify / repair of the aggregates."""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import typer

from .models import COLLECTOR_LEASE, CollectionRun, Item, Kind, Listing
from .settings import Settings, SettingsError, load_settings
from .store.base import Store

if TYPE_CHECKING:
    from .store.verify import Report

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
log = logging.getLogger("reddit_sentiment")

EXPORT_FIELDS = (
    "id",
    "kind",
    "subreddit",
    "author",
    "created_utc",
    "title",
    "body",
    "permalink",
    "score",
    "num_comments",
    "parent_id",
    "link_id",
    "compound",
    "pos",
    "neu",
    "neg",
    "label",
    "truncated",
    "collected_at",
    "keywords",
    "state",
)


def _settings(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except SettingsError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None


@contextmanager
def _open_store(settings: Settings, *, create: bool = False) -> Iterator[Store]:
    """The configured store, opened; said on stderr which one, so an empty answer is never a
    mystery. Reading (`create` False) a SQLite file that does not exist is an error: a typo
    in SQLITE_PATH would otherwise make a new, empty database and report nothing."""
    from .settings import StorageBackend
    from .store import create_store

    if settings.storage_backend is StorageBackend.SQLITE:
        where = f"SQLite file {settings.sqlite_path}"
        if not create and not settings.sqlite_path.exists():
            typer.echo(
                f"no database at {settings.sqlite_path} (SQLITE_PATH): run `collect` or "
                "`serve` first, or point SQLITE_PATH at one (make demo writes data/demo.db)",
                err=True,
            )
            raise typer.Exit(1)
    else:
        where = f"Cosmos DB {settings.cosmos_endpoint} database {settings.cosmos_database}"
    typer.echo(f"store: {where}", err=True)
    store = create_store(settings)
    store.open()
    try:
        yield store
    finally:
        asyncio.run(store.aclose())


# How long a command holds the collector lease at most: it ends sooner, and lets the lease go.
LEASE_SECONDS = 3600.0


@contextmanager
def _collector_lease(
    store: Store, owner: str, refusal: str, ttl: float = LEASE_SECONDS
) -> Iterator[None]:
    """The collector lease held for the block, so a command never writes beside a collecting
    service; when another process holds it, `refusal` on stderr and exit code 1."""
    if not store.acquire_lease(COLLECTOR_LEASE, owner, ttl_seconds=ttl):
        typer.echo(refusal, err=True)
        raise typer.Exit(1)
    try:
        yield
    finally:
        store.release_lease(COLLECTOR_LEASE, owner)


def _serve(overrides: dict[str, object] | None = None, workers: int = 1) -> None:
    import uvicorn

    from .api.app import create_app
    from .logging_setup import configure_logging

    settings = _settings(**(overrides or {}))
    configure_logging(settings.log_level)
    # Bound before anything starts: a busy port found by uvicorn after the app's start-up
    # tore the scheduler and the store down mid-start and could kill the interpreter.
    sock = _listen(settings.host, settings.port)
    _check_store(settings)
    _check_rules_file(settings)
    if workers > 1:
        sock.close()  # uvicorn binds again for its worker processes; the check was the point
        # Each worker process builds its own app from the environment; the collector lease
        # in the store makes exactly one of them collect.
        uvicorn.run(
            "reddit_sentiment.api.app:create_app",
            factory=True,
            workers=workers,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            access_log=False,
        )
        return
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )
    uvicorn.Server(config).run(sockets=[sock])


def _check_store(settings: Settings) -> None:
    """Open the store once before serving, so a path that cannot be written or an account that
    cannot be reached stops start-up with one line instead of a failed lifespan's traceback."""
    from .store import create_store
    from .store.base import StoreUnavailable

    store = create_store(settings)
    try:
        store.open()
    except StoreUnavailable as error:
        setting = "SQLITE_PATH" if store.name == "sqlite" else "COSMOS_*"
        typer.echo(f"cannot open the store: {error} (check {setting})", err=True)
        raise typer.Exit(1) from None
    finally:
        asyncio.run(store.aclose())


def _listen(host: str, port: int) -> socket.socket:
    """The service's listening socket, or one line naming the cause and the setting."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        reason = error.strerror or str(error)
        typer.echo(f"cannot listen on {host}:{port}: {reason} (set HOST or PORT)", err=True)
        raise typer.Exit(1) from None
    sock.listen(2048)
    return sock


@app.command()
def serve(
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes")] = 1,
) -> None:
    """Run the API and the collection scheduler with settings from the environment and .env."""
    _serve(workers=workers)


@app.command()
def demo(
    fake_port: Annotated[
        int,
        typer.Option(envvar="DEMO_REDDIT_PORT", help="Port of the fake Reddit (0: any free one)"),
    ] = 0,
) -> None:
    """Start the fake Reddit (a development tool) with sample data and the service pointed at it."""
    try:
        from fakereddit import FakeReddit
    except ImportError:
        typer.echo(
            "the demo needs the development tools: run `make install` (pip install -e ./devtools)",
            err=True,
        )
        raise typer.Exit(1) from None

    try:
        fake = FakeReddit.sample().start(host="127.0.0.1", port=fake_port)
    except OSError as error:
        reason = error.strerror or str(error)
        typer.echo(
            f"cannot start the fake Reddit on 127.0.0.1:{fake_port}: {reason} "
            "(set DEMO_REDDIT_PORT, or leave it unset for any free port)",
            err=True,
        )
        raise typer.Exit(1) from None
    typer.echo(f"fake Reddit with sample data on {fake.url}")
    db = os.environ.get("SQLITE_PATH") or "data/demo.db"
    host, port = os.environ.get("HOST") or "127.0.0.1", os.environ.get("PORT") or "8000"
    typer.echo(
        f"dashboard: http://{host}:{port}/  API docs: http://{host}:{port}/api/v1/docs\n"
        f"the demo's data from the command line: SQLITE_PATH={db} "
        ".venv/bin/python -m reddit_sentiment stats (or export --format csv)"
    )
    sample_subs = ",".join(sorted(fake.subreddit_names()))
    overrides: dict[str, object] = {
        "reddit_url": fake.url,
        "reddit_oauth_url": fake.url,
        "reddit_client_id": os.environ.get("REDDIT_CLIENT_ID") or "demo",
        "reddit_client_secret": os.environ.get("REDDIT_CLIENT_SECRET") or "demo",
        "subreddits": os.environ.get("SUBREDDITS") or sample_subs,
        "track_keywords": os.environ.get("TRACK_KEYWORDS") or "pandas,rust,python",
        "collection_start_delay_seconds": float(
            os.environ.get("COLLECTION_START_DELAY_SECONDS") or 2
        ),
        "sqlite_path": db,
    }
    try:
        _serve(overrides)
    finally:
        fake.stop()


@app.command()
def collect(
    subreddit: Annotated[
        list[str], typer.Option("--subreddit", "-s", help="Subreddit to collect (repeatable)")
    ],
    limit: Annotated[
        int,
        typer.Option(min=1, max=1000, help="Items per listing; Reddit stops at about 1,000"),
    ] = 100,
) -> None:
    """Collect once now (or backfill up to ~1,000 items per listing), with a progress bar.

    Reddit's listings end at about 1,000 items, so a backfill reaches back only that far.
    Takes the collector lease for its duration: it refuses to run beside a collecting service.
    """
    from rich.progress import Progress

    from .collection.cycle import build_cycle
    from .models import process_owner

    settings = _settings(subreddits=",".join(subreddit), collection_limit=limit)
    reason = settings.collection_not_configured_reason()
    if reason:
        typer.echo(reason, err=True)
        raise typer.Exit(2)
    owner = f"cli:{process_owner()}"
    refusal = (
        "another process is collecting (it holds the collector lease); "
        "use POST /api/v1/collections on the service instead"
    )
    with (
        _open_store(settings, create=True) as store,
        _collector_lease(store, owner, refusal),
    ):
        cycle = build_cycle(settings, store, owner=owner)
        try:
            with Progress(transient=False) as progress:
                task = progress.add_task(
                    "collecting", total=len(settings.subreddits) * len(Listing)
                )

                def advance(sub: str, listing: object, fetched: int) -> None:
                    progress.update(task, advance=1, description=f"r/{sub} {listing}: {fetched}")

                cycle.on_listing = advance
                run = cycle.run(trigger="cli")
        finally:
            cycle.close()
    for name, counts in run.subreddits.items():
        typer.echo(
            f"r/{name}: fetched {counts.fetched}, new {counts.new}, "
            f"updated {counts.updated}, failed listings {counts.failed}, "
            f"rejected items {counts.rejected}"
        )
    _run_end(run)


def _run_end(run: CollectionRun) -> None:
    """A run's errors and rejected items on stderr, then its id and status; exit 1 when it
    failed."""
    for error in run.errors:
        typer.echo(f"  {error.subreddit}/{error.listing}: {error.error}: {error.message}", err=True)
    for rejected in run.rejections:
        typer.echo(f"  rejected {rejected.fullname}: {rejected.reason}", err=True)
    typer.echo(f"run {run.id}: {run.status.value}")
    if run.status.value == "failed":
        raise typer.Exit(1)


@app.command()
def reconcile(
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            help="Re-check every item at least this old (90s, 30m, 6h, 2d; 0: all), "
            "instead of those due by RECONCILE_AFTER",
        ),
    ] = None,
    subreddit: Annotated[
        str | None, typer.Option("--subreddit", "-s", help="Only this subreddit's items")
    ] = None,
) -> None:
    """Re-fetch stored items from Reddit now (one reconcile pass), with a progress bar.

    Scores, comment counts and edits are brought up to date; deleted and removed items are
    purged. Not capped by RECONCILE_REQUEST_SHARE, but never into Reddit's rate-limit reserve
    (it waits for the window's reset). Takes the collector lease like `collect`.
    """
    from rich.progress import Progress

    from .collection.cycle import build_cycle
    from .models import process_owner
    from .settings import parse_duration

    try:
        seconds = None if older_than is None else parse_duration(older_than)
    except ValueError as bad:
        raise typer.BadParameter(str(bad), param_hint="--older-than") from None
    name = subreddit.lower().removeprefix("r/") if subreddit else None
    settings = _settings(**({"subreddits": name} if name else {}))
    if not (settings.reddit_client_id and settings.reddit_client_secret.get_secret_value()):
        typer.echo("reconcile needs REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET", err=True)
        raise typer.Exit(2)
    owner = f"cli:{process_owner()}"
    refusal = (
        "another process is collecting (it holds the collector lease); "
        "the service reconciles after each of its cycles"
    )
    with _open_store(settings) as store, _collector_lease(store, owner, refusal):
        cycle = build_cycle(settings, store, owner=owner)
        try:
            with Progress(transient=False) as progress:
                task = progress.add_task("reconciling", total=None)

                def advance(checked: int) -> None:
                    progress.update(task, completed=checked, description=f"checked {checked}")

                cycle.reconciler.on_batch = advance
                run = cycle.reconciler.run(
                    trigger="cli", older_than=seconds, subreddit=name, max_requests=None
                )
        finally:
            cycle.close()
    for sub, counts in sorted(run.subreddits.items()):
        typer.echo(
            f"r/{sub}: checked {counts.checked}, updated {counts.updated}, "
            f"rescored {counts.rescored}, deleted {counts.deleted}, missing {counts.missing}, "
            f"failed {counts.failed}"
        )
    _run_end(run)


@app.command("import")
def import_dumps(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Dump files (.zst, .gz, .jsonl, .ndjson) or directories of them"),
    ],
    subreddit: Annotated[
        list[str] | None,
        typer.Option("--subreddit", "-s", help="Keep only this subreddit (repeatable)"),
    ] = None,
    since: Annotated[str | None, typer.Option(help="Keep items created from (ISO 8601)")] = None,
    until: Annotated[str | None, typer.Option(help="Keep items created before (ISO 8601)")] = None,
    kind: Annotated[Kind | None, typer.Option(help="Keep only posts or comments")] = None,
    no_lease: Annotated[
        bool,
        typer.Option("--no-lease", help="Do not take the collector lease (an API-only service)"),
    ] = False,
) -> None:
    """Load Reddit dump files (one JSON submission or comment per line) into the store.

    Items are scored and aggregated like collected ones and upserted by fullname, so running
    an import again, or importing what the collector saw, stores nothing twice. Ctrl-C stops
    at the next batch and records the run as interrupted; run the same command to resume.
    """
    from .collection.dumps import dump_paths
    from .collection.importer import DumpImporter, ImportFilter, lease_ttl
    from .models import process_owner

    settings = _settings()
    files = dump_paths(paths)
    missing = [str(p) for p in files if not p.is_file()]
    if missing or not files:
        typer.echo(
            f"no such dump file: {', '.join(missing) or ' '.join(map(str, paths))}", err=True
        )
        raise typer.Exit(2)
    names = _subreddit_names(subreddit or [])
    keep = ImportFilter(
        subreddits=frozenset(names) if names else None,
        since=_parse_time(since, "--since"),
        until=_parse_time(until, "--until"),
        kind=kind,
    )
    owner = f"cli-import:{process_owner()}"
    refusal = (
        "another process is collecting (it holds the collector lease): stop it, or "
        "pass --no-lease if that service only serves the API"
    )
    with (
        _open_store(settings, create=True) as store,
        nullcontext() if no_lease else _collector_lease(store, owner, refusal, lease_ttl(settings)),
    ):
        importer = DumpImporter(
            settings, store, keep=keep, owner=owner, lease_owner=None if no_lease else owner
        )
        try:
            with _stop_on_sigint(importer.stop_requested), _import_progress() as report:
                typer.echo("loading VADER and starting the scoring worker ...", err=True)
                importer.analyzer.warm_up()
                importer.on_progress = report
                run = importer.run(files)
        finally:
            importer.close()
    _import_summary(run, importer.progress)


def _subreddit_names(names: list[str]) -> list[str]:
    """Subreddit names as items store them: lower case, without an "r/" in front."""
    return [name.strip().removeprefix("/").removeprefix("r/").lower() for name in names]


@contextmanager
def _stop_on_sigint(stop: Any) -> Iterator[None]:
    """The first Ctrl-C asks the import to stop at its next batch (it then records the run
    as interrupted); a second one interrupts at once, and the run is still recorded."""
    import signal

    def handler(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _import_progress() -> Iterator[Any]:
    """A progress bar: bytes of the files read, items stored per second, and the counts."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from .collection.importer import ImportProgress

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(bar_width=20),
        DownloadColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[counts]}"),
        transient=False,
    ) as bar:
        task = bar.add_task("importing", total=None, counts="")

        def report(progress: ImportProgress) -> None:
            bar.update(
                task,
                total=progress.total_bytes or None,
                completed=progress.bytes_read,
                description=progress.file or "importing",
                counts=(
                    f"{progress.items_per_second:,.0f} items/s  stored {progress.stored:,}  "
                    f"skipped {progress.skipped:,}  rejected {progress.rejected:,}"
                ),
            )

        yield report


def _import_summary(run: Any, progress: Any) -> None:
    for name, counts in sorted(run.subreddits.items()):
        if name == "*":
            continue
        typer.echo(
            f"r/{name}: read {counts.fetched}, new {counts.new}, updated {counts.updated}, "
            f"rejected {counts.rejected}"
        )
    typer.echo(
        f"lines {progress.lines}: stored {progress.stored} (new {progress.new}, updated "
        f"{progress.updated}, repeated {progress.repeats}), skipped by filter "
        f"{progress.skipped}, rejected {progress.rejected}"
    )
    shown = run.rejections[:10]
    for rejected in shown:
        typer.echo(f"  rejected {rejected.fullname}: {rejected.reason}", err=True)
    if progress.rejected > len(shown):
        typer.echo(f"  ... and {progress.rejected - len(shown)} more rejected", err=True)
    for error in run.errors:
        typer.echo(f"  {error.listing}: {error.error}: {error.message}", err=True)
    typer.echo(f"run {run.id}: {run.status.value}")
    if run.status.value == "failed":
        raise typer.Exit(1)
    if run.status.value == "interrupted":
        raise typer.Exit(130)


class ExportFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


def _parse_time(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{name} must be an ISO 8601 date-time, got {value!r}") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _row(item: Item) -> dict[str, Any]:
    row = {name: getattr(item, name) for name in EXPORT_FIELDS}
    row["kind"], row["label"], row["state"] = item.kind.value, item.label.value, item.state.value
    return row


@app.command()
def export(
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f")] = ExportFormat.JSONL,
    since: Annotated[str | None, typer.Option(help="ISO 8601 start (inclusive)")] = None,
    until: Annotated[str | None, typer.Option(help="ISO 8601 end (exclusive)")] = None,
    subreddit: Annotated[str | None, typer.Option("--subreddit", "-s")] = None,
    kind: Annotated[Kind | None, typer.Option(help="post or comment")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default stdout)")
    ] = None,
) -> None:
    """Stream stored items, oldest first, as CSV or JSON lines (constant memory)."""
    settings = _settings()
    start, end = _parse_time(since, "--since"), _parse_time(until, "--until")
    with _open_store(settings) as store:
        out: IO[str] = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
        try:
            items = store.iter_items(
                since=start,
                until=end,
                subreddit=subreddit.lower() if subreddit else None,
                kind=kind,
            )
            count = 0
            if fmt is ExportFormat.CSV:
                writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS)
                writer.writeheader()
                for item in items:
                    row = _row(item)
                    row["keywords"] = ",".join(item.keywords)
                    writer.writerow(row)
                    count += 1
            else:
                for item in items:
                    out.write(json.dumps(_row(item), ensure_ascii=False) + "\n")
                    count += 1
        finally:
            if output:
                out.close()
    typer.echo(f"exported {count} items", err=True)


@app.command()
def stats() -> None:
    """Totals per subreddit and the latest collection runs."""
    from rich.console import Console
    from rich.table import Table

    settings = _settings()

    async def gather(store: Store) -> tuple[list[Any], list[Any]]:
        return await store.aggregates(), (await store.list_runs(limit=5)).runs

    with _open_store(settings) as store:
        aggregates, runs = asyncio.run(gather(store))
    console = Console()
    table = Table(title=f"Stored items ({settings.storage_backend.value})")
    for column in ("subreddit", "posts", "comments", "mean compound", "+", "=", "-"):
        table.add_column(column, justify="left" if column == "subreddit" else "right")
    for agg in aggregates:
        mean = f"{agg.sum_compound / agg.count:+.3f}" if agg.count else "-"
        table.add_row(
            agg.subreddit,
            str(agg.posts),
            str(agg.comments),
            mean,
            str(agg.positive),
            str(agg.neutral),
            str(agg.negative),
        )
    console.print(table)
    runs_table = Table(title="Latest collection runs")
    for column in ("id", "status", "trigger", "started", "items", "errors"):
        runs_table.add_column(column)
    for run in runs:
        started = datetime.fromtimestamp(run.started_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        fetched = sum(c.fetched for c in run.subreddits.values())
        runs_table.add_row(
            run.id, run.status.value, run.trigger, started, str(fetched), str(len(run.errors))
        )
    console.print(runs_table)


def _print_drift(report: Report) -> None:
    for drift in report.drifts:
        typer.echo(drift.describe())
    compared = ", ".join(f"{kind} {rows}" for kind, rows in report.rows.items())
    verdict = f"{len(report.drifts)} rows differ" if report.drifts else "no drift"
    if report.unconfirmed:
        verdict += f" ({report.unconfirmed} more differed once only: writes under way)"
    typer.echo(
        f"verified {report.items} items against the aggregates ({compared} rows) in "
        f"{report.seconds:.1f}s: {verdict}"
    )


@app.command()
def verify() -> None:
    """Recompute every aggregate from the stored items; print each difference. Exit 1 on drift."""
    from .store import verify as checks
    from .store.base import StoreUnavailable

    settings = _settings()
    try:
        with _open_store(settings) as store:
            report = checks.verify(store)
    except StoreUnavailable as error:
        typer.echo(f"verify failed: {error}", err=True)
        raise typer.Exit(2) from None
    _print_drift(report)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def repair() -> None:
    """Rebuild the aggregates from the stored items (under the collector lease), then verify."""
    from .models import process_owner
    from .store import verify as checks
    from .store.base import StoreUnavailable

    settings = _settings()
    owner = f"cli:{process_owner()}"
    refusal = (
        "another process holds the collector lease (a running service collects): "
        "stop it, or wait until it lets the lease go, then run repair again"
    )
    try:
        with _open_store(settings) as store, _collector_lease(store, owner, refusal):
            rewritten, report = checks.repair(store)
    except StoreUnavailable as error:
        typer.echo(f"repair failed: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"rewrote {rewritten} aggregate rows")
    _print_drift(report)
    if not report.ok:
        raise typer.Exit(1)


alerts_app = typer.Typer(no_args_is_help=True, help="Alert rules: try them on the stored data.")
app.add_typer(alerts_app, name="alerts")


def _refuse_to_send(url: str, title: str, body: str) -> str | None:
    return "a dry run sends nothing"


@alerts_app.command("test")
def alerts_test(
    rule: Annotated[str, typer.Argument(help="A stored rule's id, or a YAML/JSON rules file")],
) -> None:
    """Evaluate rules against the stored data now and print what would fire; sends nothing
    and records nothing."""
    import time

    from .alerts import Alerting, RuleError, load_rules_file, mask_url
    from .alerts.message import scope

    settings = _settings()
    path = Path(rule)
    rules = []
    if path.is_file():
        try:
            rules = load_rules_file(path, settings)
        except RuleError as error:
            typer.echo(str(error), err=True)
            raise typer.Exit(2) from None
    with _open_store(settings) as store, asyncio.Runner() as runner:
        if not rules:
            found = None if path.is_file() else runner.run(store.get_alert_rule(rule))
            if found is None:
                why = "holds no rules" if path.is_file() else "is neither a rule id nor a file"
                typer.echo(f"{rule!r} {why}", err=True)
                raise typer.Exit(1)
            rules = [found]
        alerting = Alerting(settings, store, send=_refuse_to_send)
        now = time.time()
        for one in rules:
            outcome = alerting.check(one, runner.run, now)
            value = "-" if outcome.value is None else f"{outcome.value:.4g}"
            head = (
                f"[{one.id}] {one.name}: {one.metric} over {one.window} for {scope(one)} = "
                f"{value} ({outcome.items:.1f} items, {outcome.authors} authors)"
            )
            if not outcome.fires:
                typer.echo(f"{head}\n  quiet: {outcome.reason}")
                continue
            alert = alerting.alert_for(outcome, runner.run, now)
            left = alerting.cooldown_left(one, runner.run, now)
            note = f" (but in cooldown for {left / 60:.0f} more minutes)" if left else ""
            targets = ", ".join(mask_url(url) for url in one.notify)
            typer.echo(f"{head}\n  WOULD FIRE{note}: {outcome.reason}; to {targets}")
            typer.echo("  " + alert.title)
            typer.echo("\n".join(f"    {line}" for line in alert.body.splitlines()))
        runner.run(store.aclose())


def _check_rules_file(settings: Settings) -> None:
    """ALERT_RULES_FILE read once before serving: a bad rule stops start-up with one line."""
    if settings.alert_rules_file is None:
        return
    from .alerts import RuleError, load_rules_file

    try:
        load_rules_file(settings.alert_rules_file, settings)
    except RuleError as error:
        typer.echo(f"ALERT_RULES_FILE: {error}", err=True)
        raise typer.Exit(2) from None


def main() -> None:
    try:
        app()
    except SettingsError as error:
        print(error, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
