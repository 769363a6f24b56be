"""The delivery channels the settings describe (DESIGN.md §6).

SMTP when ``smtp_host`` is set, Twilio when the account is set; whatever is not configured
falls back to the console/file channel, the embedded default. Each is behind its rate limit.
"""

from __future__ import annotations

from collections.abc import Mapping

from notifications import (
    Channel,
    ConsoleChannel,
    SmtpChannel,
    SmtpConfig,
    TwilioChannel,
    TwilioConfig,
)
from notifications.ratelimit import rate_limited
from reflections.platform.settings import Settings, get_settings

TWILIO_STATUS_PATH = "/api/v1/notifications/twilio/status"


def twilio_status_callback_url(settings: Settings | None = None) -> str:
    """Where Twilio posts delivery statuses: the public URL, as Twilio will call it."""
    settings = settings or get_settings()
    return settings.public_url.rstrip("/") + TWILIO_STATUS_PATH


def smtp_config(settings: Settings) -> SmtpConfig | None:
    if not settings.smtp_host:
        return None
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        from_address=settings.smtp_from,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        use_tls=settings.smtp_tls,
        start_tls=settings.smtp_starttls,
    )


def twilio_config(settings: Settings) -> TwilioConfig | None:
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        return None
    return TwilioConfig(
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_token.get_secret_value(),
        status_callback_url=twilio_status_callback_url(settings),
        from_number=settings.twilio_from_number,
        messaging_service_sid=settings.twilio_messaging_service_sid,
        base_url=settings.twilio_base_url,
        strip_diacritics=settings.sms_strip_diacritics,
    )


def configured_channels(settings: Settings | None = None) -> Mapping[str, Channel]:
    """Build the channels once per dispatcher (the rate limit lives in them)."""
    settings = settings or get_settings()
    console = ConsoleChannel(path=settings.notifications_file)
    smtp, twilio = smtp_config(settings), twilio_config(settings)
    email: Channel = SmtpChannel(smtp) if smtp else console
    sms: Channel = TwilioChannel(twilio) if twilio else console
    return {
        "email": rate_limited(email, settings.email_per_second if smtp else 0),
        "sms": rate_limited(sms, settings.sms_per_second if twilio else 0),
    }
