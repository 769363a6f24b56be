"""Typed settings, read from the environment (prefix ``REFLECTIONS_``) and an optional ``.env``.

Built on first use through :func:`get_settings`, never at import, so that tests and commands
can set the environment first.
"""

from datetime import date, time
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_VAR_DIR = Path("var")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="REFLECTIONS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_VAR_DIR / 'reflections.platform.db'}",
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
    database_pool_size: int = Field(default=5, gt=0, description="Pooled connections kept.")
    database_max_overflow: int = Field(default=10, ge=0, description="Extra ones under load.")
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

    # -- issue 18: performance ---------------------------------------------------------------
    policy_refresh_seconds: int = Field(
        default=60,
        ge=0,
        description="How long a process keeps the step policies it read; a policy changed in "
        "another process applies here at most this long after it.",
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
