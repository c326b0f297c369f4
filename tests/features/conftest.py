"""Tiny seeded measurement frames for the feature tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from health_advisor.core import metrics

START = pd.Timestamp("2024-01-01", tz="UTC")

MakeDaily = Callable[..., pd.DataFrame]


def daily_rows(
    client_id: str, name: str, values: np.ndarray, start: pd.Timestamp = START
) -> pd.DataFrame:
    """One row per day from ``start`` for the non-NaN ``values``."""
    days = start + pd.to_timedelta(np.arange(len(values)), unit="D")
    keep = ~np.isnan(values)
    return pd.DataFrame(
        {
            "client_id": client_id,
            "metric": metrics.code_for(name),
            "value": values[keep].astype(float),
            "observed_at": days[keep],
        }
    )


@pytest.fixture
def make_daily() -> MakeDaily:
    return daily_rows


@pytest.fixture
def clinic() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three clients x 60 days of daily data plus BP and labs, and their records."""
    rng = np.random.default_rng(7)
    frames = []
    for client_id in ("c1", "c2", "c3"):
        for name, mean, sd in (
            ("steps", 8000, 1500),
            ("active_minutes", 25, 8),
            ("sleep_duration", 7.2, 0.5),
            ("sleep_quality", 75, 6),
            ("resting_heart_rate", 62, 1.5),
            ("bedtime", -0.5, 0.5),
            ("calorie_intake", 2100, 150),
            ("calories_burned", 2200, 120),
        ):
            values = rng.normal(mean, sd, 60)
            values[rng.random(60) < 0.1] = np.nan
            frames.append(daily_rows(client_id, name, values))
        for k in range(4):
            at = START + pd.Timedelta(days=5 + 14 * k, hours=9)
            frames.append(
                pd.DataFrame(
                    {
                        "client_id": client_id,
                        "metric": ["8480-6", "8462-4"],
                        "value": [rng.normal(132, 5), rng.normal(84, 3)],
                        "observed_at": at,
                    }
                )
            )
        frames.append(
            pd.DataFrame(
                {
                    "client_id": client_id,
                    "metric": [
                        metrics.code_for(n)
                        for n in ("total_cholesterol", "hba1c", "body_weight", "body_height")
                    ],
                    "value": [215.0, 5.9, 82.0, 178.0],
                    "observed_at": START + pd.Timedelta(days=3),
                }
            )
        )
    measurements = pd.concat(frames, ignore_index=True)
    clients = pd.DataFrame(
        {
            "client_id": ["c1", "c2", "c3", "c4"],
            "sex": ["female", "male", None, "female"],
            "birth_date": [dt.date(1980, 2, 1), dt.date(1950, 6, 1), pd.NaT, dt.date(1999, 1, 1)],
        }
    )
    return measurements, clients
