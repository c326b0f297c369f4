"""True adherence, ratings and effects of every client x intervention, and the history.

**Adherence.** For client *c* and intervention *i*::

    logit p_ci = b0 + 0.45 motivation_c + bias_c + bias_i + taste_c . v_i
                 + 0.6 min(log((budget_c + 30) / (minutes_i + 30)), 0.5)    time budget
                 - 0.35 [exercise] (intensity_i - 1 - 0.7 fitness_c)^2         fitness
                 + 1.6 (social_c - 0.5)(groupness_i - 0.5)                     setting
                 - 0.5 [sleep] chronotype_c + 2.4 [nutrition](openness_c - 0.5)
                 + 0.3 [stress] stress_c
                 + 0.5 goal match + 0.4 preferred domain + 0.3 preferred setting
                 - 0.25 cost tier

``taste_c`` (3-d) and ``v_i`` are the low-rank latent part only interactions reveal;
the rest is visible through the survey (goals, preferences, time budget, conditions)
and the measurements, so collaborative and feature-based models can both learn it.
``bias_i`` and ``v_i`` are keyed by the intervention *id*, so adding items to the
catalog does not change the others.

**Observations.** Weekly adherence % = 100 x Binomial(7, p)/7 (days done of 7): its
noise floor is 100 sqrt(p(1-p)/7). Rating = clip(round(1.2 + 3.6 p + 0.6 e), 1, 5);
``expected_rating`` is its exact expectation. Acceptance probability = 0.25 + 0.6 p.

**History.** Each client was recommended 8-15 items the clinic judged suitable: never
a contraindicated one (catalog rules evaluated on the client's baseline facts), mostly
ones matching the client's goals and preferred domains.

**Effects.** Full adherence to *i* changes metric *m* by the catalog's expected change
x need_cm (how far the client's baseline is from healthy, 0.2-1.6) x a lognormal
responsiveness per client and metric; realised change = adherence x effect, ramping in
linearly over the item's horizon after acceptance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.special import ndtr

from health_advisor.core import guidelines
from health_advisor.core.catalog import (
    AgeRule,
    AllRule,
    AnyRule,
    Catalog,
    ClearanceRule,
    ConditionRule,
    Facts,
    Intervention,
    NotRule,
    RiskRule,
    SexRule,
)
from health_advisor.core.vocabulary import (
    CONDITIONS,
    COST_TIERS,
    DOMAINS,
    GOALS,
    RISK_CATEGORIES,
    SETTINGS,
)
from health_advisor.synth.profiles import LATENT_DIM, Profiles, sigmoid
from health_advisor.synth.rng import KeyedRandom, stream_id

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

INTENSITY_LEVEL = {"light": 0.0, "moderate": 1.0, "vigorous": 2.0}
GROUP_SETTINGS = frozenset({"gym", "outdoors", "clinic"})
SESSIONS_PER_WEEK = 7
MAX_WEEKLY_REPORTS = 4
RATING_SD = 0.6
RATING_PROB = 0.8

COEF = {
    "intercept": -0.5,
    "motivation": 0.45,
    "client_bias_sd": 0.35,
    "item_bias_sd": 0.5,
    "item_factor_sd": 0.5,
    "time_budget": 0.6,
    "fitness_intensity": -0.35,
    "social_setting": 1.6,
    "chronotype_sleep": -0.5,
    "openness_nutrition": 2.4,
    "stress_stress": 0.3,
    "goal_match": 0.5,
    "preferred_domain": 0.4,
    "preferred_setting": 0.3,
    "cost_tier": -0.25,
}


@dataclass(slots=True)
class Items:
    """The catalog as arrays (one row per intervention, catalog order)."""

    ids: list[str]
    domain: NDArray[np.int64]
    minutes: FloatArray
    intensity: FloatArray
    groupness: FloatArray
    cost: FloatArray
    goals: BoolArray  # (items, GOALS)
    settings: BoolArray  # (items, SETTINGS)
    bias: FloatArray
    factors: FloatArray  # (items, LATENT_DIM)
    effects: list[list[tuple[str, float, int]]]  # (metric, change, horizon_weeks)


def item_table(catalog: Catalog, rng: KeyedRandom) -> Items:
    items = catalog.interventions
    keys = np.array([stream_id(i.id) for i in items], dtype=np.int64)
    return Items(
        ids=[i.id for i in items],
        domain=np.array([DOMAINS.index(i.domain) for i in items], dtype=np.int64),
        minutes=np.array([float(i.weekly_minutes) for i in items]),
        intensity=np.array([INTENSITY_LEVEL[i.intensity] for i in items]),
        groupness=np.array(
            [len(GROUP_SETTINGS & set(i.settings)) / len(i.settings) for i in items]
        ),
        cost=np.array([float(COST_TIERS.index(i.cost_tier)) for i in items]),
        goals=np.array([[g in i.goals for g in GOALS] for i in items], dtype=bool),
        settings=np.array([[s in i.settings for s in SETTINGS] for i in items], dtype=bool),
        bias=COEF["item_bias_sd"] * rng.normal("item.bias", keys),
        factors=COEF["item_factor_sd"]
        * rng.normal("item.factor", keys[:, None], np.arange(LATENT_DIM)[None, :]),
        effects=[[(e.metric, e.change, e.horizon_weeks) for e in i.effects] for i in items],
    )


@dataclass(slots=True)
class Preferences:
    """What the survey says (the observable side), as boolean matrices."""

    goals: BoolArray  # (n, GOALS)
    domains: BoolArray  # (n, DOMAINS)
    settings: BoolArray  # (n, SETTINGS)


def adherence_logit(p: Profiles, prefs: Preferences, items: Items, rng: KeyedRandom) -> FloatArray:
    """(clients, items) logits of the true adherence probability."""
    is_dom = {d: (items.domain == k)[None, :] for k, d in enumerate(DOMAINS)}
    col = {name: getattr(p, name)[:, None] for name in ("time_budget", "fitness", "social")}
    client_bias = COEF["client_bias_sd"] * rng.normal("client.bias", p.index)
    time_fit = np.minimum(np.log((col["time_budget"] + 30) / (items.minutes[None, :] + 30)), 0.5)
    fitness_gap = (items.intensity[None, :] - 1 - 0.7 * col["fitness"]) ** 2
    goal_match = (prefs.goals.astype(float) @ items.goals.T.astype(float)) > 0
    setting_match = (prefs.settings.astype(float) @ items.settings.T.astype(float)) > 0
    domain_match = prefs.domains[:, items.domain]
    logit = (
        COEF["intercept"]
        + (COEF["motivation"] * p.motivation + client_bias)[:, None]
        + items.bias[None, :]
        + p.taste @ items.factors.T
        + COEF["time_budget"] * time_fit
        + COEF["fitness_intensity"] * is_dom["exercise"] * fitness_gap
        + COEF["social_setting"] * (col["social"] - 0.5) * (items.groupness[None, :] - 0.5)
        + COEF["chronotype_sleep"] * is_dom["sleep"] * p.chronotype[:, None]
        + COEF["openness_nutrition"] * is_dom["nutrition"] * (p.diet_openness[:, None] - 0.5)
        + COEF["stress_stress"] * is_dom["stress"] * p.stress[:, None]
        + COEF["goal_match"] * goal_match
        + COEF["preferred_domain"] * domain_match
        + COEF["preferred_setting"] * setting_match
        + COEF["cost_tier"] * items.cost[None, :]
    )
    out: FloatArray = np.asarray(logit, dtype=np.float64)
    return out


def rating_mean(p_adherence: FloatArray) -> FloatArray:
    out: FloatArray = 1.2 + 3.6 * p_adherence
    return out


def _rating_probs(p_adherence: FloatArray) -> FloatArray:
    """(n, 5) probabilities of the ratings 1..5 given p."""
    mu = rating_mean(np.asarray(p_adherence, dtype=np.float64)).reshape(-1, 1)
    cdf = ndtr((np.array([[1.5, 2.5, 3.5, 4.5]]) - mu) / RATING_SD)
    edges = np.concatenate([np.zeros_like(mu), cdf, np.ones_like(mu)], axis=1)
    out: FloatArray = np.diff(edges, axis=1)
    return out


def expected_rating(p_adherence: FloatArray) -> FloatArray:
    """Exact E[clip(round(mu + sd e), 1, 5)] for the rating model."""
    out: FloatArray = _rating_probs(p_adherence) @ np.arange(1.0, 6.0)
    return out.reshape(np.shape(p_adherence))


def rating_variance(p_adherence: FloatArray) -> FloatArray:
    """Var of the observed rating given p: the rating's irreducible noise."""
    probs = _rating_probs(p_adherence)
    k = np.arange(1.0, 6.0)
    mean = probs @ k
    out: FloatArray = (probs @ k**2 - mean**2).reshape(np.shape(p_adherence))
    return out


# --- contraindications ----------------------------------------------------------------


@dataclass(slots=True)
class _Refs:
    risk: set[str] = field(default_factory=set)
    conditions: set[str] = field(default_factory=set)
    age_edges: set[int] = field(default_factory=set)
    sex: bool = False


def _collect(rule: object, refs: _Refs) -> None:
    if isinstance(rule, RiskRule):
        refs.risk.update(rule.risk)
    elif isinstance(rule, ConditionRule):
        refs.conditions.update(rule.condition)
    elif isinstance(rule, AgeRule):
        b = rule.age
        edges = [
            b.gte,
            None if b.gt is None else b.gt + 1,
            None if b.lte is None else b.lte + 1,
            b.lt,
        ]
        refs.age_edges.update(e for e in edges if e is not None)
    elif isinstance(rule, SexRule):
        refs.sex = True
    elif isinstance(rule, AnyRule | AllRule):
        for sub in rule.any if isinstance(rule, AnyRule) else rule.all:
            _collect(sub, refs)
    elif isinstance(rule, NotRule):
        _collect(rule.not_, refs)
    elif not isinstance(rule, ClearanceRule):
        raise TypeError(f"unknown catalog rule {type(rule).__name__}")


def _item_references(item: Intervention) -> _Refs:
    refs = _Refs()
    for contra in item.contraindications:
        _collect(contra.when, refs)
        if contra.unless is not None:
            _collect(contra.unless, refs)
    return refs


def risk_categories(p: Profiles, weekly_mvpa: FloatArray) -> dict[str, NDArray[np.object_]]:
    """Baseline guideline categories, the facts a clinic would have had at intake."""
    return {
        "blood_pressure": guidelines.bp_categories(p.sbp, p.dbp),
        "cholesterol": guidelines.cholesterol_categories(p.total_chol),
        "ldl": guidelines.ldl_categories(p.ldl),
        "hdl": guidelines.hdl_categories(p.hdl),
        "triglycerides": guidelines.triglycerides_categories(p.tg),
        "glucose": guidelines.glucose_categories(p.glucose),
        "hba1c": guidelines.hba1c_categories(p.hba1c),
        "bmi": guidelines.bmi_categories(p.bmi),
        "activity": guidelines.activity_categories(weekly_mvpa),
        "sleep": guidelines.sleep_categories(p.sleep_hours, p.age),
        "resting_heart_rate": guidelines.resting_heart_rate_categories(p.rhr),
    }


class _ItemRules:
    """One item's contraindications, evaluated once per distinct combination of the
    few facts they look at (cached across chunks)."""

    def __init__(self, item: Intervention) -> None:
        self.item = item
        refs = _item_references(item)
        self.risk_keys = sorted(refs.risk)
        self.cond_idx = [CONDITIONS.index(c) for c in sorted(refs.conditions)]
        self.edges = np.array(sorted(refs.age_edges), dtype=np.int64)
        # the youngest age of a bucket stands for all of it (the rules only compare ages)
        self.floors = np.concatenate([[18], np.maximum(self.edges, 18)])
        self.sex = refs.sex
        self._cache: dict[tuple[int, ...], bool] = {}

    def columns(
        self, p: Profiles, codes: dict[str, NDArray[np.int64]], cleared: BoolArray
    ) -> NDArray[np.int64]:
        cols = [codes[k] for k in self.risk_keys]
        cols += [p.conditions[:, j].astype(np.int64) for j in self.cond_idx]
        cols.append(np.searchsorted(self.edges, p.age.astype(np.int64), side="right"))
        cols.append(p.female.astype(np.int64) if self.sex else np.zeros(len(p), np.int64))
        cols.append(cleared.astype(np.int64))
        return np.column_stack(cols)

    def allowed(self, row: tuple[int, ...]) -> bool:
        verdict = self._cache.get(row)
        if verdict is None:
            verdict = self.item.is_allowed(self._facts(row))
            self._cache[row] = verdict
        return verdict

    def _facts(self, row: tuple[int, ...]) -> Facts:
        k = len(self.risk_keys)
        c = len(self.cond_idx)
        risk = {
            key: RISK_CATEGORIES[key][code]
            for key, code in zip(self.risk_keys, row[:k], strict=True)
        }
        present = [
            CONDITIONS[j] for j, has in zip(self.cond_idx, row[k : k + c], strict=True) if has
        ]
        bucket, female, cleared = row[k + c :]
        return Facts(
            risk=risk,
            conditions=frozenset(present),
            age=int(self.floors[bucket]),
            sex=("female" if female else "male") if self.sex else None,
            medical_clearance=bool(cleared),
        )


class ContraindicationOracle:
    """Allowed-item masks per client. Each item's rules are evaluated once per distinct
    combination of the facts *that item* looks at (a handful), not once per client."""

    def __init__(self, catalog: Catalog) -> None:
        self.rules = [_ItemRules(item) for item in catalog.interventions]

    def allowed(
        self,
        p: Profiles,
        risk: dict[str, NDArray[np.object_]],
        cleared: BoolArray,
    ) -> BoolArray:
        """(clients, items) True where no contraindication fires."""
        codes = {
            key: pd.Categorical(values, categories=list(RISK_CATEGORIES[key])).codes.astype(
                np.int64
            )
            for key, values in risk.items()
        }
        out = np.ones((len(p), len(self.rules)), dtype=bool)
        for j, rules in enumerate(self.rules):
            if not rules.item.contraindications:
                continue
            unique, inverse = np.unique(rules.columns(p, codes, cleared), axis=0,
                                        return_inverse=True)  # fmt: skip
            verdicts = np.array([rules.allowed(tuple(row)) for row in unique.tolist()])
            out[:, j] = verdicts[inverse.ravel()]
        return out


# --- the history --------------------------------------------------------------------


@dataclass(slots=True)
class History:
    """Recommendation slots per client: (clients, slots) arrays; ``valid`` marks used ones."""

    item: NDArray[np.int64]
    valid: BoolArray
    rec_day: NDArray[np.int64]
    accepted: BoolArray
    accept_day: NDArray[np.int64]
    frame: pd.DataFrame  # interactions.csv rows (client_index, item, kind, value, day, minute)


MAX_RECS = 15


def recommend_history(
    rng: KeyedRandom,
    p: Profiles,
    prefs: Preferences,
    items: Items,
    allowed: BoolArray,
    prob: FloatArray,
    days: int,
) -> History:
    """What the clinic recommended, what was accepted, weekly adherence and ratings."""
    idx = p.index
    item_keys = np.array([stream_id(i) for i in items.ids], dtype=np.int64)
    goal_match = (prefs.goals.astype(float) @ items.goals.T.astype(float)) > 0
    score = (
        1.2 * goal_match
        + 0.6 * prefs.domains[:, items.domain]
        + rng.normal("rec.score", idx[:, None], item_keys[None, :])
    )
    score = np.where(allowed, score, -np.inf)
    order = np.argsort(-score, axis=1, kind="stable")[:, :MAX_RECS]
    count = np.minimum(8 + rng.integers("rec.count", 8, idx), allowed.sum(axis=1))
    slots = np.arange(order.shape[1])[None, :]
    valid = slots < count[:, None]
    slot_key = (idx[:, None], slots)
    horizon = max(int(days * 0.75), 1)
    rec_day = np.floor(rng.uniform("rec.day", *slot_key) ** 1.3 * horizon).astype(np.int64)
    p_slot = np.take_along_axis(prob, order, axis=1)
    accepted = valid & (rng.uniform("rec.accept", *slot_key) < 0.25 + 0.6 * p_slot)
    accept_day = np.minimum(rec_day + rng.integers("rec.accept_day", 4, *slot_key), days - 1)
    frame = _interaction_rows(rng, idx, order, valid, rec_day, accepted, accept_day, p_slot, days)
    return History(order, valid, rec_day, accepted, accept_day, frame)


def _interaction_rows(
    rng: KeyedRandom,
    idx: NDArray[np.int64],
    order: NDArray[np.int64],
    valid: BoolArray,
    rec_day: NDArray[np.int64],
    accepted: BoolArray,
    accept_day: NDArray[np.int64],
    p_slot: FloatArray,
    days: int,
) -> pd.DataFrame:
    slots = np.arange(order.shape[1])[None, :]
    client = np.broadcast_to(idx[:, None], order.shape)
    key = (idx[:, None], slots)
    minute = 9 * 60 + rng.integers("rec.minute", 9 * 60, *key)
    parts = [_rows(client, order, valid, "recommended", 1.0, rec_day, minute, 0)]
    parts.append(_rows(client, order, accepted, "accepted", 1.0, accept_day, minute, 1))
    parts.append(_rows(client, order, valid & ~accepted, "declined", 0.0, accept_day, minute, 1))
    last_week = np.zeros(order.shape, dtype=np.int64)
    for week in range(1, MAX_WEEKLY_REPORTS + 1):
        day = accept_day + 7 * week
        present = accepted & (day < days)
        last_week = np.where(present, day, last_week)
        done = sum(
            (rng.uniform("adh.day", *key, week * 10 + k) < p_slot).astype(np.int64)
            for k in range(SESSIONS_PER_WEEK)
        )
        value = np.round(100.0 * np.asarray(done) / SESSIONS_PER_WEEK)
        parts.append(_rows(client, order, present, "adherence", value, day, minute, 2))
    mu = rating_mean(p_slot)
    rating = np.clip(np.round(mu + RATING_SD * rng.normal("rating", *key)), 1, 5)
    rated = (last_week > 0) & (rng.uniform("rating.given", *key) < RATING_PROB)
    rating_day = np.minimum(last_week + 1, days - 1)
    parts.append(_rows(client, order, rated, "rating", rating, rating_day, minute, 3))
    frame = pd.concat(parts, ignore_index=True)
    return frame.sort_values(["client_index", "day", "order"], kind="stable").reset_index(drop=True)


def _rows(
    client: NDArray[np.int64],
    item: NDArray[np.int64],
    mask: BoolArray,
    kind: str,
    value: float | FloatArray,
    day: NDArray[np.int64],
    minute: NDArray[np.int64],
    order: int,
) -> pd.DataFrame:
    values = np.broadcast_to(np.asarray(value, dtype=np.float64), mask.shape)
    return pd.DataFrame(
        {
            "client_index": client[mask],
            "item": item[mask],
            "kind": kind,
            "value": values[mask],
            "day": day[mask],
            "minute": minute[mask] + order,
            "order": order,
        }
    )


# --- effects ------------------------------------------------------------------------


def need_factors(p: Profiles, level: Callable[[str], FloatArray | None]) -> dict[str, FloatArray]:
    """How much room each client has to improve a metric (0.2-1.6; 1 when unknown)."""

    def clip(x: FloatArray) -> FloatArray:
        out: FloatArray = np.clip(x, 0.2, 1.6)
        return out

    steps = level("steps")
    return {
        "systolic_bp": clip((p.sbp - 110) / 20),
        "diastolic_bp": clip((p.dbp - 68) / 12),
        "body_weight": clip((p.bmi - 22) / 8),
        "bmi": clip((p.bmi - 22) / 8),
        "total_cholesterol": clip((p.total_chol - 150) / 60),
        "ldl": clip((p.ldl - 90) / 50),
        "hdl": clip((65 - p.hdl) / 20),
        "triglycerides": clip((p.tg - 90) / 80),
        "glucose": clip((p.glucose - 85) / 25),
        "fasting_glucose": clip((p.glucose - 85) / 25),
        "hba1c": clip((p.hba1c - 5.0) / 1.0),
        "resting_heart_rate": clip((p.rhr - 55) / 15),
        "sleep_duration": clip((7.8 - p.sleep_hours) / 1.2),
        "steps": clip((11000 - steps) / 5000) if steps is not None else np.ones(len(p)),
        "active_minutes": clip(1.2 - p.fitness / 2),
    }


def true_effects(
    rng: KeyedRandom, p: Profiles, items: Items, need: dict[str, FloatArray]
) -> pd.DataFrame:
    """Per client x item x target metric: change at full adherence (long format)."""
    frames = []
    for k, effects in enumerate(items.effects):
        for metric, change, _ in effects:
            resp = np.exp(0.35 * rng.normal("effect.resp", p.index, stream_id(metric)) - 0.06)
            value = change * need.get(metric, np.ones(len(p))) * resp
            frames.append(
                pd.DataFrame(
                    {"client_index": p.index, "item": k, "metric": metric, "effect": value}
                )
            )
    if not frames:
        return pd.DataFrame(columns=["client_index", "item", "metric", "effect"])
    return pd.concat(frames, ignore_index=True).sort_values(["client_index", "item"], kind="stable")


def outcome_drift(
    history: History,
    items: Items,
    prob: FloatArray,
    effects: pd.DataFrame,
    metrics: Iterable[str],
    days: int,
) -> dict[str, FloatArray]:
    """(clients, days) change of each metric from accepted items (p x effect x ramp)."""
    n = history.item.shape[0]
    wanted = set(metrics)
    table: dict[str, FloatArray] = {
        str(metric): group["effect"].to_numpy(dtype=np.float64).reshape(n, -1)
        for metric, group in effects.groupby("metric", sort=True)
        if metric in wanted
    }
    item_cols = {
        metric: sorted({k for k, e in enumerate(items.effects) for m, _, _ in e if m == metric})
        for metric in table
    }
    horizon = np.array(
        [max((h for _, _, h in e), default=4) for e in items.effects], dtype=np.float64
    )
    day = np.arange(days)[None, :]
    drift = {metric: np.zeros((n, days)) for metric in table}
    rows = np.arange(n)
    for slot in range(history.item.shape[1]):
        item = history.item[:, slot]
        on = history.accepted[:, slot]
        if not on.any():
            continue
        p_slot = prob[rows, item]
        weeks = (day - history.accept_day[:, slot][:, None]) / 7.0
        ramp = np.clip(weeks / horizon[item][:, None], 0.0, 1.0)
        for metric, values in table.items():
            cols = item_cols[metric]
            position = {k: j for j, k in enumerate(cols)}
            j = np.array([position.get(int(k), -1) for k in item])
            has = on & (j >= 0)
            if has.any():
                effect = np.where(has, values[rows, np.maximum(j, 0)], 0.0)
                drift[metric] += (effect * p_slot)[:, None] * ramp
    return drift


def client_preferences_from_survey(survey: pd.DataFrame) -> Preferences:
    def matrix(column: str, names: tuple[str, ...]) -> BoolArray:
        sets = [set(s.split(";")) if s else set() for s in survey[column]]
        return np.array([[name in chosen for name in names] for chosen in sets], dtype=bool)

    return Preferences(
        goals=matrix("goals", GOALS),
        domains=matrix("preferred_domains", DOMAINS),
        settings=matrix("preferred_settings", SETTINGS),
    )


def adherence_probability(logit: FloatArray) -> FloatArray:
    return sigmoid(logit)
