"""Deliveries: each notification sent once to each of its channels, retried while one is down.

A delivery row (event, channel) is *claimed* before it is sent: its ``next_attempt_us`` is
pushed a lease ahead and a random ``claim`` token written, in one statement that picks due
rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (under SQLite's write lock, a plain
``UPDATE`` is already atomic; see :mod:`cronwatch.storage.alerts.deliveries`). Loops sharing a
database therefore never send the same row twice, and they never wait on each other. The
outcome is written only where the token still matches. A loop killed between sending and
writing leaves the row to be sent again after the lease: at least once, never lost; exactly
once whenever the loop survives the send.

Order: a delivery is claimed only when no older delivery of the same job to the same channel
is pending, so a channel that comes back gets "MISSING" before "recovered", never after.

Retries: after a failure the row waits ``first * 2**(attempts-1)``, at most ``longest``
(30 s, 1 m, 2 m, ... 1 h), and is given up (``status = 'failed'``) once its next attempt would
fall more than ``give_up_after`` (24 h) after the event; ``cronwatch alerts status`` lists
failures with their attempts and last error. A channel that fails is not tried again in the
same cycle: its other claimed rows are released to its next attempt.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cronwatch.alerts.channels import Channel, DeliveryError
from cronwatch.alerts.model import Event
from cronwatch.storage.alerts import AlertStore
from cronwatch.storage.alerts.deliveries import Claimed
from cronwatch.storage.connection import Database

log = logging.getLogger("cronwatch.alerts")

#: The least time a claim is held (more if a channel's timeout is long).
MIN_LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait after the n-th failed attempt, and when to give up."""

    first: timedelta = timedelta(seconds=30)
    longest: timedelta = timedelta(hours=1)
    give_up_after: timedelta = timedelta(hours=24)

    def delay(self, attempts: int) -> timedelta:
        """The wait after ``attempts`` failed attempts (1, 2, ...)."""
        return min(self.longest, self.first * (1 << min(max(attempts - 1, 0), 30)))


@dataclass
class DeliveryReport:
    """What one :func:`deliver_due` call did."""

    sent: int = 0
    failed: int = 0  # to be retried
    gave_up: int = 0
    errors: list[str] = field(default_factory=list)


def deliver_due(
    db: Database,
    channels: Mapping[str, Channel],
    now: datetime,
    *,
    retry: RetryPolicy | None = None,
    batch: int = 50,
    rounds: int = 20,
) -> DeliveryReport:
    """Claim and send the deliveries due at ``now``, in rounds of ``batch`` until none is left
    (or ``rounds`` were done); see the module docstring."""
    retry = retry or RetryPolicy()
    report = DeliveryReport()
    longest = max((c.timeout for c in channels.values()), default=timedelta(0))
    lease = max(MIN_LEASE, 2 * longest + timedelta(minutes=1))
    down: dict[str, datetime] = {}  # channel -> its next attempt, once it failed in this call
    store = AlertStore(db)
    for _ in range(rounds):
        token = uuid.uuid4().hex
        claimed = store.claim_deliveries(token, now, now + lease, batch)
        if not claimed:
            break
        events = store.events_by_id([c.event_id for c in claimed])
        for row in claimed:
            event = events.get(row.event_id)
            _deliver(store, row, token, event, channels, down, now, retry, report)
    return report


def _deliver(
    store: AlertStore,
    row: Claimed,
    token: str,
    event: Event | None,
    channels: Mapping[str, Channel],
    down: dict[str, datetime],
    now: datetime,
    retry: RetryPolicy,
    report: DeliveryReport,
) -> None:
    channel = channels.get(row.channel)
    if event is None or channel is None:
        why = (
            "the event was deleted"
            if event is None
            else f"no channel {row.channel!r} is configured"
        )
        _finish(store, row, token, "failed", why, now)
        report.gave_up += 1
        return
    if row.channel in down:
        # Not tried: the channel just failed. Released to its next attempt, attempts unchanged.
        store.release(row, token, down[row.channel])
        return
    try:
        channel.send(event)
    except DeliveryError as exc:
        error = str(exc)
    except Exception as exc:  # a bug in a channel must not stop the others
        log.exception("channel %s failed on event %s", row.channel, row.event_id)
        error = f"{type(exc).__name__}: {exc}"
    else:
        _finish(store, row, token, "sent", None, now)
        report.sent += 1
        return
    attempts = row.attempts + 1
    next_attempt = now + retry.delay(attempts)
    gives_up = next_attempt - row.created > retry.give_up_after
    status = "failed" if gives_up else "pending"
    _finish(store, row, token, status, error, next_attempt)
    down[row.channel] = next_attempt
    log.warning(
        "channel %s: event %s not delivered (attempt %d%s): %s",
        row.channel,
        row.event_id,
        attempts,
        ", giving up" if gives_up else "",
        error,
    )
    report.errors.append(f"{row.channel}: {error}")
    if gives_up:
        report.gave_up += 1
    else:
        report.failed += 1


def _finish(
    store: AlertStore, row: Claimed, token: str, status: str, error: str | None, at: datetime
) -> None:
    """Write a claimed row's outcome (sent at ``at``, or failed and next tried at ``at``), only
    if it is still ours (its lease did not run out)."""
    if status == "sent":
        ours = store.mark_sent(row, token, at)
    else:
        ours = store.mark_failed(row, token, status, (error or "")[:2000], at)
    if not ours:
        log.warning(
            "delivery of event %s to %s: claim lost (lease ran out); it may be sent twice",
            row.event_id,
            row.channel,
        )
