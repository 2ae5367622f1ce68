"""Configuration from ``PROPOPS_*`` environment variables.

Settings are built explicitly (``Settings()``) and handed to the app factory, never read at import
time, so tests and several app instances in one process cannot leak configuration into each other.
"""

from __future__ import annotations

import ipaddress
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SECRET = "propops-insecure-development-secret-change-me"  # noqa: S105 - refused in production


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PROPOPS_", env_file=None, extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./propops.db"
    storage_dir: Path = Path("./var/storage")
    secret_key: str = DEFAULT_SECRET
    log_level: str = "INFO"

    # Tokens (the reference documents 90 days for login tokens and 365 for mobile sessions).
    token_lifetime_hours: int = Field(default=24 * 90, ge=1)
    mobile_token_lifetime_hours: int = Field(default=24 * 365, ge=1)
    # Sessions one account may mint from its sessions (mobile-auth validate_token) per hour.
    mobile_mint_per_hour: int = Field(default=10, ge=1)

    # Login throttling: failures within the window before 429.
    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_ip: int = Field(default=20, ge=1)
    login_window_seconds: int = Field(default=15 * 60, ge=1)

    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or CIDR networks,
    # comma-separated or a JSON list). Empty: no forwarded header is trusted, the peer is the client.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # JSON request bodies, checked before any handler runs (``propops.core.jsonlimits``): at most
    # this many bytes (413), this deep and this many items in one array or object (400).
    max_json_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    json_max_depth: int = Field(default=32, ge=2, le=512)
    json_max_items: int = Field(default=10_000, ge=1)

    # Request rate limits (fixed window), per client IP and per authenticated account.
    rate_limit_enabled: bool = True
    rate_limit_per_ip: int = Field(default=1200, ge=1)
    rate_limit_per_account: int = Field(default=1200, ge=1)
    rate_limit_window_seconds: int = Field(default=60, ge=1)
    rate_limit_backend: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"

    # How ``propops serve`` runs its worker processes (``propops.infra.server``, which says why).
    server: Literal["supervisor", "granian"] = "granian"

    # Token lookups cached per process, PostgreSQL only, invalidated by LISTEN/NOTIFY on every change
    # to accounts, tokens or permissions (``notify``, see ``propops.infra.token_cache``); ``off`` reads
    # the token row on every request. ``auth_cache_seconds`` is only the longest an entry lives
    # whatever happens (0 = off as well).
    token_cache: Literal["notify", "off"] = "notify"  # noqa: S105 - a mode, not a secret
    auth_cache_seconds: float = Field(default=10.0, ge=0, le=300)

    # Admission control, per server process: at most this many requests are handled at once; the
    # rest wait their turn in arrival order (0 = no limit). See ``propops.core.middleware``.
    max_concurrent_requests: int = Field(default=4, ge=0)
    # Request bodies larger than this (uploads) skip the queue: a slow uploader must not hold a slot.
    admission_exempt_body_bytes: int = Field(default=64 * 1024, ge=0)

    # Outbound email.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "PropOps <no-reply@propops.local>"
    compliance_email: str = "compliance@propops.local"

    # Demo data.
    demo_password: str | None = None

    # Files.
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    # A reply sent before the request body was read (413, 401...) waits for the rest of the body,
    # read and dropped, up to these bounds, so that the client reads the reply instead of a reset.
    unread_body_drain_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    unread_body_drain_seconds: float = Field(default=10.0, ge=0, le=300)

    # Geography (contractors issue). Defaults work offline; see propops.geo.
    geo_include_ni: bool = True  # NI (BT) centroids: internal business use only, see geo/data/PROVENANCE.md
    geocoder: Literal["offline", "http"] = "offline"
    geocoder_url: str = "https://api.postcodes.io"
    geocoder_timeout_seconds: float = Field(default=5.0, gt=0)
    isochrone_provider: Literal["estimate", "mapbox", "openrouteservice"] = "estimate"
    isochrone_fallback: Literal["estimate", "error"] = "estimate"
    isochrone_timeout_seconds: float = Field(default=10.0, gt=0)
    mapbox_token: str | None = None
    mapbox_base_url: str = "https://api.mapbox.com"
    ors_api_key: str | None = None
    ors_base_url: str = "https://api.openrouteservice.org"

    # Email outbox delivery (retries with exponential backoff, then parked as failed).
    outbox_max_attempts: int = Field(default=8, ge=1)
    outbox_backoff_base_seconds: float = Field(default=30.0, ge=0)
    outbox_backoff_max_seconds: float = Field(default=6 * 3600.0, ge=0)
    outbox_batch_size: int = Field(default=50, ge=1)
    outbox_lease_seconds: int = Field(default=300, ge=1)
    # Background schedule (``propops worker`` and, when enabled, inside ``propops serve``).
    background_tasks: bool | None = None  # None: on, except when environment == "test"
    worker_poll_seconds: float = Field(default=10.0, gt=0)
    reminders_interval_seconds: float = Field(default=3600.0, gt=0)
    sla_scan_interval_seconds: float = Field(default=300.0, gt=0)  # jobs: SLA breach notifications
    # Certificate reminders: these many days before expiry, on the day, then every N days overdue.
    reminder_days_before: list[int] = Field(default_factory=lambda: [30, 7])
    reminder_overdue_every_days: int = Field(default=7, ge=1)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: Any) -> Any:
        """Comma-separated or JSON; every entry must be an address or a network ("*" is refused:
        trusting every peer would let any client choose its address)."""
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else [p.strip() for p in text.split(",") if p.strip()]
        if not isinstance(value, list):
            raise ValueError("must be a list of addresses or networks")
        for entry in value:
            try:
                ipaddress.ip_network(str(entry).strip(), strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return [str(entry).strip() for entry in value]

    @model_validator(mode="after")
    def _refuse_default_secret_in_production(self) -> Settings:
        if self.environment == "production" and (self.secret_key == DEFAULT_SECRET or len(self.secret_key) < 32):
            raise ValueError(
                "PROPOPS_SECRET_KEY must be set to a random value of at least 32 characters "
                "when PROPOPS_ENVIRONMENT=production"
            )
        return self

    @property
    def run_background_tasks(self) -> bool:
        """The in-process schedule defaults on for ``serve`` and off for tests."""
        return self.environment != "test" if self.background_tasks is None else self.background_tasks

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, built once per process (for the CLI and the ASGI entry)."""
    return Settings()
