"""The feature registry: what every column of a feature snapshot means.

One :class:`FeatureSpec` per column of :func:`~health_advisor.features.snapshot.build_snapshots`
(a test keeps the two in step). ``health-advisor features describe`` prints
:func:`describe`; the API serves it. Per-metric daily features are generated from the
metric vocabulary, so a new daily metric is described as soon as it is listed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from health_advisor.core import metrics
from health_advisor.features import snapshot as snap
from health_advisor.features.cube import DAILY_METRIC_NAMES


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    name: str
    dtype: str  # "float", "string", "date"
    unit: str
    description: str
    source_metrics: tuple[str, ...]
    transformation: str
    version: str = snap.FEATURE_VERSION


def _codes(*names: str) -> tuple[str, ...]:
    return tuple(metrics.code_for(n) for n in names)


_DAILY_TEMPLATES: dict[str, tuple[str, str, str]] = {
    # suffix: (unit or "" for the metric's unit, description, transformation)
    "mean_7d": ("", "mean of the last 7 days", "cleaned, imputed; mean of days -6..0"),
    "mean_28d": ("", "mean of the last 28 days", "cleaned, imputed; mean of days -27..0"),
    "baseline_median": (
        "",
        "personal baseline: median of the 28 days before the last 7",
        "cleaned, observed only; median of days -34..-7; NaN with < 7 values",
    ),
    "baseline_mad": (
        "",
        "personal baseline spread: median absolute deviation, same window",
        "cleaned, observed only; raw MAD of days -34..-7; NaN with < 7 values",
    ),
    "deviation_7d": (
        "1",
        "personalised normalisation: last-7-day mean against the personal baseline",
        "(mean_7d - baseline_median) / (1.4826 * baseline_mad); NaN when MAD is 0",
    ),
    "trend_per_week": (
        "/wk",
        "trend: least-squares slope over the last 28 days, per week",
        "cleaned, observed only; OLS slope per day * 7; NaN with < 7 values",
    ),
    "observed_days_28d": (
        "d",
        "days with a usable observed value in the last 28 days",
        "count after range, non-wear and outlier checks",
    ),
    "imputed_share_28d": (
        "1",
        "share of the last 28 days whose value was imputed",
        "imputed days / 28 (rolling median, then age/sex band median)",
    ),
    "outliers_28d": (
        "d",
        "days in the last 28 whose value was flagged as an outlier and excluded",
        "robust z > 3.5 and beyond the 3 IQR fence, per client over 90 days",
    ),
}


def _unit_with(suffix_unit: str, metric_unit: str) -> str:
    if suffix_unit == "":
        return metric_unit
    if suffix_unit == "/wk":
        return f"({metric_unit})/wk"
    return suffix_unit


def _daily_specs() -> list[FeatureSpec]:
    specs = []
    for name in DAILY_METRIC_NAMES:
        metric = metrics.by_name(name)
        for suffix, (unit, description, transformation) in _DAILY_TEMPLATES.items():
            specs.append(
                FeatureSpec(
                    f"{name}_{suffix}",
                    "float",
                    _unit_with(unit, metric.unit),
                    f"{metric.description}: {description}",
                    (metric.code,),
                    transformation,
                )
            )
        for column in snap.variability_columns(name):
            specs.append(
                FeatureSpec(
                    column,
                    "float",
                    metric.unit,
                    f"{metric.description}: variability, standard deviation over the last 28 days",
                    (metric.code,),
                    "cleaned, observed only; sample SD (ddof 1); NaN with < 5 values",
                )
            )
    return specs


_ACTIVITY = _codes("steps", "active_minutes")
_SLEEP = _codes("sleep_quality", "sleep_duration")
_NUTRITION = _codes("calorie_intake", "calories_burned", "carb_ratio", "protein_ratio", "fat_ratio")
_BP = _codes("systolic_bp", "diastolic_bp")

_FIXED: tuple[FeatureSpec, ...] = (
    FeatureSpec("client_id", "string", "", "client id as the source gave it", (), "identity"),
    FeatureSpec(
        "as_of",
        "date",
        "",
        "snapshot day: data observed up to its end (UTC)",
        (),
        "see features.snapshot",
    ),
    FeatureSpec(
        "feature_version", "string", "", "version of the feature definitions", (), "constant"
    ),
    FeatureSpec(
        "sex",
        "string",
        "",
        "sex as recorded (female/male, null when unknown)",
        (),
        "from the client record",
    ),
    FeatureSpec(
        "age_years",
        "float",
        "a",
        "age at the snapshot day",
        (),
        "(as_of - birth_date) / 365.2425 days",
    ),
    FeatureSpec(
        "daily_activity_score",
        "float",
        "{score}",
        "0-100 score combining activity, sleep and nutrition, mean of the last 7 days",
        _ACTIVITY + _SLEEP + _NUTRITION,
        "100 * (0.40 A + 0.35 S + 0.25 N) / available weights; see features.engineered",
    ),
    FeatureSpec(
        "weekly_steps_increase",
        "float",
        "%",
        "change of mean daily steps, last 7 days against the 7 before",
        _codes("steps"),
        "100 * (mean_7d - mean_prev_7d) / mean_prev_7d",
    ),
    FeatureSpec(
        "activity_nutrition_interaction",
        "float",
        "1",
        "product of the 7-day activity and nutrition components (0-1)",
        _ACTIVITY + _NUTRITION,
        "A_7d * N_7d; see features.engineered",
    ),
    FeatureSpec(
        "systolic_bp_mean_90d",
        "float",
        "mm[Hg]",
        "average systolic pressure of the readings in the last 90 days",
        _codes("systolic_bp"),
        "mean of in-range readings",
    ),
    FeatureSpec(
        "diastolic_bp_mean_90d",
        "float",
        "mm[Hg]",
        "average diastolic pressure of the readings in the last 90 days",
        _codes("diastolic_bp"),
        "mean of in-range readings",
    ),
    FeatureSpec(
        "systolic_bp_max_90d",
        "float",
        "mm[Hg]",
        "highest systolic reading in the last 90 days",
        _codes("systolic_bp"),
        "max",
    ),
    FeatureSpec(
        "diastolic_bp_max_90d",
        "float",
        "mm[Hg]",
        "highest diastolic reading in the last 90 days",
        _codes("diastolic_bp"),
        "max",
    ),
    FeatureSpec(
        "bp_readings_90d",
        "float",
        "1",
        "number of systolic readings in the last 90 days",
        _codes("systolic_bp"),
        "count",
    ),
    FeatureSpec(
        "body_weight_latest",
        "float",
        "kg",
        "latest body weight within 365 days",
        _codes("body_weight"),
        "latest in-range value",
    ),
    FeatureSpec(
        "body_height_latest",
        "float",
        "cm",
        "latest body height",
        _codes("body_height"),
        "latest in-range value",
    ),
    FeatureSpec(
        "bmi_latest",
        "float",
        "kg/m2",
        "BMI: latest measured, or latest weight / height^2 when the weight is newer",
        _codes("bmi", "body_weight", "body_height"),
        "see features.snapshot",
    ),
    FeatureSpec(
        "strength_sessions_latest",
        "float",
        "/wk",
        "latest weekly count of muscle-strengthening sessions within 28 days",
        _codes("strength_sessions"),
        "latest in-range value",
    ),
)

_GUIDELINE_SOURCES: dict[str, tuple[str, ...]] = {
    "blood_pressure": _BP,
    "cholesterol": _codes("total_cholesterol"),
    "ldl": _codes("ldl"),
    "hdl": _codes("hdl"),
    "triglycerides": _codes("triglycerides"),
    "glucose": _codes("fasting_glucose"),
    "hba1c": _codes("hba1c"),
    "bmi": _codes("bmi", "body_weight", "body_height"),
    "activity": _codes("active_minutes", "strength_sessions"),
    "sleep": _codes("sleep_duration"),
    "resting_heart_rate": _codes("resting_heart_rate"),
}


def _lab_specs() -> list[FeatureSpec]:
    specs = []
    for name in snap.LAB_METRICS:
        metric = metrics.by_name(name)
        specs.append(
            FeatureSpec(
                f"{name}_latest",
                "float",
                metric.unit,
                f"latest {metric.description} within 365 days",
                (metric.code,),
                "latest in-range value",
            )
        )
        specs.append(
            FeatureSpec(
                f"{name}_days_since",
                "float",
                "d",
                f"whole days from that {metric.description} to the snapshot",
                (metric.code,),
                "floor((cutoff - observed_at) / 1 day)",
            )
        )
    return specs


def _category_specs() -> list[FeatureSpec]:
    specs = [
        FeatureSpec(
            f"{key}_category",
            "string",
            "",
            f"{key.replace('_', ' ')} guideline category (see core.guidelines)",
            sources,
            f"core.guidelines: {key}",
        )
        for key, sources in _GUIDELINE_SOURCES.items()
    ]
    every = tuple(dict.fromkeys(c for s in _GUIDELINE_SOURCES.values() for c in s))
    specs.append(
        FeatureSpec(
            "health_risk_category",
            "string",
            "",
            "overall risk: low / moderate / high / urgent / unknown, composed from the guidelines",
            every,
            "core.guidelines.overall_risk",
        )
    )
    return specs


def feature_specs() -> list[FeatureSpec]:
    """Every snapshot column, in the snapshot's column order where it has one."""
    return [
        *_FIXED[:5],
        *_daily_specs(),
        *_FIXED[5:13],
        *_lab_specs(),
        *_FIXED[13:],
        *_category_specs(),
    ]


def describe() -> list[dict[str, object]]:
    """The registry as plain dicts (JSON-ready; source metrics as lists)."""
    return [{**asdict(s), "source_metrics": list(s.source_metrics)} for s in feature_specs()]
