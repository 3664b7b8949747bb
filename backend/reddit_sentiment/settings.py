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


class ThroughputMode(StrEnum):
    """How the Cosmos DB database is provisioned when the store creates it."""

    MANUAL = "manual"  # COSMOS_THROUGHPUT RU/s, shared by the containers
    AUTOSCALE = "autoscale"  # scales between 10% and COSMOS_THROUGHPUT RU/s, shared
    SERVERLESS = "serverless"  # a serverless account: no throughput is sent


class Role(StrEnum):
    """What this process does: serve the API, collect, or both."""

    ALL = "all"
    API = "api"
    COLLECTOR = "collector"


class DeletedItems(StrEnum):
    """What a deleted or removed item leaves in the aggregates (its text always goes)."""

    KEEP_SCORES = "keep-scores"
    DROP = "drop"


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str) -> float:
    """Seconds in "90s", "30m", "6h", "2d", "1w" or a plain number of seconds; ValueError
    otherwise."""
    text = value.strip().lower()
    unit = _DURATION_UNITS.get(text[-1:]) if text else None
    number = text[:-1] if unit else text
    try:
        seconds = float(number) * (unit or 1)
    except ValueError:
        raise ValueError(f"not a duration: {value!r} (e.g. 90s, 30m, 6h, 2d)") from None
    if not 0 <= seconds < 10 * 365 * 86400:
        raise ValueError(f"not a duration between 0 and 10 years: {value!r}")
    return seconds


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
    # Lines of a dump file scored as one batch (a few are in flight at once), and scored
    # items stored in one write (specs/measurements.md#import-write-batches).
    import_batch_size: int = Field(default=1000, ge=10, le=100_000)
    import_write_items: int = Field(default=20_000, ge=10, le=1_000_000)
    retention_interval_seconds: int = Field(default=3600, ge=10)
    role: Role = Role.ALL
    track_keywords: Annotated[list[str], NoDecode] = Field(default_factory=list)
    comment_tree_posts: int = Field(default=0, ge=0, le=100)
    comment_tree_more_limit: int = Field(default=8, ge=0, le=1000)
    comment_tree_request_budget: int = Field(default=30, ge=1, le=10000)
    trending_interval_seconds: int = Field(default=300, ge=10)
    trending_min_count: int = Field(default=3, ge=1)
    lease_ttl_seconds: float = Field(default=60.0, ge=1, le=3600)
    # None: the store's default (`verify_interval`); 0: never.
    verify_interval_seconds: int | None = Field(default=None, ge=0)
    # Reddit's data lifecycle (README "Data lifecycle"): re-fetch items as they pass these
    # ages, within this share of the request budget; what deletion leaves in the aggregates.
    reconcile_after: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [6 * 3600.0, 48 * 3600.0]
    )
    reconcile_request_share: float = Field(default=0.25, ge=0, le=1)
    deleted_items: DeletedItems = DeletedItems.KEEP_SCORES

    # Storage
    storage_backend: StorageBackend = StorageBackend.SQLITE
    sqlite_path: Path = Path("data/reddit_sentiment.db")
    sqlite_busy_timeout_seconds: float = Field(default=5.0, ge=0, le=300)
    cosmos_endpoint: str = ""
    cosmos_key: SecretStr = SecretStr("")
    cosmos_database: str = "reddit_sentiment"
    cosmos_container_prefix: str = ""
    cosmos_max_concurrency: int = Field(default=8, ge=1, le=256)
    cosmos_manage_schema: bool = True
    cosmos_throughput_mode: ThroughputMode = ThroughputMode.MANUAL
    cosmos_throughput: int | None = Field(default=None, le=1_000_000)  # None: the minimum
    cosmos_read_retry_total: int = Field(default=1, ge=0, le=9)
    cosmos_read_retry_max_wait_seconds: int = Field(default=2, ge=0, le=30)
    store_cache_seconds: float = Field(default=10.0, ge=0, le=600)

    # Alerts
    alert_rules_file: Path | None = None
    alert_baseline_windows: int = Field(default=24, ge=24, le=720)
    alert_delivery_attempts: int = Field(default=4, ge=1, le=10)
    alert_delivery_backoff_seconds: float = Field(default=5.0, ge=0, le=300)

    # API
    admin_api_key: SecretStr = SecretStr("")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_level: str = "INFO"
    metrics_top_subreddits: int = Field(default=20, ge=1, le=1000)

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
        # COSMOS_KEY may stay empty: then Microsoft Entra ID (DefaultAzureCredential).
        if self.storage_backend is StorageBackend.COSMOS and not self.cosmos_endpoint:
            raise ValueError("STORAGE_BACKEND=cosmos needs COSMOS_ENDPOINT")
        return self

    @field_validator("cosmos_throughput", mode="before")
    @classmethod
    def _empty_is_minimum(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _cosmos_throughput(self) -> Settings:
        # The service's own limits: manual from 400 in steps of 100, autoscale from 1000 in
        # steps of 1000.
        mode = self.cosmos_throughput_mode
        if mode is ThroughputMode.SERVERLESS or self.cosmos_throughput is None:
            return self
        step, least = (1000, 1000) if mode is ThroughputMode.AUTOSCALE else (100, 400)
        if self.cosmos_throughput % step or self.cosmos_throughput < least:
            raise ValueError(
                f"COSMOS_THROUGHPUT must be a multiple of {step} RU/s and at least {least} "
                f"with COSMOS_THROUGHPUT_MODE={mode.value} (got {self.cosmos_throughput})"
            )
        return self

    @property
    def cosmos_request_units(self) -> int:
        """The database's RU/s (manual) or autoscale maximum: the setting or its minimum."""
        if self.cosmos_throughput is not None:
            return self.cosmos_throughput
        return 1000 if self.cosmos_throughput_mode is ThroughputMode.AUTOSCALE else 400

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

    @field_validator("alert_rules_file", mode="before")
    @classmethod
    def _rules_file(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("reconcile_after", mode="before")
    @classmethod
    def _reconcile_after(cls, value: object) -> object:
        parts = _split_csv(value)
        if isinstance(parts, list):
            ages = sorted({parse_duration(str(p)) if isinstance(p, str) else p for p in parts})
            if any(not isinstance(a, int | float) or a <= 0 for a in ages):
                raise ValueError("every age must be a duration above 0 (e.g. 6h,48h)")
            if len(ages) > 10:
                raise ValueError("at most 10 ages")
            return ages
        return parts

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

    @field_validator("verify_interval_seconds", mode="before")
    @classmethod
    def _verify_default(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value  # empty: default

    @property
    def verify_interval(self) -> int:
        """Seconds between the collector's scheduled verifies (0: off). Unset: daily on SQLite;
        off on Cosmos DB, where a verify reads every item and aggregate document (RUs)."""
        if self.verify_interval_seconds is not None:
            return self.verify_interval_seconds
        return 86400 if self.storage_backend is StorageBackend.SQLITE else 0

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
        "reconcile_requests_per_pass": reconcile_requests(settings),
        "fits": fits,
        "message": message,
    }


def reconcile_requests(settings: Settings) -> int:
    """Requests one reconcile pass may make: its share of what one interval allows (each
    re-fetches up to 100 items through /api/info)."""
    allowed = settings.reddit_requests_per_minute * settings.collection_interval_seconds / 60
    return int(allowed * settings.reconcile_request_share)


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
