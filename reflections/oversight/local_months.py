"""Local months in SQL: a UTC timestamp column bucketed as ``YYYY-MM`` of the configured time
zone, rendered per dialect (``strftime`` on SQLite, ``to_char`` on PostgreSQL) so that both
databases group reports by the same months, to the second."""

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Integer, String, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

_Expression = ColumnElement[Any] | Mapped[Any]


class LocalMonth(FunctionElement[str]):
    """``YYYY-MM`` of a UTC timestamp column shifted by a whole number of minutes (rendered
    inline: no bound parameters, so the expression can be grouped and partitioned by)."""

    type = String()
    name = "local_month"
    inherit_cache = True


def local_month(column: _Expression, offset: timedelta) -> LocalMonth:
    if offset % timedelta(minutes=1):
        raise ValueError(f"the offset {offset} is not whole minutes")
    minutes = offset // timedelta(minutes=1)
    return LocalMonth(column, literal_column(str(minutes), Integer()))


@compiles(LocalMonth, "sqlite")
def _local_month_sqlite(element: LocalMonth, compiler: SQLCompiler, **kw: Any) -> str:
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC). Cut to the second first: SQLite's date
    # functions keep milliseconds and would round 23:59:59.9995 up into the next month.
    column, minutes = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"strftime('%Y-%m', substr({column}, 1, 19), ({minutes}) || ' minutes')"


@compiles(LocalMonth, "postgresql")
def _local_month_postgresql(element: LocalMonth, compiler: SQLCompiler, **kw: Any) -> str:
    column, minutes = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"to_char(({column} AT TIME ZONE 'UTC') + make_interval(mins => {minutes}), 'YYYY-MM')"


@compiles(LocalMonth)
def _local_month_other(element: LocalMonth, compiler: SQLCompiler, **kw: Any) -> str:
    raise NotImplementedError(f"local_month has no SQL for {compiler.dialect.name}")


def fixed_offset(zone_name: str, first: date, end: date) -> timedelta:
    """The zone's UTC offset from ``first`` to ``end``, which must not change (no daylight
    saving time), since months are bucketed in SQL by shifting UTC by one offset."""
    zone = ZoneInfo(zone_name)
    offsets = {
        datetime.combine(first + timedelta(days=n), time(12), tzinfo=zone).utcoffset()
        for n in range((end - first).days + 1)
    }
    offset = offsets.pop()
    if offsets or offset is None:
        raise ValueError(
            f"time zone {zone_name} changes its UTC offset between {first} and {end}; "
            "reports need a fixed offset (Asia/Ho_Chi_Minh has had +07:00 since 1975)"
        )
    return offset
