"""The citizen's one plain status (issue 16): the state in words and one date, "Dự kiến có kết
quả trước 14/12/2026", with the time left in working days; once processed, until when they can
answer. No internal step deadlines."""

from datetime import datetime

from sqlmodel import Session

from reflections.models import Reflection
from reflections.models.enums import LifecycleState
from reflections.timekeeping.promise import expected_result
from web.durations import clock_time, working_time
from web.i18n import Translator
from web.templating import local_time


def plain_dates(
    session: Session, reflection: Reflection, t: Translator, now: datetime
) -> list[str]:
    """The sentences about dates a citizen reads under the state."""
    if reflection.state is LifecycleState.PROCESSED and reflection.confirm_due_at is not None:
        return [t("promise.answer_by", date=local_time(reflection.confirm_due_at, False))]
    promise = expected_result(session, reflection, now)
    if promise is None:
        return []
    date = local_time(promise.expected_by, False)
    span = clock_time if promise.around_the_clock else working_time
    if promise.minutes_left < 0:
        return [t("promise.late", date=date)]
    return [t("promise.expected", date=date), t("promise.left", time=span(promise.minutes_left, t))]
