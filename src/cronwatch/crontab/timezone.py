"""The host's timezone: the one cron runs a crontab's lines in when no ``CRON_TZ`` says
otherwise."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from cronwatch.errors import InvalidInput
from cronwatch.schedule import load_zone

_UTC_NAMES = frozenset(
    {"UTC", "UCT", "Universal", "Zulu", "GMT", "GMT0", "GMT+0", "GMT-0", "Greenwich", "Etc/UTC"}
    | {"Etc/UCT", "Etc/Universal", "Etc/Zulu", "Etc/GMT", "Etc/GMT0", "Etc/GMT+0", "Etc/GMT-0"}
    | {"Etc/Greenwich"}
)


def local_timezone(etc: str | os.PathLike[str] = "/etc") -> str | None:
    """The IANA name of this host's timezone, the one cron runs jobs in without ``CRON_TZ``.

    Read from the ``/etc/localtime`` symlink (what ``timedatectl`` sets), else
    ``/etc/timezone`` (Debian). UTC under any alias is ``"UTC"``. ``None`` when neither names a
    known zone (``/etc/localtime`` copied rather than linked, say): the caller must ask. ``$TZ``
    is not consulted: it is this shell's setting, not the cron daemon's.
    """
    root = Path(etc)
    candidates: list[str] = []
    try:
        link = os.readlink(root / "localtime")
    except OSError:
        pass
    else:
        if "zoneinfo/" in link:
            name = link.split("zoneinfo/", 1)[1]
            candidates.append(re.sub(r"^(posix|right)/", "", name))
    with contextlib.suppress(OSError, UnicodeDecodeError):
        candidates.append((root / "timezone").read_text(encoding="utf-8").split("\n")[0].strip())
    for name in candidates:
        if name in _UTC_NAMES:
            return "UTC"
        try:
            load_zone(name)
        except InvalidInput:
            continue
        return name
    return None
