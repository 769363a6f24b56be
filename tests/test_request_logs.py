"""JSON logs (REFLECTIONS_LOG_FORMAT=json): one line per request saying what happened, and never
a citizen's name, phone or email, a password, a key or a token."""

import json
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from tests import servers
from tests.api_helpers import DEMO_PASSWORD

NAME = "Tôn Nữ Khánh Vy"
PHONE = "0905 135 791"
EMAIL = f"khanh.vy.{uuid.uuid4().hex[:6]}@example.org"
SECRET_QUERY = "s3cret-in-a-query-string"


def call(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    data = None
    sent = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(base + path, data=data, headers=sent, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_json_request_lines_carry_what_happened_and_nothing_personal(
    database_url: str, tmp_path: Path
) -> None:
    env = {"REFLECTIONS_LOG_FORMAT": "json"}
    with servers.running(tmp_path / "api.log", env) as server:
        base = server.url
        submission = {
            "description": "Rác thải ứ đọng ở ngõ 7",
            "address": "7 Nguyễn Huệ",
            "contact": {"name": NAME, "phone": PHONE, "email": EMAIL},
        }
        key = {"Idempotency-Key": str(uuid.uuid4())}
        given_id = key | {"X-Request-ID": "drill-request-0001"}
        status, headers, raw = call(base, "POST", "/api/v1/reflections", submission, given_id)
        assert status == 201 and headers["x-request-id"] == "drill-request-0001"
        submitted = json.loads(raw)
        code, citizen_key = submitted["tracking_code"], submitted["citizen_key"]
        assert call(base, "POST", "/api/v1/reflections", submission, key)[0] == 201  # replayed
        status, _, raw = call(
            base,
            "POST",
            "/api/v1/auth/token",
            form={"username": "coordinator", "password": DEMO_PASSWORD},
        )
        token = json.loads(raw)["access_token"]
        classify = {
            "category": "urban_order",
            "priority": "normal",
            "administrative_unit": "46.W19768",
        }
        staff = {"Authorization": f"Bearer {token}"}
        assert call(base, "POST", f"/api/v1/reflections/{code}/classify", classify, staff)[0] == 200
        citizen = {"X-Citizen-Key": citizen_key}
        assert call(base, "GET", f"/api/v1/reflections/{code}", headers=citizen)[0] == 200
        bad = submission | {"address": None, "contact": {"phone": PHONE + "999999999"}}
        assert call(base, "POST", "/api/v1/reflections", bad)[0] == 422
        assert call(base, "GET", f"/nowhere?key={SECRET_QUERY}")[0] == 404
        track = {"code": code, "secret": citizen_key, "csrf": "x"}
        assert call(base, "POST", "/track", form=track)[0] == 403  # no CSRF cookie
    output = server.output()
    lines = [line for line in output.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON
    requests = [r for r in records if r.get("logger") == "reflections.requests"]
    assert {"request_id", "method", "route", "status", "duration_ms", "time", "level"} <= set(
        requests[0]
    )

    def line_for(method: str, route: str, status: int) -> dict[str, Any]:
        found = [
            r for r in requests if (r["method"], r["route"], r["status"]) == (method, route, status)
        ]
        assert found, (method, route, status)
        line: dict[str, Any] = found[0]
        return line

    # Lines are written as requests end, so the replay's may come before the first one's.
    first = next(r for r in requests if r["request_id"] == "drill-request-0001")
    assert (first["route"], first["status"], first["replayed"]) == (
        "/api/v1/reflections",
        201,
        False,
    )
    assert (first["tracking_code"], first["actor_role"]) == (code, "citizen")
    replayed = [r for r in requests if r["replayed"]]
    assert [(r["route"], r["tracking_code"]) for r in replayed] == [("/api/v1/reflections", code)]
    classified = line_for("POST", "/api/v1/reflections/{tracking_code}/classify", 200)
    assert (classified["tracking_code"], classified["actor_role"]) == (code, "coordinator")
    assert line_for("GET", "unmatched", 404)["tracking_code"] is None
    assert len({r["request_id"] for r in requests}) == len(requests)

    digits = re.sub(r"\D", "", PHONE)
    for secret in (
        NAME,
        "Khánh Vy",
        PHONE,
        digits,
        "+84" + digits[1:],
        EMAIL,
        EMAIL.split("@")[0],
        DEMO_PASSWORD,
        citizen_key,
        token,
        token.split(".")[2],
        SECRET_QUERY,
    ):
        assert secret not in output, f"the log carries {secret!r}"
