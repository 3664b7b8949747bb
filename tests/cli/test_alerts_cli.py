"""`alerts test`: a dry run over the stored data that prints what would fire, sends nothing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reddit_sentiment.cli import app
from reddit_sentiment.models import AlertRule
from reddit_sentiment.store.sqlite import SqliteStore
from tests.alerts.receiver import receiver
from tests.factories import make_item

runner = CliRunner()

RULES = """
rules:
  - name: python sours
    subreddit: python
    metric: mean_compound
    window: 1h
    condition: {below: 0}
    min_items: 3
    notify: ["json://bot:hush@{url}/hook"]
  - name: python booms
    subreddit: python
    metric: mentions
    window: 24h
    condition: {zscore_above: 2}
    notify: ["json://{url}/hook"]
"""


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SqliteStore:
    path = tmp_path / "alerts-cli.db"
    monkeypatch.setenv("SQLITE_PATH", str(path))
    monkeypatch.setenv("SUBREDDITS", "python")
    store = SqliteStore(path)
    store.open()
    now = time.time()
    store.upsert_items(
        [make_item(compound=-0.6, created_utc=now - 60 * n, score=n) for n in range(1, 6)]
    )
    store.close()
    return store


def test_a_rules_file_is_evaluated_and_nothing_is_sent(db: SqliteStore, tmp_path: Path) -> None:
    with receiver() as hook:
        rules = tmp_path / "rules.yaml"
        rules.write_text(RULES.replace("{url}", hook.url))
        result = runner.invoke(app, ["alerts", "test", str(rules)])
        assert result.exit_code == 0, result.output
        assert hook.received() == []
    out = result.stdout
    assert "[file-python-sours] python sours: mean_compound over 1h for r/python" in out
    assert "WOULD FIRE: -0.6 is below 0; to json://bot:****@" in out
    assert "Top posts of the window:" in out and "hush" not in out
    assert "[file-python-booms]" in out and "quiet: too little history: 0 of 24" in out


def test_a_stored_rule_by_id_and_the_errors(db: SqliteStore, tmp_path: Path) -> None:
    db.open()
    db.save_alert_rule(AlertRule(id="mine", name="mine", metric="negative_share", window="6h",
                                 condition={"above": 0.5}, notify=["json://localhost"],
                                 subreddit="python"))  # fmt: skip
    db.close()
    result = runner.invoke(app, ["alerts", "test", "mine"])
    assert result.exit_code == 0, result.output
    assert "[mine] mine: negative_share over 6h" in result.stdout and "WOULD FIRE" in result.stdout
    missing = runner.invoke(app, ["alerts", "test", "nosuch"])
    assert missing.exit_code == 1 and "'nosuch' is neither a rule id nor a file" in missing.output
    bad = tmp_path / "bad.json"
    bad.write_text('[{"name": "x", "metric": "karma"}]')
    broken = runner.invoke(app, ["alerts", "test", str(bad)])
    assert broken.exit_code == 2 and "rule 'x': metric: unknown 'karma'" in broken.output
    assert "Traceback" not in broken.output
