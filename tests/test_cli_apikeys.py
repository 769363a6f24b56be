"""`reflections apikeys`: keys for service clients made, listed and revoked from the shell."""

import uuid

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from typer.testing import CliRunner, Result

from reflections.cli import app
from reflections.organisation.auth import InvalidCredentials, client_for_api_key


def invoke(*args: str) -> Result:
    """The CLI reads REFLECTIONS_DATABASE_URL, which ``database_url`` set for the session."""
    return CliRunner().invoke(app, ["apikeys", *args])


def listed_line(name: str) -> str:
    listed = invoke("list")
    assert listed.exit_code == 0, listed.output
    return next(row for row in listed.output.splitlines() if row.startswith(name))


def test_create_list_revoke(database_url: str, engine: Engine) -> None:
    name = f"cli-client-{uuid.uuid4().hex[:8]}"
    created = invoke("create", name)
    assert created.exit_code == 0, created.output
    assert "shown only now" in created.output
    key = created.output.strip().splitlines()[-1]
    with Session(engine) as session:
        assert client_for_api_key(session, key).name == name

    line = listed_line(name)
    assert key[:8] in line
    assert key not in line
    assert line.endswith("active")

    revoked = invoke("revoke", name)
    assert revoked.exit_code == 0, revoked.output
    with Session(engine) as session, pytest.raises(InvalidCredentials):
        client_for_api_key(session, key)
    assert "revoked" in listed_line(name)


def test_duplicates_and_unknown_names_fail(database_url: str) -> None:
    name = f"cli-client-{uuid.uuid4().hex[:8]}"
    assert invoke("create", name).exit_code == 0
    duplicate = invoke("create", name)
    assert duplicate.exit_code == 1
    assert "exists already" in duplicate.output
    unknown = invoke("revoke", f"no-such-{name}")
    assert unknown.exit_code == 1
    assert "no API key" in unknown.output
