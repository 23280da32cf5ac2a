"""Alert settings: the ``[alerts]`` table (:class:`AlertSettings`) and what one job gets from
it and from its own fields (:class:`JobAlerting`). See :mod:`cronwatch.alerts` for what the
settings do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cronwatch.errors import InvalidInput
from cronwatch.specs import values
from cronwatch.specs.jobs import JobSpec

#: The statuses an ``alert_on`` list may name (the problems; ok/running/new/paused never alert).
ALERTABLE_STATUSES = ("missing", "failing", "hung", "late", "too_often", "slow", "fast")
#: The CRITICAL statuses: what alerts when nothing says otherwise.
DEFAULT_ALERT_ON = ("missing", "failing", "hung")
DEFAULT_ALERT_INTERVAL = timedelta(seconds=30)
#: The alert loop's statement deadline in seconds (``serve --alerts-database-timeout``,
#: ``alerts --database-timeout``): a statement or transaction of the loop unanswered this long
#: is cut off as an outage. Generous: the longest the loop runs (a full cycle's read of every
#: job's facts, a prune's batch, a ``VACUUM`` of ``jobs``) takes seconds at 100,000 jobs.
LOOP_DATABASE_TIMEOUT = 300.0
MIN_OUTAGE_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class JobAlerting:
    """One job's alert settings, with ``[alerts]`` filled in for what the job leaves out."""

    channels: tuple[str, ...]
    alert_on: frozenset[str]
    alert_after: int
    recover_after: int
    repeat: timedelta | None  # None: never remind
    snooze_until: datetime | None
    escalate_after: timedelta | None = None  # None: never escalate
    escalate_to: tuple[str, ...] = ()

    @property
    def escalates(self) -> bool:
        return self.escalate_after is not None and bool(self.escalate_to)


@dataclass(frozen=True)
class AlertSettings:
    """The ``[alerts]`` table: the alert loop's settings and every job's defaults."""

    interval: timedelta = DEFAULT_ALERT_INTERVAL
    outage_after: timedelta = MIN_OUTAGE_AFTER
    channels: tuple[str, ...] = ()  # for jobs that name none (e.g. jobs seen running)
    alert_on: tuple[str, ...] = DEFAULT_ALERT_ON
    alert_after: int = 1
    recover_after: int = 1
    repeat: timedelta | None = None
    escalate_after: timedelta | None = None
    escalate_to: tuple[str, ...] = ()

    def for_job(self, spec: JobSpec) -> JobAlerting:
        """``spec``'s alert settings; a zero ``repeat`` or ``escalate_after`` (job or default)
        means never."""
        repeat = spec.repeat if spec.repeat is not None else self.repeat
        escalate = spec.escalate_after if spec.escalate_after is not None else self.escalate_after
        return JobAlerting(
            channels=spec.alerts or self.channels,
            alert_on=frozenset(spec.alert_on if spec.alert_on is not None else self.alert_on),
            alert_after=spec.alert_after or self.alert_after,
            recover_after=spec.recover_after or self.recover_after,
            repeat=repeat if repeat else None,
            snooze_until=spec.snooze_until,
            escalate_after=escalate if escalate else None,
            escalate_to=spec.escalate_to if spec.escalate_to is not None else self.escalate_to,
        )


def alert_statuses(where: str, value: object) -> tuple[str, ...]:
    """An ``alert_on`` list: statuses of :data:`ALERTABLE_STATUSES`."""
    statuses = values.names(where, value)
    for index, status in enumerate(statuses):
        if status not in ALERTABLE_STATUSES:
            raise InvalidInput(
                f'{where}[{index}]: "{status}" is not a status that can alert '
                f"(one of: {', '.join(ALERTABLE_STATUSES)})"
            )
    return statuses
