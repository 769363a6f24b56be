"""Typed settings, read from the environment (prefix ``REFLECTIONS_``) and an optional ``.env``.

Built on first use through :func:`get_settings`, never at import, so that tests and commands
can set the environment first.
"""

from datetime import date, time
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_VAR_DIR = Path("var")
MIN_JWT_SECRET_BYTES = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="REFLECTIONS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_VAR_DIR / 'reflections.db'}",
        description="SQLAlchemy URL; PostgreSQL as postgresql+psycopg://user@host/db.",
    )
    sql_echo: bool = False
    attachments_dir: Path = DEFAULT_VAR_DIR / "attachments"
    demo_password: str | None = Field(
        default=None, description="Password given to the demo users; printed once if unset."
    )
    max_reopens: int = Field(default=2, ge=0, description="How often a citizen may reopen.")
    time_zone: str = "Asia/Ho_Chi_Minh"
    extra_days_off: list[date] = Field(
        default_factory=list,
        description="Days off the holiday package does not know; `reflections seed` copies "
        "them into the calendar table, which the deadlines read.",
    )
    extra_working_days: list[date] = Field(
        default_factory=list,
        description="Make-up working days (e.g. a Saturday); seeded like extra_days_off.",
    )
    calendar_refresh_seconds: int = Field(
        default=60,
        ge=0,
        description="How long a process keeps the calendar table it read; a calendar change "
        "applies to steps starting this long after it, when every process has reloaded.",
    )
    sla_lease_seconds: int = Field(
        default=300, gt=0, description="How long a sweep holds the reflections it claimed."
    )
    outbox_lease_seconds: int = Field(
        default=300, gt=0, description="How long a dispatcher holds the messages it claimed."
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where citizens and staff open the service; links in messages start here.",
    )
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    jwt_secret: str | None = Field(
        default=None,
        description="Signs staff tokens; if unset one is generated once into var/jwt-secret.",
    )
    access_token_minutes: int = Field(default=30, gt=0)
    max_json_bytes: int = Field(default=256 * 1024, description="Largest JSON/form request.")
    max_photo_bytes: int = Field(default=5 * 1024 * 1024, description="Largest photo.")
    max_photos: int = Field(default=5, ge=0, description="Photos per submission or result.")

    # Notifications (DESIGN.md §6). With neither SMTP nor Twilio set, messages go to the
    # console (or notifications_file): the embedded default.
    notifications_file: Path | None = Field(
        default=None, description="Write console-channel messages here instead of stdout."
    )
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "Phan anh hien truong <no-reply@reflections.invalid>"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: bool = Field(default=False, description="Implicit TLS (port 465).")
    smtp_starttls: bool = Field(default=False, description="STARTTLS on a plain connection.")
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_base_url: str = Field(
        default="https://api.twilio.com", description="Point at a mock (Prism) or staging."
    )
    sms_strip_diacritics: bool = Field(
        default=False, description="Send SMS without Vietnamese diacritics (GSM-7, fewer segments)."
    )
    quiet_hours_start: time = time(22, 0)
    quiet_hours_end: time = time(7, 0)
    email_per_second: float = Field(default=20.0, ge=0, description="0: no limit.")
    sms_per_second: float = Field(default=5.0, ge=0, description="0: no limit.")
    outbox_batch_size: int = Field(default=100, gt=0)

    # Operations (README "Operations"): honest answers during faults, health, metrics, logs.
    database_connect_timeout_seconds: float = Field(
        default=5.0, gt=0, description="PostgreSQL: give up connecting after this long."
    )
    database_statement_timeout_seconds: float = Field(
        default=30.0, ge=0, description="PostgreSQL: cancel a request's statement (0: none)."
    )
    database_lock_timeout_seconds: float = Field(
        default=5.0, ge=0, description="PostgreSQL: stop waiting for a row lock (0: wait)."
    )
    database_pool_timeout_seconds: float = Field(
        default=5.0, gt=0, description="Wait this long for a free pooled connection."
    )
    # Connections beyond the pool are closed when given back, so a load above the pool opened
    # and closed one per request or so (a PostgreSQL backend forked each time: issue 18). The
    # API runs no more worker threads than this (api.app), so its requests never need more.
    database_pool_size: int = Field(
        default=16, gt=0, description="Pooled connections kept; the API's worker threads."
    )
    database_max_overflow: int = Field(default=4, ge=0, description="Extra ones under load.")
    sqlite_busy_timeout_seconds: float = Field(
        default=5.0, ge=0, description="SQLite: wait this long for another writer's lock."
    )
    retry_after_seconds: int = Field(
        default=5, gt=0, description="Retry-After of a 503 while the database cannot answer."
    )
    idempotency_hours: int = Field(
        default=24, gt=0, description="How long an Idempotency-Key answers its first response."
    )
    prefect_health_url: str | None = Field(
        default=None,
        description="When flows run here: /readyz also needs this Prefect health URL to answer.",
    )
    outbox_stuck_seconds: int = Field(
        default=900, ge=0, description="/readyz fails when a due message waits longer (0: off)."
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="Bearer token for /metrics; unset: /metrics is off (404)."
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="json: one JSON object per line, one line per request."
    )

    # Issue 13b: abuse limits, staff log-in throttle, sessions that end, secrets.
    abuse_limits: bool = Field(
        default=True,
        description="Submission limits, the log-in throttle and the unproven contacts' daily "
        "cap; off only in the test suite, whose tests switch them on where they are the subject.",
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description="Where the counters live: memory:// (one process), database:// (the "
        "service's database, shared by every replica) or redis://host:port.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For is "
        "believed; from anyone else the header is ignored.",
    )
    submissions_per_ip: str = Field(
        default="10/hour;30/day", description="Anonymous submissions from one address."
    )
    submissions_per_contact: str = Field(
        default="5/hour;10/day", description="Submissions naming one phone number or email."
    )
    sms_allowed_regions: list[str] = Field(
        default_factory=lambda: ["VN"],
        description="Countries (ISO 3166 codes) whose phone numbers may be given for SMS.",
    )
    unproven_contact_messages_per_day: int = Field(
        default=6,
        ge=0,
        description="Messages a day to a contact no one-time code has proven; the rest are "
        "held (recorded, not sent).",
    )
    login_failures_before_lockout: int = Field(
        default=10, gt=0, description="Failed log-ins (per username or address) before a lockout."
    )
    login_delay_after_failures: int = Field(
        default=3, ge=0, description="Failures after which each further try must wait."
    )
    login_delay_max_seconds: int = Field(
        default=300, gt=0, description="Longest wait between log-in attempts before a lockout."
    )
    login_failure_window_minutes: int = Field(
        default=60, gt=0, description="How long failures count, and how long a lockout lasts."
    )
    session_absolute_hours: int = Field(
        default=12, gt=0, description="A page session is renewed at most this long after log-in."
    )
    citizen_cookie_days: int = Field(
        default=30, gt=0, description="How long a browser keeps the citizen's key."
    )

    @model_validator(mode="after")
    def _counters_where_they_can_be_written(self) -> "Settings":
        """SQLite has one write lock, which a request holds from its first write (an
        Idempotency-Key's row): counters written on a connection of their own would wait for it
        until the request gave up. Shared counters need PostgreSQL or Redis."""
        if self.rate_limit_storage.startswith("database://") and self.database_url.startswith(
            "sqlite"
        ):
            raise ValueError(
                "REFLECTIONS_RATE_LIMIT_STORAGE=database:// needs PostgreSQL; on SQLite use "
                "memory:// (one process) or redis://host:port"
            )
        return self

    @field_validator("jwt_secret")
    @classmethod
    def _long_enough(cls, value: str | None) -> str | None:
        """A short secret can be guessed offline from one token: refuse to start with it."""
        if value is not None and len(value.encode()) < MIN_JWT_SECRET_BYTES:
            raise ValueError(
                f"REFLECTIONS_JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes; "
                "e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return value

    # Issue 19: photos in object storage (README "Deploying for a province or the nation").
    storage_url: str | None = Field(
        default=None,
        description="Where photos live: s3://bucket/prefix, or a folder; unset: attachments_dir.",
    )
    storage_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (MinIO, Ceph...); unset: AWS."
    )
    storage_region: str | None = Field(default=None, description="The bucket's region.")
    storage_access_key_id: str | None = Field(
        default=None, description="Unset: boto3's usual chain (environment, instance role)."
    )
    storage_secret_access_key: SecretStr | None = None
    storage_addressing_style: Literal["auto", "path", "virtual"] = Field(
        default="auto", description="path for most self-hosted S3 servers."
    )
    storage_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Connect and read timeout of one bucket request."
    )

    # Issue 16: citizens sign in by a one-time code; links in messages open the page.
    sign_in_code_minutes: int = Field(default=10, gt=0, description="A sign-in code's life.")
    sign_in_code_tries: int = Field(default=5, gt=0, description="Wrong codes before it dies.")
    sign_in_codes_per_hour: int = Field(
        default=3, gt=0, description="Codes sent to one contact in an hour."
    )
    sign_in_codes_per_hour_per_client: int = Field(
        default=20, gt=0, description="Codes one IP address may ask for in an hour."
    )
    citizen_session_days: int = Field(
        default=30, gt=0, description="How long a device stays signed in by a code."
    )
    link_token_days: int = Field(
        default=30, gt=0, description="How long the signed link in a citizen's message opens."
    )
    hotline_pin_tries: int = Field(
        default=5, gt=0, description="Wrong PINs before a hotline PIN stops working."
    )
    map_tiles_url: str = Field(
        default="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        description="Map tiles ({z}/{x}/{y}); the pages load them from here.",
    )
    map_attribution: str = Field(
        default="© OpenStreetMap contributors", description="Shown on the map, as tiles require."
    )
    sms_brand: str = Field(
        default="", description='Put before every SMS, e.g. "[Hue-S]" (empty: nothing).'
    )

    # -- issue 18: performance ---------------------------------------------------------------
    policy_refresh_seconds: int = Field(
        default=60,
        ge=0,
        description="How long a process keeps the step policies it read; a policy changed in "
        "another process applies here at most this long after it.",
    )
    outbox_chunk_size: int = Field(
        default=25,
        gt=0,
        le=1000,
        description="Messages the dispatcher hands a channel at once and records in one commit; "
        "a dispatcher that dies mid-chunk sends at most this many again (1: only the one in "
        "flight, at one commit a message).",
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
