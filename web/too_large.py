"""An upload over the size limit on a page (issue 16): an HTML page in the visitor's language
that says what to do, never the API's JSON. Installed on the app's state, where the API's
body-size middleware (:mod:`api.limits`) looks for it on paths that are not the API's."""

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request

from api.limits import PAGE_REFUSAL
from web.templating import render

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


def page_for(limit: int) -> ASGIApp:
    async def answer(scope: Scope, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        context = {"max_mb": max(1, limit // 2**20)}
        response = render(request, "citizen/too_large.html", context, 413)
        await response(scope, receive, send)

    return answer


def install(app: FastAPI) -> None:
    setattr(app.state, PAGE_REFUSAL, page_for)
