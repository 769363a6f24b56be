"""Quiet hours (DESIGN.md §6): no non-urgent SMS at night, local time; held until morning.

The window may wrap midnight (22:00–07:00, the default) or not (12:00–13:30); a window whose
start equals its end is empty (quiet hours switched off).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from reflections.platform.settings import get_settings


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time
    zone: ZoneInfo

    @classmethod
    def from_settings(cls) -> QuietHours:
        settings = get_settings()
        return cls(
            settings.quiet_hours_start, settings.quiet_hours_end, ZoneInfo(settings.time_zone)
        )

    def contains(self, instant: datetime) -> bool:
        wall = instant.astimezone(self.zone).time().replace(tzinfo=None)
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end

    def release(self, instant: datetime) -> datetime:
        """The first instant at or after ``instant`` outside the window (``instant`` itself
        when it is outside), as an aware instant in the same zone as ``instant``."""
        if not self.contains(instant):
            return instant
        local = instant.astimezone(self.zone)
        morning = datetime.combine(local.date(), self.end, tzinfo=self.zone)
        if morning <= local:
            morning = datetime.combine(local.date() + timedelta(days=1), self.end, self.zone)
        return morning.astimezone(instant.tzinfo)
