"""Which format a crontab is in: a user's (``crontab -e``) or the system's (``/etc/crontab``,
``/etc/cron.d/*``: a user name between the time fields and the command)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from cronwatch.crontab.lines import Line, schedule_width, split_fields

# The column headers distributions put in /etc/crontab and /etc/cron.d files:
# "# m h dom mon dow user  command" and "# *  *  *  *  * user-name command to be executed".
_SYSTEM_HEADER = re.compile(
    r"#\s*(?:m\s+h\s+dom\s+mon\s+dow|\*\s+\*\s+\*\s+\*\s+\*)\s+user(?:-?name)?\s+command",
    re.IGNORECASE,
)


def path_says_system(path: str | os.PathLike[str] | None) -> bool | None:
    """True for ``.../etc/crontab`` and files in a ``cron.d`` directory; else ``None``: the
    path does not tell."""
    if path is None:
        return None
    p = Path(path)
    if p.parent.name == "cron.d" or (p.name == "crontab" and p.parent.name == "etc"):
        return True
    return None


def _known_user(name: str) -> bool:
    try:
        import pwd
    except ImportError:  # not a Unix system: no way to tell
        return False
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def content_says_system(lines: Sequence[Line]) -> bool:
    """True when the file carries the system header, or when every schedule line has, after its
    time fields, a word naming a user of this host followed by a command.

    Both are conservative: a user crontab whose commands all start with a user's name and have
    arguments (``0 3 * * * backup --full`` on a host with a ``backup`` user) is the one case that
    is misread, which is why the caller is told the format was guessed.
    """
    if any(line.kind == "comment" and _SYSTEM_HEADER.match(line.text.strip()) for line in lines):
        return True
    entries = [line for line in lines if line.kind == "entry"]
    if not entries:
        return False
    for line in entries:
        split = split_fields(line.text, schedule_width(line.text) + 1)
        if split is None or not split[1].strip():
            return False
        user = split[0][-1]
        if user.startswith("-") or not _known_user(user):
            return False
    return True
