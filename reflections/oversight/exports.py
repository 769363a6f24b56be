"""Exports of histories and reports for a period, as CSV or JSON lines (DESIGN.md §7).

Streamed: history rows are fetched in batches of ``batch_size`` (``yield_per``: a server-side,
named cursor on PostgreSQL, lazy ``fetchmany`` on SQLite) and written out in text chunks of
about ``CHUNK_CHARS``, so memory stays flat whether the period holds ten rows or ten million.
Nothing is kept per row: no ORM objects, no identity map.

Periods are half-open, ``[start, end)``, of ``occurred_at``; whole days and months are read in
the service's time zone (``settings.time_zone``), as the people asking for "March" mean it.
Each history row is there for people (Vietnam time with its offset, the actor's name, what the
row changed in words: ``reflections.oversight.wording``) and for checking the hash chain
(``occurred_at`` in UTC and the payload as compact JSON with sorted keys, the forms
``reflections.lifecycle.history.canonical_content`` hashes). Files are written by
``reflections.oversight.export_files`` (CSV with an optional byte order mark, JSON lines, XLSX).
"""

import json
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, String, func, select, type_coerce
from sqlmodel import Session, col

from reflections.errors import InvalidInput
from reflections.models import HistoryEvent, Reflection, User
from reflections.oversight import export_files
from reflections.oversight.export_files import ExportFormat, FileOptions, Headers
from reflections.oversight.report_types import GroupBy, Report, ReportQuery
from reflections.oversight.wording import describe, local_iso, names_for, say
from reflections.platform.settings import get_settings

__all__ = ["ExportFormat", "FileOptions", "Headers"]

DEFAULT_BATCH_SIZE = 2000  # rows per fetch from the database

HISTORY_COLUMNS: tuple[str, ...] = (
    "tracking_code",
    "seq",
    "occurred_at_local",
    "event",
    "event_name",
    "from_state",
    "from_stage",
    "to_state",
    "to_stage",
    "actor",
    "actor_name",
    "actor_role",
    "reason",
    "details",
    "payload",
    "occurred_at",
    "prev_hash",
    "hash",
)


@dataclass(frozen=True)
class Period:
    """``[start, end)`` in aware UTC instants, and a label for file names."""

    start: datetime
    end: datetime
    label: str

    def filename(self, kind: str, export_format: ExportFormat) -> str:
        return f"{kind}_{self.label}.{export_format.value}"


def _zone(zone: str | None) -> ZoneInfo:
    return ZoneInfo(zone or get_settings().time_zone)


def _local_midnight(day: date, zone: ZoneInfo, field: str) -> datetime:
    try:
        return datetime.combine(day, time(), zone).astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidInput(field, f"{day.isoformat()} is out of range") from None


def days(first: date, end: date, zone: str | None = None) -> Period:
    """From local midnight of ``first`` to local midnight of ``end`` (excluded)."""
    if end <= first:
        raise InvalidInput("to", f"must come after from ({first.isoformat()})")
    local = _zone(zone)
    return Period(
        _local_midnight(first, local, "from"),
        _local_midnight(end, local, "to"),
        f"{first.isoformat()}_{end.isoformat()}",
    )


# --- histories ------------------------------------------------------------------------------


def history_statement(period: Period) -> Select[Any]:
    """The period's history rows by (occurred_at, id), with the reflection's code and the
    actor's username and name. The enum columns come back as their stored text."""
    return (
        select(
            col(Reflection.tracking_code),
            col(HistoryEvent.seq),
            type_coerce(HistoryEvent.event, String),
            type_coerce(HistoryEvent.from_state, String),
            type_coerce(HistoryEvent.from_stage, String),
            type_coerce(HistoryEvent.to_state, String),
            type_coerce(HistoryEvent.to_stage, String),
            func.coalesce(col(User.username), type_coerce(HistoryEvent.actor_role, String)),
            col(User.full_name),
            type_coerce(HistoryEvent.actor_role, String),
            col(HistoryEvent.reason),
            col(HistoryEvent.payload),
            col(HistoryEvent.occurred_at),
            col(HistoryEvent.prev_hash),
            col(HistoryEvent.hash),
        )
        .join(Reflection, col(Reflection.id) == col(HistoryEvent.reflection_id))
        .outerjoin(User, col(User.id) == col(HistoryEvent.actor_user_id))
        .where(col(HistoryEvent.occurred_at) >= period.start)
        .where(col(HistoryEvent.occurred_at) < period.end)
        .order_by(col(HistoryEvent.occurred_at), col(HistoryEvent.id))
    )


def history_rows(
    session: Session,
    period: Period,
    batch_size: int = DEFAULT_BATCH_SIZE,
    *,
    payload_as_text: bool = True,
    language: str = "vi",
) -> Generator[tuple[Any, ...]]:
    """The period's history rows as tuples in ``HISTORY_COLUMNS`` order, fetched ``batch_size``
    at a time through the session's connection (Core rows: no ORM work per row); the names a
    batch's rows mention are looked up once per batch.

    The payload is its canonical JSON text, or (``payload_as_text=False``) a dict with its
    keys sorted."""
    statement = history_statement(period).execution_options(yield_per=batch_size)
    result = session.connection().execute(statement)
    try:
        for batch in result.partitions():
            names = names_for(session, (row[11] for row in batch))
            for row in batch:  # in history_statement's order
                event, role, payload, occurred_at = row[2], row[9], row[11], row[12]
                yield (
                    *row[:2],
                    local_iso(occurred_at),
                    event,
                    say(language, f"event.{event}"),
                    *row[3:8],  # the states, stages and the actor's username
                    row[8] or say(language, f"role.{role}"),
                    role,
                    row[10],
                    describe(event, payload, names, language),
                    _canonical(payload) if payload_as_text else dict(sorted(payload.items())),
                    occurred_at.isoformat(timespec="microseconds"),
                    *row[13:],
                )
    finally:
        result.close()  # an abandoned download frees its cursor at once


def export_histories(
    session: Session,
    period: Period,
    export_format: ExportFormat,
    batch_size: int = DEFAULT_BATCH_SIZE,
    options: FileOptions | None = None,
) -> Iterator[bytes]:
    """The period's histories as chunks of CSV (with a header), JSON lines (where the payload
    is an object) or an XLSX workbook."""
    options = options or FileOptions()
    as_text = export_format is not ExportFormat.JSONL
    rows = history_rows(
        session, period, batch_size, payload_as_text=as_text, language=options.language
    )
    return export_files.write(export_format, HISTORY_COLUMNS, rows, options)


# --- reports --------------------------------------------------------------------------------

# Dimensions shown by code and name; the others (level, month) by their value.
_NAMED = (GroupBy.HANDLING_UNIT, GroupBy.CATEGORY)


def report_columns(report: Report) -> tuple[str, ...]:
    """``row`` ("group" or "total"), the group's dimensions in ``group_by`` order, then every
    figure of :meth:`reflections.oversight.report_types.Figures.as_dict`, nested ones (the steps)
    flattened as ``<step>_<figure>``: ``process_median_hours``."""
    dimensions: list[str] = []
    for dimension in report.query.group_by:
        named = dimension in _NAMED
        dimensions += [f"{dimension}_code", f"{dimension}_name"] if named else [str(dimension)]
    return ("row", *dimensions, *_flat(report.total.as_dict()))


def report_rows(report: Report) -> Iterator[tuple[Any, ...]]:
    """One tuple per group, in the report's order, then the total (computed over the whole
    period by the report, not summed here: medians and distinct counts do not add up).
    Without ``group_by``, the total alone."""
    columns = report_columns(report)
    grouped = report.rows if report.query.group_by else ()  # ungrouped: the total says it all
    for row in grouped:
        values = {"row": "group", **_flat(row.group.as_dict(report.query.group_by))}
        values |= _flat(row.figures.as_dict())
        yield tuple(values.get(column) for column in columns)
    total = {"row": "total", **_flat(report.total.as_dict())}
    yield tuple(total.get(column) for column in columns)


def export_report(
    report: Report, export_format: ExportFormat, options: FileOptions | None = None
) -> Iterator[bytes]:
    """The report as chunks of CSV (with a header), JSON lines (one line per group) or XLSX."""
    options = options or FileOptions(sheet="sheet.report")
    rows = report_rows(report)
    if options.headers is not Headers.CODES:  # the rows say "nhóm" and "tổng" too
        rows = ((say(options.language, f"row.{row[0]}"), *row[1:]) for row in rows)
    return export_files.write(export_format, report_columns(report), rows, options)


def group_names(values: Iterable[str] | None) -> list[str] | None:
    """``group_by`` as typed, repeated and/or comma-separated; None (not given) stays None,
    and given but empty (``group_by=``) is no grouping: the total row alone."""
    if values is None:
        return None
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def report_period(query: ReportQuery) -> str:
    """For file names: ``2026-01_2026-03`` (both months included)."""
    return f"{query.month_from}_{query.month_to}"


def _flat(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested values as ``<key>_<inner key>`` (``handling_unit_code``), except the steps,
    which are named enough by themselves (``process_median_hours``)."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat |= _flat(value, prefix if key == "steps" else f"{prefix}{key}_")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


# Built once (json.dumps with options makes an encoder per call). Canonical: compact, keys
# sorted, UTF-8 left as is, as the hash chain serialises content.
_canonical = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode
