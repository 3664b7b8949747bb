"""One Settings object, read once from the environment and `.env`.

The environment variable names are a contract: tests, ops scripts and `.env.example` use them.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class WorkerMode(StrEnum):
    """Where a cycle's CPU-bound step runs: a single-worker child process (the loop never
    waits on its GIL time), or inline in the collector thread."""

    PROCESS = "process"
    INLINE = "inline"


AnalyzerMode = WorkerMode  # the name the analyzer's setting was introduced under


class StorageBackend(StrEnum):
    SQLITE = "sqlite"
    COSMOS = "cosmos"


class Role(StrEnum):
    """What this process does: serve the API, collect, or both."""

    ALL = "all"
    API = "api"
    COLLECTOR = "collector"


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # Reddit (read-only "script"/client-credentials app)
    reddit_client_id: str = ""
    reddit_client_secret: SecretStr = SecretStr("")
    reddit_user_agent: str = "reddit-sentiment/0.1 (collector)"
    reddit_url: str = "https://www.reddit.com"
    reddit_oauth_url: str = "https://oauth.reddit.com"
    reddit_timeout_seconds: float = Field(default=16.0, gt=0, le=300)
    reddit_max_attempts_on_429: int = Field(default=3, ge=1, le=10)
    reddit_max_retry_after_seconds: float = Field(default=60.0, ge=0, le=600)

    # Collection
    subreddits: Annotated[list[str], NoDecode] = Field(default_factory=list)
    collection_interval_seconds: int = Field(default=900, ge=1)
    collection_start_delay_seconds: float = Field(default=5.0, ge=0)
    collection_limit: int = Field(default=100, ge=1, le=1000)
    collection_budget_seconds: float = Field(default=600.0, gt=0)
    collection_grace_seconds: float = Field(default=120.0, ge=0)
    circuit_breaker_threshold: int = Field(default=3, ge=1)
    circuit_breaker_cooldown_seconds: float = Field(default=300.0, ge=0)
    reddit_requests_per_minute: int = Field(default=100, ge=1)
    collection_shutdown_timeout_seconds: float = Field(default=30.0, ge=0)
    analyzer_max_chars: int = Field(default=5000, ge=100)
    analyzer_mode: WorkerMode = WorkerMode.PROCESS
    collector_mode: WorkerMode = WorkerMode.PROCESS
    collector_warm_up: bool = True
    retention_days: int = Field(default=30, ge=1)
    # Items loaded from dump files (`import`) and their aggregates: None keeps them for good.
    import_retention_days: int | None = Field(default=None, ge=1)
    # Lines of a dump file scored and stored as one batch (a few are in flight at once).
    import_batch_size: int = Field(default=1000, ge=10, le=100_000)
    retention_interval_seconds: int = Field(default=3600, ge=10)
    role: Role = Role.ALL
    track_keywords: Annotated[list[str], NoDecode] = Field(default_factory=list)
    comment_tree_posts: int = Field(default=0, ge=0, le=100)
    comment_tree_more_limit: int = Field(default=8, ge=0, le=1000)
    comment_tree_request_budget: int = Field(default=30, ge=1, le=10000)
    trending_interval_seconds: int = Field(default=300, ge=10)
    trending_min_count: int = Field(default=3, ge=1)
    lease_ttl_seconds: float = Field(default=60.0, ge=1, le=3600)

    # Storage
    storage_backend: StorageBackend = StorageBackend.SQLITE
    sqlite_path: Path = Path("data/reddit_sentiment.db")
    sqlite_busy_timeout_seconds: float = Field(default=5.0, ge=0, le=300)
    cosmos_endpoint: str = ""
    cosmos_key: SecretStr = SecretStr("")
    cosmos_database: str = "reddit_sentiment"
    cosmos_container_prefix: str = ""
    cosmos_max_concurrency: int = Field(default=8, ge=1, le=256)

    # API
    admin_api_key: SecretStr = SecretStr("")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_level: str = "INFO"

    @field_validator("subreddits", mode="before")
    @classmethod
    def _subreddits(cls, value: object) -> object:
        names = _split_csv(value)
        if isinstance(names, list):
            cleaned = [str(n).removeprefix("r/").removeprefix("/r/").strip() for n in names]
            bad = [n for n in cleaned if not _valid_subreddit(n)]
            if bad:
                raise ValueError(f"not a valid subreddit name: {', '.join(bad)}")
            return list(dict.fromkeys(n.lower() for n in cleaned))
        return names

    @model_validator(mode="after")
    def _cosmos_needs_endpoint(self) -> Settings:
        if self.storage_backend is StorageBackend.COSMOS and not (
            self.cosmos_endpoint and self.cosmos_key.get_secret_value()
        ):
            raise ValueError("STORAGE_BACKEND=cosmos needs COSMOS_ENDPOINT and COSMOS_KEY")
        return self

    @field_validator("track_keywords", mode="before")
    @classmethod
    def _keywords(cls, value: object) -> object:
        from .models import canonical

        names = _split_csv(value)
        if isinstance(names, list):
            bad = [n for n in names if len(str(n)) > 64 or str(n) == "$"]
            if bad:
                raise ValueError(f"not a usable keyword: {', '.join(map(str, bad))}")
            return list(dict.fromkeys(canonical(str(n)) for n in names))
        return names

    @field_validator("import_retention_days", mode="before")
    @classmethod
    def _keep_when_empty(cls, value: object) -> object:
        # `IMPORT_RETENTION_DAYS=` (as in .env.example) means keep, like leaving it unset
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @property
    def collection_configured(self) -> bool:
        """Collection needs credentials and at least one subreddit."""
        return bool(
            self.reddit_client_id
            and self.reddit_client_secret.get_secret_value()
            and self.subreddits
        )

    def collection_not_configured_reason(self) -> str | None:
        missing = []
        if not self.reddit_client_id:
            missing.append("REDDIT_CLIENT_ID")
        if not self.reddit_client_secret.get_secret_value():
            missing.append("REDDIT_CLIENT_SECRET")
        if not self.subreddits:
            missing.append("SUBREDDITS")
        return f"collection not configured: set {', '.join(missing)}" if missing else None


def rate_budget(settings: Settings) -> dict[str, object]:
    """Requests one cycle needs against what Reddit allows in one interval."""
    from .models import REDDIT_PAGE_SIZE, Listing

    pages = -(-settings.collection_limit // REDDIT_PAGE_SIZE)
    per_cycle = len(settings.subreddits) * len(Listing) * pages
    allowed = settings.reddit_requests_per_minute * settings.collection_interval_seconds / 60
    fits = per_cycle <= allowed
    message = (
        f"a cycle needs {per_cycle} requests ({len(settings.subreddits)} subreddits x "
        f"{len(Listing)} listings x {pages} pages); Reddit allows about "
        f"{allowed:.0f} per {settings.collection_interval_seconds}s interval "
        f"({settings.reddit_requests_per_minute}/min)"
    )
    if not fits:
        message += ": raise COLLECTION_INTERVAL_SECONDS or lower SUBREDDITS/COLLECTION_LIMIT"
    return {
        "requests_per_cycle": per_cycle,
        "allowed_per_interval": int(allowed),
        "fits": fits,
        "message": message,
    }


def _valid_subreddit(name: str) -> bool:
    return 2 <= len(name) <= 21 and all(c.isalnum() or c == "_" for c in name) and name.isascii()


class SettingsError(SystemExit):
    """Start-up stops with one clear line that names the variable."""


def format_settings_error(error: ValidationError) -> str:
    parts = []
    for err in error.errors():
        name = "_".join(str(p) for p in err["loc"]).upper()
        message = str(err["msg"]).removeprefix("Value error, ")
        if not name:  # a check across several variables: the message names them
            parts.append(message)
            continue
        shown = "***" if any(k in name for k in ("SECRET", "KEY")) else repr(err.get("input"))
        parts.append(f"{name}: {message} (got {shown})")
    return "invalid configuration: " + "; ".join(parts)


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning validation errors into one readable line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise SettingsError(format_settings_error(error)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
