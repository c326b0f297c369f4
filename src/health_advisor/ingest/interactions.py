"""Interaction histories CSV -> ``ParseResult.interactions``.

Columns: ``client_id, intervention_id, kind, value, at``. ``kind`` is one of
``recommended`` (value optional: a score or rank), ``accepted`` / ``declined`` (0 or 1;
empty means 1), ``adherence`` (0-100 % of the planned sessions that week) or ``rating``
(1-5). ``at`` is ISO 8601; without an offset it is local time in ``tz``. Histories
can be long (clients x weeks x interventions), so rows are checked vectorised; a bad
row is quarantined with its reason and the rest kept. Whether an intervention id
exists in the catalog is the service's check (the catalog lives in the store).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from health_advisor.ingest.base import INTERACTION_COLUMNS, ParseResult, QuarantinedRecord
from health_advisor.ingest.validation import (
    DEFAULT_TIMEZONE,
    FUTURE_GRACE,
    parse_iso_times,
    quarantine_rows,
    read_csv,
)

__all__ = ["COLUMNS", "RANGES", "parse"]

COLUMNS: tuple[str, ...] = ("client_id", "intervention_id", "kind", "value", "at")
# kind -> (low, high, default when empty); None bounds: any finite number
RANGES: dict[str, tuple[float | None, float | None, float | None]] = {
    "recommended": (None, None, None),
    "accepted": (0, 1, 1.0),
    "declined": (0, 1, 1.0),
    "adherence": (0, 100, None),
    "rating": (1, 5, None),
}
_ID = r"^[a-z0-9][a-z0-9_.\-]*$"


def parse(
    path: Path, *, tz: str = DEFAULT_TIMEZONE, now: pd.Timestamp | None = None
) -> ParseResult:
    """Parse one interactions CSV."""
    frame, lines, source = read_csv(path, required=COLUMNS)
    frame = frame.apply(lambda column: column.str.strip())
    kind = frame["kind"].str.lower()
    at = parse_iso_times(frame["at"].fillna(""), tz)
    value = pd.to_numeric(frame["value"], errors="coerce")
    defaults = kind.map({k: d for k, (_, _, d) in RANGES.items()})
    value = value.where(frame["value"].notna(), defaults.astype(float))
    latest = (now if now is not None else pd.Timestamp.now(tz="UTC")) + FUTURE_GRACE
    reasons = _reasons(frame, kind, value, at, latest)
    bad = reasons.notna().to_numpy()
    quarantine: list[QuarantinedRecord] = quarantine_rows(
        bad,
        reasons.fillna(""),
        field=None,
        lines=lines,
        source=source,
        client_ids=frame["client_id"],
    )
    good = ~bad
    interactions = (
        pd.DataFrame(
            {
                "client_id": frame["client_id"][good],
                "intervention_id": frame["intervention_id"][good],
                "kind": kind[good],
                "value": value[good],
                "at": at[good],
                "source_record": (
                    "interaction:"
                    + frame["client_id"]
                    + ":"
                    + frame["intervention_id"]
                    + ":"
                    + kind
                    + ":"
                    + frame["at"]
                )[good],
            }
        )
        .reset_index(drop=True)
        .astype(INTERACTION_COLUMNS)
    )
    return ParseResult(
        source_kind="interactions",
        interactions=interactions,
        quarantine=quarantine,
        records_read=len(frame),
    )


def _reasons(
    frame: pd.DataFrame, kind: pd.Series, value: pd.Series, at: pd.Series, latest: pd.Timestamp
) -> pd.Series:
    """The first problem of each row (NA when the row is valid)."""
    reasons = pd.Series(pd.NA, index=frame.index, dtype=object)

    def flag(mask: pd.Series, text: pd.Series | str) -> None:
        fresh = mask.fillna(False).astype(bool) & reasons.isna()
        reasons[fresh] = text[fresh] if isinstance(text, pd.Series) else text

    quoted = {c: "'" + frame[c].fillna("").astype(str) + "'" for c in frame.columns}
    flag(frame["client_id"].isna(), "client_id: missing")
    flag(
        ~frame["intervention_id"].fillna("").str.match(_ID),
        "intervention_id: " + quoted["intervention_id"] + " is not an intervention id",
    )
    flag(~kind.isin(list(RANGES)), "kind: " + quoted["kind"] + " is not one of " + "|".join(RANGES))
    flag(frame["value"].notna() & value.isna(), "value: " + quoted["value"] + " is not a number")
    for name, (low, high, _) in RANGES.items():
        if low is None or high is None:
            continue
        outside = (kind == name) & value.notna() & ~value.between(low, high)
        flag(outside, "value: " + quoted["value"] + f" outside {low:g}-{high:g} for {name}")
        flag(
            (kind == name) & value.isna(), f"value: missing (expected {low:g}-{high:g} for {name})"
        )
    flag(at.isna(), "at: " + quoted["at"] + " is not an ISO 8601 date-time")
    flag(at > latest, "at: " + quoted["at"] + " is in the future")
    finite = np.isfinite(value.to_numpy(dtype=float, na_value=np.nan))
    flag(value.notna() & ~pd.Series(finite, index=value.index), "value: not a finite number")
    return reasons
