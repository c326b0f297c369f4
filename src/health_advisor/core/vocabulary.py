"""Controlled vocabularies shared by the catalog, surveys, features and plans.

Every id here is stable: it is stored in the database, written in catalog rules and
surveys, and shown translated in documents.
"""

from __future__ import annotations

DOMAINS: tuple[str, ...] = ("exercise", "nutrition", "sleep", "stress", "prevention")

INTENSITIES: dict[str, tuple[float, float]] = {
    # MET ranges (Ainsworth 2011 Compendium; ACSM): light < 3, moderate 3-5.9, vigorous >= 6
    "light": (1.5, 2.9),
    "moderate": (3.0, 5.9),
    "vigorous": (6.0, 12.0),
}

SETTINGS: tuple[str, ...] = ("home", "gym", "clinic", "outdoors", "app")

COST_TIERS: tuple[str, ...] = ("free", "low", "medium", "high")

GOALS: tuple[str, ...] = (
    "lose_weight",
    "lower_bp",
    "improve_sleep",
    "reduce_stress",
    "get_fit",
    "eat_better",
    "manage_glucose",
    "lower_cholesterol",
    "quit_smoking",
    "preventive_care",
)

CONDITIONS: tuple[str, ...] = (
    "hypertension",
    "type2_diabetes",
    "prediabetes",
    "cardiovascular_disease",  # known coronary, cerebrovascular or peripheral vascular disease
    "heart_failure",
    "arrhythmia",
    "dyslipidemia",
    "obesity",
    "asthma",
    "copd",
    "osteoarthritis",
    "low_back_pain",
    "osteoporosis",
    "pregnancy",
    "depression",
    "anxiety",
    "insomnia",
    "sleep_apnea",
    "chronic_kidney_disease",
    "eating_disorder_history",
    "beta_blocker_use",
    "anticoagulant_use",
    "smoker",
)

# Risk categories per guideline key (features issue; the catalog's rules refer to them).
RISK_CATEGORIES: dict[str, tuple[str, ...]] = {
    "blood_pressure": ("normal", "elevated", "stage_1", "stage_2", "crisis", "unknown"),
    "cholesterol": ("desirable", "borderline_high", "high", "unknown"),
    "ldl": ("optimal", "near_optimal", "borderline_high", "high", "very_high", "unknown"),
    "hdl": ("low", "normal", "high", "unknown"),
    "triglycerides": ("normal", "borderline_high", "high", "very_high", "unknown"),
    "glucose": ("normal", "prediabetes", "diabetes", "unknown"),
    "hba1c": ("normal", "prediabetes", "diabetes", "unknown"),
    "bmi": ("underweight", "normal", "overweight", "obese_1", "obese_2", "obese_3", "unknown"),
    "activity": ("inactive", "insufficient", "meets", "exceeds", "unknown"),
    "sleep": ("short", "recommended", "long", "unknown"),
    "resting_heart_rate": ("low", "normal", "high", "unknown"),
    "overall": ("low", "moderate", "high", "urgent", "unknown"),
}
