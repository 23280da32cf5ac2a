"""The contracts of the :class:`~cronwatch.schedule.Schedule` interface, written once for every
kind's property tests (no test here): a new kind's tests call these with its own strategies."""

from __future__ import annotations

from datetime import datetime, timedelta

from cronwatch.schedule import Schedule


def assert_next_and_previous_agree(schedule: Schedule, t: datetime) -> None:
    """``previous_at_or_before(t) <= t < next_after(t)``, both are slots, and no slot lies
    between them."""
    following = schedule.next_after(t)
    previous = schedule.previous_at_or_before(t)
    assert previous <= t < following
    assert schedule.previous_at_or_before(following) == following
    assert schedule.previous_at_or_before(previous) == previous
    assert schedule.next_after(previous) == following  # no slot hides between them
    assert schedule.slots_between(previous, t) == []


def assert_slots_count_and_chain_agree(
    schedule: Schedule, a: datetime, span: timedelta, split: float
) -> None:
    """Over ``(a, a + span]``: the list is exactly the chain of ``next_after`` calls (ordered,
    distinct, within the range), the count is its length, and counts over the two halves split
    at ``a + span * split`` add up to it."""
    b = a + span
    slots = schedule.slots_between(a, b, limit=None)
    assert len(slots) == schedule.count_slots_between(a, b)
    chain = []
    cursor = a
    while (cursor := schedule.next_after(cursor)) <= b:
        chain.append(cursor)
    assert slots == chain
    mid = a + span * split
    assert schedule.count_slots_between(a, mid) + schedule.count_slots_between(mid, b) == len(slots)
