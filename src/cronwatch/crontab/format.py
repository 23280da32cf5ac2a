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


# A user name as useradd takes them (Debian's default NAME_REGEX, plus "$" for machine accounts).
_USER_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}\$?")
# Where cron and a login shell look for commands: a word found there is a command, not a user.
_COMMAND_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
# Words that start a command line in system crontabs: shell keywords and builtins, and the
# wrappers distributions put first (`munin if [ -x ... ]`, `logcheck if ...`).
_COMMAND_STARTS = frozenset(
    {"if", "[", "[[", "test", "cd", "command", "exec", "{", "(", "!", "for", "while", "case"}
    | {"nice", "ionice", "flock", "timeout", "sleep", "env", "sh", "bash", "run-parts", "chronic"}
)
# Shell builtins, which no directory holds but which are commands all the same.
_BUILTINS = frozenset(
    {"cd", "test", "exec", "command", "source", ".", "export", "umask", "ulimit", "set", "eval"}
    | {"trap", "wait", "read", "true", "false", "echo", "printf", "kill", "pushd", "popd", "type"}
    | {"if", "for", "while", "until", "case", "time", "unset", "shift", "exit", "return", "alias"}
)


def _is_command(word: str) -> bool:
    return any(os.access(os.path.join(folder, word), os.X_OK) for folder in _COMMAND_DIRS)


def user_field(line: Line) -> str | None:
    """The word after the time fields when it reads as a system crontab's user field: the name
    of a user of this host, or a word shaped like a user name that is no command here, followed
    by something that starts a command (a path, ``if``, ``[``, ``test``...), as in munin's
    ``*/5 * * * * munin if [ -x /usr/bin/munin-cron ]; ...`` on a host without munin. Else
    ``None``."""
    split = split_fields(line.text, schedule_width(line.text) + 2)
    if split is None:
        return None
    word, following = split[0][-2], split[0][-1]
    if word.startswith("-") or following.startswith("-"):  # options follow a command
        return None
    if _known_user(word):
        return word
    if not _USER_NAME.fullmatch(word) or word in _BUILTINS or _is_command(word):
        return None
    starts_command = (
        following.startswith(("/", "./", "~/", "$"))
        or following in _COMMAND_STARTS
        or ("=" in following and not following.startswith("-"))  # FOO=1 cmd
        or _is_command(following)
    )
    return word if starts_command else None


def content_says_system(lines: Sequence[Line]) -> bool:
    """True when the file carries the system header, or when every schedule line has a user
    field after its time fields (:func:`user_field`).

    Both are conservative: a user crontab whose commands all start with a user's name and have
    arguments (``0 3 * * * backup --full`` on a host with a ``backup`` user) is the one case that
    is misread, which is why the caller is told the format was guessed.
    """
    if any(line.kind == "comment" and _SYSTEM_HEADER.match(line.text.strip()) for line in lines):
        return True
    entries = [line for line in lines if line.kind == "entry"]
    if not entries:
        return False
    return all(user_field(line) is not None for line in entries)
