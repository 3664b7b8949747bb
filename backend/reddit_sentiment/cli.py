"""Command line: serve the API + scheduler, or run the demo against the bundled fake Reddit."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import typer

from .settings import SettingsError, load_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
log = logging.getLogger("reddit_sentiment")


def _serve(overrides: dict[str, object] | None = None, workers: int = 1) -> None:
    import uvicorn

    from .api.app import create_app
    from .logging_setup import configure_logging

    try:
        settings = load_settings(**(overrides or {}))
    except SettingsError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level)
    if workers > 1:
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
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )


@app.command()
def serve(
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes")] = 1,
) -> None:
    """Run the API and the collection scheduler with settings from the environment and .env."""
    _serve(workers=workers)


@app.command()
def demo(
    fake_port: Annotated[int, typer.Option(help="Port of the bundled fake Reddit")] = 8081,
) -> None:
    """Start the bundled fake Reddit with sample data and the service pointed at it."""
    from .fakereddit import FakeReddit

    fake = FakeReddit.sample().start(host="127.0.0.1", port=fake_port)
    typer.echo(f"fake Reddit with sample data on {fake.url}")
    sample_subs = ",".join(sorted(fake.subreddit_names()))
    overrides: dict[str, object] = {
        "reddit_url": fake.url,
        "reddit_oauth_url": fake.url,
        "reddit_client_id": os.environ.get("REDDIT_CLIENT_ID") or "demo",
        "reddit_client_secret": os.environ.get("REDDIT_CLIENT_SECRET") or "demo",
        "subreddits": os.environ.get("SUBREDDITS") or sample_subs,
        "collection_start_delay_seconds": float(
            os.environ.get("COLLECTION_START_DELAY_SECONDS") or 2
        ),
        "sqlite_path": os.environ.get("SQLITE_PATH") or "data/demo.db",
    }
    try:
        _serve(overrides)
    finally:
        fake.stop()


def main() -> None:
    try:
        app()
    except SettingsError as error:
        print(error, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
