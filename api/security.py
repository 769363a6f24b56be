"""Security headers on every answer, the API's and the pages' alike, and CORS for Open311 reads.

- ``Content-Security-Policy``: scripts, styles, images and form targets from this origin only,
  no inline script or style (the pages keep theirs in ``web/static``), no plugins, and
  ``frame-ancestors 'none'`` (no framing, so no click-jacking; ``X-Frame-Options: DENY`` says
  the same to old browsers). The API's interactive docs (``/docs``, ``/redoc``) are FastAPI's
  pages, which load Swagger UI / ReDoc from a CDN with an inline start script: they get their
  own policy allowing exactly that, and carry no data of ours.
- ``X-Content-Type-Options: nosniff`` (a photo is never run as a script),
  ``Referrer-Policy: same-origin`` (tracking codes in our URLs stay here).
- ``Strict-Transport-Security`` when ``REFLECTIONS_PUBLIC_URL`` is https.
- ``Cache-Control: no-store`` on everything personal or staff's: every path but the public ones
  (results, Open311, static files, the OpenAPI document and docs), whatever the route said.
- CORS: Open311 ``GET`` from any origin (third-party apps are its purpose), with its preflight;
  no other path answers cross-origin reads, so browsers keep other sites out of everything else.
"""

from collections.abc import Awaitable, Callable, MutableMapping
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from reflections.platform.settings import get_settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:{tiles}; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


@lru_cache(maxsize=4)
def page_policy(tiles_url: str) -> bytes:
    """The pages' policy: images from us, and the map's tiles from where they are served."""
    parts = urlsplit(tiles_url)
    tiles = f" {parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else ""
    return CSP.format(tiles=tiles).encode()


_CDN = "https://cdn.jsdelivr.net"
DOCS_CSP = (
    f"default-src 'self'; script-src 'self' 'unsafe-inline' {_CDN}; "
    f"style-src 'self' 'unsafe-inline' {_CDN} https://fonts.googleapis.com; "
    f"img-src 'self' data: https://fastapi.tiangolo.com {_CDN}; "
    "font-src 'self' https://fonts.gstatic.com; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'self'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
HSTS = b"max-age=31536000; includeSubDomains"
OPEN311 = "/open311/"
# Paths whose answers are public and may be cached: everything else is no-store.
PUBLIC_PREFIXES = ("/static/", "/api/v1/public/", OPEN311, "/results", "/openapi.json")
CORS_METHODS = frozenset({"GET", "HEAD"})


def _headers(path: str, https: bool) -> list[tuple[bytes, bytes]]:
    docs = path in DOCS_PATHS or path.startswith("/docs/")
    headers = [
        (
            b"content-security-policy",
            DOCS_CSP.encode() if docs else page_policy(get_settings().map_tiles_url),
        ),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
    ]
    if https:
        headers.append((b"strict-transport-security", HSTS))
    return headers


def is_public(path: str) -> bool:
    """Answers anyone gets alike: caches may keep them."""
    return path.startswith(PUBLIC_PREFIXES) or path in DOCS_PATHS


class SecurityHeaders:
    """Pure ASGI, outermost: its headers are on every answer, errors and 503s included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"]
        https = get_settings().public_url.startswith("https://")
        added = _headers(path, https)
        open311 = path.startswith(OPEN311)
        if open311 and method == "OPTIONS" and _asks_for_a_read(scope):
            await _preflight(send, added)
            return
        cors = open311 and method in CORS_METHODS
        cacheable = is_public(path)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in _OURS and (cacheable or k.lower() != b"cache-control")
                ]
                headers += added
                if not cacheable:
                    headers.append((b"cache-control", b"no-store"))
                if cors:
                    headers.append((b"access-control-allow-origin", b"*"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


_OURS = frozenset(
    {
        b"content-security-policy",
        b"x-content-type-options",
        b"x-frame-options",
        b"referrer-policy",
        b"strict-transport-security",
        b"access-control-allow-origin",
    }
)


def _asks_for_a_read(scope: Scope) -> bool:
    """A CORS preflight for GET/HEAD (the only cross-origin requests Open311 allows)."""
    headers = dict(scope["headers"])
    wanted = headers.get(b"access-control-request-method", b"").decode("latin-1").upper()
    return b"origin" in headers and wanted in CORS_METHODS


async def _preflight(send: Send, added: list[tuple[bytes, bytes]]) -> None:
    headers = [
        *added,
        (b"access-control-allow-origin", b"*"),
        (b"access-control-allow-methods", b"GET, HEAD"),
        (b"access-control-allow-headers", b"Accept, Accept-Language"),
        (b"access-control-max-age", b"86400"),
        (b"content-length", b"0"),
    ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
