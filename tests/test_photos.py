"""Uploaded photos keep only their pixels: EXIF and GPS, text chunks and polyglot payloads are
gone, undecodable files and decompression bombs are a 422 with nothing stored, a thumbnail is
made, and photos are served with ``nosniff``."""

import io
import struct
import zlib

import pytest
from fastapi.testclient import TestClient
from PIL import Image, PngImagePlugin
from sqlmodel import Session, func, select

from reflections.errors import InvalidInput
from reflections.lifecycle.photos import MAX_PIXELS, THUMBNAIL_EDGE, clean
from reflections.models import Attachment, Reflection
from reflections.platform.db import get_engine
from reflections.platform.storage import get_store
from tests.api_helpers import as_citizen

WARD = "46.W19768"
PAYLOAD = b"<script>alert('polyglot')</script>"
GPS_IFD = 0x8825


def _jpeg_with_gps(width: int = 800, height: int = 600) -> bytes:
    image = Image.new("RGB", (width, height), (200, 60, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° to show upright
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (16.0, 27.0, 49.3), 3: "E", 4: (107.0, 35.0, 27.2)})
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, comment=b"shot at home")
    return buffer.getvalue() + PAYLOAD  # bytes after the image: a polyglot's hiding place


def _png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", PAYLOAD.decode())
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10), (0, 128, 0)).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny file whose header claims ``width`` × ``height`` pixels: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def test_exif_gps_and_trailing_bytes_are_gone() -> None:
    cleaned = clean(_jpeg_with_gps())
    image = Image.open(io.BytesIO(cleaned.content))
    assert image.format == "JPEG" and cleaned.content_type == "image/jpeg"
    assert not image.getexif() and not image.getexif().get_ifd(GPS_IFD)
    assert "comment" not in image.info and "exif" not in image.info
    assert PAYLOAD not in cleaned.content
    assert (image.width, image.height) == (600, 800)  # turned upright as EXIF asked
    thumb = Image.open(io.BytesIO(cleaned.thumbnail))
    assert thumb.format == "JPEG" and max(thumb.size) == THUMBNAIL_EDGE


def test_png_text_chunks_are_gone() -> None:
    cleaned = clean(_png_with_text())
    assert PAYLOAD not in cleaned.content and b"tEXt" not in cleaned.content
    assert cleaned.content_type == "image/png"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (_png_header_only(7000, 7000), "photo_too_many_pixels"),  # 49 MP: over our limit
        (_png_header_only(20000, 20000), "photo_too_many_pixels"),  # 400 MP: Pillow's too
        (_jpeg_with_gps()[:200], "not_an_image"),  # truncated
        (b"\x89PNG\r\n\x1a\n" + PAYLOAD, "not_an_image"),  # a signature and nothing else
        (b"GIF89a" + PAYLOAD, "not_an_image"),
    ],
)
def test_what_cannot_be_decoded_or_is_too_big_is_refused(content: bytes, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        clean(content, "photos[0]", "x.png")
    assert refused.value.code == code and refused.value.field == "photos[0]"


def test_a_bomb_through_the_api_is_a_422_and_nothing_is_stored(
    client: TestClient, session: Session
) -> None:
    def counts() -> tuple[int, int]:
        session.expire_all()
        reflections = session.exec(select(func.count()).select_from(Reflection)).one()
        attachments = session.exec(select(func.count()).select_from(Attachment)).one()
        return int(reflections), int(attachments)

    before = counts()
    bomb = _png_header_only(8000, 8000)
    assert len(bomb) < 2000 and MAX_PIXELS < 8000 * 8000
    response = client.post(
        "/api/v1/reflections/with-photos",
        data={"description": "Ảnh to quá", "administrative_unit": WARD},
        files=[("photos", ("bom.png", bomb, "image/png"))],
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "photos[0]"
    assert "megapixels" in response.json()["errors"][0]["reason"]
    assert counts() == before


def test_stored_and_served_without_metadata(client: TestClient) -> None:
    response = client.post(
        "/api/v1/reflections/with-photos",
        data={"description": "Cây đổ", "administrative_unit": WARD},
        files=[("photos", ("nha-toi.jpg", _jpeg_with_gps(), "image/jpeg"))],
    )
    assert response.status_code == 201, response.text
    out = response.json()
    [sha] = out["reflection"]["photos"]
    with Session(get_engine()) as session:
        row = session.exec(select(Attachment).where(Attachment.sha256 == sha)).first()
    assert row is not None and row.thumbnail_sha256  # the thumbnail, stored by its own hash
    store = get_store()
    assert store.exists(sha) and store.exists(row.thumbnail_sha256)
    small = Image.open(io.BytesIO(b"".join(store.chunks(row.thumbnail_sha256))))
    assert small.format == "JPEG" and max(small.size) <= THUMBNAIL_EDGE
    served = client.get(
        f"/api/v1/reflections/{out['tracking_code']}/photos/{sha}",
        headers=as_citizen(out["citizen_key"]),
    )
    assert served.status_code == 200
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["cache-control"] == "no-store"
    assert not Image.open(io.BytesIO(served.content)).getexif()
    assert PAYLOAD not in served.content and b"PhoneMaker" not in served.content


def test_the_submit_answer_lists_the_photos_a_read_lists(client: TestClient) -> None:
    """The answer to a submission names each photo once, in order, as reading it back does."""
    first, second = _jpeg_with_gps(), _png_with_text()
    response = client.post(
        "/api/v1/reflections/with-photos",
        data={"description": "Cống tắc, hai ảnh", "administrative_unit": WARD},
        files=[
            ("photos", ("a.jpg", first, "image/jpeg")),
            ("photos", ("b.png", second, "image/png")),
            ("photos", ("a-again.jpg", first, "image/jpeg")),
        ],
    )
    assert response.status_code == 201, response.text
    out = response.json()
    read = client.get(
        f"/api/v1/reflections/{out['tracking_code']}", headers=as_citizen(out["citizen_key"])
    )
    assert len(out["reflection"]["photos"]) == 2
    assert out["reflection"]["photos"] == read.json()["photos"]
    assert out["reflection"]["result_photos"] == read.json()["result_photos"] == []
