"""docker-compose.yml as `docker compose config` reads it: each profile starts what the file's
header says, no two services publish one host port, and every variable handed to the service
is a setting. Skipped, saying so, where the docker client or its compose plugin is missing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reddit_sentiment.settings import Settings

REPO = Path(__file__).resolve().parents[2]
# The emulator's own variables, not the service's.
NOT_SETTINGS = {
    "AZURE_COSMOS_EMULATOR_PARTITION_COUNT",
    "AZURE_COSMOS_EMULATOR_ENABLE_DATA_PERSISTENCE",
}


def _compose_missing() -> str | None:
    if shutil.which("docker") is None:
        return "the docker client is not installed"
    try:
        found = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"`docker compose version` failed: {error}"
    if found.returncode != 0:
        return "the docker client has no compose plugin (`docker compose version` fails)"
    return None


pytestmark = pytest.mark.skipif(
    (reason := _compose_missing()) is not None, reason=f"compose config check: {reason}"
)


def config(tmp_path: Path, *profiles: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`docker compose config` of a copy of the file, away from any developer's .env."""
    shutil.copy(REPO / "docker-compose.yml", tmp_path / "docker-compose.yml")
    args = ["docker", "compose", "--project-directory", str(tmp_path)]
    args += ["-f", str(tmp_path / "docker-compose.yml")]
    for profile in profiles:
        args += ["--profile", profile]
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), **env}
    return subprocess.run(
        [*args, "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
        cwd=tmp_path,
    )


def services(tmp_path: Path, *profiles: str, **env: str) -> dict[str, Any]:
    result = config(tmp_path, *profiles, **env)
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)["services"]
    return parsed


def published(svcs: dict[str, Any]) -> list[str]:
    return [str(p["published"]) for s in svcs.values() for p in s.get("ports", [])]


def test_each_profile_starts_what_the_header_says(tmp_path: Path) -> None:
    assert set(services(tmp_path)) == {"app"}
    demo = services(tmp_path, "demo")
    assert set(demo) == {"app", "fake-reddit", "demo"}
    assert published(demo) and sorted(published(demo)) == sorted(set(published(demo)))
    assert {str(p["published"]) for p in demo["demo"]["ports"]} == {"8002"}
    key = {"COSMOS_EMULATOR_KEY": "k"}
    cosmos = services(tmp_path, "cosmos", **key)
    assert set(cosmos) == {"app", "cosmos", "app-cosmos"}
    assert sorted(published(cosmos)) == sorted(set(published(cosmos)))
    both = services(tmp_path, "demo", "cosmos", **key)
    assert sorted(published(both)) == sorted(set(published(both)))  # no port taken twice


def test_the_cosmos_profile_names_the_key_it_needs(tmp_path: Path) -> None:
    result = config(tmp_path, "cosmos")
    assert result.returncode != 0
    assert "COSMOS_EMULATOR_KEY" in result.stderr


def test_every_variable_given_to_the_service_is_a_setting(tmp_path: Path) -> None:
    names = {name.upper() for name in Settings.model_fields}
    svcs = services(tmp_path, "demo", "cosmos", COSMOS_EMULATOR_KEY="k")
    given = {key for s in svcs.values() for key in (s.get("environment") or {})}
    assert given - NOT_SETTINGS <= names, given - NOT_SETTINGS - names
