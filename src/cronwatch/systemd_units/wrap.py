"""The drop-in ``cronwatch import-systemd --wrap`` prints for a timer's service: an
``ExecStartPre=``/``ExecStopPost=`` pair that records each run (:mod:`cronwatch.hooks`),
leaving the service's own command lines alone.

``-+`` before each hook: ``-`` so that a failing hook never fails the service, ``+`` so that
it runs with full privileges, outside the service's sandbox (``ProtectSystem=``,
``PrivateTmp=``, ``DynamicUser=``, ``PrivateNetwork=``...), which would otherwise keep it
from the database, the spool or the server. ``ExecStopPost=`` runs whether the service
succeeded, failed or never started, with ``$SERVICE_RESULT``, ``$EXIT_CODE`` and
``$EXIT_STATUS`` set.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from cronwatch.errors import InvalidInput

#: Where ``systemctl edit NAME`` puts its drop-in, and the file name cronwatch's takes.
DROPIN_DIR = "/etc/systemd/system"
DROPIN_NAME = "cronwatch.conf"
_PLAIN_ARG = re.compile(r"[A-Za-z0-9_./:@+=,-]+")


def exec_argument(text: str) -> str:
    """``text`` as one argument of an ``Exec*=`` line: quoted when it has to be, ``\\``,
    ``"`` escaped, ``%`` (a specifier) and ``$`` (a variable) doubled (systemd.service(5))."""
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
        raise InvalidInput(f"{text[:60]!r}: control characters cannot be passed to a hook")
    escaped = text.replace("%", "%%").replace("$", "$$")
    if _PLAIN_ARG.fullmatch(text):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dropin_path(service: str) -> str:
    """Where the drop-in of ``service`` goes (``systemctl edit`` style)."""
    return f"{DROPIN_DIR}/{service}.d/{DROPIN_NAME}"


def service_dropin(
    service: str, job: str, command: Sequence[str], *, options: Sequence[str] = ()
) -> str:
    """The drop-in that records each run of ``service`` as job ``job``: ``command`` is how to
    run this cronwatch (its absolute path, and global options such as ``--database-url``),
    ``options`` the hook's own (``--env-file FILE``)."""
    line = " ".join(exec_argument(arg) for arg in command)
    extra = "".join(" " + exec_argument(arg) for arg in options)
    name = exec_argument(job)
    return (
        f"# {dropin_path(service)}\n"
        f"# Records each run of {service} as cronwatch job {job!r} (start, outcome, duration).\n"
        f"# Install: save as this file (or paste into `systemctl edit {service}`), then\n"
        "# `systemctl daemon-reload`. The service's own lines are not changed.\n"
        "[Service]\n"
        f"ExecStartPre=-+{line} hook start{extra} -- {name}\n"
        f"ExecStopPost=-+{line} hook stop{extra} -- {name}\n"
    )
