"""Training frames for the recommender, built from a clinic's ingested data.

Where it sits: after ingest and features, before ``recommender.fit``. It turns

* interactions (recommended / accepted / declined / weekly adherence / rating events)
  into a **value table**: one row per client x intervention with the mean weekly
  adherence % over the reported weeks (or the mean rating), the time of the first
  report (``at``, used by the temporal split) and the number of reports;
* the intake survey and a feature snapshot into **client features**: goals, preferred
  domains and settings (one boolean column each), weekly time budget, stress, smoker,
  clearance, conditions, plus measured proxies of what drives adherence: activity
  (steps, active minutes) for fitness, bedtime for chronotype, sleep, BMI, age, sex and
  the guideline risk categories;
* the catalog into **item features**: domain, intensity, weekly minutes, settings, cost
  tier and goals.

Only files a clinic really has are read (:func:`load_clinic` never opens
``ground_truth/``). :func:`load_truth` reads the synthetic clinic's ground truth for
*evaluation only*; nothing in this module feeds it to a model.

:func:`guideline_rule` is the guidelines-only ranker for
:class:`~health_advisor.recommender.baselines.RulesBaseline`, and :func:`clinic_defaults`
holds HybridMF hyperparameters chosen for clinic-sized data (see ``bench/recommender.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from health_advisor.core.catalog import Catalog
from health_advisor.core.vocabulary import CONDITIONS, COST_TIERS, DOMAINS, GOALS, SETTINGS
from health_advisor.errors import InputError, NotFoundError

ADHERENCE = "adherence"
RATING = "rating"
TARGETS = (ADHERENCE, RATING)
INTENSITY_LEVEL = {"light": 0.0, "moderate": 1.0, "vigorous": 2.0}
CLINIC_SOURCES = ("seed", "fitbit", "fhir", "surveys", "interactions")
"""Sub-folders of a synthetic clinic read by :func:`load_clinic` (never ``ground_truth``)."""

INTAKE_WINDOW_DAYS = 28
"""Default snapshot: as of the end of the first four weeks of measurements (intake)."""

SNAPSHOT_NUMBERS: tuple[str, ...] = (
    "age_years",
    "steps_mean_28d",
    "active_minutes_mean_28d",
    "sedentary_minutes_mean_28d",
    "sleep_duration_mean_28d",
    "sleep_quality_mean_28d",
    "bedtime_mean_28d",
    "resting_heart_rate_mean_28d",
    "calorie_intake_mean_28d",
    "bmi_latest",
    "systolic_bp_mean_90d",
    "hba1c_latest",
    "ldl_latest",
)
"""Snapshot columns used as client features (fitness, chronotype, sleep, body, risk)."""

SNAPSHOT_CATEGORIES: tuple[str, ...] = (
    "sex",
    "blood_pressure_category",
    "bmi_category",
    "activity_category",
    "sleep_category",
    "hba1c_category",
    "cholesterol_category",
    "health_risk_category",
)


SURVEY_LISTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("goals", "goal", GOALS),
    ("preferred_domains", "domain", DOMAINS),
    ("preferred_settings", "setting", SETTINGS),
    ("conditions", "condition", CONDITIONS),
)
"""Survey answers that are lists: (answer, column prefix, vocabulary), one boolean
column per vocabulary id."""


@dataclass(frozen=True, slots=True)
class ClinicData:
    """What a clinic has after ingestion, as plain frames (no ground truth)."""

    interactions: pd.DataFrame  # client_id, intervention_id, kind, value, at (UTC)
    surveys: pd.DataFrame  # one row per client; list columns for goals, domains, ...
    measurements: pd.DataFrame  # long: client_id, metric, value, observed_at (UTC)
    clients: pd.DataFrame  # client_id, sex, birth_date


@dataclass(frozen=True, slots=True)
class Datasets:
    """The frames ``Recommender.fit`` takes, built from one clinic."""

    values: pd.DataFrame  # client_id, intervention_id, value, at, n
    client_features: pd.DataFrame  # indexed by client_id
    item_features: pd.DataFrame  # indexed by intervention_id
    target: str


# --------------------------------------------------------------------------- loading
def load_clinic(folder: Path, *, sources: Sequence[str] = CLINIC_SOURCES) -> ClinicData:
    """Parse a clinic folder (the layout ``health-advisor synth`` writes) with the ingest
    adapters. Only the sub-folders in ``sources`` are read; ``ground_truth`` never is."""
    from health_advisor.ingest.adapters import parse_file

    folder = Path(folder)
    if not folder.is_dir():
        raise NotFoundError(f"{folder}: clinic folder not found")
    unknown = [s for s in sources if s not in CLINIC_SOURCES]
    if unknown:
        raise InputError(f"load_clinic: unknown source folder(s) {unknown}; known {CLINIC_SOURCES}")
    measurements: list[pd.DataFrame] = []
    interactions: list[pd.DataFrame] = []
    surveys: list[dict[str, Any]] = []
    people: list[dict[str, Any]] = []
    for path in _clinic_files(folder, sources):
        result = parse_file(path)
        if not result.measurements.empty:
            measurements.append(
                result.measurements[["client_id", "metric", "value", "observed_at"]]
            )
        if not result.interactions.empty:
            interactions.append(result.interactions)
        surveys += result.surveys
        people += [{"client_id": c.client_id, "sex": c.sex, "birth_date": c.birth_date}
                   for c in result.clients]  # fmt: skip
    if not interactions:
        raise NotFoundError(f"{folder}: no interactions (expected interactions/*.csv)")
    return ClinicData(
        interactions=pd.concat(interactions, ignore_index=True),
        surveys=pd.DataFrame(surveys),
        measurements=_concat_measurements(measurements),
        clients=merge_clients(people),
    )


def _clinic_files(folder: Path, sources: Sequence[str]) -> list[Path]:
    patterns = {"fhir": "*.json"}
    files: list[Path] = []
    for source in sources:
        files += sorted((folder / source).glob(patterns.get(source, "*.csv")))
    return files


def _concat_measurements(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(
            {
                "client_id": pd.Series(dtype="string"),
                "metric": pd.Series(dtype="string"),
                "value": pd.Series(dtype="float64"),
                "observed_at": pd.Series(dtype="datetime64[ns, UTC]"),
            }
        )
    return pd.concat(parts, ignore_index=True)


def merge_clients(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One row per client: the first non-missing sex and birth date over all sources."""
    frame = pd.DataFrame(list(records), columns=["client_id", "sex", "birth_date"])
    frame["client_id"] = frame["client_id"].astype(str)
    merged = frame.groupby("client_id", sort=True).first()
    return merged.reset_index()


# --------------------------------------------------------------------------- values
def pair_values(interactions: pd.DataFrame, kind: str = ADHERENCE) -> pd.DataFrame:
    """Mean of the ``kind`` events per client x intervention.

    Returns client_id, intervention_id, value (the mean), at (the first event's time,
    what the temporal split orders by) and n (how many events were averaged).
    """
    if kind not in TARGETS:
        raise InputError(f"pair_values: kind must be one of {TARGETS}, got {kind!r}")
    missing = {"client_id", "intervention_id", "kind", "value", "at"} - set(interactions)
    if missing:
        raise InputError(f"interactions: missing column(s) {sorted(missing)}")
    rows = interactions.loc[interactions["kind"] == kind]
    if rows.empty:
        raise InputError(f"interactions: no {kind!r} events")
    grouped = rows.groupby(["client_id", "intervention_id"], sort=True, observed=True)
    out = grouped.agg(value=("value", "mean"), at=("at", "min"), n=("value", "size"))
    out = out.reset_index()
    out["client_id"] = out["client_id"].astype(str)
    out["intervention_id"] = out["intervention_id"].astype(str)
    out["value"] = out["value"].astype(np.float64)
    return out


# --------------------------------------------------------------------------- clients
def survey_features(surveys: pd.DataFrame) -> pd.DataFrame:
    """Client features from the intake survey, indexed by client_id.

    Lists (goals, preferred domains and settings, conditions) become one boolean column
    per vocabulary id (``goal_<id>``, ``domain_<id>``, ``setting_<id>``,
    ``condition_<id>``); the time budget is taken as log(minutes + 30), the scale on
    which time costs compare; the latest survey of a client wins.
    """
    if "client_id" not in surveys:
        raise InputError("surveys: missing column 'client_id'")
    frame = surveys.copy()
    frame["client_id"] = frame["client_id"].astype(str)
    if "answered_at" in frame:
        frame = frame.sort_values("answered_at", kind="stable")
    frame = frame.drop_duplicates("client_id", keep="last").set_index("client_id")
    columns: dict[str, Any] = {}
    for column, prefix, vocabulary in SURVEY_LISTS:
        chosen = frame[column] if column in frame else pd.Series([[]] * len(frame), frame.index)
        sets = [set(_as_list(v)) for v in chosen]
        for name in vocabulary:
            columns[f"{prefix}_{name}"] = np.array([name in s for s in sets], dtype=bool)
        if prefix == "condition":
            columns["condition_count"] = np.array([len(s) for s in sets], dtype=np.float64)
    columns["log_time_budget"] = np.log(_numbers(frame, "weekly_time_budget_min") + 30.0)
    columns["stress_level"] = _numbers(frame, "stress_level")
    for flag in ("smoker", "medical_clearance"):
        values = frame[flag] if flag in frame else pd.Series([None] * len(frame), frame.index)
        columns[flag] = values.map(_as_flag).to_numpy(np.float64)
    out = pd.DataFrame(columns, index=pd.Index(frame.index, name="client_id", dtype=object))
    return out.sort_index()


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    """``frame[column]`` as floats (NaN where missing or not a number, or no column)."""
    if column not in frame:
        return np.full(len(frame), np.nan)
    out: np.ndarray = pd.to_numeric(frame[column], errors="coerce").to_numpy(np.float64)
    return out


def _as_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(";") if v.strip()]
    if isinstance(value, Iterable):
        return [str(v) for v in value]
    return []


def _as_flag(value: object) -> float:
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return float(value.strip().lower() == "true")
    return float("nan")


def snapshot_features(snapshots: pd.DataFrame) -> pd.DataFrame:
    """The snapshot columns that carry adherence signal, indexed by client_id.

    Numbers stay numbers (the encoder standardises them; missing become the mean);
    categories stay text (one-hot in the encoder); ``unknown`` categories stay a level.
    """
    if "client_id" not in snapshots:
        raise InputError("snapshots: missing column 'client_id'")
    frame = snapshots.copy()
    frame["client_id"] = frame["client_id"].astype(str)
    frame = frame.drop_duplicates("client_id", keep="last").set_index("client_id")
    out = pd.DataFrame(index=pd.Index(frame.index, name="client_id", dtype=object))
    for column in SNAPSHOT_NUMBERS:
        source = frame[column] if column in frame else pd.Series(np.nan, frame.index)
        out[column] = pd.to_numeric(source, errors="coerce").astype(np.float64)
    out["log_steps_mean_28d"] = np.log1p(out.pop("steps_mean_28d").clip(lower=0))
    for column in SNAPSHOT_CATEGORIES:
        source = frame[column] if column in frame else pd.Series(None, frame.index)
        out[column] = source.astype(object).where(source.notna(), "unknown").astype(str)
    return out


def client_features(surveys: pd.DataFrame, snapshots: pd.DataFrame | None = None) -> pd.DataFrame:
    """Survey features joined with snapshot features (clients of either side kept).

    Snapshot numbers that no client has (e.g. labs when no EHR was ingested) are dropped:
    they carry nothing and the encoder could not standardise them.
    """
    survey = survey_features(surveys)
    if snapshots is None:
        return survey
    snapshot = snapshot_features(snapshots)
    snapshot = snapshot.loc[:, snapshot.notna().any(axis=0)]
    joined = survey.join(snapshot, how="outer")
    for column in SNAPSHOT_CATEGORIES:
        joined[column] = joined[column].fillna("unknown")
    bool_columns = [c for c in survey.columns if survey[c].dtype == bool]
    joined[bool_columns] = joined[bool_columns].fillna(False).astype(bool)
    joined.index = pd.Index(joined.index.astype(str), name="client_id", dtype=object)
    return joined


def client_feature_row(
    survey: Mapping[str, Any], snapshot: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """One client's features as :func:`client_features` gives them for a single client,
    without building frames: the plan service's per-request path (a frame costs ~20 ms,
    this ~50 us). ``survey`` is the latest survey's answers, ``snapshot`` the latest
    feature snapshot (None: no snapshot). A value the frame would hold as NaN is NaN
    here; :func:`~health_advisor.recommender.scorer.encode_row` reads it like
    ``FeatureEncoder.transform`` reads the frame.
    """
    row: dict[str, Any] = {}
    for column, prefix, vocabulary in SURVEY_LISTS:
        chosen = set(_as_list(survey.get(column)))
        for name in vocabulary:
            row[f"{prefix}_{name}"] = name in chosen
        if prefix == "condition":
            row["condition_count"] = float(len(chosen))
    row["log_time_budget"] = float(np.log(_number(survey.get("weekly_time_budget_min")) + 30.0))
    row["stress_level"] = _number(survey.get("stress_level"))
    for flag in ("smoker", "medical_clearance"):
        row[flag] = _as_flag(survey.get(flag))
    if snapshot is None:
        return row
    for column in SNAPSHOT_NUMBERS:
        row[column] = _number(snapshot.get(column))
    steps = row.pop("steps_mean_28d")
    row["log_steps_mean_28d"] = float(np.log1p(max(steps, 0.0))) if steps == steps else steps
    for column in SNAPSHOT_CATEGORIES:
        value = snapshot.get(column)
        row[column] = "unknown" if value is None or value != value else str(value)
    return row


def _number(value: object) -> float:
    """``value`` as ``pd.to_numeric(..., errors="coerce")`` reads it: NaN unless a number
    or a numeric string."""
    if isinstance(value, bool | int | float | np.bool_ | np.integer | np.floating):
        return float(value)
    if isinstance(value, str):
        parsed = pd.to_numeric(value, errors="coerce")
        return (
            float(parsed) if isinstance(parsed, int | float | np.integer | np.floating) else np.nan
        )
    return float("nan")


def intake_snapshots(clinic: ClinicData, as_of: dt.date | None = None) -> pd.DataFrame:
    """Feature snapshots as of ``as_of`` (default: the first :data:`INTAKE_WINDOW_DAYS`
    days of measurements), so features predate most of the outcomes they could leak."""
    from health_advisor.features.snapshot import build_snapshots

    if clinic.measurements.empty:
        raise InputError("intake_snapshots: the clinic has no measurements")
    if as_of is None:
        first = pd.to_datetime(clinic.measurements["observed_at"], utc=True).min()
        as_of = (first + pd.Timedelta(days=INTAKE_WINDOW_DAYS - 1)).date()
    return build_snapshots(clinic.measurements, clinic.clients, as_of)


# --------------------------------------------------------------------------- items
def item_features(catalog: Catalog) -> pd.DataFrame:
    """Catalog attributes, indexed by intervention_id: domain (category), intensity level
    (0 light, 1 moderate, 2 vigorous), log(weekly minutes + 30), cost tier (0 free ..
    3 high), number of settings, and one boolean per setting and per goal."""
    rows = []
    for item in catalog.interventions:
        row: dict[str, Any] = {
            "intervention_id": item.id,
            "domain": item.domain,
            "intensity_level": INTENSITY_LEVEL[item.intensity],
            "log_weekly_minutes": float(np.log(item.weekly_minutes + 30.0)),
            "cost_level": float(COST_TIERS.index(item.cost_tier)),
            "setting_count": float(len(item.settings)),
        }
        row.update({f"setting_{s}": s in item.settings for s in SETTINGS})
        row.update({f"goal_{g}": g in item.goals for g in GOALS})
        rows.append(row)
    return pd.DataFrame(rows).set_index("intervention_id")


# --------------------------------------------------------------------------- assembly
def build_datasets(
    clinic: ClinicData,
    catalog: Catalog,
    *,
    target: str = ADHERENCE,
    snapshots: pd.DataFrame | None = None,
    as_of: dt.date | None = None,
) -> Datasets:
    """Value table, client features and item features for one clinic.

    ``snapshots`` defaults to :func:`intake_snapshots` (``as_of``); pass an empty frame's
    worth of nothing by giving ``snapshots=pd.DataFrame({"client_id": []})`` to use the
    survey alone.
    """
    values = pair_values(clinic.interactions, target)
    if snapshots is None:
        snapshots = intake_snapshots(clinic, as_of) if not clinic.measurements.empty else None
    features = client_features(clinic.surveys, snapshots)
    items = item_features(catalog)
    unknown = sorted(set(values["intervention_id"]) - set(items.index))
    if unknown:
        raise InputError(
            f"interactions: intervention_id {unknown[0]!r} is not in catalog {catalog.version}"
        )
    return Datasets(values=values, client_features=features, item_features=items, target=target)


# --------------------------------------------------------------------------- truth
def load_truth(folder: Path, target: str = ADHERENCE) -> pd.DataFrame:
    """Ground truth of a synthetic clinic, **for evaluation only**.

    Returns client_id, intervention_id, ``expected`` (the true expected value on the
    scale of ``target``: 100 x p_adherence, or the expected rating), ``gain`` (the true
    adherence probability, the oracle's gain) and ``eligible`` (no contraindication).
    """
    if target not in TARGETS:
        raise InputError(f"load_truth: target must be one of {TARGETS}, got {target!r}")
    path = Path(folder) / "ground_truth" / "adherence.csv"
    if not path.is_file():
        raise NotFoundError(f"{path}: no ground truth (only synthetic clinics have one)")
    raw = pd.read_csv(path, dtype={"client_id": str, "intervention_id": str})
    expected = 100.0 * raw["p_adherence"] if target == ADHERENCE else raw["expected_rating"]
    return pd.DataFrame(
        {
            "client_id": raw["client_id"],
            "intervention_id": raw["intervention_id"],
            "expected": expected.astype(np.float64),
            "gain": raw["p_adherence"].astype(np.float64),
            "eligible": raw["allowed"].astype(bool),
        }
    )


# --------------------------------------------------------------------------- rules
RULE_WEIGHTS = {"goal": 1.0, "domain": 0.5, "setting": 0.3, "time": 0.3, "cost": -0.1}
"""Weights of :func:`guideline_rule`: what a coordinator would weigh without a model."""


def guideline_rule(clients: pd.DataFrame | None, items: pd.DataFrame) -> np.ndarray:
    """Guidelines-only score of every (client, intervention): goal match, preferred
    domain, preferred setting, fits the weekly time budget, and a small cost penalty.

    ``clients`` holds :func:`client_features` columns (rows of unknown clients are all
    missing and score only the cost term); ``items`` holds :func:`item_features` columns.
    Without clients (None) one row of cost terms is returned.
    """
    m = len(items)
    cost = RULE_WEIGHTS["cost"] * items["cost_level"].to_numpy(np.float64)
    if clients is None:
        return cost.reshape(1, m)
    n = len(clients)

    def matrix(frame: pd.DataFrame, prefix: str, names: Sequence[str]) -> np.ndarray:
        cols = [f"{prefix}_{x}" for x in names]
        present = frame.reindex(columns=cols).astype(object).fillna(False)
        return present.to_numpy(np.float64)

    goal = (matrix(clients, "goal", GOALS) @ matrix(items, "goal", GOALS).T) > 0
    setting = (matrix(clients, "setting", SETTINGS) @ matrix(items, "setting", SETTINGS).T) > 0
    domains = matrix(clients, "domain", DOMAINS)
    item_domain = items["domain"].astype(str).map({d: k for k, d in enumerate(DOMAINS)})
    domain = np.zeros((n, m), dtype=bool)
    known = item_domain.notna().to_numpy()
    domain[:, known] = domains[:, item_domain[known].astype(int).to_numpy()] > 0
    budget = clients.get("log_time_budget", pd.Series(np.nan, clients.index)).to_numpy(np.float64)
    fits = budget[:, None] >= items["log_weekly_minutes"].to_numpy(np.float64)[None, :]
    score = (
        RULE_WEIGHTS["goal"] * goal
        + RULE_WEIGHTS["domain"] * domain
        + RULE_WEIGHTS["setting"] * setting
        + RULE_WEIGHTS["time"] * fits
        + cost[None, :]
    )
    return np.asarray(score, dtype=np.float64)


# --------------------------------------------------------------------------- defaults
def clinic_defaults(n_values: int | None = None) -> dict[str, Any]:
    """HybridMF hyperparameters for clinic data (a catalog of ~75 interventions, ~5 rated
    interventions per client); ``n_values`` (training rows) scales the batch for large
    cohorts.

    Two stages. Gradient training fits the feature model only (``id_dropout`` 1: every
    example goes through the towers, so the client id tables are not trained and cost
    nothing per step); then ``ridge_sweeps`` alternating closed-form ridge solves fit each
    client's id vector and bias (shrunk towards the feature prediction) and each
    intervention's, towers fixed. With ~5 observations a client, gradient descent with
    early stopping left the id part nearly untrained (it stops when the towers start to
    overfit); the exact ridge solve is what lifts warm clients' NDCG@10 / oracle from
    0.83 to ~0.90, and the refitted intervention terms lift cold-start clients too. The
    client penalty is learned (HybridMF's ``ridge_prior`` "learned"): the sweeps estimate
    how far, and in which directions, clients depart from the feature prediction, and the
    penalty becomes that prior's matrix (seed 7: 0.899 with one number, 0.907 learned);
    ``ridge_clients`` is where the learning starts, items keep ``ridge_items``.

    How the values were chosen: on the 2,000-client clinic of ``bench/recommender.py``
    (seed 7), cross-checked on a second clinic (seed 11) so the choice is not fitted to one
    test split. The towers overfit (a client's ~70 features identify them) unless their
    weights carry a strong L2 (``l2_towers`` 2e-2, 32 units); the per-example ``l2`` on
    the summed vectors must stay low (0.01; 0.05 costs ~0.01 NDCG ratio); the history
    term adds nothing once ids are ridge-fitted, so it is off. Ridge penalties 2-6 and
    9-20 sweeps, embedding 16-48, batch 128-256 and learning rate 2e-3-5e-3 all land
    within ~0.005 of each other (the seed-to-seed spread); larger batches (1024+) lose
    ~0.01 on 9,000 rows. Penalties of 10 and 30 lose 0.04-0.05, yet 30 is best on
    ``bench/train.py``'s cohort, whose features explain most of the taste: so
    ``ridge_select`` (a HybridMF default) picks 3, 9 or 30 on the validation rows (the
    clinic gets 3, that cohort 30). ``tuning.hybrid_space`` searches around these values.

    Large cohorts: an epoch of 1.5 million rows is 170 epochs of the 2,000-client clinic,
    so with ``n_values`` above 40,000 the batch grows by the same power of two (at most
    8x: 2,048), the learning rate by its square root and the patience shrinks (at least
    5 epochs); ``bench/train.py`` (100,000 clients) trains in about a tenth of the steps
    with the same holdout error.
    """
    factor = 1
    if n_values is not None and n_values > 40_000:
        factor = min(8, 2 ** round(float(np.log2(n_values / 40_000))))
    return {
        "embedding_dim": 32,
        "hidden_units": 32,
        "l2": 0.01,
        "l2_towers": 2e-2,
        "use_history": False,
        "id_dropout": 1.0,
        "ridge_sweeps": 9,
        "ridge_clients": 3.0,
        "ridge_items": 3.0,
        "learning_rate": round(2e-3 * float(np.sqrt(factor)), 6),
        "batch_size": 256 * factor,
        "epochs": 150,
        "patience": max(5, 20 // factor),
    }
