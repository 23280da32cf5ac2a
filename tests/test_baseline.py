"""Robust baselines: median, MAD, the normal runtime band, the learned interval."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cronwatch.baseline import (
    MAD_SCALE,
    RuntimeBaseline,
    learn_interval,
    mad,
    median,
)
from cronwatch.errors import InvalidInput

_values = st.lists(
    st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=60,
)


def test_median_and_mad_on_known_values() -> None:
    assert median([3, 1, 2]) == 2
    assert median([4, 1, 3, 2]) == 2.5
    # Deviations from 3: 2, 1, 0, 1, 97 -> median 1.
    assert mad([1, 2, 3, 4, 100]) == pytest.approx(MAD_SCALE)


@given(_values)
def test_median_matches_the_standard_library(values: list[float]) -> None:
    assert median(values) == pytest.approx(statistics.median(values))


def test_mad_estimates_sigma_of_normal_data() -> None:
    # Deterministic normal sample: the scaled MAD is a consistent estimator of sigma.
    dist = statistics.NormalDist(mu=100, sigma=5)
    sample = [dist.inv_cdf((i + 0.5) / 2001) for i in range(2001)]
    assert mad(sample) == pytest.approx(5, rel=0.01)


@pytest.mark.parametrize("bad", [[], [1.0, math.nan], [math.inf]])
def test_median_and_mad_refuse_empty_and_non_finite(bad: list[float]) -> None:
    with pytest.raises(InvalidInput):
        median(bad)
    with pytest.raises(InvalidInput):
        mad(bad)


@given(_values, st.floats(min_value=1e7, max_value=1e12))
def test_one_outlier_moves_the_median_by_at_most_one_neighbour(
    values: list[float], outlier: float
) -> None:
    assume(len(values) >= 5)
    ordered = sorted(values)
    before = median(values)
    after = median([*values, outlier])
    assert before <= after
    # The new median lies between the old one and the next order statistic: bounded by the
    # data, not by the outlier, however large it is.
    assert after <= ordered[len(ordered) // 2 + 1]


def test_baseline_needs_five_samples() -> None:
    assert RuntimeBaseline.from_durations([60.0] * 4) is None
    assert RuntimeBaseline.from_durations([]) is None
    assert RuntimeBaseline.from_durations([60.0] * 5) is not None
    assert RuntimeBaseline.from_durations([60.0] * 2, min_samples=2) is not None


def test_constant_series_has_a_band_of_ten_percent() -> None:
    baseline = RuntimeBaseline.from_durations([600.0] * 10)
    assert baseline is not None
    assert baseline.mad == 0
    assert (baseline.low, baseline.high) == (540.0, 660.0)
    assert baseline.classify(600.0) == "normal"
    assert baseline.classify(661.0) == "slow"
    assert baseline.classify(539.0) == "fast"


def test_constant_short_series_has_a_band_of_at_least_one_second() -> None:
    baseline = RuntimeBaseline.from_durations([0.2] * 8)
    assert baseline is not None
    assert baseline.low == 0.0  # never negative
    assert baseline.high == pytest.approx(1.2)
    assert baseline.classify(1.0) == "normal"  # 0.2s vs 1.0s is jitter, not an alarm
    assert baseline.classify(1.3) == "slow"


def test_band_is_k_mads_wide_when_the_data_varies() -> None:
    durations = [100.0, 110, 90, 105, 95, 100, 3600]  # one run waited on a lock for an hour
    baseline = RuntimeBaseline.from_durations(durations)
    assert baseline is not None
    assert baseline.median == 100
    assert baseline.mad == pytest.approx(5 * MAD_SCALE)
    assert baseline.high == pytest.approx(100 + 4 * 5 * MAD_SCALE)
    assert baseline.classify(3600) == "slow"  # the outlier did not widen the band to include it
    wider = RuntimeBaseline.from_durations(durations, k=8)
    assert wider is not None and wider.high > baseline.high


@pytest.mark.parametrize(
    "durations", [[1.0, 2, 3, 4, -5], [1.0, 2, 3, 4, math.nan], [1.0, math.inf], [-1.0]]
)
def test_baseline_refuses_bad_durations_even_when_few(durations: list[float]) -> None:
    with pytest.raises(InvalidInput):
        RuntimeBaseline.from_durations(durations)


@pytest.mark.parametrize("k", [0, -1, math.nan, math.inf])
def test_baseline_refuses_bad_k(k: float) -> None:
    with pytest.raises(InvalidInput):
        RuntimeBaseline.from_durations([1.0] * 10, k=k)


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=5, max_size=60))
def test_band_always_contains_the_median_and_has_width(durations: list[float]) -> None:
    baseline = RuntimeBaseline.from_durations(durations)
    assert baseline is not None
    assert baseline.low <= baseline.median <= baseline.high
    assert baseline.high - baseline.median >= max(1.0, 0.1 * baseline.median) - 1e-9
    assert baseline.low >= 0
    assert baseline.samples == len(durations)
    assert baseline.classify(baseline.median) == "normal"


@given(
    st.lists(st.floats(min_value=50, max_value=150), min_size=9, max_size=40),
    st.floats(min_value=1e4, max_value=1e9),
)
def test_one_outlier_barely_moves_the_baseline(durations: list[float], outlier: float) -> None:
    before = RuntimeBaseline.from_durations(durations)
    after = RuntimeBaseline.from_durations([*durations, outlier])
    assert before is not None and after is not None
    assert abs(after.median - before.median) <= 100  # within the data's own range
    assert after.high < 1e4 <= outlier  # the outlier itself is still slow
    assert after.classify(outlier) == "slow"


# --- learned intervals -----------------------------------------------------------------------

T0 = datetime(2024, 5, 1, 3, tzinfo=UTC)


def runs(*offsets_minutes: float) -> list[datetime]:
    return [T0 + timedelta(minutes=m) for m in offsets_minutes]


def test_interval_is_the_median_gap() -> None:
    assert learn_interval(runs(0, 15, 30, 45, 60)) == timedelta(minutes=15)
    assert learn_interval(reversed(runs(0, 15, 30, 45, 60))) == timedelta(minutes=15)


def test_interval_needs_three_distinct_runs() -> None:
    assert learn_interval([]) is None
    assert learn_interval(runs(0)) is None
    assert learn_interval(runs(0, 15)) is None
    assert learn_interval(runs(0, 15, 15)) is None  # a run reported twice is one run
    assert learn_interval(runs(0, 15, 30)) == timedelta(minutes=15)


def test_interval_ignores_one_odd_gap() -> None:
    hourly = [0, 60, 120, 180, 240, 300]
    assert learn_interval(runs(*hourly, 420)) == timedelta(hours=1)  # one missed run
    assert learn_interval(runs(*hourly, 250)) == timedelta(hours=1)  # one extra manual run
    weekdays = [0, 1, 2, 3, 4, 7, 8, 9, 10, 11]  # in days: the weekend is a long gap
    assert learn_interval([T0 + timedelta(days=d) for d in weekdays]) == timedelta(days=1)


def test_irregular_runs_learn_no_interval() -> None:
    # Two gaps that disagree: no way to tell which one is the schedule.
    assert learn_interval(runs(0, 1, 60)) is None
    assert learn_interval(runs(0, 5, 100, 101, 400, 1000)) is None


def test_interval_refuses_naive_datetimes() -> None:
    with pytest.raises(InvalidInput, match="naive"):
        learn_interval([T0, T0 + timedelta(hours=1), datetime(2024, 5, 1, 5)])


@given(
    st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=30)),
    st.integers(min_value=4, max_value=50),
    st.integers(min_value=0, max_value=10_000),
    st.floats(min_value=2.0, max_value=50.0),
)
def test_regular_runs_with_one_odd_gap_learn_the_period(
    period: timedelta, count: int, odd_index: int, factor: float
) -> None:
    times = [T0 + i * period for i in range(count)]
    # Stretch one gap (a missed run or a stall): every later run shifts by the same amount.
    index = 1 + odd_index % (count - 1)
    extra = period * (factor - 1)
    times = times[:index] + [t + extra for t in times[index:]]
    learned = learn_interval(times)
    assert learned is not None
    assert abs(learned - period) <= timedelta(microseconds=1)
