"""Metric definitions of ``treadguard evaluate`` on small cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from controller.evaluate.metrics import (
    TRIALS_CSV_HEADER,
    TrialResult,
    adl_metrics,
    alarm_starts,
    fall_metrics,
    merged_count,
    percentile,
    report,
    trial_row,
)


def fall(first: float | None, onset: float = 2.0, impact: float = 2.7, code: str = "F09",
         more: tuple[float, ...] = ()) -> TrialResult:
    starts = (() if first is None else (first,)) + more
    return TrialResult("SA01", f"{code}.csv", code, "fall", 10.0, starts, None, onset, impact)


def adl(starts: tuple[float, ...], duration_s: float = 3600.0, code: str = "D06") -> TrialResult:
    return TrialResult("SA01", f"{code}.csv", code, "adl", duration_s, starts)


@pytest.mark.parametrize(
    ("first", "outcome"),
    [
        (1.9, "detected"),  # exactly 100 ms before onset: inclusive
        (1.89, "early"),  # earlier: a miss, reported as early
        (2.0, "detected"),
        (2.7, "detected"),  # exactly at impact: inclusive
        (2.71, "late"),
        (None, "missed"),
    ],
)
def test_detection_window_edges_are_inclusive(first: float | None, outcome: str) -> None:
    assert fall(first).outcome == outcome


def test_early_alarm_is_a_miss_even_if_later_alarms_fall_in_the_window() -> None:
    r = fall(0.5, more=(2.2,))
    m = fall_metrics([r])
    assert m["detected"] == 0
    assert m["early_alarms"] == 1
    assert m["sensitivity"] == 0.0


def test_lead_time_and_latency_statistics() -> None:
    # Leads (impact 2.7 − alarm): 0.7, 0.5, 0.3, 0.1 s; one late miss.
    rs = [fall(2.0), fall(2.2), fall(2.4), fall(2.6), fall(3.0)]
    m = fall_metrics(rs)
    assert (m["trials"], m["detected"], m["late_alarms"]) == (5, 4, 1)
    assert m["sensitivity"] == pytest.approx(0.8)
    assert m["lead_time_ms"]["median"] == pytest.approx(400.0)
    assert m["lead_time_ms"]["mean"] == pytest.approx(400.0)
    assert m["lead_time_ms"]["p10"] == pytest.approx(float(np.percentile([700, 500, 300, 100], 10)))
    assert m["latency_after_onset_ms"]["median"] == pytest.approx(300.0)


def test_alarm_just_before_onset_has_negative_latency() -> None:
    m = fall_metrics([fall(1.95)])
    assert m["latency_after_onset_ms"]["median"] == pytest.approx(-50.0)


def test_unlabelled_fall_counts_any_alarm_and_has_no_lead_time() -> None:
    r = TrialResult("SA01", "F01_SA01_R01.txt", "F01", "fall", 15.0, (0.3,))
    m = fall_metrics([r, TrialResult("SA01", "F01_SA01_R02.txt", "F01", "fall", 15.0, ())])
    assert (m["detected"], m["trials"]) == (1, 2)
    assert m["lead_time_ms"] == {"median": None, "p10": None, "mean": None}


@pytest.mark.parametrize(
    ("starts", "count"),
    [((), 0), ((5.0,), 1), ((0.0, 1.5, 3.0), 1), ((0.0, 2.0), 2), ((0.0, 1.99, 10.0), 2)],
)
def test_alarms_closer_than_two_seconds_count_once(starts: tuple[float, ...], count: int) -> None:
    assert merged_count(starts) == count


def test_alarm_starts_are_rising_edges_of_stop() -> None:
    t = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    stop = [False, True, True, False, True, True]
    assert alarm_starts(t, stop) == [0.1, 0.4]


def test_adl_specificity_hours_and_false_alarms_per_hour() -> None:
    rs = [adl(()), adl(()), adl((10.0, 11.0, 20.0)), adl((), duration_s=1800.0)]
    m = adl_metrics(rs)
    assert m["trials"] == 4
    assert m["trials_with_alarm"] == 1
    assert m["specificity"] == pytest.approx(0.75)
    assert m["hours"] == pytest.approx(3.5)
    assert m["false_alarms_per_hour"] == pytest.approx(round(2 / 3.5, 2))


def test_report_groups_by_task_and_gait() -> None:
    rs = [fall(2.3, code="F09"), fall(None, code="F01"), fall(2.5, code="F15"),
          adl((1.0,), code="D06"), adl((), code="D09"), adl((4.0,), code="D10"),
          adl((), code="D01")]
    out = report(rs, detector="treadguard", dataset="kfall", cost_us_per_sample=3.14159)
    assert set(out) == {"detector", "dataset", "falls", "adl", "by_task", "gait",
                        "cost_us_per_sample"}
    assert out["gait"]["falls"]["trials"] == 2  # F09, F15; not F01
    assert out["gait"]["falls"]["detected"] == 2
    assert out["gait"]["adl"]["trials"] == 2  # D06, D09; not D10 or D01
    assert out["gait"]["adl"]["trials_with_alarm"] == 1
    assert out["by_task"]["D10"]["adl"]["trials_with_alarm"] == 1
    assert out["by_task"]["F01"]["falls"]["sensitivity"] == 0.0
    assert out["falls"]["trials"] == 3 and out["adl"]["trials"] == 4
    assert out["cost_us_per_sample"] == pytest.approx(3.14)


def test_sisfall_gait_groups_use_its_own_codes() -> None:
    rs = [TrialResult("SA01", "a", "F01", "fall", 15.0, (1.0,)),
          TrialResult("SA01", "b", "F09", "fall", 15.0, ()),
          TrialResult("SA01", "c", "D03", "adl", 100.0, ())]
    out = report(rs, detector="treadguard", dataset="sisfall", cost_us_per_sample=1.0)
    assert out["gait"]["falls"]["trials"] == 1
    assert out["gait"]["adl"]["trials"] == 1


def test_percentile_matches_numpy() -> None:
    rng = np.random.default_rng(1)
    xs = rng.normal(size=17).tolist()
    for q in (0, 10, 50, 90, 100):
        assert percentile(xs, q) == pytest.approx(float(np.percentile(xs, q)))


def test_trial_row_has_one_value_per_column_and_blanks_for_missing_times() -> None:
    row = trial_row(adl((), duration_s=12.0))
    assert len(row) == len(TRIALS_CSV_HEADER)
    assert row[TRIALS_CSV_HEADER.index("first_stop_s")] == ""
    assert row[TRIALS_CSV_HEADER.index("stop_alarms")] == "0"
    row = trial_row(fall(2.3, more=(2.5, 6.0)))
    assert row[TRIALS_CSV_HEADER.index("first_stop_s")] == "2.300"
    assert row[TRIALS_CSV_HEADER.index("stop_alarms")] == "2"
    assert row[TRIALS_CSV_HEADER.index("outcome")] == "detected"
