from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fakereddit import FakeReddit
from reddit_sentiment.settings import Settings, load_settings
from reddit_sentiment.store.sqlite import SqliteStore
from reddit_sentiment.store.verify import verify


def settings_for(fake: FakeReddit, subreddits: list[str], **extra: object) -> Settings:
    """Real PRAW pointed at the fake: both URLs, short timeouts so fault tests stay quick."""
    values: dict[str, object] = {
        "reddit_client_id": "test-client",
        "reddit_client_secret": "test-secret-value",
        "reddit_url": fake.url,
        "reddit_oauth_url": fake.url,
        "subreddits": ",".join(subreddits),
        "reddit_timeout_seconds": 1.0,
        "reddit_max_retry_after_seconds": 0.2,
        "collection_start_delay_seconds": 0,
    }
    values.update(extra)
    return load_settings(**values)


@pytest.fixture
def recorded_reddit(recordings_dir: Path) -> Iterator[FakeReddit]:
    with FakeReddit.from_recordings(recordings_dir).start() as fake:
        yield fake


@pytest.fixture
def sample_reddit() -> Iterator[FakeReddit]:
    with FakeReddit.sample().start() as fake:
        yield fake


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "collect.db")
    store.open()
    yield store
    # Every integration test that collects into it ends with its aggregates verified.
    report = verify(store)
    store.close()
    assert report.ok, "verify found drift:\n" + "\n".join(d.describe() for d in report.drifts)
