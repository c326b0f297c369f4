"""The metric vocabulary: every measurement in the store is one of these.

A metric has a stable ``code`` (its LOINC code where one exists, otherwise a local code
``ha-<name>``), a short ``name`` used in features and reports, its canonical UCUM unit
and the physiological range outside which a value is rejected at ingestion (a range
check, not an outlier rule: outliers are the features' business).

Observations from EHRs whose LOINC code is not listed here are still stored under
their own code and unit (see :func:`lookup`), so nothing a bundle holds is lost.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Metric:
    code: str
    name: str
    unit: str
    low: float
    high: float
    description: str
    loinc: bool = True


METRICS: tuple[Metric, ...] = (
    Metric("8867-4", "heart_rate", "/min", 25, 250, "Heart rate"),
    Metric("40443-4", "resting_heart_rate", "/min", 25, 150, "Resting heart rate"),
    Metric("8480-6", "systolic_bp", "mm[Hg]", 50, 300, "Systolic blood pressure"),
    Metric("8462-4", "diastolic_bp", "mm[Hg]", 20, 200, "Diastolic blood pressure"),
    Metric("9279-1", "respiratory_rate", "/min", 4, 70, "Respiratory rate"),
    Metric("8310-5", "body_temperature", "Cel", 30, 45, "Body temperature"),
    Metric("2708-6", "oxygen_saturation", "%", 50, 100, "Oxygen saturation"),
    Metric("29463-7", "body_weight", "kg", 2, 400, "Body weight"),
    Metric("8302-2", "body_height", "cm", 40, 250, "Body height"),
    Metric("39156-5", "bmi", "kg/m2", 8, 90, "Body mass index"),
    Metric("41982-0", "body_fat", "%", 2, 75, "Body fat percentage"),
    Metric("2093-3", "total_cholesterol", "mg/dL", 50, 600, "Total cholesterol"),
    Metric("18262-6", "ldl", "mg/dL", 10, 400, "LDL cholesterol"),
    Metric("2085-9", "hdl", "mg/dL", 5, 200, "HDL cholesterol"),
    Metric("2571-8", "triglycerides", "mg/dL", 10, 3000, "Triglycerides"),
    Metric("2339-0", "glucose", "mg/dL", 20, 800, "Blood glucose"),
    Metric("1558-6", "fasting_glucose", "mg/dL", 20, 800, "Fasting blood glucose"),
    Metric("4548-4", "hba1c", "%", 3, 20, "Hemoglobin A1c"),
    Metric("41950-7", "steps", "/d", 0, 100_000, "Steps in 24 hours"),
    Metric(
        "ha-active-minutes",
        "active_minutes",
        "min/d",
        0,
        1440,
        "Moderate-to-vigorous active minutes per day",
        loinc=False,
    ),
    Metric(
        "ha-light-minutes",
        "light_active_minutes",
        "min/d",
        0,
        1440,
        "Lightly active minutes per day",
        loinc=False,
    ),
    Metric(
        "ha-sedentary-minutes",
        "sedentary_minutes",
        "min/d",
        0,
        1440,
        "Sedentary minutes per day (while the device is worn)",
        loinc=False,
    ),
    Metric("ha-steps-hourly", "steps_hourly", "/h", 0, 20_000, "Steps in one hour", loinc=False),
    Metric(
        "ha-calories-hourly",
        "calories_hourly",
        "kcal/h",
        0,
        2_000,
        "Calories burned in one hour",
        loinc=False,
    ),
    Metric("ha-distance", "distance", "km/d", 0, 200, "Distance per day", loinc=False),
    Metric("41981-2", "calories_burned", "kcal/d", 0, 15_000, "Calories burned"),
    Metric("9052-2", "calorie_intake", "kcal/d", 0, 10_000, "Calorie intake, 24 hours"),
    Metric("ha-water", "water_intake", "L/d", 0, 15, "Water consumption per day", loinc=False),
    Metric("93832-4", "sleep_duration", "h", 0, 24, "Sleep duration"),
    Metric("ha-time-in-bed", "time_in_bed", "h", 0, 24, "Time in bed", loinc=False),
    Metric(
        "ha-sleep-quality",
        "sleep_quality",
        "{score}",
        0,
        100,
        "Sleep quality score, 0-100",
        loinc=False,
    ),
    Metric(
        "ha-bedtime",
        "bedtime",
        "h",
        -12,
        12,
        "Bedtime, hours from midnight (negative before midnight)",
        loinc=False,
    ),
    Metric(
        "ha-macro-carb", "carb_ratio", "%", 0, 100, "Share of energy from carbohydrate", loinc=False
    ),
    Metric(
        "ha-macro-protein",
        "protein_ratio",
        "%",
        0,
        100,
        "Share of energy from protein",
        loinc=False,
    ),
    Metric("ha-macro-fat", "fat_ratio", "%", 0, 100, "Share of energy from fat", loinc=False),
    Metric(
        "ha-stress",
        "stress_level",
        "{score}",
        0,
        10,
        "Self-reported stress level 0-10",
        loinc=False,
    ),
    Metric(
        "ha-strength-days",
        "strength_sessions",
        "/wk",
        0,
        14,
        "Muscle-strengthening sessions per week",
        loinc=False,
    ),
)

BY_CODE: dict[str, Metric] = {m.code: m for m in METRICS}
BY_NAME: dict[str, Metric] = {m.name: m for m in METRICS}

# Alternative LOINC codes that mean the same quantity as a listed metric.
ALIASES: dict[str, str] = {
    "59408-5": "2708-6",  # SpO2 by pulse oximetry
    "8331-1": "8310-5",  # oral temperature
    "2089-1": "18262-6",  # LDL, calculated/other method
    "13457-7": "18262-6",  # LDL, calculated
    "55284-4": "85354-9",  # older blood-pressure panel
}

# Panels whose value lives in components (systolic 8480-6 / diastolic 8462-4).
BP_PANEL_CODES: frozenset[str] = frozenset({"85354-9", "55284-4", "35094-2"})


def by_name(name: str) -> Metric:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown metric name {name!r}") from None


def lookup(code: str) -> Metric | None:
    """The listed metric for a code (following aliases), or None for an unlisted code."""
    return BY_CODE.get(ALIASES.get(code, code))


def code_for(name: str) -> str:
    return by_name(name).code


def name_for(code: str) -> str:
    """A readable name for any stored code: the metric name, or the code itself."""
    metric = lookup(code)
    return metric.name if metric else code
