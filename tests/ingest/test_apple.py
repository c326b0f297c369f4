"""Apple Health export.xml: the real sample's records, daily sums, and bad XML."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from health_advisor.errors import MalformedFileError
from health_advisor.ingest import apple


def test_sample_heart_rate_bmi_and_activity_summary(shared_data: Path) -> None:
    result = apple.parse(shared_data / "apple_health" / "export.xml", client_id="simon")
    assert result.records_read == 8  # top-level elements
    frame = result.measurements.set_index("metric")
    assert sorted(result.measurements["metric"]) == [
        "39156-5",
        "8867-4",
        "ha-active-minutes",
        "ha-active-minutes",
    ]
    assert frame.loc["8867-4", "value"] == 72 and frame.loc["8867-4", "unit"] == "/min"
    assert frame.loc["8867-4", "observed_at"] == pd.Timestamp("2018-09-10T09:28:55Z")
    assert frame.loc["39156-5", "value"] == pytest.approx(22.5312)
    assert frame.loc["ha-active-minutes", "value"].tolist() == [68, 39]
    client = result.clients[0]
    assert (client.client_id, client.sex, str(client.birth_date)) == ("simon", "male", "1990-02-02")
    reasons = sorted(q.reason for q in result.quarantine)
    assert reasons == [
        "HKQuantityTypeIdentifierDietaryFatTotal: 1 element of a type not stored as measurements",
        "Workout: 1 element of a type not stored as measurements",
    ]


def test_default_client_id_comes_from_the_folder(shared_data: Path) -> None:
    assert apple.default_client_id(shared_data / "apple_health" / "export.xml") == "apple_health"
    assert apple.default_client_id(Path("/x/ana-perez.xml")) == "ana-perez"


RECORD = (
    '<Record type="HKQuantityTypeIdentifier{kind}" sourceName="{source}" unit="{unit}" '
    'startDate="{start}" endDate="{end}" value="{value}"/>'
)


def _record(kind: str, value: str, unit: str, start: str, end: str = "", source: str = "W") -> str:
    return RECORD.format(
        kind=kind, value=value, unit=unit, start=start, end=end or start, source=source
    )


def test_daily_sums_keep_the_largest_device_and_fractions_become_percent(tmp_path: Path) -> None:
    body = "".join(
        [
            _record("StepCount", "100", "count", "2024-01-01 08:00:00 -0500", source="Watch"),
            _record("StepCount", "250", "count", "2024-01-01 09:00:00 -0500", source="Watch"),
            _record("StepCount", "300", "count", "2024-01-01 09:00:00 -0500", source="Phone"),
            _record("BodyFatPercentage", "0.22", "%", "2024-01-01 07:00:00 -0500"),
            _record("HeartRate", "400", "count/min", "2024-01-01 07:00:00 -0500"),
            '<Record type="HKCategoryTypeIdentifierSleepAnalysis" sourceName="W" '
            'startDate="2023-12-31 23:00:00 -0500" endDate="2024-01-01 06:30:00 -0500" '
            'value="HKCategoryValueSleepAnalysisAsleepCore"/>',
        ]
    )
    path = tmp_path / "export.xml"
    path.write_text(f'<?xml version="1.0"?><HealthData>{body}</HealthData>')
    result = apple.parse(path, client_id="c1")
    values = dict(zip(result.measurements["metric"], result.measurements["value"], strict=True))
    assert values == pytest.approx({"41950-7": 350, "41982-0": 22.0, "93832-4": 7.5})
    assert [q.reason for q in result.quarantine] == [
        "heart_rate: 400 /min (given 400 count/min) outside 25-250"
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('<HealthData><Record type="x"', "not well-formed XML"),
        ("<Other><Record/></Other>", "not <HealthData>"),
        ("<HealthData></HealthData>", "holds no elements"),
    ],
)
def test_malformed_xml(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "export.xml"
    path.write_text(content)
    with pytest.raises(MalformedFileError, match=message) as caught:
        apple.parse(path)
    assert caught.value.path == str(path)
