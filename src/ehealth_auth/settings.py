"""Service configuration: one Settings object, read once at the edge (env prefix EHEALTH_AUTH_)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./var/ehealth-auth.db"
# The placeholder key only serves the embedded demo; `ensure_servable` refuses it elsewhere.
PLACEHOLDER_SECRET_KEY = "insecure-demo-key-change-me"  # noqa: S105


class InsecureSettingsError(RuntimeError):
    """Raised when the service is asked to run with settings that are unsafe outside the demo."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EHEALTH_AUTH_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    access_token_ttl: int = Field(default=28_800, gt=0)
    refresh_token_ttl: int = Field(default=2_592_000, gt=0)
    code_ttl: int = Field(default=300, gt=0)
    refresh_rotation: Literal["off", "on"] = "off"
    # With rotation on: seconds during which the just-retired refresh token is answered as a
    # retry (with the same successor) rather than as reuse. 30 s covers a response lost to a
    # restart and the client's retry; docs/failures.md gives the trade-off.
    refresh_reuse_grace: int = Field(default=30, ge=0)
    refresh_race_window_ms: int = Field(default=500, ge=0)
    refresh_revokes_previous_access: Literal["off", "on"] = "off"
    login_token_ttl: int = Field(default=3_600, gt=0)
    # argon2id cost of user passwords; the defaults are RFC 9106's second recommended profile.
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_kib: int = Field(default=65_536, ge=8)
    password_hash_parallelism: int = Field(default=4, ge=1)
    login_max_failures: int = Field(default=5, gt=0)
    login_failure_window: int = Field(default=900, gt=0)
    admin_keys: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    # Keys that may read /metrics only (admin keys may too).
    metrics_keys: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    secret_key: SecretStr = SecretStr(PLACEHOLDER_SECRET_KEY)
    max_body_bytes: int = Field(default=65_536, gt=0)
    # RFC 8414 issuer, e.g. https://auth.example.org; empty: the origin each request reached.
    issuer: str = ""
    # The verify cache (PostgreSQL only; docs/performance.md): entries, and seconds an entry
    # lives at most even when no event invalidates it.
    verify_cache: Literal["off", "on"] = "on"
    verify_cache_max_entries: int = Field(default=20_000, gt=0)
    verify_cache_ttl: int = Field(default=60, gt=0)
    # Slow clients (seconds): headers, then the body, must arrive in time or get a 408.
    request_header_timeout: float = Field(default=10.0, gt=0)
    request_body_timeout: float = Field(default=10.0, gt=0)
    # SIGTERM: requests in flight get this long to finish before the server exits.
    shutdown_timeout: int = Field(default=30, ge=0)
    log_level: str = "INFO"
    # Probes come every few seconds: their access lines are left out unless this is on.
    log_health_requests: bool = False

    @field_validator("admin_keys", "metrics_keys", mode="before")
    @classmethod
    def _split_admin_keys(cls, value: object) -> object:
        # Operators set a comma-separated list; blank items are ignored.
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @field_validator("issuer")
    @classmethod
    def _issuer_is_an_origin_url(cls, value: str) -> str:
        # RFC 8414 §2: an https URL (http allowed for local use) without query or fragment.
        value = value.strip().rstrip("/")
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL")
        if parts.query or parts.fragment or "?" in value or "#" in value:
            raise ValueError("must have no query or fragment")
        return value

    @field_validator("secret_key")
    @classmethod
    def _secret_key_long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @property
    def uses_placeholder_key(self) -> bool:
        return self.secret_key.get_secret_value() == PLACEHOLDER_SECRET_KEY

    @property
    def is_embedded_demo(self) -> bool:
        return self.database_url == DEFAULT_DATABASE_URL

    def ensure_servable(self) -> None:
        """Refuse the placeholder secret key anywhere but the embedded demo database."""
        if self.uses_placeholder_key and not self.is_embedded_demo:
            raise InsecureSettingsError(
                "EHEALTH_AUTH_SECRET_KEY is the placeholder demo key; set a random key "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)."
            )

    def sqlite_path(self) -> Path | None:
        """The file behind a sqlite:/// URL, or None for other backends and in-memory databases."""
        prefix = "sqlite:///"
        if not self.database_url.startswith(prefix):
            return None
        path = self.database_url[len(prefix) :].split("?", 1)[0]
        return Path(path) if path and path != ":memory:" else None
