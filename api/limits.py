"""Refuse oversized request bodies before they are read into memory."""

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLarge(HTTPException):
    """An HTTP error, so that FastAPI's body parsing passes it on as a 413 problem."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


class BodySizeLimit:
    """413 when a body exceeds its limit: multipart (photos) gets ``multipart_bytes``."""

    def __init__(self, app: ASGIApp, json_bytes: int, multipart_bytes: int) -> None:
        self.app, self.json_bytes, self.multipart_bytes = app, json_bytes, multipart_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        multipart = headers.get("content-type", "").startswith("multipart/")
        limit = self.multipart_bytes if multipart else self.json_bytes
        declared = headers.get("content-length", "")
        if (
            declared.isascii()
            and declared.isdigit()
            and (len(declared) > 18 or int(declared) > limit)
        ):
            await _refuse(scope, receive, send, limit)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _refuse(scope, receive, send, limit)


PAGE_REFUSAL = "page_too_large"  # app.state: how the pages answer (an HTML page, issue 16)
API_PATHS = ("/api/", "/open311/")


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    """problem+json for the API; a page answers with the page the web layer installed."""
    app = scope.get("app")
    page = getattr(getattr(app, "state", None), PAGE_REFUSAL, None)
    if page is not None and not str(scope.get("path", "")).startswith(API_PATHS):
        await page(limit)(scope, receive, send)
        return
    body = json.dumps(
        {
            "type": "https://reflections.example/problems/payload-too-large",
            "title": "Payload Too Large",
            "status": 413,
            "detail": f"the request body is larger than {limit} bytes",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
