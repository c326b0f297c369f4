"""Clients of the synthetic clinic: latent traits, baseline health, identity, intake survey.

A chunk of clients is a :class:`Profiles` of NumPy arrays indexed like the chunk's
global client indices. Each client is drawn independently from the counter-based
:class:`~health_advisor.synth.rng.KeyedRandom` keyed by its global index, so the same
seed gives the same person whatever the chunking.

* **Baseline health** is one real NHANES 2017-2018 adult (sampled with replacement):
  age, sex, height, weight, BMI, mean office BP, total and HDL cholesterol, HbA1c,
  sleep hours, sitting pulse, usual bedtime, energy and macronutrients from the dietary
  recall, and questionnaire conditions. Triglycerides are lognormal with a median that
  rises with BMI and HbA1c; LDL follows by Friedewald (TC - HDL - TG/5); fasting glucose
  from HbA1c by the ADAG relation (28.7 x A1c - 46.7) plus noise.
* **Latent traits** (``ground_truth/clients.csv``): motivation (z), time budget
  (minutes/week, lognormal), social (0-1, group vs solo), chronotype (z, + = evening
  type, anchored on the NHANES bedtime), diet openness (0-1), fitness (z, from NHANES
  recreational activity, age and BMI), stress (z), and a 3-dimensional taste vector.
* **Observable side**: the intake survey reports goals (from risks), preferred domains
  and settings (from traits, noisily), a self-reported weekly time budget (lognormal
  report error, rounded to 15 min), conditions, medical clearance, smoking and stress.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from health_advisor.core.vocabulary import CONDITIONS, DOMAINS, GOALS, SETTINGS
from health_advisor.synth.nhanes import load_adults
from health_advisor.synth.rng import KeyedRandom

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

CLIENT_ID_BASE = 5_000_000_000
LATENT_DIM = 3
EMAIL_DOMAINS = ("gmail.com", "hotmail.com", "yahoo.com", "outlook.com")
COND_INDEX = {name: i for i, name in enumerate(CONDITIONS)}


def client_ids(index: NDArray[np.int64]) -> NDArray[np.str_]:
    """10-digit numeric ids shared by every format (``5000000001`` for index 0)."""
    return (index + CLIENT_ID_BASE + 1).astype(str)


def sigmoid(x: FloatArray) -> FloatArray:
    out: FloatArray = 1.0 / (1.0 + np.exp(-x))
    return out


@dataclass(slots=True)
class Profiles:
    """One chunk of clients; every array has the chunk's length (first axis)."""

    index: NDArray[np.int64]
    client_id: NDArray[np.str_]
    nhanes_seqn: NDArray[np.int64]
    female: BoolArray
    age: FloatArray
    birth_date: NDArray[np.datetime64]
    height_cm: FloatArray
    weight_kg: FloatArray
    sbp: FloatArray
    dbp: FloatArray
    total_chol: FloatArray
    hdl: FloatArray
    tg: FloatArray
    hba1c: FloatArray
    glucose: FloatArray
    sleep_hours: FloatArray
    rhr: FloatArray
    bedtime_h: FloatArray
    energy_kcal: FloatArray
    macros: FloatArray  # (n, 3) carb/protein/fat % of energy
    water_l: FloatArray
    conditions: BoolArray  # (n, len(CONDITIONS))
    motivation: FloatArray
    time_budget: FloatArray
    social: FloatArray
    chronotype: FloatArray
    diet_openness: FloatArray
    fitness: FloatArray
    stress: FloatArray
    taste: FloatArray  # (n, LATENT_DIM)
    uses_fitbit: BoolArray

    def __len__(self) -> int:
        return int(self.index.shape[0])

    @property
    def bmi(self) -> FloatArray:
        out: FloatArray = self.weight_kg / (self.height_cm / 100.0) ** 2
        return out

    @property
    def ldl(self) -> FloatArray:
        """Friedewald: LDL = TC - HDL - TG/5 (mg/dL), floored at 20."""
        out: FloatArray = np.maximum(self.total_chol - self.hdl - self.tg / 5.0, 20.0)
        return out

    def has(self, condition: str) -> BoolArray:
        out: BoolArray = self.conditions[:, COND_INDEX[condition]]
        return out


def _bp_stage2(sbp: FloatArray, dbp: FloatArray) -> BoolArray:
    out: BoolArray = (sbp >= 140) | (dbp >= 90)
    return out


def _conditions(rng: KeyedRandom, idx: NDArray[np.int64], a: pd.DataFrame) -> BoolArray:
    """Conditions from NHANES answers and measurements; the rest by age/sex-aware chance."""

    def u(name: str) -> FloatArray:
        return rng.uniform(f"cond.{name}", idx)

    age = a["age"].to_numpy()
    female = (a["sex"] == "female").to_numpy()
    sbp, dbp = a["sbp"].to_numpy(), a["dbp"].to_numpy()
    bmi = a["weight_kg"].to_numpy() / (a["height_cm"].to_numpy() / 100) ** 2
    hba1c = a["hba1c"].to_numpy()
    chol, hdl = a["total_chol"].to_numpy(), a["hdl"].to_numpy()
    flag = {c: a[c].to_numpy().astype(bool) for c in a.columns if a[c].dtype == np.int8}
    stage1 = (sbp >= 130) | (dbp >= 80)
    diabetes = flag["diabetes"] | (hba1c >= 6.5)
    cvd = flag["heart_attack"] | flag["stroke"]
    c = np.zeros((len(idx), len(CONDITIONS)), dtype=bool)
    hyper = (_bp_stage2(sbp, dbp) & (u("htn") < 0.75)) | (stage1 & (u("htn") < 0.3))
    c[:, COND_INDEX["hypertension"]] = hyper
    c[:, COND_INDEX["type2_diabetes"]] = diabetes
    pre = flag["told_prediabetes"] | flag["borderline_diabetes"] | (hba1c >= 5.7)
    c[:, COND_INDEX["prediabetes"]] = pre & ~diabetes
    c[:, COND_INDEX["cardiovascular_disease"]] = cvd
    c[:, COND_INDEX["heart_failure"]] = cvd & (u("hf") < 0.25)
    c[:, COND_INDEX["arrhythmia"]] = u("arr") < 0.01 + 0.0008 * np.maximum(age - 40, 0)
    c[:, COND_INDEX["dyslipidemia"]] = (chol >= 240) | (hdl < 40)
    c[:, COND_INDEX["obesity"]] = bmi >= 30
    c[:, COND_INDEX["asthma"]] = flag["asthma"]
    c[:, COND_INDEX["copd"]] = flag["smoker"] & (age >= 45) & (u("copd") < 0.15)
    c[:, COND_INDEX["osteoarthritis"]] = flag["arthritis"]
    c[:, COND_INDEX["low_back_pain"]] = u("lbp") < 0.10
    c[:, COND_INDEX["osteoporosis"]] = female & (age >= 55) & (u("osteo") < 0.15)
    c[:, COND_INDEX["pregnancy"]] = female & (age < 42) & (u("preg") < 0.03)
    c[:, COND_INDEX["depression"]] = flag["depressed"] | flag["depression_meds"]
    c[:, COND_INDEX["anxiety"]] = u("anx") < np.where(flag["depressed"], 0.4, 0.08)
    c[:, COND_INDEX["insomnia"]] = flag["trouble_sleeping"] & (u("insom") < 0.45)
    apnea_p = np.where(bmi >= 30, 0.18, 0.03) * np.where(female, 0.6, 1.0)
    c[:, COND_INDEX["sleep_apnea"]] = u("apnea") < apnea_p
    ckd_p = 0.02 + 0.06 * (age >= 65) + 0.08 * diabetes
    c[:, COND_INDEX["chronic_kidney_disease"]] = u("ckd") < ckd_p
    c[:, COND_INDEX["eating_disorder_history"]] = u("ed") < np.where(female, 0.015, 0.004)
    c[:, COND_INDEX["beta_blocker_use"]] = (cvd | hyper) & (u("bb") < 0.2)
    anticoag = (cvd & (u("ac") < 0.3)) | (c[:, COND_INDEX["arrhythmia"]] & (u("ac") < 0.6))
    c[:, COND_INDEX["anticoagulant_use"]] = anticoag
    c[:, COND_INDEX["smoker"]] = flag["smoker"]
    return c


def _macros(a: pd.DataFrame) -> FloatArray:
    kcal = np.column_stack(
        [a["carb_g"].to_numpy() * 4, a["protein_g"].to_numpy() * 4, a["fat_g"].to_numpy() * 9]
    )
    total = kcal.sum(axis=1, keepdims=True)
    pct = np.where(total > 300, kcal / np.maximum(total, 1.0) * 100, [[50.0, 17.0, 33.0]])
    return np.asarray(pct, dtype=np.float64)


def draw_profiles(rng: KeyedRandom, index: NDArray[np.int64], start: date) -> Profiles:
    """The clients with these global indices (any subset, any order: same people)."""
    adults = load_adults()
    rows = rng.integers("nhanes.row", len(adults), index)
    a = adults.iloc[rows].reset_index(drop=True)
    n = len(index)

    def z(name: str) -> FloatArray:
        return rng.normal(f"trait.{name}", index)

    age = a["age"].to_numpy(dtype=np.float64)
    female = (a["sex"] == "female").to_numpy()
    height = a["height_cm"].to_numpy(dtype=np.float64)
    weight = a["weight_kg"].to_numpy(dtype=np.float64)
    bmi = weight / (height / 100) ** 2
    hba1c = a["hba1c"].to_numpy(dtype=np.float64)
    depressed = a["depressed"].to_numpy().astype(bool)
    conditions = _conditions(rng, index, a)

    fitness_raw = (
        0.9 * a["vigorous_rec"].to_numpy()
        + 0.5 * a["moderate_rec"].to_numpy()
        + 0.3 * a["walk_bicycle"].to_numpy()
        - 0.035 * (age - 50)
        - 0.06 * (bmi - 29)
    )
    fitness = (fitness_raw - 0.45) / 0.9 * 0.7 + 0.7 * z("fitness")
    chronotype = 0.6 * (np.clip(a["bedtime_h"].to_numpy(), -4, 4) + 0.9) / 1.2 + 0.8 * z(
        "chronotype"
    )
    stress = 1.0 * depressed + 0.7 * conditions[:, COND_INDEX["anxiety"]] + z("stress") - 0.2
    motivation = z("motivation")
    retired = age >= 65
    time_budget = np.clip(
        np.exp(np.log(150) + 0.55 * z("time_budget") + 0.15 * motivation + 0.25 * retired),
        30,
        900,
    )
    tg_median = np.exp(np.log(95) + 0.025 * (bmi - 27) + 0.18 * (hba1c - 5.5))
    tg = np.clip(tg_median * np.exp(0.45 * z("tg")), 30, 1200)
    glucose = np.clip(28.7 * hba1c - 46.7 + 8 * z("glucose"), 60, 450)
    pulse = a["pulse"].to_numpy(dtype=np.float64)
    rhr = np.clip(pulse - 4 - 2.5 * fitness + 1.5 * z("rhr"), 44, 105)
    birth_days = rng.integers("birth_day", 365, index)
    birth = np.datetime64(start) - ((age * 365.25).astype(np.int64) + birth_days).astype(
        "timedelta64[D]"
    )
    return Profiles(
        index=index,
        client_id=client_ids(index),
        nhanes_seqn=a["seqn"].to_numpy(dtype=np.int64),
        female=female,
        age=age,
        birth_date=birth,
        height_cm=height,
        weight_kg=weight,
        sbp=a["sbp"].to_numpy(dtype=np.float64),
        dbp=a["dbp"].to_numpy(dtype=np.float64),
        total_chol=a["total_chol"].to_numpy(dtype=np.float64),
        hdl=a["hdl"].to_numpy(dtype=np.float64),
        tg=tg,
        hba1c=hba1c,
        glucose=glucose,
        sleep_hours=np.clip(a["sleep_hours"].to_numpy(dtype=np.float64) - 0.3, 4.0, 10.5),
        rhr=rhr,
        bedtime_h=np.clip(a["bedtime_h"].to_numpy(dtype=np.float64), -3.5, 3.0),
        energy_kcal=np.clip(a["energy_kcal"].to_numpy(dtype=np.float64), 1100, 4200),
        macros=_macros(a),
        water_l=np.clip(np.exp(np.log(1.9) + 0.3 * z("water")), 0.6, 4.5),
        conditions=conditions,
        motivation=motivation,
        time_budget=time_budget,
        social=sigmoid(1.2 * z("social")),
        chronotype=chronotype,
        diet_openness=sigmoid(1.2 * z("diet") + 0.3 * female),
        fitness=fitness,
        stress=stress,
        taste=np.column_stack(
            [rng.normal("trait.taste", index, np.full(n, k)) for k in range(LATENT_DIM)]
        ),
        uses_fitbit=rng.uniform("source", index) < 0.4,
    )


# --- identity -------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _name_lists() -> dict[str, tuple[NDArray[np.str_], FloatArray]]:
    """Weighted first names and surnames from Faker's Latin American Spanish lists.

    Faker has no ``es_PE`` locale (checked with faker 40); ``es_CO`` carries weighted
    Andean Spanish names and the Peruvian format (two surnames) is built here.
    """
    from faker.providers.person.es_CO import Provider

    def weighted(table: object) -> tuple[NDArray[np.str_], FloatArray]:
        items = list(table.items()) if isinstance(table, dict) else [(k, 1.0) for k in table]  # type: ignore[attr-defined]
        names = np.array([k for k, _ in items])
        return names, np.array([float(w) for _, w in items])

    return {
        "female": weighted(Provider.first_names_female),
        "male": weighted(Provider.first_names_male),
        "last": weighted(Provider.last_names),
    }


def _ascii_lower(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return folded.lower().replace(" ", "")


def identities(rng: KeyedRandom, p: Profiles) -> pd.DataFrame:
    """name, email, phone (Peruvian mobile, +51 9xx xxx xxx) for each client."""
    lists = _name_lists()
    idx = p.index
    fem_names, fem_w = lists["female"]
    male_names, male_w = lists["male"]
    last, last_w = lists["last"]
    first = np.where(
        p.female,
        fem_names[rng.choice("name.first.f", fem_w, idx)],
        male_names[rng.choice("name.first.m", male_w, idx)],
    )
    last1 = last[rng.choice("name.last1", last_w, idx)]
    last2 = last[rng.choice("name.last2", last_w, idx)]
    names = np.char.add(np.char.add(np.char.add(first, " "), np.char.add(last1, " ")), last2)
    domain = np.array(EMAIL_DOMAINS)[rng.integers("email.domain", len(EMAIL_DOMAINS), idx)]
    number = rng.integers("email.number", 100, idx)
    emails = [
        f"{_ascii_lower(f.split(' ')[0])}.{_ascii_lower(s)}{n}@{d}"
        for f, s, n, d in zip(first, last1, number, domain, strict=True)
    ]
    digits = rng.integers("phone", 100_000_000, idx)
    phones = [f"+51 9{d // 1_000_000:02d} {d // 1000 % 1000:03d} {d % 1000:03d}" for d in digits]
    return pd.DataFrame({"name": names, "email": emails, "phone": phones})


# --- intake survey ------------------------------------------------------------------


def _pick(scores: FloatArray, max_items: int) -> BoolArray:
    """Positive scores, at least the best one, at most ``max_items`` best."""
    rank = np.argsort(np.argsort(-scores, axis=1, kind="stable"), axis=1, kind="stable")
    chosen: BoolArray = ((scores > 0) | (rank == 0)) & (rank < max_items)
    return chosen


def _join(chosen: BoolArray, names: tuple[str, ...]) -> list[str]:
    labels = np.array(names, dtype=object)
    return [";".join(labels[row]) for row in chosen]


def goal_scores(rng: KeyedRandom, p: Profiles) -> FloatArray:
    """How much each client wants each goal (> 0: chosen, in the survey's order)."""
    noise = rng.normal("survey.goals", p.index[:, None], np.arange(len(GOALS))[None, :])
    need = {
        "lose_weight": 1.6 * (p.bmi >= 27) - 0.6,
        "lower_bp": 1.8 * ((p.sbp >= 130) | (p.dbp >= 80) | p.has("hypertension")) - 0.8,
        "improve_sleep": 1.6 * ((p.sleep_hours < 6.5) | p.has("insomnia")) - 0.8,
        "reduce_stress": 0.7 * p.stress - 0.6,
        "get_fit": 0.5 * p.motivation - 0.4 * p.fitness - 0.2,
        "eat_better": 2.0 * p.diet_openness - 1.3,
        "manage_glucose": 2.0 * (p.has("type2_diabetes") | p.has("prediabetes")) - 0.9,
        "lower_cholesterol": 1.8 * p.has("dyslipidemia") - 0.9,
        "quit_smoking": 2.2 * p.has("smoker") - 1.6 - 1.5 * ~p.has("smoker"),
        "preventive_care": 0.04 * (p.age - 55),
    }
    return np.column_stack([need[g] for g in GOALS]) + 0.6 * noise


def domain_scores(rng: KeyedRandom, p: Profiles) -> FloatArray:
    noise = rng.normal("survey.domains", p.index[:, None], np.arange(len(DOMAINS))[None, :])
    pref = {
        "exercise": 0.6 * p.fitness + 0.4 * p.motivation,
        "nutrition": 2.2 * p.diet_openness - 1.1,
        "sleep": 1.2 * ((p.sleep_hours < 6.5) | p.has("insomnia")) - 0.2 * p.chronotype - 0.5,
        "stress": 0.7 * p.stress - 0.3,
        "prevention": 0.03 * (p.age - 50),
    }
    return np.column_stack([pref[d] for d in DOMAINS]) + 0.5 * noise


def setting_scores(rng: KeyedRandom, p: Profiles) -> FloatArray:
    noise = rng.normal("survey.settings", p.index[:, None], np.arange(len(SETTINGS))[None, :])
    pref = {
        "home": 1.6 * (0.5 - p.social) + 0.2,
        "gym": 0.6 * p.fitness + 1.2 * (p.social - 0.5) - 0.2,
        "clinic": 0.03 * (p.age - 55) + 0.4 * p.conditions.sum(axis=1) / 3 - 0.2,
        "outdoors": 0.4 * p.fitness + 0.8 * (p.social - 0.5),
        "app": -0.03 * (p.age - 40) + 1.0 * (0.5 - p.social),
    }
    return np.column_stack([pref[s] for s in SETTINGS]) + 0.5 * noise


def needs_clearance(p: Profiles) -> BoolArray:
    """ACSM-style: known cardiovascular/metabolic/renal disease or stage 2 BP."""
    known = (
        p.has("cardiovascular_disease")
        | p.has("heart_failure")
        | p.has("type2_diabetes")
        | p.has("chronic_kidney_disease")
    )
    out: BoolArray = known | _bp_stage2(p.sbp, p.dbp)
    return out


def survey_frame(rng: KeyedRandom, p: Profiles, start: date) -> pd.DataFrame:
    """The intake survey rows (one per client), identity included."""
    idx = p.index
    ident = identities(rng, p)
    days_before = 1 + rng.integers("survey.day", 20, idx)
    minutes = 8 * 60 + rng.integers("survey.minute", 11 * 60, idx)
    answered = (
        pd.Timestamp(start)
        - pd.to_timedelta(days_before, unit="D")
        + pd.to_timedelta(minutes, unit="min")
    )
    report = p.time_budget * np.exp(0.25 * rng.normal("survey.budget", idx))
    budget = (np.round(report / 15) * 15).clip(15, 900).astype(int)
    cleared = np.where(needs_clearance(p), rng.uniform("survey.clear", idx) < 0.35, True)
    cleared &= rng.uniform("survey.clear2", idx) < 0.95
    stress_level = np.clip(np.round(4 + 1.8 * p.stress), 0, 10).astype(int)
    return pd.DataFrame(
        {
            "client_id": p.client_id,
            "answered_at": answered.strftime("%Y-%m-%dT%H:%M:00-05:00"),
            "name": ident["name"],
            "email": ident["email"],
            "phone": ident["phone"],
            "birth_date": p.birth_date.astype(str),
            "sex": np.where(p.female, "female", "male"),
            "goals": _join(_pick(goal_scores(rng, p), 4), GOALS),
            "preferred_domains": _join(_pick(domain_scores(rng, p), 3), DOMAINS),
            "preferred_settings": _join(_pick(setting_scores(rng, p), 3), SETTINGS),
            "weekly_time_budget_min": budget,
            "conditions": _join(p.conditions, CONDITIONS),
            "medical_clearance": np.where(cleared, "true", "false"),
            "smoker": np.where(p.has("smoker"), "true", "false"),
            "stress_level": stress_level,
        }
    )
