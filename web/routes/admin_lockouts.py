"""The admins' page of log-in lockouts (issue 13): who or which address is locked after
repeated failed log-ins, and a button to lift each lock."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import Caller, SessionDep
from reflections.errors import NotFound
from reflections.models.enums import Role
from reflections.organisation import login_throttle
from web.session import CsrfChecked, staff_with_role
from web.templating import render

router = APIRouter(include_in_schema=False)
Admin = Annotated[Caller, Depends(staff_with_role(Role.ADMIN))]
PATH = "/console/admin/lockouts"


@router.get(PATH, response_class=HTMLResponse)
def lockouts_page(request: Request, session: SessionDep, _admin: Admin) -> Response:
    context = {
        "locks": login_throttle.lockouts(session),
        "lifted": request.query_params.get("lifted") == "1",
    }
    return render(request, "admin/lockouts.html", context)


@router.post(PATH + "/lift", dependencies=[CsrfChecked])
def lift(
    session: SessionDep,
    _admin: Admin,
    scope: Annotated[Literal["username", "address"], Form()],
    subject: Annotated[str, Form(max_length=255)],
) -> Response:
    if not login_throttle.lift(session, scope, subject):
        raise NotFound(f"no lock on the {scope} {subject}")
    session.commit()
    return RedirectResponse(f"{PATH}?lifted=1", 303)
