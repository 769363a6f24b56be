"""Real pictures for tests: every upload is decoded and encoded again, so fakes no longer pass."""

import hashlib
import io
import os

from PIL import Image

from reflections.lifecycle.photos import clean


def unique_png(width: int = 4, height: int = 4) -> bytes:
    """A small PNG of random pixels: unlike any other, before and after re-encoding."""
    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def stored_sha(content: bytes) -> str:
    """The name a photo is stored and served under: the SHA-256 of its clean bytes."""
    return hashlib.sha256(clean(content).content).hexdigest()
