"""Clinical guideline categories: pure functions from measured values to a risk category.

Each guideline has one vectorised implementation (``*_categories``: NumPy/pandas arrays in,
an array of category strings out) used by the batch feature path, and a scalar wrapper
(``classify_*``) that calls it on one value and adds a readable reason and the rule id.
Thresholds live in one table per guideline, so the two paths cannot disagree.

Intervals are half-open on the lower bound (``a <= x < b``) unless a guideline says
"greater than" (blood-pressure crisis, resting heart rate above 100, sleep above the
upper limit), which use a strict comparison. A missing input gives ``"unknown"``.

Sources:
  * Blood pressure: 2017 ACC/AHA Guideline for High Blood Pressure in Adults, table 6.
  * Total/LDL/HDL cholesterol, triglycerides: NCEP ATP III (2002), table II.
  * Fasting glucose and HbA1c: ADA Standards of Care, "Diagnosis and Classification".
  * BMI: WHO body-mass-index classes for adults.
  * Activity: WHO 2020 guidelines on physical activity (150-300 min/week of moderate or
    75-150 of vigorous activity, vigorous minutes counting double; muscle strengthening
    on 2 or more days), with the activity levels of the US Physical Activity Guidelines
    (inactive / insufficient / meets / exceeds).
  * Sleep: AASM/SRS 2015 consensus (7 h or more for adults) and National Sleep Foundation
    2015 durations (7-9 h for 18-64, 7-8 h for 65 and older).
  * Resting heart rate: AHA adult normal range 60-100 beats per minute.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

UNKNOWN = "unknown"

ArrayLike = npt.ArrayLike
StrArray = npt.NDArray[np.object_]


@dataclass(frozen=True, slots=True)
class GuidelineResult:
    """One guideline's verdict: the category, why, and which rule of which guideline."""

    category: str
    reason: str
    rule: str

    def as_dict(self) -> dict[str, str]:
        return {"category": self.category, "reason": self.reason, "rule": self.rule}


@dataclass(frozen=True, slots=True)
class Band:
    """A category reached when the value passes ``threshold`` (``>=``, or ``>`` if strict)."""

    category: str
    threshold: float
    strict: bool = False
    text: str = ""


# --------------------------------------------------------------------------- tables
# The first band of each table is the base category (threshold -inf).
_NEG_INF = float("-inf")

TOTAL_CHOLESTEROL: tuple[Band, ...] = (
    Band("desirable", _NEG_INF, text="< 200 mg/dL"),
    Band("borderline_high", 200, text="200-239 mg/dL"),
    Band("high", 240, text=">= 240 mg/dL"),
)
LDL: tuple[Band, ...] = (
    Band("optimal", _NEG_INF, text="< 100 mg/dL"),
    Band("near_optimal", 100, text="100-129 mg/dL"),
    Band("borderline_high", 130, text="130-159 mg/dL"),
    Band("high", 160, text="160-189 mg/dL"),
    Band("very_high", 190, text=">= 190 mg/dL"),
)
HDL: tuple[Band, ...] = (
    Band("low", _NEG_INF, text="< 40 mg/dL"),
    Band("normal", 40, text="40-59 mg/dL"),
    Band("high", 60, text=">= 60 mg/dL"),
)
TRIGLYCERIDES: tuple[Band, ...] = (
    Band("normal", _NEG_INF, text="< 150 mg/dL"),
    Band("borderline_high", 150, text="150-199 mg/dL"),
    Band("high", 200, text="200-499 mg/dL"),
    Band("very_high", 500, text=">= 500 mg/dL"),
)
FASTING_GLUCOSE: tuple[Band, ...] = (
    Band("normal", _NEG_INF, text="< 100 mg/dL"),
    Band("prediabetes", 100, text="100-125 mg/dL"),
    Band("diabetes", 126, text=">= 126 mg/dL"),
)
HBA1C: tuple[Band, ...] = (
    Band("normal", _NEG_INF, text="< 5.7 %"),
    Band("prediabetes", 5.7, text="5.7-6.4 %"),
    Band("diabetes", 6.5, text=">= 6.5 %"),
)
BMI: tuple[Band, ...] = (
    Band("underweight", _NEG_INF, text="< 18.5 kg/m2"),
    Band("normal", 18.5, text="18.5-24.9 kg/m2"),
    Band("overweight", 25, text="25-29.9 kg/m2"),
    Band("obese_1", 30, text="30-34.9 kg/m2"),
    Band("obese_2", 35, text="35-39.9 kg/m2"),
    Band("obese_3", 40, text=">= 40 kg/m2"),
)
RESTING_HEART_RATE: tuple[Band, ...] = (
    Band("low", _NEG_INF, text="< 60 /min"),
    Band("normal", 60, text="60-100 /min"),
    Band("high", 100, strict=True, text="> 100 /min"),
)

# Blood pressure: the level reached by systolic and by diastolic; the higher decides.
BP_LEVELS: tuple[str, ...] = ("normal", "elevated", "stage_1", "stage_2", "crisis")
BP_SYSTOLIC: tuple[Band, ...] = (
    Band("normal", _NEG_INF, text="systolic < 120"),
    Band("elevated", 120, text="systolic 120-129"),
    Band("stage_1", 130, text="systolic 130-139"),
    Band("stage_2", 140, text="systolic >= 140"),
    Band("crisis", 180, strict=True, text="systolic > 180"),
)
BP_DIASTOLIC: tuple[Band, ...] = (
    Band("normal", _NEG_INF, text="diastolic < 80"),
    Band("stage_1", 80, text="diastolic 80-89"),
    Band("stage_2", 90, text="diastolic >= 90"),
    Band("crisis", 120, strict=True, text="diastolic > 120"),
)

# Activity (minutes of moderate-equivalent activity per week; vigorous minutes count double).
ACTIVITY_INACTIVE_BELOW = 10.0  # "no activity beyond baseline" (US PAG activity levels)
ACTIVITY_MIN_MINUTES = 150.0
ACTIVITY_MAX_MINUTES = 300.0
STRENGTH_MIN_DAYS = 2.0

# Sleep: recommended hours per night by age band (lower bound inclusive, upper inclusive).
SLEEP_MIN_HOURS = 7.0
SLEEP_MAX_HOURS_ADULT = 9.0  # 18-64
SLEEP_MAX_HOURS_OLDER = 8.0  # 65+
OLDER_ADULT_AGE = 65.0

_SOURCES = {
    "blood_pressure": "ACC/AHA 2017",
    "cholesterol": "NCEP ATP III",
    "ldl": "NCEP ATP III",
    "hdl": "NCEP ATP III",
    "triglycerides": "NCEP ATP III",
    "glucose": "ADA",
    "hba1c": "ADA",
    "bmi": "WHO",
    "activity": "WHO 2020",
    "sleep": "NSF/AASM",
    "resting_heart_rate": "AHA",
}


# --------------------------------------------------------------------------- helpers
def _as_float(values: ArrayLike) -> npt.NDArray[np.float64]:
    """Floats of any array-like; None, pd.NA and non-numbers become NaN."""
    import pandas as pd  # only here: the web UI imports this module and starts fast

    arr = np.asarray(values)
    if arr.dtype.kind in "fiub":
        return arr.astype(np.float64)
    flat = pd.to_numeric(pd.Series(arr.ravel(), dtype=object), errors="coerce")
    return flat.to_numpy(dtype=np.float64, na_value=np.nan).reshape(arr.shape)


def _one(value: object) -> npt.NDArray[np.float64]:
    """A one-element float array of a scalar (None, pd.NA or a non-number give NaN)."""
    return _as_float(np.array([value], dtype=object))


def _num(value: object) -> float:
    return float(_one(value)[0])


def _level(values: npt.NDArray[np.float64], bands: tuple[Band, ...]) -> npt.NDArray[np.int64]:
    """Index of the highest band each value reaches (NaN reaches band 0; mask it apart)."""
    level = np.zeros(values.shape, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        for band in bands[1:]:
            level += (values > band.threshold) if band.strict else (values >= band.threshold)
    return level


def _band_categories(values: ArrayLike, bands: tuple[Band, ...]) -> StrArray:
    x = _as_float(values)
    labels = np.array([b.category for b in bands] + [UNKNOWN], dtype=object)
    level = _level(x, bands)
    level[np.isnan(x)] = len(bands)
    return labels[level]


def _scalar(key: str, category: str, bands: tuple[Band, ...], described: str) -> GuidelineResult:
    if category == UNKNOWN:
        return GuidelineResult(UNKNOWN, f"no {described} available", f"{key}.{UNKNOWN}")
    text = next(b.text for b in bands if b.category == category)
    reason = f"{described} in {category.replace('_', ' ')} range ({text}, {_SOURCES[key]})"
    return GuidelineResult(category, reason, f"{_SOURCES[key]}:{key}.{category}")


def _fmt(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


# --------------------------------------------------------------------------- blood pressure
def bp_categories(systolic: ArrayLike, diastolic: ArrayLike) -> StrArray:
    """ACC/AHA 2017 category of (average) systolic/diastolic pressure, mm Hg.

    Each of systolic and diastolic reaches a level; the higher level decides, so 125/85
    is stage 1. Elevated exists only for systolic 120-129 with diastolic < 80. Crisis is
    systolic > 180 and/or diastolic > 120. Unknown when either value is missing.
    """
    sys_v, dia_v = _as_float(systolic), _as_float(diastolic)
    sys_level = _level(sys_v, BP_SYSTOLIC)
    dia_map = np.array([BP_LEVELS.index(b.category) for b in BP_DIASTOLIC])
    dia_level = dia_map[_level(dia_v, BP_DIASTOLIC)]
    level = np.maximum(sys_level, dia_level)
    labels = np.array([*BP_LEVELS, UNKNOWN], dtype=object)
    level[np.isnan(sys_v) | np.isnan(dia_v)] = len(BP_LEVELS)
    return labels[level]


def classify_bp(
    systolic: float | None, diastolic: float | None, n_readings: int = 1
) -> GuidelineResult:
    """Blood-pressure category of the average of ``n_readings`` readings."""
    category = str(bp_categories(_one(systolic), _one(diastolic))[0])
    if category == UNKNOWN:
        return GuidelineResult(
            UNKNOWN, "no blood-pressure readings available", "blood_pressure.unknown"
        )
    s, d = _num(systolic), _num(diastolic)
    parts = [
        b.text
        for b in (
            BP_SYSTOLIC[_level(np.array([s]), BP_SYSTOLIC)[0]],
            BP_DIASTOLIC[_level(np.array([d]), BP_DIASTOLIC)[0]],
        )
        if b.category == category
    ]
    readings = f"average of {n_readings} readings" if n_readings != 1 else "one reading"
    reason = (
        f"{readings} {_fmt(s)}/{_fmt(d)} mm Hg: {category.replace('_', ' ')}"
        f" ({' and '.join(parts)}, ACC/AHA 2017)"
    )
    return GuidelineResult(category, reason, f"ACC/AHA 2017:blood_pressure.{category}")


# --------------------------------------------------------------------------- lipids, glucose
def cholesterol_categories(total: ArrayLike) -> StrArray:
    """NCEP ATP III total cholesterol, mg/dL."""
    return _band_categories(total, TOTAL_CHOLESTEROL)


def ldl_categories(ldl: ArrayLike) -> StrArray:
    """NCEP ATP III LDL cholesterol, mg/dL."""
    return _band_categories(ldl, LDL)


def hdl_categories(hdl: ArrayLike) -> StrArray:
    """NCEP ATP III HDL cholesterol, mg/dL (low HDL is the risk)."""
    return _band_categories(hdl, HDL)


def triglycerides_categories(tg: ArrayLike) -> StrArray:
    """NCEP ATP III triglycerides, mg/dL."""
    return _band_categories(tg, TRIGLYCERIDES)


def glucose_categories(fasting_glucose: ArrayLike) -> StrArray:
    """ADA fasting plasma glucose, mg/dL."""
    return _band_categories(fasting_glucose, FASTING_GLUCOSE)


def hba1c_categories(hba1c: ArrayLike) -> StrArray:
    """ADA haemoglobin A1c, %."""
    return _band_categories(hba1c, HBA1C)


def bmi_categories(bmi: ArrayLike) -> StrArray:
    """WHO adult BMI classes, kg/m2."""
    return _band_categories(bmi, BMI)


def resting_heart_rate_categories(rhr: ArrayLike) -> StrArray:
    """Resting heart rate, beats per minute: low < 60, normal 60-100, high > 100."""
    return _band_categories(rhr, RESTING_HEART_RATE)


def classify_cholesterol(total: float | None) -> GuidelineResult:
    c = str(cholesterol_categories(_one(total))[0])
    return _scalar(
        "cholesterol", c, TOTAL_CHOLESTEROL, _described("total cholesterol", total, "mg/dL")
    )


def classify_ldl(ldl: float | None) -> GuidelineResult:
    return _scalar(
        "ldl", str(ldl_categories(_one(ldl))[0]), LDL, _described("LDL cholesterol", ldl, "mg/dL")
    )


def classify_hdl(hdl: float | None) -> GuidelineResult:
    return _scalar(
        "hdl", str(hdl_categories(_one(hdl))[0]), HDL, _described("HDL cholesterol", hdl, "mg/dL")
    )


def classify_triglycerides(tg: float | None) -> GuidelineResult:
    return _scalar(
        "triglycerides",
        str(triglycerides_categories(_one(tg))[0]),
        TRIGLYCERIDES,
        _described("triglycerides", tg, "mg/dL"),
    )


def classify_glucose(fasting_glucose: float | None) -> GuidelineResult:
    return _scalar(
        "glucose",
        str(glucose_categories(_one(fasting_glucose))[0]),
        FASTING_GLUCOSE,
        _described("fasting glucose", fasting_glucose, "mg/dL"),
    )


def classify_hba1c(hba1c: float | None) -> GuidelineResult:
    return _scalar(
        "hba1c", str(hba1c_categories(_one(hba1c))[0]), HBA1C, _described("HbA1c", hba1c, "%")
    )


def classify_bmi(bmi: float | None) -> GuidelineResult:
    return _scalar("bmi", str(bmi_categories(_one(bmi))[0]), BMI, _described("BMI", bmi, "kg/m2"))


def classify_resting_heart_rate(rhr: float | None) -> GuidelineResult:
    return _scalar(
        "resting_heart_rate",
        str(resting_heart_rate_categories(_one(rhr))[0]),
        RESTING_HEART_RATE,
        _described("resting heart rate", rhr, "/min"),
    )


def _described(what: str, value: float | None, unit: str) -> str:
    number = _num(value)
    return what if np.isnan(number) else f"{what} {_fmt(number)} {unit}"


# --------------------------------------------------------------------------- activity
def activity_categories(
    moderate_minutes_per_week: ArrayLike,
    vigorous_minutes_per_week: ArrayLike | None = None,
    strength_days_per_week: ArrayLike | None = None,
) -> StrArray:
    """WHO 2020 aerobic + strength guideline, as four activity levels.

    ``aerobic = moderate + 2 * vigorous`` minutes per week (a missing vigorous value
    counts as 0: a device that reports only moderate-to-vigorous minutes is scored as if
    they were all moderate, which can only under-count). Then:

    * ``inactive``: aerobic < 10 min/week (no activity beyond baseline);
    * ``insufficient``: 10 <= aerobic < 150, or aerobic >= 150 with fewer than 2
      muscle-strengthening days when strength days are known;
    * ``meets``: 150 <= aerobic <= 300 and (strength days >= 2 or unknown);
    * ``exceeds``: aerobic > 300 and (strength days >= 2 or unknown).

    Unknown strength days never lower the category (wearables rarely record them);
    ``classify_activity`` says so in its reason.
    """
    moderate = _as_float(moderate_minutes_per_week)
    shape = moderate.shape
    vigorous = (
        np.zeros(shape)
        if vigorous_minutes_per_week is None
        else np.nan_to_num(_as_float(vigorous_minutes_per_week), nan=0.0)
    )
    strength = (
        np.full(shape, np.nan)
        if strength_days_per_week is None
        else _as_float(strength_days_per_week)
    )
    aerobic = moderate + 2.0 * vigorous
    strength_short = strength < STRENGTH_MIN_DAYS  # NaN compares False: unknown never lowers
    conditions = [
        np.isnan(aerobic),
        aerobic < ACTIVITY_INACTIVE_BELOW,
        (aerobic < ACTIVITY_MIN_MINUTES) | strength_short,
        aerobic <= ACTIVITY_MAX_MINUTES,
    ]
    out: StrArray = np.select(
        conditions, [UNKNOWN, "inactive", "insufficient", "meets"], default="exceeds"
    ).astype(object)
    return out


def classify_activity(
    moderate_minutes_per_week: float | None,
    vigorous_minutes_per_week: float | None = None,
    strength_days_per_week: float | None = None,
) -> GuidelineResult:
    """Scalar :func:`activity_categories` with a reason."""
    category = str(
        activity_categories(
            _one(moderate_minutes_per_week),
            _one(vigorous_minutes_per_week),
            _one(strength_days_per_week),
        )[0]
    )
    if category == UNKNOWN:
        return GuidelineResult(UNKNOWN, "no activity data available", "activity.unknown")
    aerobic = _num(moderate_minutes_per_week) + 2 * float(
        np.nan_to_num(_num(vigorous_minutes_per_week))
    )
    strength = _num(strength_days_per_week)
    strength_text = (
        "strength days unknown" if np.isnan(strength) else f"{_fmt(strength)} strength days/week"
    )
    reason = (
        f"{_fmt(aerobic)} moderate-equivalent active minutes/week, {strength_text}: "
        f"{category} (WHO 2020: 150-300 min/week and 2 strength days)"
    )
    return GuidelineResult(category, reason, f"WHO 2020:activity.{category}")


# --------------------------------------------------------------------------- sleep
def sleep_categories(hours_per_night: ArrayLike, age_years: ArrayLike | None = None) -> StrArray:
    """Short (< 7 h), recommended (7 h to the upper limit), long (above it).

    The upper limit is 9 h for ages 18-64 and 8 h from 65; an unknown age uses 9 h.
    """
    hours = _as_float(hours_per_night)
    age = np.full(hours.shape, np.nan) if age_years is None else _as_float(age_years)
    upper = np.where(age >= OLDER_ADULT_AGE, SLEEP_MAX_HOURS_OLDER, SLEEP_MAX_HOURS_ADULT)
    conditions = [np.isnan(hours), hours < SLEEP_MIN_HOURS, hours <= upper]
    out: StrArray = np.select(conditions, [UNKNOWN, "short", "recommended"], default="long").astype(
        object
    )
    return out


def classify_sleep(
    hours_per_night: float | None, age_years: float | None = None
) -> GuidelineResult:
    category = str(sleep_categories(_one(hours_per_night), _one(age_years))[0])
    if category == UNKNOWN:
        return GuidelineResult(UNKNOWN, "no sleep data available", "sleep.unknown")
    age = _num(age_years)
    older = not np.isnan(age) and age >= OLDER_ADULT_AGE
    band = "7-8 h (age 65+)" if older else "7-9 h (age 18-64)"
    if np.isnan(age):
        band += ", age unknown"
    reason = f"average sleep {_fmt(_num(hours_per_night))} h/night: {category} (recommended {band})"
    return GuidelineResult(category, reason, f"NSF/AASM:sleep.{category}")


# --------------------------------------------------------------------------- overall
# Composition of health_risk_category: the first tier whose condition any guideline meets.
URGENT_FINDINGS: dict[str, frozenset[str]] = {"blood_pressure": frozenset({"crisis"})}
HIGH_FINDINGS: dict[str, frozenset[str]] = {
    "blood_pressure": frozenset({"stage_2"}),
    "glucose": frozenset({"diabetes"}),
    "hba1c": frozenset({"diabetes"}),
    "ldl": frozenset({"very_high"}),
    "triglycerides": frozenset({"very_high"}),
    "bmi": frozenset({"obese_3"}),
}
MODERATE_FINDINGS: dict[str, frozenset[str]] = {
    "blood_pressure": frozenset({"stage_1"}),
    "glucose": frozenset({"prediabetes"}),
    "hba1c": frozenset({"prediabetes"}),
    "cholesterol": frozenset({"borderline_high", "high"}),
    "ldl": frozenset({"borderline_high", "high"}),
    "hdl": frozenset({"low"}),
    "triglycerides": frozenset({"borderline_high", "high"}),
    "bmi": frozenset({"underweight", "obese_1", "obese_2"}),
    "activity": frozenset({"inactive"}),
    "sleep": frozenset({"short"}),
    "resting_heart_rate": frozenset({"high"}),
}
OVERALL_TIERS: tuple[tuple[str, dict[str, frozenset[str]]], ...] = (
    ("urgent", URGENT_FINDINGS),
    ("high", HIGH_FINDINGS),
    ("moderate", MODERATE_FINDINGS),
)


def overall_risk(results: Mapping[str, GuidelineResult]) -> tuple[str, list[str]]:
    """Compose guideline results into low / moderate / high / urgent, with the reasons.

    * ``urgent``: blood-pressure crisis;
    * ``high``: BP stage 2, diabetes by glucose or HbA1c, LDL >= 190, triglycerides
      >= 500, or BMI >= 40 (obese class 3);
    * ``moderate``: BP stage 1, prediabetes, borderline-high or high total cholesterol,
      LDL or triglycerides, low HDL, BMI < 18.5 or 30-39.9, inactive, short sleep, or
      resting heart rate above 100;
    * ``low``: at least one guideline known and none of the above;
    * ``unknown``: no guideline has data.

    Reasons list every finding at the moderate tier or above, most severe first, as
    ``"<guideline>: <reason>"``; for ``low`` they say that no risk finding was present.
    """
    reasons: list[str] = []
    category = ""
    for tier, findings in OVERALL_TIERS:
        hits = [k for k, cats in findings.items() if k in results and results[k].category in cats]
        reasons += [f"{k}: {results[k].reason}" for k in hits]
        if hits and not category:
            category = tier
    if category:
        return category, reasons
    if all(r.category == UNKNOWN for r in results.values()):
        return UNKNOWN, ["no guideline data available"]
    return "low", ["no guideline risk finding in the available data"]


def overall_risk_categories(categories: Mapping[str, Any]) -> StrArray:
    """Vectorised :func:`overall_risk`: per-guideline category arrays in, overall out."""
    arrays = {k: np.asarray(v, dtype=object) for k, v in categories.items()}
    n = len(next(iter(arrays.values())))
    out = np.full(n, UNKNOWN, dtype=object)
    known = np.zeros(n, dtype=bool)
    for values in arrays.values():
        known |= values != UNKNOWN
    out[known] = "low"
    for tier, findings in reversed(OVERALL_TIERS):
        hit = np.zeros(n, dtype=bool)
        for key, cats in findings.items():
            if key in arrays:
                hit |= np.isin(arrays[key], list(cats))
        out[hit] = tier
    return out
