"""Every uploaded photo decoded and encoded again with Pillow, so what is stored is only pixels.

Re-encoding drops everything else a file can carry: EXIF (the phone's GPS position, its serial,
the time), XMP and comments, and whatever a polyglot file hides after or inside the image (a
script, an archive). The orientation EXIF asked for is applied to the pixels first, so a photo
taken upright stays upright. What Pillow cannot decode is refused, and so is a picture larger
than :data:`MAX_PIXELS`: its size is read from the header before any pixel is decoded, so a
decompression bomb (a small file that unpacks to gigabytes) is a 422, not a worker stuck.

Pure: bytes in, clean bytes and a thumbnail out; nothing is stored here.
"""

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

from reflections.errors import InvalidInput

MAX_PIXELS = 40_000_000  # 40 megapixels: above any phone camera's photo
THUMBNAIL_EDGE = 320  # pixels, the longer side: a list's picture on a phone
JPEG_QUALITY = 85
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


@dataclass(frozen=True)
class CleanPhoto:
    content: bytes
    content_type: str
    thumbnail: bytes  # always a JPEG
    width: int
    height: int


def clean(content: bytes, field: str = "photo", name: str = "") -> CleanPhoto:
    """The photo with only its pixels, in its own format, and a JPEG thumbnail; InvalidInput
    (``not_an_image`` or ``photo_too_many_pixels``) naming ``field`` otherwise."""
    image = _open(content, field, name)
    try:
        image.load()  # decodes every pixel: a truncated or corrupt file fails here
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        raise _not_an_image(field, name) from None
    upright = ImageOps.exif_transpose(image)
    format_name = image.format or "PNG"
    return CleanPhoto(
        content=_encode(upright, format_name),
        content_type=FORMATS[format_name],
        thumbnail=thumbnail(upright),
        width=upright.width,
        height=upright.height,
    )


def thumbnail(image: Image.Image) -> bytes:
    small = image.copy()
    small.thumbnail((THUMBNAIL_EDGE, THUMBNAIL_EDGE))
    return _encode(small, "JPEG")


def _open(content: bytes, field: str, name: str) -> Image.Image:
    """The image with its header read (size, format), no pixel decoded yet."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(content), formats=list(FORMATS))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise _too_many_pixels(field, name) from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise _not_an_image(field, name) from None
    if image.width * image.height > MAX_PIXELS:
        raise _too_many_pixels(field, name)
    return image


def _encode(image: Image.Image, format_name: str) -> bytes:
    """Pixels only: Pillow writes back what ``info`` holds (exif, icc_profile, comment, text),
    so it is emptied but for a palette's transparency."""
    if format_name == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    elif image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        image = image.convert("RGBA")
    else:
        image = image.copy()
    transparency = image.info.get("transparency")
    image.info.clear()
    if transparency is not None:
        image.info["transparency"] = transparency
    buffer = io.BytesIO()
    options: dict[str, object] = {"quality": JPEG_QUALITY} if format_name != "PNG" else {}
    image.save(buffer, format_name, **options)
    return buffer.getvalue()


def _not_an_image(field: str, name: str) -> InvalidInput:
    return InvalidInput(field, "is not a JPEG, PNG or WebP image", "not_an_image", name=name)


def _too_many_pixels(field: str, name: str) -> InvalidInput:
    return InvalidInput(
        field,
        f"has more than {MAX_PIXELS // 1_000_000} megapixels",
        "photo_too_many_pixels",
        name=name,
        max_mp=MAX_PIXELS // 1_000_000,
    )
