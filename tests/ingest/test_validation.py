"""normalise(): canonical rows, quarantine reasons; file-level checks of read_text/read_csv."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from health_advisor.errors import MalformedFileError
from health_advisor.ingest.base import MEASUREMENT_COLUMNS
from health_advisor.ingest.validation import (
    localize,
    normalise,
    parse_iso_times,
    read_csv,
    read_text,
)

NOW = pd.Timestamp("2024-06-01T00:00:00Z")


def _raw(rows: list[tuple[str, str, object, str, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "client_id": [r[0] for r in rows],
            "metric": [r[1] for r in rows],
            "original_value": [r[2] for r in rows],
            "original_unit": [r[3] for r in rows],
            "observed_at": pd.to_datetime([r[4] for r in rows], utc=True),
            "source_record": [f"r{i}" for i in range(len(rows))],
            "line": range(2, len(rows) + 2),
            "raw": [f"line {i}" for i in range(len(rows))],
        }
    )


def test_valid_rows_are_converted_and_typed() -> None:
    raw = _raw(
        [
            ("a", "29463-7", "150", "lb", "2024-01-01T08:00:00Z"),
            ("a", "2093-3", 5.2, "mmol/L", "2024-01-01T08:00:00-05:00"),
            ("b", "99999-0", 3, "{thing}", "2024-01-02T08:00:00Z"),
        ]
    )
    good, quarantine = normalise(raw, origin="test", now=NOW)
    assert quarantine == []
    assert dict(good.dtypes.astype(str)) == MEASUREMENT_COLUMNS
    assert good["value"].tolist() == pytest.approx([68.0388555, 201.084, 3.0])
    assert good["unit"].tolist() == ["kg", "mg/dL", "{thing}"]
    assert good["original_unit"].tolist() == ["lb", "mmol/L", "{thing}"]
    assert good["observed_at"].iloc[1] == pd.Timestamp("2024-01-01T13:00:00Z")


def test_each_bad_row_gets_a_one_line_reason_and_good_rows_are_kept() -> None:
    raw = _raw(
        [
            ("a", "8867-4", 72, "/min", "2024-01-01T08:00:00Z"),
            ("a", "8867-4", 312, "/min", "2024-01-01T08:00:00Z"),
            ("a", "29463-7", 900, "lb", "2024-01-01T08:00:00Z"),
            ("a", "8867-4", "fast", "/min", "2024-01-01T08:00:00Z"),
            ("a", "29463-7", 70, "stone2", "2024-01-01T08:00:00Z"),
            ("a", "8867-4", 70, "/min", "2030-01-01T08:00:00Z"),
            ("", "8867-4", 70, "/min", "2024-01-01T08:00:00Z"),
            ("a", "8867-4", 70, "/min", None),
        ]
    )
    good, quarantine = normalise(raw, origin="test", now=NOW)
    assert good["source_record"].tolist() == ["r0"]
    reasons = [q.reason for q in quarantine]
    assert reasons[0] == "heart_rate: 312 /min outside 25-250"
    assert reasons[1] == "body_weight: 408.233 kg (given 900 lb) outside 2-400"
    assert reasons[2] == "heart_rate: 'fast' is not a number"
    assert reasons[3].startswith("body_weight: unit 'stone2' is not a unit of 29463-7")
    assert reasons[4] == "observed_at: 2030-01-01T08:00:00+00:00 is in the future"
    assert reasons[5] == "client_id: missing"
    assert reasons[6].startswith("observed_at: missing or invalid time")
    assert [q.line for q in quarantine] == [3, 4, 5, 6, 7, 8, 9]
    assert quarantine[0].raw == "line 1" and quarantine[0].client_id == "a"
    assert all("\n" not in r for r in reasons)


def test_naive_timestamps_are_a_programming_error() -> None:
    raw = _raw([("a", "8867-4", 72, "/min", "2024-01-01T08:00:00Z")])
    raw["observed_at"] = raw["observed_at"].dt.tz_localize(None)
    with pytest.raises(TypeError, match="timezone-aware"):
        normalise(raw, origin="adapter-x")


def test_empty_input_gives_empty_typed_output() -> None:
    good, quarantine = normalise(_raw([]), origin="test", now=NOW)
    assert good.empty and quarantine == []
    assert dict(good.dtypes.astype(str)) == MEASUREMENT_COLUMNS


def test_localize_uses_the_zone_and_rejects_nonexistent_local_times() -> None:
    naive = pd.Series(pd.to_datetime(["2024-01-01 00:00", "2024-03-10 02:30"]))
    lima = localize(naive)
    assert lima.iloc[0] == pd.Timestamp("2024-01-01T05:00:00Z")
    new_york = localize(naive, "America/New_York")
    assert new_york.isna().tolist() == [False, True]  # 02:30 skipped by DST


def test_parse_iso_times_mixes_offsets_and_local_times() -> None:
    parsed = parse_iso_times(pd.Series(["2024-01-01T10:00:00+10:00", "2024-01-01", "bad"]))
    assert parsed.iloc[0] == pd.Timestamp("2024-01-01T00:00:00Z")
    assert parsed.iloc[1] == pd.Timestamp("2024-01-01T05:00:00Z")
    assert pd.isna(parsed.iloc[2])


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        (b"", 1, "file is empty"),
        (b"  \r\n", 1, "file is empty"),
        (b"a,b\r\n1,2\r\n\x00\x01\x02garbage", 3, "binary data"),
        (b"a,b\n1,2\nJos\xe9,3\n", 3, "not valid UTF-8"),
    ],
)
def test_unreadable_files_name_the_file_and_line(
    tmp_path: Path, content: bytes, line: int, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(MalformedFileError, match=message) as caught:
        read_text(path)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"{path}:{line}: ")


def test_missing_file_is_malformed(tmp_path: Path) -> None:
    with pytest.raises(MalformedFileError, match="cannot read file"):
        read_text(tmp_path / "absent.csv")


def test_read_csv_missing_required_column(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,c\n1,2\n")
    with pytest.raises(MalformedFileError, match=r"missing required column\(s\) b") as caught:
        read_csv(path, required=["a", "b"])
    assert caught.value.line == 1


def test_read_csv_row_with_too_many_fields_is_malformed(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n1,2,3,4\n")
    with pytest.raises(MalformedFileError, match="not a valid CSV") as caught:
        read_csv(path, required=["a"])
    assert caught.value.line == 3


def test_read_csv_line_numbers_follow_quoted_newlines_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text('a,b\n1,"two\nlines"\n\n3,4\n')
    frame, lines, source = read_csv(path, required=["a"])
    assert frame["a"].tolist() == ["1", "3"]
    assert lines.tolist() == [2, 5]
    assert source(5) == "3,4"


def test_validation_does_not_import_pandas_on_spark_even_after_pyspark() -> None:
    """pandera would import pyspark.pandas (slow; warns under pandas 3) once pyspark is
    loaded, e.g. after a SparkALS fit in the same process."""
    import subprocess
    import sys

    code = (
        "import sys, pyspark, pandas as pd\n"
        "from health_advisor.ingest import validation as v\n"
        "raw = pd.DataFrame({'client_id': ['a'], 'metric': ['8867-4'], 'original_value': [70],"
        " 'original_unit': ['/min'], 'observed_at': pd.to_datetime(['2024-01-01'], utc=True),"
        " 'source_record': ['r'], 'line': [2], 'raw': ['x']})\n"
        "good, bad = v.normalise(raw, origin='x')\n"
        "assert len(good) == 1 and 'pyspark.pandas' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
