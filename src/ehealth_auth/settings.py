"""Service configuration: one Settings object, read once at the edge (env prefix EHEALTH_AUTH_)."""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./var/ehealth-auth.db"
# The embedded demo's server key: made at random on first use, kept beside its database.
DEMO_KEY_FILE = "secret-key"
MIN_BEARER_KEY_LENGTH = 32
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _split(value: object) -> object:
    # Operators set comma-separated lists; blank items are ignored.
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


class InsecureSettingsError(RuntimeError):
    """Raised when the service is asked to run with settings that are unsafe outside the demo."""


class Settings(BaseSettings):
    # A refused value may be a key: errors never repeat what was given.
    model_config = SettingsConfigDict(
        env_prefix="EHEALTH_AUTH_", extra="ignore", hide_input_in_errors=True
    )

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
    # PostgreSQL: refreshes (rotation off) whose statements may be in flight at once; those that
    # come while all are busy go together in the next (docs/performance.md).
    refresh_batch_slots: int = Field(default=2, ge=1, le=64)
    login_token_ttl: int = Field(default=3_600, gt=0)
    # argon2id cost of user passwords; the defaults are RFC 9106's second recommended profile.
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_kib: int = Field(default=65_536, ge=8)
    password_hash_parallelism: int = Field(default=4, ge=1)
    # Password hashes running at once per process, and how many more may wait for one.
    password_hash_concurrency: int = Field(default=1, ge=1)
    password_hash_queue: int = Field(default=4, ge=0)
    # Linux nice value of the hashing threads: the hot paths come first when the CPU is short.
    password_hash_nice: int = Field(default=19, ge=0, le=19)
    # Sign-in password hashes started per second per process (0: no limit): what a login flood
    # may take from the hot paths' CPU whatever the scheduler makes of the nice value.
    password_hash_rate: float = Field(default=1, ge=0)
    # Seconds a hash may wait for a thread before the login is answered 503 (0: no limit).
    password_hash_max_wait: float = Field(default=5, ge=0)
    # Throttling of failed authentications (docs/security.md), per fixed window.
    throttle_window: int = Field(default=900, gt=0)
    throttle_source_max_failures: int = Field(default=50, gt=0)
    login_max_failures: int = Field(default=5, gt=0)
    login_account_max_failures: int = Field(default=100, gt=0)
    client_max_failures: int = Field(default=10, gt=0)
    client_target_max_failures: int = Field(default=100, gt=0)
    throttle_sync_ms: int = Field(default=1_000, ge=0)
    trusted_proxies: Annotated[tuple[IpNetwork, ...], NoDecode] = ()
    admin_keys: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    gateway_keys: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    # Keys that may read /metrics only (admin keys may too).
    metrics_keys: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    secret_key: SecretStr | None = None
    cookie_secure: bool = False
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

    @field_validator("admin_keys", "gateway_keys", "metrics_keys", "trusted_proxies", mode="before")
    @classmethod
    def _split_lists(cls, value: object) -> object:
        return _split(value)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        if isinstance(value, tuple | list):
            return tuple(ipaddress.ip_network(str(item), strict=False) for item in value)
        return value

    @field_validator("admin_keys", "gateway_keys", "metrics_keys")
    @classmethod
    def _keys_long_enough(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        if any(len(key.get_secret_value()) < MIN_BEARER_KEY_LENGTH for key in value):
            raise ValueError(
                f"every key must be at least {MIN_BEARER_KEY_LENGTH} characters "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
            )
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
    def _secret_key_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @property
    def is_embedded_demo(self) -> bool:
        return self.database_url == DEFAULT_DATABASE_URL

    def ensure_servable(self) -> None:
        """Refuse to run without a server key anywhere but the embedded demo database."""
        if self.secret_key is None and not self.is_embedded_demo:
            raise InsecureSettingsError(
                "EHEALTH_AUTH_SECRET_KEY is not set; it is required for any database other "
                "than the embedded demo (make one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`)."
            )

    def server_key(self) -> bytes:
        """The configured key; for the embedded demo without one, its own random key (made on
        first use and kept beside the database)."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        self.ensure_servable()
        path = self.sqlite_path()
        assert path is not None  # the embedded demo is a file
        key_file = path.parent / DEMO_KEY_FILE
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as out:
                out.write(secrets.token_urlsafe(48))
        return key_file.read_text().strip().encode()

    def sqlite_path(self) -> Path | None:
        """The file behind a sqlite:/// URL, or None for other backends and in-memory databases."""
        prefix = "sqlite:///"
        if not self.database_url.startswith(prefix):
            return None
        path = self.database_url[len(prefix) :].split("?", 1)[0]
        return Path(path) if path and path != ":memory:" else None
