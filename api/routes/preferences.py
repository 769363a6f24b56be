"""Notification preferences of whoever calls: a citizen (by key) or a staff member."""

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CallerDep, SessionDep
from api.problems import problem_responses
from reflections.errors import Forbidden
from reflections.messaging import preferences
from reflections.models.enums import Channel, Language

router = APIRouter(
    prefix="/api/v1/me/notifications", tags=["notifications"], responses=problem_responses()
)


class PreferencesOut(BaseModel):
    opted_out: bool = Field(description="True: no message at all, on any channel.")
    channels: list[Channel] = Field(
        description="Empty: every contact left (citizens) or email (staff)."
    )
    language: Language
    contacts: list[Channel] = Field(description="The channels an address is on file for.")


class PreferencesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    opted_out: bool | None = None
    channels: list[Channel] | None = Field(default=None, max_length=2)
    language: Language | None = None


def _out(prefs: preferences.Preferences) -> PreferencesOut:
    return PreferencesOut(
        opted_out=prefs.opted_out,
        channels=prefs.channels,
        language=prefs.language,
        contacts=prefs.contacts,
    )


@router.get("", response_model=PreferencesOut)
def read_preferences(session: SessionDep, caller: CallerDep) -> PreferencesOut:
    if caller.user is not None:
        return _out(preferences.staff_preferences(caller.user))
    if caller.citizen_key_hash is not None:
        return _out(preferences.citizen_preferences(session, caller.citizen_key_hash))
    raise Forbidden("a service client has no notification preferences")


@router.patch("", response_model=PreferencesOut)
def change_preferences(
    session: SessionDep, caller: CallerDep, body: PreferencesIn
) -> PreferencesOut:
    """Opt out (or back in), choose channels or language; fields left out stay as they are."""
    change = preferences.Change(body.opted_out, body.channels, body.language)
    if caller.user is not None:
        return _out(preferences.change_staff_preferences(session, caller.user, change))
    if caller.citizen_key_hash is not None:
        return _out(
            preferences.change_citizen_preferences(session, caller.citizen_key_hash, change)
        )
    raise Forbidden("a service client has no notification preferences")
