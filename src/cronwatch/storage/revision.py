"""The schema revision this version of cronwatch runs on.

Kept apart from the Alembic scripts so that checking it costs one small query and no import of
SQLAlchemy or Alembic. ``tests/storage/test_migrations.py`` checks it matches the Alembic head.
"""

#: The Alembic head revision. Bump it with every new migration.
SCHEMA_REVISION = "0016"

#: Every revision ever released, oldest first: a database at one of these can be upgraded.
KNOWN_REVISIONS = (
    "0001",
    "0002",
    "0003",
    "0004",
    "0005",
    "0006",
    "0007",
    "0009",
    "0010",
    "0011",
    "0012",
    "0013",
    "0014",
    "0015",
    "0016",
)
