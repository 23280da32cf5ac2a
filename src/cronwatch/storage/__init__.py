"""Storage: where runs are kept.

The recording path (``RunStore``) talks to the database through the bare DB-API driver
(``sqlite3`` or ``psycopg``) with a handful of prepared SQL statements, because
``cronwatch run`` starts on every cron invocation and importing SQLAlchemy alone costs more
than the whole budget. SQLAlchemy Core and Alembic own the schema: they are imported only when
the database is not yet at the current schema revision (see ``migrate``).

Every SQL statement of cronwatch is in this package (``tests/test_sql_placement.py`` holds it
to that), behind named store methods, one module per concept:

    connection  Database: one connection, its dialect, statements, transactions
    dialect     what differs between SQLite and PostgreSQL (one subclass each)
    writes      the statements of a run's write, shared by one run and a batch
    runs        RunStore: recording and reading runs
    jobs        JobStore: the jobs table, the facts the health checks read, baselines
    keys        KeyStore: API and ping keys
    dashboard   the dashboard's reads (sparklines, charts, run pages)
    metrics     what /metrics reads
    prune       deleting old runs (cronwatch.retention decides what is old)
    alerts/     AlertStore: job states, events, deliveries, alert loops' heartbeats
    exchange    ExchangeStore: whole tables, as `cronwatch export` and `import` move them
    backup      backup and restore (sqlite_backup: SQLite's; serverlock: servers in use)
    schema, migrate, migrations, revision   the schema (SQLAlchemy, Alembic)
"""

from cronwatch.storage.connection import Database, open_database
from cronwatch.storage.runs import RunStore
from cronwatch.storage.url import DatabaseURL, parse_database_url

__all__ = ["Database", "DatabaseURL", "RunStore", "open_database", "parse_database_url"]
