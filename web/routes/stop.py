"""The stop link of a citizen's first message (issue 13): no key, no account, two steps so a
link checker or a preview opening the URL does not stop anyone's messages by itself."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import SessionDep
from reflections.messaging import opt_out
from reflections.platform import clock
from web.session import CsrfChecked
from web.templating import render

router = APIRouter(include_in_schema=False)


def _shown(channel: str, address: str) -> str:
    """The contact, partly hidden: whoever holds the link sees whose messages stop, not
    the whole number or address."""
    if channel == "sms":
        return "•" * max(0, len(address) - 3) + address[-3:]
    name, _, domain = address.partition("@")
    return f"{name[:1]}•••@{domain}"


@router.get("/stop/{token}", response_class=HTMLResponse)
def confirm_stop(request: Request, session: SessionDep, token: str) -> Response:
    channel, address = opt_out.contact_of(token)
    context = {
        "token": token,
        "channel": channel,
        "contact": _shown(channel, address),
        "stopped": opt_out.is_opted_out(session, channel, address),
    }
    return render(request, "citizen/stop.html", context)


@router.post("/stop/{token}", dependencies=[CsrfChecked], response_class=HTMLResponse)
def stop(request: Request, session: SessionDep, token: str) -> Response:
    channel, address = opt_out.contact_of(token)
    opt_out.opt_out(session, channel, address, clock.now())
    context = {"token": token, "channel": channel, "contact": _shown(channel, address)}
    return render(request, "citizen/stop.html", context | {"stopped": True, "just_now": True})
