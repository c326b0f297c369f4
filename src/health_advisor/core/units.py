"""Units: spelling normalisation and conversion to each metric's canonical UCUM unit.

Ingestion receives values in whatever unit a source used (``lbs``, ``mmol/L``,
``count/min``); the store keeps one canonical unit per metric (``core.metrics``).
Every conversion here is affine, ``canonical = scale * value + offset``, so it runs
vectorised over NumPy arrays and pandas Series and has an exact inverse
(:func:`from_canonical`), which the property tests use for round trips.

Substance concentrations (mmol/L <-> mg/dL) depend on the analyte, so they are keyed
by metric code; everything else is keyed by the canonical unit alone. A daily total
(canonical ``kcal/d``, ``min/d``, ``/d``...) also accepts the bare numerator (``kcal``),
because a source's "calories" column of a daily file is a per-day figure.

Codes not listed in ``core.metrics`` pass through unchanged (their own unit, no
conversion): an EHR's unlisted LOINC codes are still stored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from health_advisor.core.metrics import lookup

__all__ = [
    "Affine",
    "UnitError",
    "accepted_units",
    "canonical_unit",
    "conversion",
    "convert_series",
    "from_canonical",
    "normalise_unit",
    "to_canonical",
]


class UnitError(ValueError):
    """A unit that is not a unit of the metric (or not a unit at all)."""


@dataclass(frozen=True, slots=True)
class Affine:
    """``canonical = scale * value + offset``."""

    scale: float
    offset: float = 0.0

    def apply(self, values: npt.ArrayLike) -> npt.NDArray[np.float64]:
        return np.asarray(values, dtype=np.float64) * self.scale + self.offset

    def invert(self, values: npt.ArrayLike) -> npt.NDArray[np.float64]:
        return (np.asarray(values, dtype=np.float64) - self.offset) / self.scale


IDENTITY = Affine(1.0)

# --- spelling -------------------------------------------------------------------------

# Common spellings (matched case-insensitively) -> UCUM. UCUM spellings map to themselves.
_SPELLINGS: dict[str, str] = {
    # rates
    "/min": "/min",
    "1/min": "/min",
    "min-1": "/min",
    "bpm": "/min",
    "beats/min": "/min",
    "{beats}/min": "/min",
    "count/min": "/min",
    "{count}/min": "/min",
    "breaths/min": "/min",
    "{breaths}/min": "/min",
    "beats per minute": "/min",
    "/s": "/s",
    "/h": "/h",
    "/wk": "/wk",
    "/week": "/wk",
    "per week": "/wk",
    "{sessions}/wk": "/wk",
    # pressure
    "mm[hg]": "mm[Hg]",
    "mmhg": "mm[Hg]",
    "mm hg": "mm[Hg]",
    "kpa": "kPa",
    # mass
    "kg": "kg",
    "kgs": "kg",
    "kilogram": "kg",
    "kilograms": "kg",
    "g": "g",
    "gram": "g",
    "grams": "g",
    "[lb_av]": "[lb_av]",
    "lb": "[lb_av]",
    "lbs": "[lb_av]",
    "pound": "[lb_av]",
    "pounds": "[lb_av]",
    "[oz_av]": "[oz_av]",
    "oz": "[oz_av]",
    "[stone_av]": "[stone_av]",
    "st": "[stone_av]",
    "stone": "[stone_av]",
    # length
    "cm": "cm",
    "m": "m",
    "mm": "mm",
    "km": "km",
    "[in_i]": "[in_i]",
    "in": "[in_i]",
    "inch": "[in_i]",
    "inches": "[in_i]",
    "[ft_i]": "[ft_i]",
    "ft": "[ft_i]",
    "feet": "[ft_i]",
    "[mi_i]": "[mi_i]",
    "mi": "[mi_i]",
    "mile": "[mi_i]",
    "miles": "[mi_i]",
    # time
    "h": "h",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "min": "min",
    "mins": "min",
    "minute": "min",
    "minutes": "min",
    "s": "s",
    "sec": "s",
    "seconds": "s",
    "d": "d",
    # temperature
    "cel": "Cel",
    "°c": "Cel",
    "degc": "Cel",
    "celsius": "Cel",
    "[degf]": "[degF]",
    "°f": "[degF]",
    "degf": "[degF]",
    "fahrenheit": "[degF]",
    "k": "K",
    # volume
    "l": "L",
    "liter": "L",
    "liters": "L",
    "litre": "L",
    "litres": "L",
    "ml": "mL",
    "dl": "dL",
    "[foz_us]": "[foz_us]",
    "fl oz": "[foz_us]",
    "fl_oz": "[foz_us]",
    "fl_oz_us": "[foz_us]",
    "floz": "[foz_us]",
    "[cup_us]": "[cup_us]",
    "cup_us": "[cup_us]",
    # energy
    "kcal": "kcal",
    "cal": "kcal",
    "[cal]": "kcal",
    "kj": "kJ",
    # concentrations
    "mg/dl": "mg/dL",
    "mg/l": "mg/L",
    "g/l": "g/L",
    "g/dl": "g/dL",
    "mmol/l": "mmol/L",
    "mmol/mol": "mmol/mol",
    # ratios, scores, counts
    "%": "%",
    "percent": "%",
    "pct": "%",
    "kg/m2": "kg/m2",
    "kg/m^2": "kg/m2",
    "kg/m²": "kg/m2",
    "kg/(m2)": "kg/m2",
    "[lb_av]/[in_i]2": "[lb_av]/[in_i]2",
    "{score}": "{score}",
    "score": "{score}",
    "{points}": "{score}",
    "points": "{score}",
    "1": "1",
    "": "1",
    "count": "1",
    "{count}": "1",
    "steps": "1",
    "{steps}": "1",
    "{#}": "1",
}
# "Cal" (capital C) is the dietary Calorie = kcal; lower-case "cal" in health data means
# the same in practice (food labels, wearables), so both map to kcal.

_PER_DAY = re.compile(r"\s*(?:/\s*(?:d|day|24\s*h|\(24\.h\))|per\s+day)\s*$", re.IGNORECASE)
_APPLE_MMOL = re.compile(r"^mmol<[\d.]+>/L$", re.IGNORECASE)


def normalise_unit(unit: str | None) -> str:
    """The UCUM spelling of a unit (``"mmHg"`` -> ``"mm[Hg]"``, ``"kcal/day"`` -> ``"kcal/d"``).

    An unknown spelling is returned stripped but otherwise unchanged; whether it is a
    unit of a given metric is :func:`conversion`'s question.
    """
    text = "" if unit is None else str(unit).strip()
    if _APPLE_MMOL.match(text):  # HealthKit writes molar units with the molar mass
        return "mmol/L"
    match = _PER_DAY.search(text)
    if match and match.start() > 0:
        numerator = normalise_unit(text[: match.start()])
        return "/d" if numerator == "1" else f"{numerator}/d"
    if match:  # "/d" or "/day" alone: a count per day
        return "/d"
    return _SPELLINGS.get(text.lower(), text)


# --- conversion tables ----------------------------------------------------------------

_LB = 0.45359237
_IN = 2.54
_FOZ = 0.0295735295625

# canonical unit -> {source unit -> Affine to canonical}
_BY_CANONICAL: dict[str, dict[str, Affine]] = {
    "kg": {
        "kg": IDENTITY,
        "g": Affine(0.001),
        "[lb_av]": Affine(_LB),
        "[oz_av]": Affine(_LB / 16),
        "[stone_av]": Affine(_LB * 14),
    },
    "cm": {
        "cm": IDENTITY,
        "m": Affine(100.0),
        "mm": Affine(0.1),
        "[in_i]": Affine(_IN),
        "[ft_i]": Affine(_IN * 12),
    },
    "km": {"km": IDENTITY, "m": Affine(0.001), "[mi_i]": Affine(1.609344)},
    "h": {"h": IDENTITY, "min": Affine(1 / 60), "s": Affine(1 / 3600)},
    "min": {"min": IDENTITY, "h": Affine(60.0), "s": Affine(1 / 60)},
    "Cel": {"Cel": IDENTITY, "[degF]": Affine(5 / 9, -32 * 5 / 9), "K": Affine(1.0, -273.15)},
    "L": {
        "L": IDENTITY,
        "mL": Affine(0.001),
        "dL": Affine(0.1),
        "[foz_us]": Affine(_FOZ),
        "[cup_us]": Affine(_FOZ * 8),
    },
    "mm[Hg]": {"mm[Hg]": IDENTITY, "kPa": Affine(7.500615758456563)},
    "kcal": {"kcal": IDENTITY, "kJ": Affine(1 / 4.184)},
    "/min": {"/min": IDENTITY, "/s": Affine(60.0), "/h": Affine(1 / 60)},
    "/h": {"/h": IDENTITY, "/min": Affine(60.0)},
    "/wk": {"/wk": IDENTITY, "/d": Affine(7.0)},
    "1": {"1": IDENTITY},
    "%": {"%": IDENTITY, "1": Affine(100.0)},
    "kg/m2": {"kg/m2": IDENTITY, "[lb_av]/[in_i]2": Affine(_LB / (_IN / 100) ** 2)},
    "mg/dL": {"mg/dL": IDENTITY, "g/L": Affine(100.0), "mg/L": Affine(0.1), "g/dL": Affine(1000.0)},
    "{score}": {"{score}": IDENTITY, "1": IDENTITY},
}

_CHOLESTEROL = Affine(38.67)  # mg/dL per mmol/L (molar mass of cholesterol 386.65 g/mol)
# metric code -> extra {source unit -> Affine} for analyte-specific conversions
_BY_METRIC: dict[str, dict[str, Affine]] = {
    "2093-3": {"mmol/L": _CHOLESTEROL},  # total cholesterol
    "18262-6": {"mmol/L": _CHOLESTEROL},  # LDL
    "2085-9": {"mmol/L": _CHOLESTEROL},  # HDL
    "2571-8": {"mmol/L": Affine(88.57)},  # triglycerides (as triolein, 885.7 g/mol)
    "2339-0": {"mmol/L": Affine(18.016)},  # glucose (180.16 g/mol)
    "1558-6": {"mmol/L": Affine(18.016)},
    "4548-4": {"mmol/mol": Affine(0.09148, 2.152)},  # HbA1c IFCC -> NGSP (NGSP master eq.)
}


def canonical_unit(metric_code: str) -> str | None:
    """The metric's canonical unit, or None for a code not listed in ``core.metrics``."""
    metric = lookup(metric_code)
    return metric.unit if metric else None


def _table(metric_code: str, canonical: str) -> dict[str, Affine]:
    table = dict(_BY_CANONICAL.get(canonical, {canonical: IDENTITY}))
    table.update(_BY_METRIC.get(metric_code, {}))
    return table


def accepted_units(metric_code: str) -> tuple[str, ...]:
    """The (UCUM) units a value of this metric may come in, canonical first."""
    canonical = canonical_unit(metric_code)
    if canonical is None:
        return ()
    if canonical.endswith("/d"):
        numerator = canonical[:-2] or "1"
        per_day = [f"{u}/d" if u != "1" else "/d" for u in _table(metric_code, numerator)]
        bare = [u for u in _table(metric_code, numerator) if u != "1"]
        return (canonical, *[u for u in per_day + bare if u != canonical])
    units = list(_table(metric_code, canonical))
    return (canonical, *[u for u in units if u != canonical])


def conversion(metric_code: str, unit: str | None) -> Affine:
    """The affine map from ``unit`` to the metric's canonical unit.

    Raises :class:`UnitError` when the unit is not a unit of a listed metric. An
    unlisted code gets the identity (stored as given).
    """
    canonical = canonical_unit(metric_code)
    if canonical is None:
        return IDENTITY
    source = normalise_unit(unit)
    if canonical.endswith("/d"):
        numerator = canonical[:-2] or "1"
        if source.endswith("/d"):
            source = source[:-2] or "1"
        canonical = numerator
    affine = _table(metric_code, canonical).get(source)
    if affine is None:
        expected = ", ".join(accepted_units(metric_code))
        raise UnitError(f"unit {unit!r} is not a unit of {metric_code} (expected {expected})")
    return affine


def to_canonical(
    values: npt.ArrayLike, unit: str | None, metric_code: str
) -> npt.NDArray[np.float64]:
    """Values in ``unit`` expressed in the metric's canonical unit."""
    return conversion(metric_code, unit).apply(values)


def from_canonical(
    values: npt.ArrayLike, unit: str | None, metric_code: str
) -> npt.NDArray[np.float64]:
    """Canonical values of the metric expressed in ``unit`` (the inverse of to_canonical)."""
    return conversion(metric_code, unit).invert(values)


def convert_series(
    values: pd.Series, units: pd.Series, metric_codes: pd.Series
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Convert mixed (metric, unit) rows at once, one vectorised step per distinct pair.

    Returns ``(canonical values, canonical units, unit errors)`` aligned with the input,
    the last two as categoricals; a row whose unit is not accepted gets NaN, its source
    unit, and an error message (NaN elsewhere). Unlisted codes keep their value and
    their unit as given (stripped).
    """
    metric_idx, metric_names = pd.factorize(metric_codes, use_na_sentinel=False)
    unit_idx, unit_names = pd.factorize(units, use_na_sentinel=False)
    pair = metric_idx.astype(np.int64) * max(len(unit_names), 1) + unit_idx
    pairs, inverse = np.unique(pair, return_inverse=True)
    scale, offset = np.full(len(pairs), np.nan), np.zeros(len(pairs))
    out_units: list[str] = []
    errors: list[str | None] = []
    for k, code_pair in enumerate(pairs.tolist()):
        code = _text(metric_names[code_pair // max(len(unit_names), 1)])
        unit = _text(unit_names[code_pair % max(len(unit_names), 1)])
        try:
            affine = conversion(code, unit)
        except UnitError as exc:
            out_units.append(unit)
            errors.append(str(exc))
            continue
        scale[k], offset[k] = affine.scale, affine.offset
        out_units.append(canonical_unit(code) or unit)
        errors.append(None)
    index = values.index
    converted = np.asarray(values, dtype=np.float64) * scale[inverse] + offset[inverse]
    return (
        pd.Series(converted, index=index, dtype="float64"),
        pd.Series(_categorical(inverse, out_units), index=index),
        pd.Series(_categorical(inverse, errors), index=index),
    )


def _text(value: object) -> str:
    return "" if value is None or value is pd.NA or value != value else str(value).strip()


def _categorical(codes: npt.NDArray[np.intp], labels: Sequence[str | None]) -> pd.Categorical:
    """``labels[codes]`` as a categorical (None -> NaN), without materialising strings."""
    small = pd.Categorical(list(labels))
    return pd.Categorical.from_codes(small.codes[codes], categories=small.categories)
