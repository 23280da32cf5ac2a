"""Storage: where runs are kept.

The recording path (``RunStore``) talks to the database through the bare DB-API driver
(``sqlite3`` or ``psycopg``) with a handful of prepared SQL statements, because
``cronwatch run`` starts on every cron invocation and importing SQLAlchemy alone costs more
than the whole budget. SQLAlchemy Core and Alembic own the schema: they are imported only when
the database is not yet at the current schema revision (see ``migrate``).
"""

from cronwatch.storage.connection import Database, open_database
from cronwatch.storage.runs import RunStore
from cronwatch.storage.url import DatabaseURL, parse_database_url

__all__ = ["Database", "DatabaseURL", "RunStore", "open_database", "parse_database_url"]
