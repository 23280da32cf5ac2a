"""The exceptions cronwatch raises.

Every error a user can cause derives from :class:`CronwatchError`, so that callers (the CLI, the
server) can turn them into a clear message without catching unrelated bugs.
"""

from __future__ import annotations


class CronwatchError(Exception):
    """Base class of every error cronwatch raises on purpose."""


class InvalidInput(CronwatchError, ValueError):
    """The caller gave a value cronwatch refuses; nothing was written."""


class NotFound(CronwatchError, LookupError):
    """What the caller named does not exist (a job, a key); nothing was written."""


class Conflict(CronwatchError):
    """The change clashes with what is there (a job that exists, one the config file declares,
    a concurrent change); nothing was written."""


class LimitReached(CronwatchError):
    """The change would go beyond a limit the server keeps (``[limits]``); nothing was
    written. The message names the limit and how to change it."""


class ConfigError(CronwatchError):
    """A configuration file or setting is wrong.

    The message names the file, the job (or channel) and the field, so the user can fix it
    without guessing.
    """


class StorageUnavailable(CronwatchError):
    """The database could not be reached or opened.

    Raised for outages (server down, file not openable), not for bad input: a caller such as
    ``cronwatch run`` may keep the record in its spool and retry later.
    """


def type_name(value: object) -> str:
    """How a user of TOML or JSON names the type of ``value`` ("a string", "a number", "a
    list", ...), for messages such as "expected true or false, not a string"."""
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    for kind, label in names.items():
        if isinstance(value, kind):
            return label
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__
