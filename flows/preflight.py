"""The pull step of every deployment in ``prefect.yaml``: can this worker run the flows?

A worker runs the flows from the installed package (entrypoints are module paths, no checkout
needed). What it cannot do without is configuration: left unset, the flows would quietly write
to a new SQLite file under ``var/``, put links to 127.0.0.1 in citizens' messages, or "send"
every message to the worker's console. Each run checks that first and, if anything is missing,
fails before the flow starts, with one message naming every missing setting, instead of
starting and failing later, or worse, succeeding on the wrong database.
"""

import os
from pathlib import Path

from reflections.platform.db import describe_failure, get_engine, masked_url
from reflections.platform.migrate import DatabaseNotMigrated, ensure_migrated
from reflections.platform.settings import get_settings

HOME_VARIABLE = "REFLECTIONS_HOME"


class WorkerNotReady(RuntimeError):
    pass


def check_worker() -> dict[str, str]:
    """Raise WorkerNotReady naming what this worker lacks; otherwise what it will use."""
    problems = []
    home = os.environ.get(HOME_VARIABLE)
    if home:  # optional: a directory holding a .env and var/ for the worker
        if Path(home).is_dir():
            os.chdir(home)
        else:
            problems.append(f"{HOME_VARIABLE}={home} is not a directory on this worker")
    get_settings.cache_clear()
    settings = get_settings()
    given = settings.model_fields_set
    if "database_url" not in given:
        problems.append(
            "REFLECTIONS_DATABASE_URL is not set: the flows would use a new SQLite file here"
        )
    else:
        problems += _database_problems()
    if "public_url" not in given:
        problems.append("REFLECTIONS_PUBLIC_URL is not set: messages would link to 127.0.0.1")
    channels = settings.smtp_host or settings.twilio_account_sid or settings.notifications_file
    if not channels:
        problems.append(
            "neither REFLECTIONS_SMTP_HOST nor REFLECTIONS_TWILIO_ACCOUNT_SID is set (nor "
            "REFLECTIONS_NOTIFICATIONS_FILE): every message would go to this worker's console"
        )
    if problems:
        raise WorkerNotReady(
            "this worker cannot run Reflections' flows: "
            + "; ".join(problems)
            + ". Set them in the worker's environment or the work pool's job variables."
        )
    return {"database": masked_url(), "public_url": settings.public_url}


def _database_problems() -> list[str]:
    try:
        ensure_migrated(get_engine())
    except DatabaseNotMigrated as error:
        return [str(error)]
    except Exception as error:
        return [f"cannot use the database {masked_url()}: {describe_failure(error)}"]
    return []
