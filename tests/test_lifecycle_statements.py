"""The statements a lifecycle sends (issue 18): what each event reads and writes, so a read
that comes back shows here before it shows in `bench/transitions.py`. And the reads it saves
still answer as they did: the followers (told by the event's own UPDATE) and the chain head
after a submission (read with the references the first event names)."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, event
from sqlmodel import Session, col, select

from notifications import MessageKind
from reflections.actors import Actor
from reflections.lifecycle import followers
from reflections.lifecycle.intake import Submission, submit
from reflections.lifecycle.service import EventInput, apply_event
from reflections.models import OutboxMessage
from reflections.models.enums import Priority, Role
from reflections.oversight.audit import verify_reflection
from reflections.platform import clock
from tests.lifecycle_helpers import COORDINATOR, E, fire, new_reflection, refs

# Read through per-process caches that refresh on a timer (step policies, the calendar): a
# test must not count a refresh that happens to fall into it.
_CACHED = ("step_policies", "calendar_days")


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    sent: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if not any(table in statement for table in _CACHED):
            sent.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", note)


def _verb(statement: str) -> str:
    """``SELECT``, or the verb and the table written."""
    words = statement.split()
    if words[0] == "SELECT":
        return "SELECT"
    return " ".join(words[:3]) if words[0] == "INSERT" else " ".join(words[:2])


def test_a_lifecycle_sends_what_it_writes_and_the_reads_it_cannot_know(
    engine: Engine, session: Session
) -> None:
    r = refs(session)
    fire(session, fire(session, new_reflection(session), E.CLASSIFY, r), E.ASSIGN, r)  # warm
    reflection = new_reflection(session)
    reflection_id = reflection.id
    assert reflection_id is not None
    handler = Actor(Role.HANDLER, handling_unit_ids=frozenset({r.unit_id}))
    classify = EventInput(
        category_id=r.category_id,
        priority=Priority.NORMAL,
        administrative_unit_id=r.administrative_unit_id,
    )
    steps = [  # as bench/transitions.py sends them
        (E.CLASSIFY, COORDINATOR, classify),
        (E.ASSIGN, COORDINATOR, EventInput(handling_unit_id=r.unit_id)),
        (E.ACCEPT, handler, EventInput()),
        (E.PROCESS, handler, EventInput(result="Đã thay bóng đèn")),
        (E.CONFIRM, Actor.citizen(reflection_id), EventInput(rating=5, comment="Cảm ơn")),
    ]
    raw: dict[str, list[str]] = {}
    for name, actor, data in steps:
        with statements(engine) as seen:
            apply_event(session, reflection_id, name, actor, data)
        raw[name.value] = seen
    sent = {name: [_verb(statement) for statement in seen] for name, seen in raw.items()}
    write = ["INSERT INTO history_events", "UPDATE reflections"]
    step = ["INSERT INTO step_records"]
    assert sent == {
        # the category, the area and the chain head (NULL after the submission): one read
        "classify": ["SELECT", *write],
        # the unit, and after the UPDATE its handlers for their message
        "assign": ["SELECT", *step, *write, "SELECT"],
        "accept": [*step, *write],
        "process": [*step, *write],
        "confirm": write,
    }
    read = raw["classify"][0]
    assert all(f"FROM {table}" in read for table in _CLASSIFY_READS)
    assert verify_reflection(session, reflection_id).intact  # the head read with the references


_CLASSIFY_READS = ("categories", "administrative_units", "history_events")


def test_followers_are_read_when_someone_follows_even_one_added_elsewhere(
    engine: Engine, session: Session
) -> None:
    r = refs(session)
    reflection = new_reflection(session)
    for name in (E.CLASSIFY, E.ASSIGN, E.ACCEPT):
        reflection = fire(session, reflection, name, r)
    assert reflection.id is not None
    # Another citizen follows it in another session, while this one holds the reflection.
    with Session(engine) as elsewhere:
        follower = submit(
            elsewhere,
            Submission(description="Cùng chỗ đèn hỏng", address="12 Lê Lợi", reporter_email=_EMAIL),
            Actor.citizen(),
        ).reflection
        assert follower.reporter_id is not None
        followers.follow(elsewhere, reflection.id, follower.reporter_id, "follow", clock.now())
        elsewhere.commit()

    with statements(engine) as seen:
        reflection = fire(session, reflection, E.PROCESS, r)
    assert any("FROM followers" in statement for statement in seen if statement.startswith("SEL"))
    told = session.exec(
        select(OutboxMessage.recipient).where(
            OutboxMessage.reflection_id == reflection.id,
            col(OutboxMessage.kind) == MessageKind.PROCESSED.value,
        )
    ).all()
    assert told == [_EMAIL]


_EMAIL = "nguoi.theo.doi@example.org"
