"""Scoring anomaly alerts against known illness episodes (the synthetic clinic's truth).

Used by ``bench/anomalies.py``; pure functions on frames, no I/O.

Matching: an alert *matches* an episode when both belong to the same client and the
alert's window ``[window_start, window_end]`` overlaps the episode ``[start, end]``
widened by ``tolerance_days`` on each side (inclusive calendar days). The tolerance
absorbs the lag of trailing windows at the end of an episode and day-boundary effects
at its start; it does not let an alert weeks away count.

* precision of a set of alerts = share of them that match at least one episode;
* recall = share of episodes matched by at least one alert of the set;
* F1 = their harmonic mean (NaN when both are 0 or undefined).

Several rules may flag the same episode; :func:`merge_windows` folds a client's
overlapping alerts into one, so precision can also be read per flagged period rather
than per alert (one false period raising three kinds counts once, and so does a true
one).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

DEFAULT_TOLERANCE_DAYS = 2

SCORE_COLUMNS: tuple[str, ...] = (
    "alerts",
    "true_alerts",
    "precision",
    "episodes",
    "detected",
    "recall",
    "f1",
)


def _days(values: pd.Series) -> npt.NDArray[np.int64]:
    """Calendar days since 1970-01-01 of dates, timestamps or ISO strings."""
    stamps = pd.to_datetime(values.astype(object), utc=True)
    return np.asarray(pd.DatetimeIndex(stamps).as_unit("s").asi8 // 86_400, dtype=np.int64)


def match_pairs(
    alerts: pd.DataFrame, episodes: pd.DataFrame, tolerance_days: int = DEFAULT_TOLERANCE_DAYS
) -> pd.DataFrame:
    """Every (alert, episode) pair that matches, as positions ``alert`` and ``episode``
    into the two frames (``client_id, window_start, window_end`` and
    ``client_id, start, end``)."""
    empty = pd.DataFrame({"alert": np.array([], np.int64), "episode": np.array([], np.int64)})
    if alerts.empty or episodes.empty:
        return empty
    left = pd.DataFrame(
        {
            "client_id": alerts["client_id"].astype(str).to_numpy(),
            "alert": np.arange(len(alerts)),
            "a0": _days(alerts["window_start"]),
            "a1": _days(alerts["window_end"]),
        }
    )
    right = pd.DataFrame(
        {
            "client_id": episodes["client_id"].astype(str).to_numpy(),
            "episode": np.arange(len(episodes)),
            "e0": _days(episodes["start"]) - tolerance_days,
            "e1": _days(episodes["end"]) + tolerance_days,
        }
    )
    pairs = left.merge(right, on="client_id")
    hit = (pairs["a0"] <= pairs["e1"]) & (pairs["a1"] >= pairs["e0"])
    return pairs.loc[hit, ["alert", "episode"]].reset_index(drop=True)


def mark_matches(
    alerts: pd.DataFrame, episodes: pd.DataFrame, tolerance_days: int = DEFAULT_TOLERANCE_DAYS
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Whether each alert matches some episode, and whether each episode is matched."""
    pairs = match_pairs(alerts, episodes, tolerance_days)
    alert_hit = np.zeros(len(alerts), dtype=bool)
    episode_hit = np.zeros(len(episodes), dtype=bool)
    alert_hit[pairs["alert"].to_numpy()] = True
    episode_hit[pairs["episode"].to_numpy()] = True
    return alert_hit, episode_hit


def score(
    alerts: pd.DataFrame, episodes: pd.DataFrame, tolerance_days: int = DEFAULT_TOLERANCE_DAYS
) -> dict[str, float]:
    """Counts, precision, recall and F1 of one set of alerts against the episodes."""
    alert_hit, episode_hit = mark_matches(alerts, episodes, tolerance_days)
    n_alerts, n_true = len(alerts), int(alert_hit.sum())
    n_episodes, n_detected = len(episodes), int(episode_hit.sum())
    precision = n_true / n_alerts if n_alerts else float("nan")
    recall = n_detected / n_episodes if n_episodes else float("nan")
    both = precision + recall
    f1 = 2 * precision * recall / both if both > 0 else float("nan")
    return {
        "alerts": n_alerts,
        "true_alerts": n_true,
        "precision": precision,
        "episodes": n_episodes,
        "detected": n_detected,
        "recall": recall,
        "f1": f1,
    }


def merge_windows(alerts: pd.DataFrame) -> pd.DataFrame:
    """A client's alerts whose windows overlap or touch, merged into one row
    (``client_id, window_start, window_end, alerts``)."""
    if alerts.empty:
        return pd.DataFrame(columns=["client_id", "window_start", "window_end", "alerts"])
    frame = pd.DataFrame(
        {
            "client_id": alerts["client_id"].astype(str).to_numpy(),
            "a0": _days(alerts["window_start"]),
            "a1": _days(alerts["window_end"]),
        }
    ).sort_values(["client_id", "a0", "a1"], kind="stable")
    reach = frame.groupby("client_id", sort=False)["a1"].cummax()
    previous = reach.groupby(frame["client_id"], sort=False).shift()
    new = previous.isna() | (frame["a0"] > previous + 1)
    group = new.cumsum()
    merged = frame.groupby(group, sort=False).agg(
        client_id=("client_id", "first"), a0=("a0", "min"), a1=("a1", "max"), alerts=("a0", "size")
    )
    epoch = np.datetime64("1970-01-01", "D")
    return pd.DataFrame(
        {
            "client_id": merged["client_id"].to_numpy(),
            "window_start": (epoch + merged["a0"].to_numpy().astype("timedelta64[D]")),
            "window_end": (epoch + merged["a1"].to_numpy().astype("timedelta64[D]")),
            "alerts": merged["alerts"].to_numpy(),
        }
    )


def score_table(
    alerts: pd.DataFrame,
    episodes: pd.DataFrame,
    kinds: tuple[str, ...],
    tolerance_days: int = DEFAULT_TOLERANCE_DAYS,
) -> pd.DataFrame:
    """One row of :func:`score` per alert kind in ``kinds``, an ``all`` row for the
    union of those kinds and an ``all (merged)`` row for that union merged by
    :func:`merge_windows`, each against every episode, indexed by kind."""
    rows = {kind: score(alerts[alerts["kind"] == kind], episodes, tolerance_days) for kind in kinds}
    chosen = alerts[alerts["kind"].isin(kinds)]
    rows["all"] = score(chosen, episodes, tolerance_days)
    rows["all (merged)"] = score(merge_windows(chosen), episodes, tolerance_days)
    return pd.DataFrame.from_dict(rows, orient="index")[list(SCORE_COLUMNS)]
