"""Unit spelling and conversion: known values, errors, and round trips (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from health_advisor.core import units
from health_advisor.core.metrics import METRICS
from health_advisor.core.units import (
    UnitError,
    accepted_units,
    convert_series,
    from_canonical,
    normalise_unit,
    to_canonical,
)


@pytest.mark.parametrize(
    ("given_unit", "expected"),
    [
        ("mmHg", "mm[Hg]"),
        ("bpm", "/min"),
        ("beats/min", "/min"),
        ("count/min", "/min"),
        ("kg/m^2", "kg/m2"),
        ("LBS", "[lb_av]"),
        ("in", "[in_i]"),
        ("°F", "[degF]"),
        ("mmol/l", "mmol/L"),
        ("mmol<180.1558800000541>/L", "mmol/L"),
        ("kcal/day", "kcal/d"),
        ("steps/day", "/d"),
        ("fl_oz_us", "[foz_us]"),
        (" % ", "%"),
        ("furlong", "furlong"),
    ],
)
def test_normalise_unit_spellings(given_unit: str, expected: str) -> None:
    assert normalise_unit(given_unit) == expected


@pytest.mark.parametrize(
    ("value", "unit", "code", "expected"),
    [
        (150, "lb", "29463-7", 68.0388555),
        (70, "in", "8302-2", 177.8),
        (1.8, "m", "8302-2", 180.0),
        (98.6, "[degF]", "8310-5", 37.0),
        (5.2, "mmol/L", "2093-3", 201.084),  # total cholesterol
        (3.0, "mmol/L", "18262-6", 116.01),  # LDL
        (1.5, "mmol/L", "2571-8", 132.855),  # triglycerides
        (5.5, "mmol/L", "2339-0", 99.088),  # glucose
        (48, "mmol/mol", "4548-4", 6.54304),  # HbA1c IFCC -> NGSP %
        (450, "min", "93832-4", 7.5),  # sleep minutes -> h
        (5, "mi", "ha-distance", 8.04672),
        (500, "mL", "ha-water", 0.5),
        (0.22, "1", "41982-0", 22.0),  # fraction -> %
        (8000, "count", "41950-7", 8000.0),
        (2000, "kcal", "9052-2", 2000.0),  # bare daily total
        (72, "bpm", "8867-4", 72.0),
    ],
)
def test_known_conversions(value: float, unit: str, code: str, expected: float) -> None:
    assert to_canonical([value], unit, code)[0] == pytest.approx(expected, rel=1e-6)


def test_unknown_unit_of_a_listed_metric_is_an_error_naming_the_expected_units() -> None:
    with pytest.raises(UnitError, match=r"'stone2' is not a unit of 29463-7 \(expected kg"):
        to_canonical([1.0], "stone2", "29463-7")
    with pytest.raises(UnitError):
        to_canonical([1.0], "mmol/L", "8867-4")  # molar units only for analytes


def test_unlisted_code_passes_through_unchanged() -> None:
    assert to_canonical([3.5], "{beats}", "99999-0")[0] == 3.5
    assert accepted_units("99999-0") == ()


def test_canonical_unit_is_accepted_first_for_every_metric() -> None:
    for metric in METRICS:
        assert accepted_units(metric.code)[0] == metric.unit
        assert to_canonical([1.25], metric.unit, metric.code)[0] == 1.25


def test_convert_series_handles_mixed_metrics_and_units_per_row() -> None:
    values = pd.Series([150.0, 70.0, 5.0, 9.0])
    unit_column = pd.Series(["lb", "kg", "furlong", "x"])
    codes = pd.Series(["29463-7", "29463-7", "29463-7", "99999-0"])
    converted, canonical, errors = convert_series(values, unit_column, codes)
    assert converted.iloc[:2].tolist() == pytest.approx([68.0388555, 70.0])
    assert np.isnan(converted.iloc[2]) and converted.iloc[3] == 9.0
    assert canonical.astype(str).tolist() == ["kg", "kg", "furlong", "x"]
    assert errors.isna().tolist() == [True, True, False, True]


def _pairs() -> list[tuple[str, str]]:
    """Every (metric code, accepted unit) pair of the listed metrics."""
    return [(m.code, unit) for m in METRICS for unit in accepted_units(m.code)]


@pytest.mark.parametrize(("code", "unit"), _pairs())
def test_round_trip_every_pair(code: str, unit: str) -> None:
    x = np.array([-1234.5, -1.0, 0.0, 1e-3, 0.5, 37.0, 98.6, 1e5])
    assert to_canonical(from_canonical(x, unit, code), unit, code) == pytest.approx(x)
    assert from_canonical(to_canonical(x, unit, code), unit, code) == pytest.approx(x)


@settings(max_examples=300)
@given(
    pair=st.sampled_from(_pairs()),
    x=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
)
def test_round_trip_property(pair: tuple[str, str], x: float) -> None:
    code, unit = pair
    back = to_canonical(from_canonical([x], unit, code), unit, code)[0]
    assert back == pytest.approx(x, rel=1e-9, abs=1e-9)
    again = from_canonical(to_canonical([x], unit, code), unit, code)[0]
    assert again == pytest.approx(x, rel=1e-9, abs=1e-9)


def test_every_analyte_specific_unit_is_covered_by_the_round_trip() -> None:
    covered = set(_pairs())
    for code, table in units._BY_METRIC.items():
        for unit in table:
            assert (code, unit) in covered
