"""The ``cronwatch`` command: a thin Click layer over the library.

Subcommands are imported only when invoked, so ``cronwatch run`` (started on every cron
invocation) does not pay for the server or the health checks.
"""
