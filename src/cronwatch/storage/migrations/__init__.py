"""Alembic migrations of the cronwatch schema (applied by :mod:`cronwatch.storage.migrate`)."""
