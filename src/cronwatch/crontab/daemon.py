"""Which cron runs this host's crontabs, for what it means to a crontab: cronie (Red Hat,
Fedora, Arch, SUSE...) honours ``CRON_TZ`` and ``TZ`` for the lines below them; Debian's cron
(Debian, Ubuntu: vixie cron 3.0 with Debian's patches) ignores both and runs every line in the
host's local time."""

from __future__ import annotations

import os
from typing import Literal

CronFlavour = Literal["debian", "cronie"]
CRON_FLAVOURS: tuple[CronFlavour, ...] = ("debian", "cronie")


def installed_cron(root: str = "/") -> CronFlavour:
    """The cron installed under ``root``: ``"cronie"`` when its daemon ``crond`` is there,
    ``"debian"`` when Debian's ``cron`` package is (its daemon is ``/usr/sbin/cron``), else
    ``"cronie"``, the cron of most other systems."""
    sbin = os.path.join(root, "usr", "sbin")
    if os.path.exists(os.path.join(sbin, "crond")):
        return "cronie"
    debian_package = os.path.join(root, "usr", "share", "doc", "cron")
    if os.path.exists(os.path.join(sbin, "cron")) and os.path.isdir(debian_package):
        return "debian"
    return "cronie"


def honours_cron_tz(flavour: CronFlavour) -> bool:
    """Whether that cron schedules lines in the ``CRON_TZ`` (or ``TZ``) set above them."""
    return flavour == "cronie"
