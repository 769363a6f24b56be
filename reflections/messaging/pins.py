"""The hotline PIN (issue 16): six digits an operator reads to a caller with the tracking code,
instead of the long key. Typed with the code on the tracking form it opens that one
reflection; a few wrong PINs and it stops working (the caller then signs in by a code sent to
their phone, or asks the hotline)."""

import hmac
import secrets
from datetime import datetime

from sqlmodel import Session

from reflections.errors import TooManyAttempts
from reflections.messaging.sign_in import keyed_hash
from reflections.models import Reflection, ReflectionPin
from reflections.platform.settings import get_settings


def issue_pin(session: Session, reflection: Reflection, now: datetime) -> str:
    """A new PIN for the reflection (replacing any earlier one): given once, kept hashed."""
    assert reflection.id is not None
    pin = f"{secrets.randbelow(1_000_000):06d}"
    row = session.get(ReflectionPin, reflection.id) or ReflectionPin(
        reflection_id=reflection.id, pin_hash="", created_at=now
    )
    row.pin_hash, row.failures, row.created_at = _hash(reflection, pin), 0, now
    session.add(row)
    session.flush()
    return pin


def _hash(reflection: Reflection, pin: str) -> str:
    return keyed_hash("pin", f"{reflection.tracking_code}:{pin}")


def pin_opens(session: Session, reflection: Reflection, typed: str) -> bool:
    """Whether ``typed`` is the reflection's PIN; a wrong one counts (the caller commits).
    After the last allowed try every answer is a refusal, the right PIN included."""
    row = session.get(ReflectionPin, reflection.id)
    if row is None:
        return False
    limit = get_settings().hotline_pin_tries
    if row.failures >= limit:
        raise TooManyAttempts("too many wrong PINs; sign in by a code instead", "pin_locked", 0)
    if hmac.compare_digest(_hash(reflection, typed.strip()), row.pin_hash):
        return True
    row.failures += 1
    session.add(row)
    session.flush()
    if row.failures >= limit:
        raise TooManyAttempts("too many wrong PINs; sign in by a code instead", "pin_locked", 0)
    return False


def looks_like_pin(text: str) -> bool:
    return len(text.strip()) == 6 and text.strip().isdigit()
