"""Matching alerts to illness episodes: overlap, tolerance, per-kind scores, merging."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from health_advisor.features import evaluation as ev

D = dt.date


def _alerts(*rows: tuple[str, str, dt.date, dt.date]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["client_id", "kind", "window_start", "window_end"])


EPISODES = pd.DataFrame(
    {
        "client_id": ["a", "b"],
        "start": ["2025-03-10", "2025-03-10"],
        "end": ["2025-03-14", "2025-03-14"],
    }
)


def test_overlap_within_the_tolerance_matches_and_beyond_it_does_not() -> None:
    alerts = _alerts(
        ("a", "x", D(2025, 3, 16), D(2025, 3, 18)),  # starts 2 days after the end
        ("a", "x", D(2025, 3, 17), D(2025, 3, 18)),  # 3 days after
        ("b", "x", D(2025, 3, 1), D(2025, 3, 8)),  # ends 2 days before the start
        ("c", "x", D(2025, 3, 11), D(2025, 3, 12)),  # another client
    )
    hit, found = ev.mark_matches(alerts, EPISODES, tolerance_days=2)
    assert hit.tolist() == [True, False, True, False]
    assert found.tolist() == [True, True]
    assert ev.mark_matches(alerts, EPISODES, tolerance_days=0)[0].tolist() == [False] * 4


def test_score_table_per_kind_union_and_merged() -> None:
    alerts = _alerts(
        ("a", "rhr", D(2025, 3, 11), D(2025, 3, 13)),
        ("a", "steps", D(2025, 3, 9), D(2025, 3, 15)),
        ("b", "steps", D(2025, 4, 1), D(2025, 4, 5)),  # a false alarm
        ("b", "other", D(2025, 3, 11), D(2025, 3, 11)),  # not a scored kind
    )
    table = ev.score_table(alerts, EPISODES, ("rhr", "steps"))
    assert table.loc["rhr", ["alerts", "true_alerts", "detected"]].tolist() == [1, 1, 1]
    assert table.loc["rhr", "precision"] == 1.0 and table.loc["rhr", "recall"] == 0.5
    assert table.loc["steps", "precision"] == 0.5
    assert table.loc["all", ["alerts", "true_alerts", "detected"]].tolist() == [3, 2, 1]
    assert table.loc["all (merged)", ["alerts", "true_alerts"]].tolist() == [2, 1]
    assert math.isclose(table.loc["all", "f1"], 2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))


def test_no_alerts_gives_undefined_precision_and_zero_recall() -> None:
    result = ev.score(_alerts(), EPISODES)
    assert result["alerts"] == 0 and math.isnan(result["precision"])
    assert result["recall"] == 0.0 and math.isnan(result["f1"])


def test_merge_windows_joins_overlapping_and_touching_windows_per_client() -> None:
    alerts = _alerts(
        ("a", "x", D(2025, 3, 1), D(2025, 3, 5)),
        ("a", "y", D(2025, 3, 6), D(2025, 3, 7)),  # touches the first
        ("a", "x", D(2025, 3, 2), D(2025, 3, 3)),  # inside the first
        ("a", "x", D(2025, 3, 9), D(2025, 3, 9)),  # a day apart: separate
        ("b", "x", D(2025, 3, 1), D(2025, 3, 5)),
    )
    merged = ev.merge_windows(alerts)
    got = [
        (r.client_id, str(r.window_start)[:10], str(r.window_end)[:10], r.alerts)
        for r in merged.itertuples()
    ]
    assert got == [
        ("a", "2025-03-01", "2025-03-07", 3),
        ("a", "2025-03-09", "2025-03-09", 1),
        ("b", "2025-03-01", "2025-03-05", 1),
    ]
