"""The pure parts of the API v3 mapping: statuses, unique keys, derived ids."""

from __future__ import annotations

from typing import get_args

from cronwatch.health.model import Status
from cronwatch.healthchecks.checks import (
    STATUS_WORDS,
    badge_id,
    channel_id,
    unique_key_of,
)


def test_every_cronwatch_status_has_a_healthchecks_word() -> None:
    assert set(STATUS_WORDS) == set(get_args(Status))
    assert set(STATUS_WORDS.values()) == {"new", "up", "grace", "down", "paused"}


def test_unique_key_is_healthchecks_own() -> None:
    # Read from the real Healthchecks: this check's read-only view showed this unique_key.
    code = "68b4708e-33e3-42bd-93dd-dff04e7d4a5e"
    assert unique_key_of(code) == "1b2a3a2ef410b66d3cdb0819300d8c256f6397ba"


def test_derived_ids_are_stable_and_reveal_nothing() -> None:
    code = "68b4708e-33e3-42bd-93dd-dff04e7d4a5e"
    assert badge_id(code) == badge_id(code) != code
    assert channel_id("ops") == channel_id("ops") != channel_id("dev")
