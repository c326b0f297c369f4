"""The synthetic clinic: one call writes every file of a clinic, streamed by chunks.

``generate_clinic`` draws clients in chunks (``chunk_size``) and appends each chunk to
open files, so memory depends on the chunk, not on the cohort: 100,000 clients x 90
days stays far below 4 GiB. Every draw is keyed by the client's global index
(:mod:`health_advisor.synth.rng`), so the same seed gives byte-identical files whatever
the chunk size. The generative model is documented in the modules it lives in:
:mod:`~health_advisor.synth.profiles` (NHANES baselines, latent traits, survey),
:mod:`~health_advisor.synth.adherence` (adherence, ratings, history, effects),
:mod:`~health_advisor.synth.series` (daily series, illness, injected defects) and
:mod:`~health_advisor.synth.formats` (visits, labs, unit mix-ups, file rows).

Layout under ``out``::

    seed/clinic_daily.csv                     ~60 % of clients: the clinic sheet
    fitbit/dailyActivity_merged.csv, sleepDay_merged.csv, weightLogInfo_merged.csv,
           heartrate_seconds_merged.csv       ~40 %: the Fitabase export
    fhir/bundle-0000.json ...                 everyone: Patient, office vitals, labs
    surveys/intake.csv                        everyone: the intake survey
    interactions/interactions.csv             recommended/accepted/declined/adherence/rating
    ground_truth/                             never read by models: clients.csv,
           adherence.csv, effects.csv, illness_episodes.csv, injected.csv, model.json
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from health_advisor.core.catalog import Catalog
from health_advisor.core.vocabulary import CONDITIONS
from health_advisor.errors import InputError
from health_advisor.synth import adherence as adh
from health_advisor.synth import formats, series
from health_advisor.synth.fhir import BundleWriter
from health_advisor.synth.profiles import Profiles, draw_profiles, survey_frame
from health_advisor.synth.rng import KeyedRandom
from health_advisor.synth.writers import (
    DAILY_ACTIVITY_COLUMNS,
    HEARTRATE_COLUMNS,
    SEED_COLUMNS,
    SLEEP_COLUMNS,
    WEIGHT_COLUMNS,
    CsvOut,
    day_labels,
)

DEFAULT_START = date(2025, 1, 6)  # a Monday; fixed so that a seed fixes every byte
DRIFT_METRICS = (
    "steps", "active_minutes", "sleep_duration", "sleep_quality", "resting_heart_rate",
    "calorie_intake", "bedtime", "systolic_bp", "diastolic_bp", "body_weight",
    "total_cholesterol", "ldl", "hdl", "triglycerides", "glucose", "fasting_glucose", "hba1c",
)  # fmt: skip
SURVEY_COLUMNS = [
    "client_id", "answered_at", "name", "email", "phone", "birth_date", "sex", "goals",
    "preferred_domains", "preferred_settings", "weekly_time_budget_min", "conditions",
    "medical_clearance", "smoker", "stress_level",
]  # fmt: skip
TRAIT_COLUMNS = ["motivation", "time_budget", "social", "chronotype", "diet_openness",
                 "fitness", "stress"]  # fmt: skip


@dataclass(slots=True)
class SynthSummary:
    """What a run wrote."""

    out: Path
    clients: int
    days: int
    seed: int
    start: date
    seed_csv_clients: int = 0
    fitbit_clients: int = 0
    fhir_bundles: int = 0
    observations: int = 0
    interactions: int = 0
    illness_episodes: int = 0
    injected: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)


@dataclass(slots=True)
class _Accumulators:
    """Running sums for the noise floors written to model.json."""

    adherence_var: float = 0.0
    adherence_n: int = 0
    rating_var: float = 0.0
    rating_n: int = 0
    p_sum: float = 0.0
    p_n: int = 0


class _Outputs:
    """Every CSV of the clinic, open for appending."""

    def __init__(self, out: Path) -> None:
        gt = out / "ground_truth"
        self.csv = {
            "seed": CsvOut(out / "seed" / "clinic_daily.csv", SEED_COLUMNS),
            "activity": CsvOut(
                out / "fitbit" / "dailyActivity_merged.csv", DAILY_ACTIVITY_COLUMNS, crlf=True
            ),
            "sleep": CsvOut(out / "fitbit" / "sleepDay_merged.csv", SLEEP_COLUMNS, crlf=True),
            "weight": CsvOut(
                out / "fitbit" / "weightLogInfo_merged.csv", WEIGHT_COLUMNS, crlf=True
            ),
            "heartrate": CsvOut(
                out / "fitbit" / "heartrate_seconds_merged.csv", HEARTRATE_COLUMNS, crlf=True
            ),
            "survey": CsvOut(out / "surveys" / "intake.csv", SURVEY_COLUMNS),
            "interactions": CsvOut(
                out / "interactions" / "interactions.csv",
                ["client_id", "intervention_id", "kind", "value", "at"],
            ),
            "clients": CsvOut(gt / "clients.csv", _client_truth_columns()),
            "adherence": CsvOut(
                gt / "adherence.csv",
                ["client_id", "intervention_id", "p_adherence", "expected_rating", "allowed"],
            ),
            "effects": CsvOut(
                gt / "effects.csv", ["client_id", "intervention_id", "metric", "effect"]
            ),
            "episodes": CsvOut(
                gt / "illness_episodes.csv",
                [
                    "client_id",
                    "start",
                    "end",
                    "kind",
                    "rhr_delta",
                    "steps_factor",
                    "sleep_delta_h",
                    "source",
                ],
            ),
            "injected": CsvOut(
                gt / "injected.csv", ["client_id", "date", "metric", "kind", "source"]
            ),
        }
        (out / "fhir").mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        for handle in self.csv.values():
            handle.close()


def _client_truth_columns() -> list[str]:
    return [
        "client_id", "nhanes_seqn", "source", "sex", "age", "height_cm", "weight_kg", "bmi",
        "sbp", "dbp", "total_chol", "hdl", "ldl", "tg", "hba1c", "glucose", "sleep_hours",
        "rhr", *TRAIT_COLUMNS, "taste_0", "taste_1", "taste_2", "conditions",
    ]  # fmt: skip


def _check(clients: int, days: int, chunk_size: int) -> None:
    if clients < 1:
        raise InputError(f"--clients: expected a positive number of clients, got {clients}")
    if days < 1:
        raise InputError(f"--days: expected a positive number of days, got {days}")
    if chunk_size < 1:
        raise InputError(f"chunk_size: expected a positive number, got {chunk_size}")


def generate_clinic(
    out: Path,
    *,
    clients: int,
    days: int,
    seed: int,
    start: date | None = None,
    chunk_size: int = 2000,
    progress: Callable[[int], None] | None = None,
    catalog: Catalog | None = None,
) -> SynthSummary:
    """Write a synthetic clinic of ``clients`` x ``days`` under ``out`` (see module doc).

    ``progress`` is called after each chunk with the number of clients finished.
    ``catalog`` defaults to the packaged intervention catalog.
    """
    _check(clients, days, chunk_size)
    if catalog is None:
        from health_advisor.catalog import load_catalog

        catalog = load_catalog()
    start = start or DEFAULT_START
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = KeyedRandom(seed)
    ctx = _Context(rng, catalog, start, days, out)
    summary = SynthSummary(out=out, clients=clients, days=days, seed=seed, start=start)
    try:
        for lo in range(0, clients, chunk_size):
            hi = min(lo + chunk_size, clients)
            ctx.chunk(np.arange(lo, hi, dtype=np.int64), summary)
            if progress is not None:
                progress(hi)
        ctx.bundles.flush()
    finally:
        ctx.outputs.close()
    _finish(ctx, summary)
    return summary


class _Context:
    """State shared by the chunks of one run."""

    def __init__(self, rng: KeyedRandom, catalog: Catalog, start: date, days: int, out: Path):
        self.rng = rng
        self.catalog = catalog
        self.start = start
        self.days = days
        self.out = out
        self.items = adh.item_table(catalog, rng)
        self.oracle = adh.ContraindicationOracle(catalog)
        self.iso_days, self.us_days = day_labels(start, days)
        self.outputs = _Outputs(out)
        end = np.datetime64(start) + np.timedelta64(days, "D")
        self.bundles = BundleWriter(out / "fhir", f"{end}T00:00:00-05:00")
        self.acc = _Accumulators()

    def chunk(self, index: np.ndarray, summary: SynthSummary) -> None:
        rng, days, csv = self.rng, self.days, self.outputs.csv
        p = draw_profiles(rng, index, self.start)
        survey = survey_frame(rng, p, self.start)
        prefs = adh.client_preferences_from_survey(survey)
        cleared = (survey["medical_clearance"] == "true").to_numpy()
        level = series.steps_level(p)
        risk = adh.risk_categories(p, series.mvpa_level(p, level) * 7)
        allowed = self.oracle.allowed(p, risk, cleared)
        prob = adh.adherence_probability(adh.adherence_logit(p, prefs, self.items, rng))
        history = adh.recommend_history(rng, p, prefs, self.items, allowed, prob, days)
        need = adh.need_factors(p, lambda m: level if m == "steps" else None)
        effects = adh.true_effects(rng, p, self.items, need)
        drift = adh.outcome_drift(history, self.items, prob, effects, DRIFT_METRICS, days)
        weekday0 = self.start.weekday()
        daily = series.daily_series(rng, p, days, weekday0, drift)
        visits = formats.clinic_visits(rng, p, days, drift)

        seed_frame, seed_mix = formats.seed_rows(rng, p, daily, visits, drift, self.iso_days)
        activity, sleep = formats.fitbit_rows(rng, p, daily, self.us_days)
        weights, weight_mix = formats.weight_rows(rng, p, daily, drift, self.start, self.us_days)
        csv["seed"].append(seed_frame)
        csv["activity"].append(activity)
        csv["sleep"].append(sleep)
        csv["weight"].append(weights)
        csv["heartrate"].append(formats.heartrate_rows(rng, p, daily, self.us_days))
        csv["survey"].append(survey)
        identity = survey[["name", "phone", "email"]]
        resources, fhir_mix = formats.fhir_resources(p, identity, visits, self.start)
        for patient_resources in resources:
            self.bundles.add(patient_resources)
            summary.observations += len(patient_resources) - 1

        csv["interactions"].append(self._interactions(p, history.frame))
        csv["clients"].append(_client_truth(p))
        csv["adherence"].append(self._adherence_truth(p, prob, allowed))
        csv["effects"].append(self._effects_truth(p, effects))
        episodes = self._episodes(p, daily.episodes)
        csv["episodes"].append(episodes)
        injected = self._injected(p, daily, seed_mix, weight_mix, fhir_mix)
        csv["injected"].append(injected)
        self._accumulate(p, history.frame, prob)
        summary.seed_csv_clients += int((~p.uses_fitbit).sum())
        summary.fitbit_clients += int(p.uses_fitbit.sum())
        summary.interactions += len(history.frame)
        summary.illness_episodes += len(episodes)
        summary.injected += len(injected)

    # --- frames -------------------------------------------------------------------

    def _timestamp(self, day: np.ndarray, minute: np.ndarray) -> pd.Series:
        base = np.datetime64(self.start, "m")
        moments = base + day.astype("timedelta64[D]") + minute.astype("timedelta64[m]")
        text = np.datetime_as_string(moments, unit="s")
        return pd.Series(np.char.add(text, "-05:00"))

    def _interactions(self, p: Profiles, frame: pd.DataFrame) -> pd.DataFrame:
        pos = frame["client_index"].to_numpy() - p.index[0]
        ids = np.array(self.items.ids)
        value = frame["value"].to_numpy()
        return pd.DataFrame(
            {
                "client_id": p.client_id[pos],
                "intervention_id": ids[frame["item"].to_numpy()],
                "kind": frame["kind"].to_numpy(),
                "value": value.astype(np.int64),
                "at": self._timestamp(frame["day"].to_numpy(), frame["minute"].to_numpy()),
            }
        )

    def _adherence_truth(self, p: Profiles, prob: np.ndarray, allowed: np.ndarray) -> pd.DataFrame:
        n, k = prob.shape
        return pd.DataFrame(
            {
                "client_id": np.repeat(p.client_id, k),
                "intervention_id": np.tile(np.array(self.items.ids), n),
                "p_adherence": np.round(prob.ravel(), 4),
                "expected_rating": np.round(adh.expected_rating(prob.ravel()), 4),
                "allowed": allowed.ravel().astype(np.int8),
            }
        )

    def _effects_truth(self, p: Profiles, effects: pd.DataFrame) -> pd.DataFrame:
        pos = effects["client_index"].to_numpy() - p.index[0]
        return pd.DataFrame(
            {
                "client_id": p.client_id[pos],
                "intervention_id": np.array(self.items.ids)[effects["item"].to_numpy()],
                "metric": effects["metric"].to_numpy(),
                "effect": np.round(effects["effect"].to_numpy(dtype=np.float64), 4),
            }
        )

    def _episodes(self, p: Profiles, episodes: pd.DataFrame) -> pd.DataFrame:
        pos = episodes["client_index"].to_numpy() - p.index[0]
        return pd.DataFrame(
            {
                "client_id": p.client_id[pos],
                "start": self.iso_days[episodes["start_day"].to_numpy()],
                "end": self.iso_days[episodes["end_day"].to_numpy()],
                "kind": episodes["kind"].to_numpy(),
                "rhr_delta": episodes["rhr_delta"].to_numpy(),
                "steps_factor": episodes["steps_factor"].to_numpy(),
                "sleep_delta_h": episodes["sleep_delta_h"].to_numpy(),
                "source": np.where(p.uses_fitbit[pos], "fitbit", "seed_csv"),
            }
        )

    def _injected(
        self,
        p: Profiles,
        daily: series.Daily,
        seed_mix: pd.DataFrame,
        weight_mix: pd.DataFrame,
        fhir_mix: list[tuple[int, int, str, str]],
    ) -> pd.DataFrame:
        wearable = daily.injected.copy()
        pos = wearable["client_index"].to_numpy() - p.index[0]
        wearable["source"] = np.where(p.uses_fitbit[pos], "fitbit", "seed_csv")
        # Fitbit files carry no resting heart rate: an outlier there is not in any file.
        wearable = wearable[~((wearable["source"] == "fitbit")
                              & (wearable["metric"] == "resting_heart_rate"))]  # fmt: skip
        fhir_frame = pd.DataFrame(fhir_mix, columns=["pos", "day", "metric", "kind"])
        fhir_frame["client_index"] = p.index[fhir_frame["pos"].to_numpy(dtype=np.int64)]
        parts = [
            wearable,
            seed_mix.assign(source="seed_csv"),
            weight_mix.assign(source="fitbit"),
            fhir_frame.drop(columns="pos").assign(source="fhir"),
        ]
        frame = pd.concat([f for f in parts if not f.empty], ignore_index=True)
        frame = frame.sort_values(["client_index", "day", "metric", "source"], kind="stable")
        pos = frame["client_index"].to_numpy(dtype=np.int64) - p.index[0]
        return pd.DataFrame(
            {
                "client_id": p.client_id[pos],
                "date": self.iso_days[frame["day"].to_numpy(dtype=np.int64)],
                "metric": frame["metric"].to_numpy(),
                "kind": frame["kind"].to_numpy(),
                "source": frame["source"].to_numpy(),
            }
        )

    def _accumulate(self, p: Profiles, frame: pd.DataFrame, prob: np.ndarray) -> None:
        acc = self.acc
        acc.p_sum += float(prob.sum())
        acc.p_n += prob.size
        for kind, per_row in (("adherence", _adherence_var), ("rating", adh.rating_variance)):
            rows = frame[frame["kind"] == kind]
            p_rows = prob[rows["client_index"].to_numpy() - p.index[0], rows["item"].to_numpy()]
            var = float(per_row(p_rows).sum())
            if kind == "adherence":
                acc.adherence_var += var
                acc.adherence_n += len(rows)
            else:
                acc.rating_var += var
                acc.rating_n += len(rows)


def _adherence_var(p: np.ndarray) -> np.ndarray:
    """Variance of the weekly adherence % around 100 p (binomial over 7 days)."""
    out: np.ndarray = 100.0**2 * p * (1 - p) / adh.SESSIONS_PER_WEEK
    return out


def _client_truth(p: Profiles) -> pd.DataFrame:
    labels = np.array(CONDITIONS, dtype=object)
    frame = pd.DataFrame(
        {
            "client_id": p.client_id,
            "nhanes_seqn": p.nhanes_seqn,
            "source": np.where(p.uses_fitbit, "fitbit", "seed_csv"),
            "sex": np.where(p.female, "female", "male"),
            "age": p.age.astype(np.int64),
            "height_cm": np.round(p.height_cm, 1),
            "weight_kg": np.round(p.weight_kg, 1),
            "bmi": np.round(p.bmi, 2),
            "sbp": np.round(p.sbp, 1),
            "dbp": np.round(p.dbp, 1),
            "total_chol": np.round(p.total_chol, 1),
            "hdl": np.round(p.hdl, 1),
            "ldl": np.round(p.ldl, 1),
            "tg": np.round(p.tg, 1),
            "hba1c": np.round(p.hba1c, 2),
            "glucose": np.round(p.glucose, 1),
            "sleep_hours": np.round(p.sleep_hours, 2),
            "rhr": np.round(p.rhr, 1),
        }
    )
    for trait in TRAIT_COLUMNS:
        frame[trait] = np.round(getattr(p, trait), 4)
    for k in range(p.taste.shape[1]):
        frame[f"taste_{k}"] = np.round(p.taste[:, k], 4)
    frame["conditions"] = [";".join(labels[row]) for row in p.conditions]
    return frame


def _finish(ctx: _Context, summary: SynthSummary) -> None:
    acc = ctx.acc
    model: dict[str, Any] = {
        "seed": summary.seed,
        "clients": summary.clients,
        "days": summary.days,
        "start": summary.start.isoformat(),
        "catalog_version": ctx.catalog.version,
        "nhanes": "NHANES 2017-2018 adults (18+) with BP readings, via the nhanes package",
        "adherence": {
            "model": "logit p = intercept + traits + biases + taste.v + trait x item terms",
            "coefficients": adh.COEF,
            "latent_dim": 3,
            "observation": "weekly % = round(100 * Binomial(7, p) / 7)",
            "rating": "clip(round(1.2 + 3.6 p + 0.6 e), 1, 5), e ~ N(0, 1)",
            "acceptance": "P(accept) = 0.25 + 0.6 p",
            "mean_p": round(acc.p_sum / max(acc.p_n, 1), 6),
        },
        "noise_floor": {
            "adherence_pct_rmse": round(
                float(np.sqrt(acc.adherence_var / max(acc.adherence_n, 1))), 6
            ),
            "rating_rmse": round(float(np.sqrt(acc.rating_var / max(acc.rating_n, 1))), 6),
            "adherence_rows": acc.adherence_n,
            "rating_rows": acc.rating_n,
        },
        "daily_noise": series.NOISE,
        "rates": {
            "missing_day": series.MISSING_DAY_RATE,
            "dropout_client": series.DROPOUT_CLIENT_RATE,
            "outlier_per_metric_day": series.OUTLIER_RATE,
            "illness_slot_per_90_days": series.ILLNESS_SLOT_RATE,
            "unit_mixup": formats.MIXUP_RATE,
        },
        "effects": "change = catalog change x need (0.2-1.6) x lognormal(0, 0.35) per "
        "client and metric; realised = p x change x linear ramp over horizon_weeks",
    }
    path = ctx.out / "ground_truth" / "model.json"
    path.write_text(json.dumps(model, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    summary.fhir_bundles = len(ctx.bundles.written)
    summary.rows = {str(h.path.relative_to(ctx.out)): h.rows for h in ctx.outputs.csv.values()}
    summary.files = sorted(
        [h.path for h in ctx.outputs.csv.values()] + ctx.bundles.written + [path]
    )
