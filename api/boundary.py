"""The outermost middleware: a request id, one log line and the request metrics per request, and
an answer to every request whatever fails inside.

An exception nothing else handled becomes a 503 (a database fault) or a 500, answered here
rather than re-raised to the server, which would close the client's keep-alive connection.
"""

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from api import faults, metrics
from api.unit_of_work import REPLAYED_ROUTE_KEY
from reflections.platform import logs
from reflections.platform.settings import get_settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID_HEADER = b"x-request-id"
_GIVEN_ID = re.compile(rb"[A-Za-z0-9._-]{8,64}")
log = logging.getLogger("reflections.requests")
# The request line is the JSON log's; in text logs uvicorn's access line says the same.
_LINE_LEVEL = {"json": logging.INFO, "text": logging.DEBUG}


class RequestBoundary:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(REQUEST_ID_HEADER, b"")
        request_id = given.decode() if _GIVEN_ID.fullmatch(given) else uuid.uuid4().hex
        started = time.perf_counter()
        status = 0
        replayed = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, replayed
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                replayed = any(k == b"idempotent-replayed" for k, _ in headers)
                message["headers"] = [*headers, (REQUEST_ID_HEADER, request_id.encode())]
            await send(message)

        with logs.noting() as note:
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as error:
                if status:  # the answer had started: nothing more can be said on this one
                    log.exception("failed after answering %s %s", scope["method"], _route(scope))
                else:
                    if faults.is_fault(error):
                        faults.log.warning("database fault: %s", faults.describe(error))
                    else:
                        log.exception("internal error on %s %s", scope["method"], _route(scope))
                    response = await faults.app_answer(scope, error)
                    await response(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - started
                route = _route(scope)
                metrics.observe_request(scope["method"], route, status, elapsed)
                log.log(
                    _LINE_LEVEL[get_settings().log_format],
                    "%s %s %s",
                    scope["method"],
                    route,
                    status,
                    extra={
                        "request_id": request_id,
                        "method": scope["method"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 1),
                        "tracking_code": note.tracking_code,
                        "actor_role": note.actor_role,
                        "replayed": replayed,
                    },
                )


def _route(scope: Scope) -> str:
    """The route's template (never the raw path: its query may carry a secret); for a
    replayed answer, the route of the first one."""
    path = getattr(scope.get("route"), "path", None) or scope.get(REPLAYED_ROUTE_KEY)
    return path if isinstance(path, str) and path else "unmatched"
