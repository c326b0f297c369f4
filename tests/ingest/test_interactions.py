"""Interaction histories: kinds, value ranges, times, bad rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from health_advisor.errors import MalformedFileError
from health_advisor.ingest import interactions
from health_advisor.ingest.base import INTERACTION_COLUMNS

ROWS = (
    "client_id,intervention_id,kind,value,at\n"
    "c1,ex-walk,recommended,,2024-03-01T09:00:00\n"
    "c1,ex-walk,accepted,,2024-03-01T09:00:00\n"
    "c1,ex-walk,adherence,120,2024-03-08\n"
    "c1,ex-walk,rating,4,2024-03-08T10:00:00-05:00\n"
    "c1,Bad Id,rating,4,2024-03-08\n"
    "c1,ex-walk,wat,1,2024-03-08\n"
    "c1,ex-walk,rating,,2024-03-08\n"
    "c1,ex-walk,adherence,80,never\n"
    "c1,ex-walk,adherence,80,2099-01-01\n"
)


def test_valid_rows_kept_bad_rows_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "interactions.csv"
    path.write_text(ROWS)
    result = interactions.parse(path, now=pd.Timestamp("2024-06-01T00:00:00Z"))
    frame = result.interactions
    assert dict(frame.dtypes.astype(str)) == INTERACTION_COLUMNS
    assert frame["kind"].tolist() == ["recommended", "accepted", "rating"]
    assert frame["value"].tolist()[1:] == [1.0, 4.0]
    assert frame["at"].iloc[2] == pd.Timestamp("2024-03-08T15:00:00Z")
    reasons = {q.line: q.reason for q in result.quarantine}
    assert reasons == {
        4: "value: '120' outside 0-100 for adherence",
        6: "intervention_id: 'Bad Id' is not an intervention id",
        7: "kind: 'wat' is not one of recommended|accepted|declined|adherence|rating",
        8: "value: missing (expected 1-5 for rating)",
        9: "at: 'never' is not an ISO 8601 date-time",
        10: "at: '2099-01-01' is in the future",
    }
    assert result.records_read == 9


def test_missing_column_is_malformed(tmp_path: Path) -> None:
    path = tmp_path / "interactions.csv"
    path.write_text("client_id,kind\nc1,rating\n")
    with pytest.raises(MalformedFileError, match="intervention_id"):
        interactions.parse(path)
