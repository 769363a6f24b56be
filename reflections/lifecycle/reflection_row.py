"""An event's one UPDATE of the reflection row, written without the ORM's flush.

The service sets the new fields on the loaded :class:`Reflection` as usual; :func:`write` then
sends the columns that changed, the next version and the optimistic check (``WHERE version =
<loaded>``) as one precompiled-shape Core UPDATE, and tells the ORM those values are now the
row's, so the object stays current and clean. The unit of work did the same with several times
the CPU, for one object (issue 18).

The same UPDATE answers whether anyone follows the reflection (``RETURNING EXISTS``): the
citizens' messages read the followers only when someone does, and the answer comes from the
event's own transaction, as the separate read after the UPDATE did (issue 18).
"""

from typing import Any

from sqlalchemy import Connection, bindparam, exists, update
from sqlalchemy.orm.attributes import instance_state
from sqlmodel import Session

from reflections.errors import Conflict
from reflections.models import Follower, Reflection
from reflections.models.types import table_of
from reflections.platform.db import execute

_TABLE, _FOLLOWERS = table_of(Reflection), table_of(Follower)
# SET gets the columns named in the parameters: one compiled form per set of changed columns,
# built once (the ``where_`` names cannot clash with a column's). The followers are matched on
# the bound id, not correlated: SQLite renders RETURNING's columns unqualified, and an
# unqualified ``id`` inside the subquery would be the follower's.
_UPDATE = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("where_id"), _TABLE.c.version == bindparam("where_version"))
    .returning(
        exists().where(_FOLLOWERS.c.reflection_id == bindparam("where_id")).label("followed")
    )
)


def write(session: Session, connection: Connection, reflection: Reflection) -> bool:
    """UPDATE the changed columns and move the version by one, through the session's
    ``connection``; a Conflict if someone else moved it first (nothing of ours is written then:
    the caller rolls back). Returns whether the reflection has followers."""
    state = instance_state(reflection)  # what inspect() finds, without its dispatch
    loaded = reflection.version
    # Set, and not to what it was (the service sets the position on every event).
    changes: dict[str, Any] = {
        key: state.dict[key]
        for key, before in state.committed_state.items()
        if state.dict[key] != before
    }
    changes["version"] = loaded + 1
    parameters = changes | {"where_id": reflection.id, "where_version": loaded}
    written = execute(connection, _UPDATE, parameters).first()
    if written is None:
        raise Conflict("the reflection was changed by someone else; reload and retry")
    # What the unit of work does after its own UPDATE: these values are the row's now, nothing
    # is left to flush (else every later flush and the commit would walk the object again).
    state.dict["version"] = changes["version"]
    state._commit_all(state.dict, session.identity_map)
    return bool(written.followed)
