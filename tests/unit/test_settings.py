"""Settings: the env names are a contract; bad values stop start-up with one clear line."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from reddit_sentiment.settings import Settings, SettingsError, StorageBackend, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in (
        "SUBREDDITS",
        "COLLECTION_INTERVAL_SECONDS",
        "STORAGE_BACKEND",
        "REDDIT_CLIENT_ID",
        "REDDIT_CLIENT_SECRET",
        "ADMIN_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]  # no stray .env


def test_defaults() -> None:
    s = Settings()
    assert s.reddit_url == "https://www.reddit.com"
    assert s.reddit_oauth_url == "https://oauth.reddit.com"
    assert (s.collection_interval_seconds, s.collection_start_delay_seconds) == (900, 5.0)
    assert (s.collection_limit, s.retention_days) == (100, 30)
    assert s.storage_backend is StorageBackend.SQLITE
    assert not s.collection_configured
    assert s.collection_not_configured_reason() == (
        "collection not configured: set REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET, SUBREDDITS"
    )


def test_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUBREDDITS", "Python, r/dataisbeautiful ,python")
    monkeypatch.setenv("COLLECTION_INTERVAL_SECONDS", "60")
    monkeypatch.setenv("REDDIT_CLIENT_ID", "id")
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", "secret")
    s = Settings()
    assert s.subreddits == ["python", "dataisbeautiful"]
    assert s.collection_interval_seconds == 60
    assert s.collection_configured


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("COLLECTION_INTERVAL_SECONDS", "-5", "COLLECTION_INTERVAL_SECONDS"),
        ("STORAGE_BACKEND", "postgres", "STORAGE_BACKEND"),
        ("COLLECTION_LIMIT", "lots", "COLLECTION_LIMIT"),
        ("SUBREDDITS", "python,not a sub!", "SUBREDDITS: not a valid subreddit name: not a sub!"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    message = str(error.value)
    assert message.startswith("invalid configuration: ")
    assert expected in message
    assert "\n" not in message


def test_secret_values_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings(reddit_client_secret="hunter2-secret", admin_api_key="k3y-value")
    dumped = repr(s) + str(s.model_dump())
    assert "hunter2-secret" not in dumped and "k3y-value" not in dumped


@pytest.mark.processes
def test_startup_stops_with_one_line(tmp_path: object) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "reddit_sentiment", "serve"],
        env={"COLLECTION_INTERVAL_SECONDS": "-1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(tmp_path),
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "COLLECTION_INTERVAL_SECONDS" in lines[0]


@pytest.mark.parametrize(("level", "azure_info_shown"), [("INFO", False), ("DEBUG", True)])
def test_the_azure_sdks_request_log_is_shown_only_at_debug(
    level: str, azure_info_shown: bool
) -> None:
    from reddit_sentiment.logging_setup import configure_logging

    try:
        configure_logging(level)
        request_log = logging.getLogger("azure.core.pipeline.policies.http_logging_policy")
        assert request_log.isEnabledFor(logging.INFO) is azure_info_shown
    finally:
        logging.getLogger("azure").setLevel(logging.NOTSET)
        configure_logging("INFO")
        logging.getLogger("azure").setLevel(logging.NOTSET)


def test_import_retention_is_kept_when_unset_or_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().import_retention_days is None
    monkeypatch.setenv("IMPORT_RETENTION_DAYS", "")  # as .env.example writes it
    assert load_settings().import_retention_days is None
    monkeypatch.setenv("IMPORT_RETENTION_DAYS", "400")
    assert load_settings().import_retention_days == 400
    monkeypatch.setenv("IMPORT_RETENTION_DAYS", "0")
    with pytest.raises(SettingsError, match="IMPORT_RETENTION_DAYS"):
        load_settings()
