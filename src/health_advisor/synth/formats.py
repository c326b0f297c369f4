"""Turn a chunk's simulated truth into the clinic's files' rows.

One function per output: the clinic sheet (seed CSV), the three Fitabase files, the
heart-rate seconds sample, and the FHIR resources of each patient. Clinic visits
(office vitals and labs) are simulated here because the FHIR bundles and the clinic
sheet's ``cholesterol_levels`` share them. Unit mix-ups are injected where a unit can be
mixed up: weights in pounds (FHIR ``[lb_av]``; Fitbit ``WeightKg`` holding pounds),
lipids in mmol/L (FHIR ``mmol/L``; a bare ``5.2`` in the clinic sheet).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from health_advisor.synth import fhir
from health_advisor.synth.profiles import Profiles
from health_advisor.synth.rng import KeyedRandom
from health_advisor.synth.series import Daily
from health_advisor.synth.writers import (
    POUNDS_PER_KG,
    clock,
    float32_km,
    float32_repr,
    nullable_int,
    us_time,
)

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

LIMA = timezone(timedelta(hours=-5))
MG_DL_PER_MMOL_CHOL = 38.67
MG_DL_PER_MMOL_TG = 88.57
MIXUP_RATE = {"fhir_weight": 0.05, "fhir_lipids": 0.05, "csv_cholesterol": 0.05,
              "fitbit_weight": 0.02}  # fmt: skip
HOME_BP_READING_RATE = 0.35
LONE_SYSTOLIC_RATE = 0.03
HEARTRATE_EVERY = 500  # clients with index % 500 == 0 (Fitbit ones) get a heart-rate day


def drift_at(drift: dict[str, FloatArray], metric: str, day: NDArray[np.int64]) -> FloatArray:
    values = drift.get(metric)
    if values is None:
        return np.zeros(day.shape[0])
    out: FloatArray = values[np.arange(day.shape[0]), day]
    return out


@dataclass(slots=True)
class Visit:
    """Office measurements of one visit per client (NaN-free; ``present`` marks who came)."""

    number: int
    day: NDArray[np.int64]
    minute: NDArray[np.int64]
    present: BoolArray
    labs: BoolArray
    values: dict[str, FloatArray]
    weight_lb: BoolArray
    lipids_mmol: BoolArray


def clinic_visits(
    rng: KeyedRandom, p: Profiles, days: int, drift: dict[str, FloatArray]
) -> list[Visit]:
    """Intake (day 0, everyone, labs) and a follow-up in the last two weeks (most)."""
    idx = p.index
    follow_day = np.maximum(days - 1 - rng.integers("visit.day", 14, idx), 0)
    follow = (rng.uniform("visit.follow", idx) < 0.7) & (days >= 28)
    follow_labs = follow & (rng.uniform("visit.labs", idx) < 0.6)
    plan = [
        (np.zeros(len(p), dtype=np.int64), np.ones(len(p), dtype=bool), np.ones(len(p), bool)),
        (follow_day, follow, follow_labs),
    ]
    visits = []
    for number, (day, present, labs) in enumerate(plan):

        def n(name: str, number: int = number) -> FloatArray:
            return rng.normal(f"visit.{name}", idx, number)

        def d(metric: str, day: NDArray[np.int64] = day) -> FloatArray:
            return drift_at(drift, metric, day)

        weight = np.round(p.weight_kg + d("body_weight") + 0.4 * n("weight"), 1)
        height = np.round(p.height_cm + 0.4 * n("height"), 1)
        ldl = p.ldl + d("ldl")
        hdl = p.hdl + d("hdl")
        tg = np.maximum(p.tg + d("triglycerides"), 25)
        values = {
            "sbp": np.round(p.sbp + d("systolic_bp") + 6 * n("sbp")),
            "dbp": np.round(p.dbp + d("diastolic_bp") + 4 * n("dbp")),
            "hr": np.round(p.rhr + 6 + d("resting_heart_rate") + 4 * n("hr")),
            "weight": weight,
            "height": height,
            "bmi": np.round(weight / (height / 100) ** 2, 1),
            "total_chol": np.round(
                (p.total_chol + d("total_cholesterol") + d("ldl") + d("hdl"))
                * np.exp(0.03 * n("tc"))
            ),
            "ldl": np.round(np.maximum(ldl, 20) * np.exp(0.04 * n("ldl"))),
            "hdl": np.round(np.maximum(hdl, 15) * np.exp(0.03 * n("hdl"))),
            "tg": np.round(tg * np.exp(0.08 * n("tg"))),
            "glucose": np.round(
                (p.glucose + d("glucose") + d("fasting_glucose")) * np.exp(0.04 * n("glu"))
            ),
            "hba1c": np.round(p.hba1c + d("hba1c") + 0.1 * n("a1c"), 1),
        }
        visits.append(
            Visit(
                number=number,
                day=day,
                minute=8 * 60 + rng.integers("visit.minute", 9 * 60, idx, number),
                present=present,
                labs=labs & present,
                values=values,
                weight_lb=rng.uniform("mixup.fhir.weight", idx, number) < MIXUP_RATE["fhir_weight"],
                lipids_mmol=rng.uniform("mixup.fhir.lipids", idx, number)
                < MIXUP_RATE["fhir_lipids"],
            )
        )
    return visits


def _iso(start: date, day: int, minute: int) -> str:
    moment = datetime.combine(start + timedelta(days=day), time(), LIMA)
    return (moment + timedelta(minutes=minute)).isoformat()


def fhir_resources(
    p: Profiles, identity: pd.DataFrame, visits: list[Visit], start: date
) -> tuple[list[list[dict[str, Any]]], list[tuple[int, int, str, str]]]:
    """Per client: Patient then Observations; plus the mix-up log (pos, day, metric, kind)."""
    out: list[list[dict[str, Any]]] = []
    mixups: list[tuple[int, int, str, str]] = []
    ids = p.client_id.tolist()
    genders = np.where(p.female, "female", "male").tolist()
    births = p.birth_date.astype(str).tolist()
    names, phones, emails = (identity[c].tolist() for c in ("name", "phone", "email"))
    cols = [{k: v.tolist() for k, v in visit.values.items()} for visit in visits]
    for i, cid in enumerate(ids):
        resources = [fhir.patient(cid, names[i], genders[i], births[i], phones[i], emails[i])]
        for visit, values in zip(visits, cols, strict=True):
            if visit.present[i]:
                resources.extend(_visit_observations(cid, i, visit, values, start, mixups))
        out.append(resources)
    return out, mixups


def _visit_observations(
    cid: str,
    i: int,
    visit: Visit,
    v: dict[str, list[float]],
    start: date,
    mixups: list[tuple[int, int, str, str]],
) -> list[dict[str, Any]]:
    day = int(visit.day[i])
    when = _iso(start, day, int(visit.minute[i]))
    tag = f"{cid}-v{visit.number}"
    obs = fhir.observation
    weight, weight_unit = v["weight"][i], "kg"
    if visit.weight_lb[i]:
        weight, weight_unit = round(weight * POUNDS_PER_KG, 1), "[lb_av]"
        mixups.append((i, day, "body_weight", "unit_mixup"))
    bp = [("8480-6", v["sbp"][i], "mm[Hg]"), ("8462-4", v["dbp"][i], "mm[Hg]")]
    found = [
        obs(f"{tag}-bp", cid, "85354-9", when, components=bp),
        obs(f"{tag}-hr", cid, "8867-4", when, v["hr"][i], "/min"),
        obs(f"{tag}-wt", cid, "29463-7", when, weight, weight_unit),
        obs(f"{tag}-ht", cid, "8302-2", when, v["height"][i], "cm"),
        obs(f"{tag}-bmi", cid, "39156-5", when, v["bmi"][i], "kg/m2"),
    ]
    if not visit.labs[i]:
        return found
    lipids = [
        ("2093-3", "tc", v["total_chol"][i], MG_DL_PER_MMOL_CHOL),
        ("18262-6", "ldl", v["ldl"][i], MG_DL_PER_MMOL_CHOL),
        ("2085-9", "hdl", v["hdl"][i], MG_DL_PER_MMOL_CHOL),
        ("2571-8", "tg", v["tg"][i], MG_DL_PER_MMOL_TG),
    ]
    lab_when = _iso(start, day, 7 * 60 + 30)  # fasting draw before the visit
    mmol = bool(visit.lipids_mmol[i])
    for code, short, value, factor in lipids:
        if mmol:
            found.append(obs(f"{tag}-{short}", cid, code, lab_when, round(value / factor, 2),
                             "mmol/L"))  # fmt: skip
        else:
            found.append(obs(f"{tag}-{short}", cid, code, lab_when, value, "mg/dL"))
    if mmol:
        for metric in ("total_cholesterol", "ldl", "hdl", "triglycerides"):
            mixups.append((i, day, metric, "unit_mixup"))
    found.append(obs(f"{tag}-glu", cid, "2339-0", lab_when, v["glucose"][i], "mg/dL"))
    found.append(obs(f"{tag}-a1c", cid, "4548-4", lab_when, v["hba1c"][i], "%"))
    return found


# --- the clinic sheet -----------------------------------------------------------------


def seed_rows(
    rng: KeyedRandom,
    p: Profiles,
    daily: Daily,
    visits: list[Visit],
    drift: dict[str, FloatArray],
    iso_days: NDArray[np.str_],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clinic-sheet rows of the chunk's non-Fitbit clients, and the mix-up log."""
    sel = np.flatnonzero(~p.uses_fitbit)
    days = daily.days
    c = p.index[sel][:, None]
    d = np.arange(days)[None, :]
    rows = ~daily.missing[sel]
    worn = rows & ~daily.dropout[sel]
    pos, day = np.nonzero(rows)
    keep = worn[pos, day]

    def col(values: FloatArray) -> FloatArray:
        out: FloatArray = values[sel][pos, day]
        return out

    home = rng.uniform("home_bp.has", p.index[sel]) < 0.25 + 0.35 * p.has("hypertension")[sel]
    reading = home[:, None] & (rng.uniform("home_bp.day", c, d) < HOME_BP_READING_RATE) & rows
    sbp = p.sbp[sel][:, None] + drift.get("systolic_bp", np.zeros((len(p), days)))[sel]
    dbp = p.dbp[sel][:, None] + drift.get("diastolic_bp", np.zeros((len(p), days)))[sel]
    sbp = np.round(sbp + 8 * rng.normal("home_bp.sbp", c, d)).astype(np.int64)
    dbp = np.round(dbp + 6 * rng.normal("home_bp.dbp", c, d)).astype(np.int64)
    lone = rng.uniform("home_bp.lone", c, d) < LONE_SYSTOLIC_RATE
    bp_text = np.where(
        lone, sbp.astype(str), np.char.add(np.char.add(sbp.astype(str), "/"), dbp.astype(str))
    )
    bp = np.where(reading, bp_text, "")[pos, day]

    chol = np.full((len(sel), days), "", dtype=object)
    mix_rows = []
    for visit in visits:
        lab = visit.labs[sel] & rows[np.arange(len(sel)), visit.day[sel]]
        tc = visit.values["total_chol"][sel]
        mixed = (
            rng.uniform("mixup.csv.chol", p.index[sel], visit.number)
            < MIXUP_RATE["csv_cholesterol"]
        )
        text = np.where(
            mixed, np.round(tc / MG_DL_PER_MMOL_CHOL, 1).astype(str), tc.astype(int).astype(str)
        )
        hit = np.flatnonzero(lab)
        chol[hit, visit.day[sel][hit]] = text[hit]
        bad = np.flatnonzero(lab & mixed)
        mix_rows.append(pd.DataFrame({"client_index": p.index[sel][bad],
                                      "day": visit.day[sel][bad]}))  # fmt: skip

    wants = {
        "kcal": 0.90, "macro": 0.85, "water": 0.80, "quality": 0.95,
    }  # share of days the client logged it  # fmt: skip
    logged = {
        k: (rng.uniform(f"seed.logged.{k}", c, d) < share)[pos, day] for k, share in wants.items()
    }
    macros = np.round(daily.macros[sel][pos, day]).astype(np.int64)
    carb = 100 - macros[:, 1] - macros[:, 2]
    macro_text = np.char.add(
        np.char.add(np.char.add(carb.astype(str), "/"), np.char.add(macros[:, 1].astype(str), "/")),
        macros[:, 2].astype(str),
    )
    frame = pd.DataFrame(
        {
            "client_id": p.client_id[sel][pos],
            "date": iso_days[day],
            "heart_rate": nullable_int(col(daily.rhr), keep),
            "blood_pressure": bp,
            "cholesterol_levels": chol[pos, day],
            "steps_count": nullable_int(col(daily.steps), keep),
            "active_minutes": nullable_int(col(daily.active_min), keep),
            "calorie_intake": nullable_int(col(daily.calorie_intake), logged["kcal"]),
            "water_consumption": pd.Series(np.round(col(daily.water_l), 1)).where(logged["water"]),
            "sleep_duration": pd.Series(np.round(col(daily.sleep_h), 1)).where(keep),
            "sleep_quality": nullable_int(col(daily.sleep_quality), keep & logged["quality"]),
            "sedentary_time": nullable_int(col(daily.sedentary_min), keep),
            "macronutrient_ratio": np.where(logged["macro"] & logged["kcal"], macro_text, ""),
            "bedtime": np.where(keep, clock(col(daily.bedtime_h)), ""),
        }
    )
    mixups = pd.concat(mix_rows, ignore_index=True).assign(
        metric="total_cholesterol", kind="unit_mixup"
    )
    return frame, mixups


# --- Fitabase export ------------------------------------------------------------------


def _bmr(p: Profiles) -> FloatArray:
    """Mifflin-St Jeor basal kcal/day."""
    base = 10 * p.weight_kg + 6.25 * p.height_cm - 5 * p.age
    out: FloatArray = base + np.where(p.female, -161, 5)
    return out


def fitbit_rows(
    rng: KeyedRandom, p: Profiles, daily: Daily, us_days: NDArray[np.str_]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """dailyActivity and sleepDay rows of the chunk's Fitbit clients."""
    sel = np.flatnonzero(p.uses_fitbit)
    days = daily.days
    c = p.index[sel][:, None]
    d = np.arange(days)[None, :]
    rows = ~daily.missing[sel]
    pos, day = np.nonzero(rows)
    off = daily.dropout[sel][pos, day]

    def col(values: FloatArray) -> FloatArray:
        out: FloatArray = values[sel][pos, day]
        return out

    sleep_wear = 0.3 + 0.65 * rng.uniform("fitbit.sleep_wear", p.index[sel])
    slept = (rng.uniform("fitbit.sleep_day", c, d) < sleep_wear[:, None]) & rows
    slept &= ~daily.dropout[sel]
    steps = np.where(off, 0.0, col(daily.steps))
    active = np.where(off, 0.0, col(daily.active_min))
    very = np.round(active * 0.45)
    fairly = active - very
    light = np.where(off, 0.0, col(daily.light_min))
    asleep_min = col(daily.sleep_h) * 60
    sedentary = col(daily.sedentary_min) + np.where(slept[pos, day], 0.0, asleep_min)
    sedentary = np.where(off, 1440.0, np.minimum(sedentary, 1440 - light - active))
    stride_km = (p.height_cm[sel] * 0.414 / 100_000)[pos]
    total_km = np.round(steps * stride_km, 2)
    very_km = np.minimum(np.round(very * 0.12, 2), np.round(total_km * 0.6, 2))
    moderate_km = np.minimum(np.round(fairly * 0.09, 2), np.round(total_km - very_km, 2))
    light_km = np.maximum(np.round(total_km - very_km - moderate_km, 2), 0.0)
    bmr = _bmr(p)[sel][pos]
    calories = np.round(bmr + np.where(off, 0.0, steps * 0.04 + very * 8 + fairly * 5 + light * 2))
    zero = np.full(len(pos), "0")
    activity = pd.DataFrame(
        {
            "Id": p.client_id[sel][pos],
            "ActivityDate": us_days[day],
            "TotalSteps": steps.astype(np.int64),
            "TotalDistance": float32_km(total_km),
            "TrackerDistance": float32_km(total_km),
            "LoggedActivitiesDistance": zero,
            "VeryActiveDistance": float32_km(very_km),
            "ModeratelyActiveDistance": float32_km(moderate_km),
            "LightActiveDistance": float32_km(light_km),
            "SedentaryActiveDistance": zero,
            "VeryActiveMinutes": very.astype(np.int64),
            "FairlyActiveMinutes": fairly.astype(np.int64),
            "LightlyActiveMinutes": light.astype(np.int64),
            "SedentaryMinutes": sedentary.astype(np.int64),
            "Calories": calories.astype(np.int64),
        }
    )
    return activity, _sleep_rows(rng, p, daily, sel, slept, us_days)


def _sleep_rows(
    rng: KeyedRandom,
    p: Profiles,
    daily: Daily,
    sel: NDArray[np.int64],
    slept: BoolArray,
    us_days: NDArray[np.str_],
) -> pd.DataFrame:
    pos, day = np.nonzero(slept)
    c, d = p.index[sel][pos], day
    asleep = np.round(daily.sleep_h[sel][pos, day] * 60).astype(np.int64)
    awake_in_bed = np.clip(np.round(np.exp(np.log(25) + 0.6 * rng.normal("fitbit.inbed", c, d))),
                           2, 300).astype(np.int64)  # fmt: skip
    u = rng.uniform("fitbit.records", c, d)
    records = np.where(u < 0.88, 1, np.where(u < 0.98, 2, 3))
    frame = pd.DataFrame(
        {
            "Id": p.client_id[sel][pos],
            "SleepDay": np.char.add(us_days[day], " 12:00:00 AM"),
            "TotalSleepRecords": records,
            "TotalMinutesAsleep": asleep,
            "TotalTimeInBed": asleep + awake_in_bed,
        }
    )
    duplicate = rng.uniform("fitbit.sleep_dup", c, d) < 0.001  # the real export's quirk
    return frame.loc[np.repeat(np.arange(len(frame)), 1 + duplicate)].reset_index(drop=True)


def weight_rows(
    rng: KeyedRandom,
    p: Profiles,
    daily: Daily,
    drift: dict[str, FloatArray],
    start: date,
    us_days: NDArray[np.str_],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """weightLogInfo rows (smart-scale or manual weigh-ins) and their mix-up log."""
    sel = np.flatnonzero(p.uses_fitbit & (rng.uniform("fitbit.scale", p.index) < 0.3))
    days = daily.days
    c = p.index[sel][:, None]
    d = np.arange(days)[None, :]
    weigh = (rng.uniform("fitbit.weigh_day", c, d) < 0.4) & ~daily.missing[sel]
    pos, day = np.nonzero(weigh)
    if pos.size == 0:
        empty = pd.DataFrame(columns=["Id", "Date", "WeightKg", "WeightPounds", "Fat", "BMI",
                                      "IsManualReport", "LogId"])  # fmt: skip
        return empty, pd.DataFrame(columns=["client_index", "day", "metric", "kind"])
    ci, di = c[pos, 0], day
    w_drift = drift.get("body_weight", np.zeros((len(p), days)))[sel][pos, day]
    kg = np.round(p.weight_kg[sel][pos] + w_drift + 0.4 * rng.normal("fitbit.weight", ci, di), 1)
    mixed = rng.uniform("mixup.fitbit.weight", ci, di) < MIXUP_RATE["fitbit_weight"]
    kg = np.where(mixed, np.round(kg * POUNDS_PER_KG, 1), kg)
    kg32 = kg.astype(np.float32).astype(np.float64)
    bmi32 = np.round(kg / (p.height_cm[sel][pos] / 100) ** 2, 2)
    manual = rng.uniform("fitbit.manual", p.index[sel])[pos] < 0.6
    seconds = np.where(manual, 86399, 6 * 3600 + rng.integers("fitbit.weigh_s", 4 * 3600, ci, di))
    epoch = (np.datetime64(start) - np.datetime64("1970-01-01")).astype("timedelta64[D]")
    log_id = (epoch.astype(np.int64) + day) * 86_400_000 + seconds * 1000
    has_fat = rng.uniform("fitbit.fat", ci, di) < 0.05
    fat = 15 + rng.integers("fitbit.fat_value", 25, ci, di)
    frame = pd.DataFrame(
        {
            "Id": p.client_id[sel][pos],
            "Date": [f"{us_days[x]} {us_time(s)}" for x, s in zip(day, seconds, strict=True)],
            "WeightKg": float32_repr(kg32),
            "WeightPounds": [f"{v:.15g}" for v in kg32 * POUNDS_PER_KG],
            "Fat": np.where(has_fat, fat.astype(str), ""),
            "BMI": float32_repr(bmi32),
            "IsManualReport": np.where(manual, "True", "False"),
            "LogId": log_id.astype(np.int64),
        }
    )
    log = pd.DataFrame(
        {"client_index": ci[mixed], "day": di[mixed], "metric": "body_weight", "kind": "unit_mixup"}
    )
    return frame, log


def heartrate_rows(
    rng: KeyedRandom, p: Profiles, daily: Daily, us_days: NDArray[np.str_]
) -> pd.DataFrame:
    """A day (7:00-22:00) of 5-15 s heart-rate samples for a few Fitbit clients."""
    frames = []
    chosen = np.flatnonzero(p.uses_fitbit & (p.index % HEARTRATE_EVERY == 0))
    for i in chosen:
        day = int(np.argmax(~(daily.missing[i] | daily.dropout[i])))
        gaps = 5 + rng.integers("hr.gap", 11, int(p.index[i]), np.arange(6000))
        seconds = 7 * 3600 + np.cumsum(gaps)
        seconds = seconds[seconds < 22 * 3600]
        key = (int(p.index[i]), np.arange(seconds.size))
        bouts = np.sin(seconds / 1800.0) > 0.85  # a few active bouts
        value = (
            daily.rhr[i, day]
            + 12
            + 25 * bouts * rng.uniform("hr.bout", *key)
            + 4 * rng.normal("hr.noise", *key)
        )
        frames.append(
            pd.DataFrame(
                {
                    "Id": p.client_id[i],
                    "Time": [f"{us_days[day]} {us_time(s)}" for s in seconds],
                    "Value": np.round(np.clip(value, 40, 200)).astype(np.int64),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["Id", "Time", "Value"])
    return pd.concat(frames, ignore_index=True)
