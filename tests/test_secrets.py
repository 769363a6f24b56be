"""Secrets and passwords (issue 13): a JWT secret long enough to resist offline guessing, or
no start at all; staff passwords neither short nor common."""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from reflections.errors import InvalidInput
from reflections.organisation.passwords import check_password
from reflections.platform.settings import Settings
from tests.servers import REPO, running


def test_a_short_jwt_secret_is_refused_and_the_service_does_not_start() -> None:
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(jwt_secret="s3cret-but-short")
    assert Settings(jwt_secret="x" * 32).jwt_secret == "x" * 32
    assert Settings(jwt_secret=None).jwt_secret is None  # the embedded default: generated
    started = subprocess.run(
        [sys.executable, "-c", "from runtime.asgi import create_app; create_app()"],
        cwd=REPO,
        env=os.environ | {"REFLECTIONS_JWT_SECRET": "short"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode != 0
    assert "REFLECTIONS_JWT_SECRET must be at least 32 bytes" in started.stderr


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short-one", "password_too_short"),
        ("password1234", "password_too_common"),
        ("qwertyuiop[]", "password_too_common"),
        ("123456789012", "password_too_common"),
        ("nguyen.van.an", "password_too_common"),  # the username itself
    ],
)
def test_weak_passwords_are_refused_with_a_code(password: str, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_password(password, user_inputs=["nguyen.van.an"])
    assert refused.value.code == code and refused.value.field == "password"


def test_a_long_unusual_password_passes() -> None:
    check_password("hương giang mùa lũ 2026", user_inputs=["nguyen.van.an"])


def test_a_key_sent_in_a_url_is_refused_and_kept_out_of_the_access_log(
    tmp_path: Path, database_url: str
) -> None:
    secret = "query-string-key-0123456789"
    with running(tmp_path / "api.log", {"REFLECTIONS_LOG_FORMAT": "text"}) as server:
        answer = httpx.post(
            f"{server.url}/open311/v2/requests.json?api_key={secret}&x=1",
            data={"service_code": "urban_order", "address_string": "3 Hùng Vương"},
            timeout=30,
        )
        listed = httpx.get(f"{server.url}/open311/v2/services.json?api_key={secret}", timeout=30)
        time.sleep(0.5)  # the access line is written after the answer
        output = server.output()
    assert answer.status_code == 400 and "form body" in answer.text
    assert listed.status_code == 200
    assert "api_key=[redacted]" in output
    assert secret not in output
