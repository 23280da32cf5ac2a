"""The :class:`Schedule` interface every kind of schedule implements, and timezones.

See :mod:`cronwatch.schedule` for what a slot is and how ranges of them are counted.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from cronwatch.errors import InvalidInput

# slots_between() never builds a longer list unless asked to: an "every 1s" job that has been
# missing for a year has 31 million slots, and callers want the count, not the list.
DEFAULT_SLOT_LIMIT = 10_000
#: The early tolerance is a tenth of a schedule's period, but never more than this.
MAX_EARLY_TOLERANCE = timedelta(minutes=5)

#: The shape of an IANA timezone name: what :func:`load_zone` looks up.
TIMEZONE_PATTERN = re.compile(r"[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*")


def load_zone(name: str, *, field: str = "timezone") -> tzinfo:
    """The tzinfo for an IANA timezone name ("Europe/London"); ``InvalidInput`` if unknown.

    A name is words of ``A-Z a-z 0-9 _ + -`` separated by ``/`` (:data:`TIMEZONE_PATTERN`, as
    every name of the database is) and must name a zone the system knows. "UTC" maps to
    :data:`datetime.UTC`, which also tells cronsim to skip its DST handling.
    """
    if not isinstance(name, str):
        raise InvalidInput(f"{field}: expected a timezone name, not {type(name).__name__}")
    if name == "UTC":
        return UTC
    if TIMEZONE_PATTERN.fullmatch(name):
        try:
            return ZoneInfo(name)
        except (ValueError, KeyError, OSError):
            pass  # ZoneInfoNotFoundError is a KeyError; malformed keys are ValueErrors
    shown = name if len(name) <= 60 else name[:57] + "..."
    raise InvalidInput(
        f'{field}: unknown timezone "{shown}"; use an IANA name such as "UTC", '
        '"Europe/London" or "America/New_York"'
    )


class Schedule(ABC):
    """The interface every schedule implements; see the module docstring for semantics."""

    #: The text :func:`parse_schedule` turns back into this schedule ("every 15m", "0 3 * * *");
    #: an interval's anchor is not part of it, and a cron's timezone is passed separately.
    expression: str

    @abstractmethod
    def next_after(self, t: datetime) -> datetime:
        """The first slot strictly after ``t``."""

    @abstractmethod
    def previous_at_or_before(self, t: datetime) -> datetime:
        """The latest slot at or before ``t``."""

    @abstractmethod
    def slots_between(
        self, a: datetime, b: datetime, *, limit: int | None = DEFAULT_SLOT_LIMIT
    ) -> list[datetime]:
        """The slots in ``(a, b]`` in order, at most ``limit`` of them (the earliest).

        Empty when ``b <= a``. Use :meth:`count_slots_between` for the full count.
        """

    @abstractmethod
    def count_slots_between(self, a: datetime, b: datetime) -> int:
        """How many slots lie in ``(a, b]`` (0 when ``b <= a``), without listing them."""

    @abstractmethod
    def period_hint(self) -> timedelta:
        """The typical gap between two slots, for sizing windows and default grace."""

    def early_tolerance(self) -> timedelta:
        """How early a start may be and still count for the slot after it: a tenth of
        :meth:`period_hint`, at most :data:`MAX_EARLY_TOLERANCE`. The health checks, the
        alert loop and the dashboard's missed slots all use it."""
        return min(self.period_hint() / 10, MAX_EARLY_TOLERANCE)

    @abstractmethod
    def describe(self) -> str:
        """The schedule in words: "every 15 minutes", "at 03:00 every day (Europe/London)"."""

    @abstractmethod
    def anchored(self, at: datetime) -> Schedule:
        """This schedule with its phase set by ``at`` (an interval's last run); cron: itself."""


def check_limit(limit: int | None) -> None:
    if limit is not None and limit < 0:
        raise InvalidInput(f"limit must not be negative: {limit}")
