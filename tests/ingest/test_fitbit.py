"""Fitbit export CSVs: the real Fitabase files' exact counts, quirks and bad input."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from health_advisor.errors import MalformedFileError
from health_advisor.ingest import fitbit
from health_advisor.ingest.base import MEASUREMENT_COLUMNS, ParseResult


def _parse(shared_data: Path, name: str) -> ParseResult:
    return fitbit.parse(shared_data / "fitbit" / name)


def _by_metric(result: ParseResult) -> dict[str, int]:
    return dict(Counter(result.measurements["metric"].tolist()))


def _reasons(result: ParseResult) -> Counter[str]:
    return Counter(q.reason for q in result.quarantine)


def test_daily_activity_counts_and_not_worn_days(shared_data: Path) -> None:
    result = _parse(shared_data, "dailyActivity_merged.csv")
    assert result.records_read == 940
    assert len(result.clients) == 33
    assert result.measurements["client_id"].nunique() == 33
    reasons = _reasons(result)
    # 77 zero-step days and 79 days of 1440 sedentary minutes, 72 of them the same days
    assert reasons[fitbit.NOT_WORN] == 72
    zero_steps_only = [r for r in reasons if r.startswith("TotalSteps: 0 steps")]
    whole_day_only = [r for r in reasons if r.startswith("SedentaryMinutes: 1440")]
    assert sum(reasons[r] for r in zero_steps_only) == 77 - 72
    assert sum(reasons[r] for r in whole_day_only) == 79 - 72
    assert len(result.quarantine) == 72 + 5 + 7
    assert _by_metric(result) == {
        "41950-7": 940 - 77,  # steps
        "ha-distance": 940 - 77,
        "ha-active-minutes": 940 - 79,
        "ha-light-minutes": 940 - 79,
        "ha-sedentary-minutes": 940 - 79,
        "41981-2": 940 - 72,  # calories burned
    }
    stored = result.measurements
    steps = stored[stored["metric"] == "41950-7"]["value"]
    sedentary = stored[stored["metric"] == "ha-sedentary-minutes"]["value"]
    assert steps.min() > 0 and sedentary.max() < 1440
    not_worn = next(q for q in result.quarantine if q.reason == fitbit.NOT_WORN)
    assert not_worn.raw == "1503960366,5/12/2016,0,0,0,0,0,0,0,0,0,0,0,1440,0"
    assert not_worn.line == 32


def test_daily_activity_values_dates_and_records(shared_data: Path) -> None:
    result = _parse(shared_data, "dailyActivity_merged.csv")
    frame = result.measurements
    first = frame[frame["source_record"] == "daily:1503960366:4/12/2016"]
    values = dict(zip(first["metric"], first["value"], strict=True))
    assert values["41950-7"] == 13162
    assert values["ha-active-minutes"] == 25 + 13
    assert values["ha-distance"] == pytest.approx(8.5)
    # a US date without zone: local midnight in America/Lima (UTC-5)
    assert set(first["observed_at"]) == {pd.Timestamp("2016-04-12T05:00:00Z")}
    assert dict(frame.dtypes.astype(str)) == MEASUREMENT_COLUMNS


def test_sleep_day_duplicates_are_quarantined_once_each(shared_data: Path) -> None:
    result = _parse(shared_data, "sleepDay_merged.csv")
    assert result.records_read == 413
    assert len(result.clients) == 24
    duplicates = [q for q in result.quarantine if q.reason.startswith("exact duplicate of line")]
    assert len(duplicates) == 3 and len(result.quarantine) == 3
    assert _by_metric(result) == {"93832-4": 410, "ha-time-in-bed": 410}
    first = result.measurements.iloc[0]
    assert first["value"] == pytest.approx(327 / 60)
    assert (first["original_value"], first["original_unit"], first["unit"]) == (327, "min", "h")


def test_weight_log_with_empty_fat(shared_data: Path) -> None:
    result = _parse(shared_data, "weightLogInfo_merged.csv")
    assert result.records_read == 67
    assert len(result.clients) == 8
    assert result.quarantine == []
    assert _by_metric(result) == {"29463-7": 67, "39156-5": 67, "41982-0": 67 - 65}
    assert result.measurements["source_record"].iloc[0] == "weight:1503960366:1462233599000"


def test_daily_calories_zero_is_missing(shared_data: Path) -> None:
    result = _parse(shared_data, "dailyCalories_merged.csv")
    assert (result.records_read, len(result.clients)) == (940, 33)
    assert len(result.quarantine) == 4
    assert _by_metric(result) == {"41981-2": 936}


def test_hourly_steps(shared_data: Path) -> None:
    result = _parse(shared_data, "hourlySteps_merged.csv")
    assert (result.records_read, len(result.clients)) == (22_099, 33)
    assert result.quarantine == []
    assert _by_metric(result) == {"ha-steps-hourly": 22_099}
    first = result.measurements.iloc[1]
    assert first["observed_at"] == pd.Timestamp("2016-04-12T06:00:00Z")  # 1:00 AM Lima


HEART = "Id,Time,Value\r\n"


def _write(tmp_path: Path, text: str, name: str = "heartrate_seconds_merged.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def test_heart_rate_seconds_bad_rows_are_quarantined_and_the_rest_kept(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        HEART
        + "2022484408,4/12/2016 7:21:00 AM,97\r\n"
        + "2022484408,4/12/2016 12:21:05 PM,102\r\n"
        + "2022484408,4/12/2016 7:21:10 AM,999\r\n"
        + "2022484408,13/45/2016 7:21:15 AM,90\r\n"
        + "2022484408,4/12/2016 7:21:20 AM,abc\r\n"
        + ",4/12/2016 7:21:25 AM,80\r\n"
        + "2022484408,4/12/2016 7:21:00 AM,98\r\n"
        + "2022484408,4/12/2016 7:21:30 AM\r\n",
    )
    result = fitbit.parse(path, tz="UTC")
    assert result.records_read == 8
    assert result.measurements["value"].tolist() == [97.0, 102.0]
    assert result.measurements["observed_at"].tolist() == [
        pd.Timestamp("2016-04-12T07:21:00Z"),
        pd.Timestamp("2016-04-12T12:21:05Z"),
    ]
    by_line = {q.line: q.reason for q in result.quarantine}
    assert by_line[4] == "Value: 999 /min outside 25-250"
    assert by_line[5].startswith("'13/45/2016 7:21:15 AM' is not a heartrate_seconds time")
    assert by_line[6] == "Value: 'abc' is not a number"
    assert by_line[7] == "client_id: missing"
    assert by_line[8] == "same Id and time as line 2 but other values"
    assert 9 not in by_line  # a truncated last row: its missing value is missing data
    assert result.quarantine[0].raw == "2022484408,4/12/2016 7:21:10 AM,999"


def test_unknown_fitbit_header_is_malformed(tmp_path: Path) -> None:
    path = _write(tmp_path, "Id,Foo,Bar\r\n1,2,3\r\n", "minuteSomething.csv")
    with pytest.raises(MalformedFileError, match="not a known Fitbit export") as caught:
        fitbit.parse(path)
    assert caught.value.line == 1


def test_missing_column_of_a_recognised_file_is_malformed(tmp_path: Path) -> None:
    path = _write(tmp_path, "Id,SleepDay,TotalSleepRecords,TotalMinutesAsleep\r\n1,2,3,4\r\n")
    with pytest.raises(MalformedFileError, match="not a known Fitbit export"):
        fitbit.parse(path)


def test_fast_time_parser_agrees_with_strptime() -> None:
    text = pd.Series(
        ["4/12/2016 12:00:00 AM", "4/12/2016 12:30:05 PM", "12/31/2016 11:59:59 PM", "x", None]
    )
    fast = fitbit._fitbit_times(text, fitbit.DATETIME)
    slow = pd.to_datetime(text, format=fitbit.DATETIME, errors="coerce")
    assert fast.tolist()[:3] == slow.tolist()[:3]
    assert fast.isna().tolist() == [False, False, False, True, True]
