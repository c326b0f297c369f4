"""Anomaly rules on hand-made series with injected illness episodes."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from health_advisor.features import anomalies as an

AS_OF = dt.date(2024, 3, 10)  # day 69 of series starting 2024-01-01


def _clinic(make_daily) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(11)
    frames = []
    for client in ("sick", "well"):
        rhr, steps = rng.normal(60, 1.5, 70), rng.normal(9000, 1500, 70)
        sleep = rng.normal(7.3, 0.4, 70)
        if client == "sick":  # an illness on days 50-55 (2024-02-20 .. 02-25)
            rhr[50:56] += 9.0
            steps[48:58] *= 0.3
            sleep[50:58] = 5.0
        frames += [
            make_daily(client, "resting_heart_rate", rhr),
            make_daily(client, "steps", steps),
            make_daily(client, "sleep_duration", sleep),
        ]
    return pd.concat(frames, ignore_index=True)


def test_injected_episode_raises_each_rule_for_the_sick_client_only(make_daily) -> None:  # type: ignore[no-untyped-def]
    alerts = an.detect_anomalies(_clinic(make_daily), AS_OF)
    assert set(alerts["client_id"]) == {"sick"}
    by_kind = alerts.set_index("kind")
    assert sorted(by_kind.index) == [
        "possible_illness",
        "rhr_elevated",
        "sleep_debt",
        "steps_collapse",
    ]
    rhr = by_kind.loc["rhr_elevated"]
    assert (rhr["window_start"], rhr["window_end"]) == (dt.date(2024, 2, 20), dt.date(2024, 2, 25))
    assert rhr["severity"] == "warning" and rhr["metric"] == "40443-4"
    assert "6 consecutive days" in rhr["explanation"] and "60 /min" in rhr["explanation"]
    assert rhr["dedup_key"] == "sick|rhr_elevated|2024-02-20"
    assert by_kind.loc["sleep_debt", "severity"] == "info"


def test_two_high_days_are_not_an_alert_three_are() -> None:
    base = list(np.random.default_rng(5).normal(60.0, 1.5, 30))
    two = np.array([[*base, 70.0, 70.0, 60.0, 60.0]])
    assert an.rhr_elevated(two, an.AnomalyRules())[0].client.size == 0
    three = np.array([[*base, 70.0, 70.0, 70.0, 60.0]])
    runs = an.rhr_elevated(three, an.AnomalyRules())[0]
    assert (runs.start.tolist(), runs.end.tolist()) == ([30], [32])


def test_point_in_time_and_dedup_keys_are_stable(make_daily) -> None:  # type: ignore[no-untyped-def]
    data = _clinic(make_daily)
    before = an.detect_anomalies(data, dt.date(2024, 2, 22))
    later = an.detect_anomalies(data, AS_OF)
    assert before.loc[before["kind"] == "rhr_elevated", "window_end"].tolist() == [
        dt.date(2024, 2, 22)
    ]  # the episode so far
    assert set(before["dedup_key"]) <= set(later["dedup_key"])


def test_crisis_reading_is_urgent() -> None:
    at = pd.Timestamp("2024-03-01 08:00", tz="UTC")
    data = pd.DataFrame(
        {
            "client_id": ["a", "a", "b", "b"],
            "metric": ["8480-6", "8462-4", "8480-6", "8462-4"],
            "value": [180.0, 121.0, 180.0, 120.0],
            "observed_at": at,
        }
    )
    alerts = an.detect_anomalies(data, AS_OF)
    assert alerts[["client_id", "kind", "severity"]].values.tolist() == [
        ["a", "hypertensive_crisis", "urgent"]
    ]
    assert "180/121" in alerts.loc[0, "explanation"]


def test_a_crisis_systolic_without_diastolic_still_explains_itself() -> None:
    at = pd.Timestamp("2024-03-01 08:00", tz="UTC")
    data = pd.DataFrame(
        {"client_id": ["a"], "metric": ["8480-6"], "value": [195.0], "observed_at": at}
    )
    alerts = an.detect_anomalies(data, AS_OF)
    assert alerts["explanation"].notna().all()
    assert "195/?" in alerts.loc[0, "explanation"]


def test_find_runs() -> None:
    mask = np.array([[True, True, False, True, True, True], [False] * 6])
    runs = an.find_runs(mask, min_length=2)
    assert runs.client.tolist() == [0, 0]
    assert runs.start.tolist() == [0, 3] and runs.end.tolist() == [1, 5]


def _series(
    rng: np.random.Generator, days: int, clients: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ordinary (client, day) resting heart rate, steps and sleep."""
    shape = (clients, days)
    steps = np.exp(rng.normal(np.log(8000), 0.3, shape))
    return rng.normal(62, 2, shape), steps, rng.normal(7.2, 0.6, shape)


def test_possible_illness_flags_a_made_episode_and_stays_quiet_on_normal_series() -> None:
    rules = an.AnomalyRules()
    rhr, steps, sleep = _series(np.random.default_rng(3), 80, clients=40)
    quiet = an.possible_illness(rhr, steps, sleep, rules).runs
    assert quiet.client.size <= 2  # 40 clients x 80 days of ordinary variation
    rhr[:, 50:56] += 7.0
    steps[:, 50:56] *= 0.5
    sleep[:, 50:56] += 1.0
    found = an.possible_illness(rhr, steps, sleep, rules).runs
    on_episode = (found.start <= 55) & (found.end >= 50)
    assert set(found.client[on_episode]) == set(range(40))


def test_possible_illness_without_heart_rate_uses_steps_and_sleep() -> None:
    _, steps, sleep = _series(np.random.default_rng(4), 70)
    steps[:, 45:52] *= 0.4
    sleep[:, 45:52] += 1.2
    none = np.full((1, 70), np.nan)
    found = an.possible_illness(none, steps, sleep, an.AnomalyRules())
    assert found.runs.client.size == 1
    assert found.runs.start[0] >= 40 and found.runs.end[0] <= 53
    assert np.isnan(found.means["rhr"][0])
    assert found.means["steps"][0] < 0.75 * found.baselines["steps"][0]
    assert found.means["sleep"][0] > found.baselines["sleep"][0] + 0.5


def test_possible_illness_alert_explains_each_signal(make_daily) -> None:  # type: ignore[no-untyped-def]
    alerts = an.detect_anomalies(_clinic(make_daily), AS_OF)
    ill = alerts.loc[alerts["kind"] == "possible_illness"].iloc[0]
    assert ill["client_id"] == "sick" and ill["severity"] == "warning"
    assert ill["metric"] == "41950-7"  # steps at 0.3 x usual: the largest departure in z
    text = ill["explanation"]
    assert re.search(r"resting heart rate \d+ /min \(usual \d+\); steps \d+ a day", text)
    assert re.search(r"sleep [\d.]+ h \(usual [\d.]+\)\.", text)
    assert ill["window_start"] <= dt.date(2024, 2, 20) <= ill["window_end"]


def test_one_short_outlier_night_is_not_an_illness() -> None:
    rhr, steps, sleep = _series(np.random.default_rng(8), 60)
    sleep[:, 40] = 17.0  # a single extreme night
    found = an.possible_illness(rhr, steps, sleep, an.AnomalyRules())
    assert found.runs.client.size == 0


def test_reruns_a_week_apart_raise_the_same_keys(make_daily) -> None:  # type: ignore[no-untyped-def]
    data = _clinic(make_daily)
    first = an.detect_anomalies(data, dt.date(2024, 3, 3), history_days=30)
    second = an.detect_anomalies(data, AS_OF, history_days=30)
    assert set(first["dedup_key"]) == set(second["dedup_key"])


def test_merge_runs_joins_close_spells_of_one_client_only() -> None:
    runs = an.Runs(np.array([0, 0, 0, 1]), np.array([2, 10, 30, 12]), np.array([5, 12, 31, 14]))
    merged = an.merge_runs(runs, max_gap=7)
    assert merged.client.tolist() == [0, 0, 1]
    assert merged.start.tolist() == [2, 30, 12] and merged.end.tolist() == [12, 31, 14]


def test_sleep_debt_before_any_baseline_still_explains_itself(make_daily) -> None:  # type: ignore[no-untyped-def]
    short = make_daily("short", "sleep_duration", np.full(12, 5.0))
    alerts = an.detect_anomalies(short, dt.date(2024, 1, 12))
    assert alerts["kind"].tolist() == ["sleep_debt"]
    assert alerts.loc[0, "explanation"].startswith("Sleep averaged 5 h a night over these")
    assert np.isnan(alerts.loc[0, "baseline"])


def test_possible_illness_without_a_sleep_baseline_still_explains() -> None:
    from health_advisor.features.cube import DailyCube

    cube = DailyCube(
        np.array(["c1"], dtype=object),
        np.datetime64("2025-01-01"),
        ("41950-7",),
        np.zeros((1, 1, 10), dtype=np.float32),
    )
    runs = an.Runs(np.array([0]), np.array([2]), np.array([5]))
    found = an.IllnessRuns(
        runs=runs,
        peak=np.array([5.0]),
        means={"rhr": np.array([np.nan]), "steps": np.array([5015.2]), "sleep": np.array([6.6])},
        baselines={
            "rhr": np.array([np.nan]),
            "steps": np.array([7248.0]),
            "sleep": np.array([np.nan]),
        },
        z_means={"rhr": np.array([np.nan]), "steps": np.array([2.0]), "sleep": np.array([np.nan])},
    )
    text = an._illness_frame(cube, found, an.AnomalyRules())["explanation"].iloc[0]
    assert isinstance(text, str)
    assert "steps 5015 a day (usual 7248)" in text and "sleep 6.6 h" in text
