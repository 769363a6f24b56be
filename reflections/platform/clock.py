"""The one clock every part of the product reads time from.

Tests and drills ("run the sweep as of next Monday 09:00") set it; production leaves it alone.
Times are aware and in UTC.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_frozen_at: datetime | None = None


def now() -> datetime:
    return _frozen_at if _frozen_at is not None else datetime.now(UTC)


def wall_now() -> datetime:
    """The real time, even inside :func:`frozen_at`: what "the future" is measured from when
    a drill must not act on the live database."""
    return datetime.now(UTC)


@contextmanager
def frozen_at(instant: datetime) -> Iterator[None]:
    """Make :func:`now` answer ``instant`` inside the block."""
    if instant.tzinfo is None:
        raise ValueError("the clock needs an aware datetime")
    global _frozen_at
    previous, _frozen_at = _frozen_at, instant.astimezone(UTC)
    try:
        yield
    finally:
        _frozen_at = previous
