"""Photos: type sniffed from the bytes, size-limited, decoded and encoded again (only pixels
kept, see :mod:`reflections.lifecycle.photos`), stored under the clean file's SHA-256, and a
thumbnail stored under its own."""

import hashlib
import io
from dataclasses import dataclass

from sqlmodel import Session

from reflections.errors import InvalidInput
from reflections.lifecycle import photos as photos_module
from reflections.models import Attachment
from reflections.platform import clock
from reflections.platform.settings import get_settings
from reflections.platform.storage import get_store

# Magic numbers of the formats phones produce; the declared content type is not trusted.
_SIGNATURES: list[tuple[bytes, int, str]] = [
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"WEBP", 8, "image/webp"),
]


@dataclass(frozen=True)
class Photo:
    content: bytes
    filename: str | None = None


@dataclass(frozen=True)
class CheckedPhoto:
    photo: Photo  # the clean bytes, with the name it was sent under
    content_type: str
    sha256: str
    thumbnail: bytes = b""


def sniff(content: bytes) -> str | None:
    for signature, offset, content_type in _SIGNATURES:
        if content[offset : offset + len(signature)] == signature:
            if content_type == "image/webp" and not content.startswith(b"RIFF"):
                continue
            return content_type
    return None


def check(photos: tuple[Photo, ...], field: str = "photos") -> list[CheckedPhoto]:
    if not photos:  # most events and submissions carry none
        return []
    settings = get_settings()
    if len(photos) > settings.max_photos:
        raise InvalidInput(
            field,
            f"at most {settings.max_photos} photos",
            "too_many_photos",
            max=settings.max_photos,
        )
    checked = []
    for index, photo in enumerate(photos):
        name = f"{field}[{index}]"
        if not photo.content:
            raise InvalidInput(name, "is empty", "photo_empty", name=photo.filename or "")
        if len(photo.content) > settings.max_photo_bytes:
            raise InvalidInput(
                name,
                f"is larger than {settings.max_photo_bytes} bytes",
                "photo_too_large",
                name=photo.filename or "",
                max_mb=settings.max_photo_bytes // 2**20,
            )
        content_type = sniff(photo.content)
        if content_type is None:
            raise InvalidInput(
                name, "is not a JPEG, PNG or WebP image", "not_an_image", name=photo.filename or ""
            )
        cleaned = photos_module.clean(photo.content, name, photo.filename or "")
        sha256 = hashlib.sha256(cleaned.content).hexdigest()
        clean = Photo(cleaned.content, photo.filename)
        checked.append(CheckedPhoto(clean, cleaned.content_type, sha256, cleaned.thumbnail))
    return checked


def attach(session: Session, reflection_id: int, photos: list[CheckedPhoto], purpose: str) -> None:
    """Write the files (once per content, to the configured store) and their rows; the caller
    commits."""
    store = get_store()
    seen: set[str] = set()
    for checked in photos:
        if checked.sha256 in seen:
            continue
        seen.add(checked.sha256)
        store.put(checked.sha256, io.BytesIO(checked.photo.content))
        thumbnail_sha256 = None
        if checked.thumbnail:  # content-addressed like the photo, so the store verifies it too
            thumbnail_sha256 = hashlib.sha256(checked.thumbnail).hexdigest()
            store.put(thumbnail_sha256, io.BytesIO(checked.thumbnail))
        session.add(
            Attachment(
                reflection_id=reflection_id,
                purpose=purpose,
                sha256=checked.sha256,
                content_type=checked.content_type,
                size_bytes=len(checked.photo.content),
                original_name=(checked.photo.filename or "")[:255] or None,
                thumbnail_sha256=thumbnail_sha256,
                created_at=clock.now(),
            )
        )
