"""Snapshots: point in time, windows, the risk structure and the fast cube path."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from health_advisor.core.vocabulary import RISK_CATEGORIES
from health_advisor.features import snapshot as snap
from health_advisor.features.cube import DAILY_METRIC_CODES, cube_from_long

AS_OF = dt.date(2024, 2, 10)


def test_one_row_per_client_with_unknowns_for_clients_without_data(clinic) -> None:  # type: ignore[no-untyped-def]
    measurements, clients = clinic
    frame = snap.build_snapshots(measurements, clients, AS_OF)
    assert frame["client_id"].tolist() == ["c1", "c2", "c3", "c4"]
    assert (frame["feature_version"] == snap.FEATURE_VERSION).all()
    assert (frame["as_of"] == AS_OF).all()
    c4 = frame.set_index("client_id").loc["c4"]
    assert c4["health_risk_category"] == "unknown" and np.isnan(c4["steps_mean_7d"])
    c1 = frame.set_index("client_id").loc["c1"]
    assert c1["blood_pressure_category"] == "stage_1"
    assert c1["bp_readings_90d"] == 3  # the fourth reading is after AS_OF
    assert c1["bmi_latest"] == pytest.approx(82 / 1.78**2)
    assert 6000 < c1["steps_mean_28d"] < 10000


def test_point_in_time_later_data_changes_nothing(clinic) -> None:  # type: ignore[no-untyped-def]
    measurements, clients = clinic
    cutoff = pd.Timestamp(AS_OF, tz="UTC") + pd.Timedelta(days=1)
    earlier = measurements.loc[measurements["observed_at"] < cutoff]
    later = pd.DataFrame(
        {
            "client_id": "c1",
            "metric": ["8480-6", "8462-4", "41950-7", "4548-4"],
            "value": [200.0, 130.0, 50.0, 9.0],
            "observed_at": [cutoff, cutoff, cutoff + pd.Timedelta(days=1), cutoff],
        }
    )
    a = snap.build_snapshots(earlier, clients, AS_OF)
    b = snap.build_snapshots(pd.concat([measurements, later], ignore_index=True), clients, AS_OF)
    pd.testing.assert_frame_equal(a, b)
    assert not b.equals(snap.build_snapshots(measurements, clients, AS_OF + dt.timedelta(days=1)))


def test_cutoff_is_the_end_of_the_day_or_the_given_instant() -> None:
    cutoff, day = snap.cutoff_for(dt.date(2024, 3, 1))
    assert cutoff == pd.Timestamp("2024-03-01 23:59:59.999999999", tz="UTC")
    assert day == np.datetime64("2024-03-01")
    cutoff, day = snap.cutoff_for(dt.datetime(2024, 3, 1, 12, 30))
    assert cutoff == pd.Timestamp("2024-03-01 12:30", tz="UTC")
    assert day == np.datetime64("2024-03-01")


def test_bp_uses_90_days_and_labs_one_year() -> None:
    at = pd.Timestamp("2024-06-30 10:00", tz="UTC")
    measurements = pd.DataFrame(
        {
            "client_id": "x",
            "metric": ["8480-6", "8462-4", "8480-6", "8462-4", "18262-6", "2085-9"],
            "value": [190.0, 125.0, 118.0, 76.0, 195.0, 45.0],
            "observed_at": [at - pd.Timedelta(days=120)] * 2
            + [at] * 2
            + [at - pd.Timedelta(days=400), at - pd.Timedelta(days=300)],
        }
    )
    clients = pd.DataFrame({"client_id": ["x"], "sex": ["male"], "birth_date": [pd.NaT]})
    row = snap.build_snapshots(measurements, clients, dt.date(2024, 6, 30)).iloc[0]
    assert row["blood_pressure_category"] == "normal"
    assert np.isnan(row["ldl_latest"]) and row["ldl_category"] == "unknown"
    assert row["hdl_latest"] == 45.0 and row["hdl_days_since"] == 300


def test_risk_for_has_every_key_with_vocabulary_categories(clinic) -> None:  # type: ignore[no-untyped-def]
    measurements, clients = clinic
    frame = snap.build_snapshots(measurements, clients, AS_OF)
    for _, row in frame.iterrows():
        risk = snap.risk_for(row)
        assert tuple(risk) == snap.RISK_KEYS
        for key, entry in risk.items():
            assert entry["category"] in RISK_CATEGORIES[key], (key, entry)
            assert entry["reason"]
            if key != "overall":
                assert entry["category"] == row[f"{key}_category"]
        assert risk["overall"]["category"] == row["health_risk_category"]
    c1 = snap.risk_for(frame.iloc[0])
    assert c1["overall"]["category"] == "moderate"
    assert any(r.startswith("blood_pressure: ") for r in c1["overall"]["reasons"])


def test_cube_path_with_categorical_ids_matches_long_path(clinic) -> None:  # type: ignore[no-untyped-def]
    measurements, clients = clinic
    expected = snap.build_snapshots(measurements, clients, AS_OF)
    categorical = measurements.assign(client_id=measurements["client_id"].astype("category"))
    ids = snap.client_universe(categorical, clients)
    codes = tuple(c for c in DAILY_METRIC_CODES if c in set(measurements["metric"]))
    cube = cube_from_long(categorical, ids, np.datetime64(AS_OF), snap.HISTORY_DAYS, codes)
    sparse = categorical.loc[~categorical["metric"].isin(DAILY_METRIC_CODES)]
    got = snap.build_snapshots_from_cube(cube, sparse, clients, AS_OF)
    pd.testing.assert_frame_equal(got, expected)


def test_fitbit_export_gives_a_snapshot_per_client(shared_data) -> None:  # type: ignore[no-untyped-def]
    daily = pd.read_csv(shared_data / "fitbit" / "dailyActivity_merged.csv")
    day = pd.to_datetime(daily["ActivityDate"], format="%m/%d/%Y").dt.tz_localize("UTC")
    columns = {
        "41950-7": daily["TotalSteps"],
        "ha-active-minutes": daily["VeryActiveMinutes"] + daily["FairlyActiveMinutes"],
        "ha-sedentary-minutes": daily["SedentaryMinutes"],
        "41981-2": daily["Calories"],
    }
    measurements = pd.concat(
        [
            pd.DataFrame(
                {
                    "client_id": daily["Id"].astype(str),
                    "metric": code,
                    "value": values.astype(float),
                    "observed_at": day,
                }
            )
            for code, values in columns.items()
        ],
        ignore_index=True,
    )
    clients = pd.DataFrame(
        {"client_id": pd.unique(daily["Id"].astype(str)), "sex": None, "birth_date": pd.NaT}
    )
    frame = snap.build_snapshots(measurements, clients, dt.date(2016, 5, 12))
    assert len(frame) == daily["Id"].nunique() == 33
    assert frame["activity_category"].isin(["inactive", "insufficient", "meets", "exceeds"]).all()
    assert frame["steps_mean_28d"].notna().all()
