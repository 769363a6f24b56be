"""Alembic migrations; run them with ``reflections db upgrade``."""
