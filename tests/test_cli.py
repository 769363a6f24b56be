"""The `reflections` command line against a real database."""

import uuid

from sqlmodel import Session, col, select
from typer.testing import CliRunner

from reflections.cli import app
from reflections.models import Membership, Reflection, User
from reflections.organisation.auth import authenticate

runner = CliRunner()


def test_users_create_with_a_membership(database_url: str, session: Session) -> None:
    username = f"clerk.{uuid.uuid4().hex[:6]}"
    result = runner.invoke(
        app,
        [
            "users",
            "create",
            username,
            "--role",
            "handler",
            "--full-name",
            "Lê Thị Thu",
            "--handling-unit",
            "HEPCO",
            "--password",
            "a-long-password",
        ],
    )
    assert result.exit_code == 0, result.output
    user = authenticate(session, username, "a-long-password")
    memberships = session.exec(select(Membership).where(Membership.user_id == user.id)).all()
    assert [m.handling_unit_id is not None for m in memberships] == [True]
    listed = runner.invoke(app, ["users", "list"])
    assert username in listed.output


def test_users_create_refuses_bad_input(database_url: str, session: Session) -> None:
    cases = [
        (["--role", "handler", "--password", "a-long-password"], "at least one handling unit"),
        (["--role", "handler", "--password", "short", "--handling-unit", "HEPCO"], "12 characters"),
        (
            ["--role", "handler", "--password", "password1234", "--handling-unit", "HEPCO"],
            "too common",
        ),
        (
            ["--role", "handler", "--password", "a-long-password", "--handling-unit", "NOPE"],
            "unknown handling_units code",
        ),
        (["--role", "citizen", "--password", "a-long-password"], "not a staff role"),
    ]
    for options, message in cases:
        username = f"bad.{uuid.uuid4().hex[:6]}"
        result = runner.invoke(app, ["users", "create", username, "--full-name", "X", *options])
        assert result.exit_code == 1, result.output
        assert message in result.output
        assert session.exec(select(User).where(User.username == username)).first() is None


def test_demo_drives_reflections_through_the_lifecycle(database_url: str, session: Session) -> None:
    before = len(session.exec(select(Reflection.id)).all())
    result = runner.invoke(app, ["demo", "--count", "30", "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert "30 submitted" in result.output
    after = session.exec(select(Reflection).order_by(col(Reflection.id))).all()[before:]
    assert len(after) == 30
    states = {str(reflection.state) for reflection in after}
    assert {"received", "confirmed"} <= states, states
    assert all(r.version >= 1 for r in after)


def test_diagram_prints_mermaid() -> None:
    result = runner.invoke(app, ["diagram"])
    assert result.exit_code == 0
    assert result.output.startswith("stateDiagram-v2")
