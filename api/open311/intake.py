"""A POSTed service request as the native :class:`Submission`, for the one domain service.

Decisions (GeoReport v2 leaves them to the server):
- ``address_id`` is the code of an administrative unit (e.g. a ward, ``46.W19768``);
- ``description`` is optional in Open311 but required by our lifecycle: without one, the
  service's name stands in;
- ``attribute[urgent]=true`` (every service defines it) is the citizen's "dangerous / urgent"
  tick; other ``attribute[code]`` values and ``media_url`` are appended to the description, so
  coordinators see them; the media line is read back as ``media_url``;
- the reporter's name is ``last_name first_name`` (Vietnamese order); a phone or an email
  also asks for updates by SMS or email; ``device_id`` and ``account_id`` are not stored.
"""

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from sqlmodel import Session, select

from api.open311.mapping import MEDIA_LINE, URGENT_ATTRIBUTE, URGENT_YES
from api.open311.render import Open311Error
from reflections.lifecycle.intake import Submission
from reflections.models import AdministrativeUnit, Category
from reflections.models.enums import Channel, Language, SubmissionChannel

MAX_DESCRIPTION = 4000  # the specification's limit
_ATTRIBUTE_KEY = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")


@dataclass(frozen=True)
class Posted:
    """The form fields of a POST, already stripped of empty values."""

    service_code: str
    lat: float | None = None
    long: float | None = None
    address_string: str | None = None
    address_id: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    description: str | None = None
    media_url: str | None = None
    attributes: dict[str, list[str]] = field(default_factory=dict)


def attributes_of(form: Iterable[tuple[str, object]]) -> dict[str, list[str]]:
    """``attribute[code]=v`` and ``attribute[code][]=v1&attribute[code][]=v2`` as lists."""
    found: dict[str, list[str]] = {}
    for key, value in form:
        match = _ATTRIBUTE_KEY.match(key)
        if match and isinstance(value, str) and value.strip():
            found.setdefault(match.group(1), []).append(value.strip())
    return found


def active_category(session: Session, service_code: str) -> Category:
    category = session.exec(select(Category).where(Category.code == service_code)).first()
    if category is None or not category.active:
        raise Open311Error(404, f"service_code {service_code!r} was not found")
    return category


def submission(session: Session, posted: Posted, language: Language) -> Submission:
    _check_text(posted)
    category = active_category(session, posted.service_code)
    name = " ".join(n.strip() for n in (posted.last_name, posted.first_name) if n and n.strip())
    channels = [
        c for c, given in ((Channel.SMS, posted.phone), (Channel.EMAIL, posted.email)) if given
    ]
    default = category.name_en if language is Language.EN else category.name_vi
    urgent = [value.lower() for value in posted.attributes.get(URGENT_ATTRIBUTE, [])]
    if any(value not in (URGENT_YES, "false") for value in urgent):
        raise Open311Error(400, f"attribute[{URGENT_ATTRIBUTE}]: must be true or false")
    others = {k: v for k, v in posted.attributes.items() if k != URGENT_ATTRIBUTE}
    return Submission(
        urgent=URGENT_YES in urgent,
        description=_description(replace(posted, attributes=others), default),
        latitude=posted.lat,
        longitude=posted.long,
        address=posted.address_string.strip() if posted.address_string else None,
        administrative_unit_id=_unit_id(session, posted.address_id),
        category_hint=category.code,
        submitted_via=SubmissionChannel.OPEN311,
        reporter_name=name or None,
        reporter_phone=posted.phone,
        reporter_email=posted.email,
        language=language,
        channels=tuple(channels),
    )


def _description(posted: Posted, default: str) -> str:
    text = (posted.description or "").strip()
    if len(text) > MAX_DESCRIPTION:
        raise Open311Error(400, f"description: is longer than {MAX_DESCRIPTION} characters")
    parts = [text or default]
    if posted.attributes:
        parts.append(
            "\n".join(
                f"[attribute] {code}: {', '.join(values)}"
                for code, values in posted.attributes.items()
            )
        )
    if posted.media_url:
        url = posted.media_url.strip()
        split = urlsplit(url)
        if split.scheme not in ("http", "https") or not split.netloc or _has_space(url):
            raise Open311Error(400, "media_url: must be an absolute http(s) URL")
        parts.append(MEDIA_LINE + url)
    return "\n\n".join(parts)


def _has_space(text: str) -> bool:
    return any(ch.isspace() for ch in text)


def _unit_id(session: Session, code: str | None) -> int | None:
    if not code:
        return None
    unit = session.exec(
        select(AdministrativeUnit).where(AdministrativeUnit.code == code.strip())
    ).first()
    if unit is None:
        raise Open311Error(400, f"address_id: no administrative unit with code {code!r}")
    return unit.id


def _check_text(posted: Posted) -> None:
    """Refuse control characters (PostgreSQL cannot store NUL; the spec allows line breaks)."""
    values: Mapping[str, object] = {
        **vars(posted),
        **{f"attribute[{k}]": " ".join(v) for k, v in posted.attributes.items()},
    }
    for name, value in values.items():
        if isinstance(value, str) and any(
            unicodedata.category(ch) == "Cc" and ch not in "\t\n\r" for ch in value + name
        ):
            raise Open311Error(400, f"{name}: contains control characters")
