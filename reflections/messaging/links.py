"""Signed, expiring links (issue 16): the link in a citizen's message opens that reflection's
page with nothing to type, and a hotline PIN typed once opens it on that device.

A token is short enough for an SMS: its expiry (unix seconds, base 36) and 16 bytes of an
HMAC over the tracking code and the expiry under the installation's key. It opens one
reflection, never the citizen's others.
"""

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from reflections.models import Reflection
from reflections.organisation.auth import signing_key
from reflections.platform.settings import get_settings


def _mac(code: str, expires: int) -> str:
    digest = hmac.new(
        signing_key().encode(), f"link:{code.upper()}:{expires}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out or "0"


def token_for(code: str, now: datetime, days: int | None = None) -> str:
    """A token opening reflection ``code`` until ``now`` + ``days`` (the setting's default)."""
    lifetime = timedelta(days=days if days is not None else get_settings().link_token_days)
    expires = int((now + lifetime).timestamp())
    return f"{_base36(expires)}.{_mac(code, expires)}"


def opens(token: str, code: str, now: datetime) -> bool:
    """Whether ``token`` is a live one for ``code``."""
    stamp, _, mac = token.partition(".")
    try:
        expires = int(stamp, 36)
    except ValueError:
        return False
    if expires <= now.timestamp() or expires > 2**40:
        return False
    return hmac.compare_digest(mac, _mac(code, expires))


def expiry(token: str) -> datetime | None:
    stamp, _, _ = token.partition(".")
    try:
        return datetime.fromtimestamp(int(stamp, 36), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def citizen_link(reflection: Reflection, now: datetime) -> str:
    """The link a citizen's message carries: the page opens directly."""
    base = get_settings().public_url.rstrip("/")
    code = reflection.tracking_code
    return f"{base}/r/{code}?t={token_for(code, now)}"
