"""What running the service needs beyond the domain: the answers remembered for retried POSTs."""

from datetime import datetime

from sqlalchemy import LargeBinary
from sqlmodel import Field, SQLModel

import reflections.models.metadata  # noqa: F401  (naming convention first)
from reflections.models.types import UTCDateTime


class IdempotencyRecord(SQLModel, table=True):
    """The first answer to a POST with an ``Idempotency-Key`` (DESIGN.md §10), written in the
    transaction of the change it answers, so the change and its answer exist together or not
    at all. Only hashes of the key are stored; the answer is encrypted with a key derived from
    it (it may hold a citizen's key or a token), so the table alone reveals nothing."""

    __tablename__ = "idempotency_keys"

    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(max_length=64, unique=True, description="Caller and key, hashed.")
    request_hash: str = Field(max_length=64, description="Method, path, query and body, hashed.")
    answer: bytes | None = Field(default=None, sa_type=LargeBinary)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
