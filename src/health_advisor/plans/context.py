"""Build a :class:`~health_advisor.plans.model.ClientContext` from plain rows (pure).

The service reads a client's latest feature snapshot and intake survey from the store;
the benchmark reads them from a synthetic clinic's frames. Both hand the rows here as
mappings, so the rules of the translation live in one place:

* risk categories come from the snapshot's ``<key>_category`` columns, the overall one
  from ``health_risk_category`` (missing or null: ``unknown``);
* age is the snapshot's ``age_years`` (whole years), sex the snapshot's or the survey's;
* conditions are the survey's, restricted to the vocabulary; a survey ``smoker`` answer
  of true adds the ``smoker`` condition the catalog's rules look at;
* lists may be Python lists or ``;``-separated text (the survey CSV form);
* the time budget is the survey's ``weekly_time_budget_min`` (None when missing).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from typing import Any

from health_advisor.core.vocabulary import CONDITIONS, DOMAINS, GOALS, RISK_CATEGORIES, SETTINGS
from health_advisor.plans.benefit import feature_value
from health_advisor.plans.model import ClientContext

__all__ = ["context_from_rows", "risk_from_features"]

_SEXES = ("female", "male", "other")


def _listed(value: object, allowed: Iterable[str]) -> tuple[str, ...]:
    """Known vocabulary ids of a list or ``a;b`` text, in vocabulary order."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ()
    if isinstance(value, str):
        chosen = {v.strip() for v in value.split(";") if v.strip()}
    elif isinstance(value, Iterable):
        chosen = {str(v) for v in value}
    else:
        return ()
    return tuple(a for a in allowed if a in chosen)


def _flag(value: object) -> bool | None:
    """True/False from a bool, a number or ``true``/``false`` text; None when unknown."""
    if isinstance(value, str):
        text = value.strip().lower()
        return text == "true" if text in {"true", "false"} else None
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        return bool(value)
    except (TypeError, ValueError):  # e.g. pandas.NA
        return None


def risk_from_features(features: Mapping[str, Any]) -> dict[str, str]:
    """Guideline categories of a snapshot row (``unknown`` where missing or invalid)."""
    risk: dict[str, str] = {}
    for key, categories in RISK_CATEGORIES.items():
        column = "health_risk_category" if key == "overall" else f"{key}_category"
        value = features.get(column)
        risk[key] = value if isinstance(value, str) and value in categories else "unknown"
    return risk


def context_from_rows(
    client_id: str,
    as_of: dt.date,
    features: Mapping[str, Any],
    survey: Mapping[str, Any] | None = None,
) -> ClientContext:
    """A client's context from a snapshot row and (optionally) an intake-survey row."""
    survey = survey or {}
    age_years = feature_value(features, "age_years")
    sex = features.get("sex") or survey.get("sex")
    conditions = set(_listed(survey.get("conditions"), CONDITIONS))
    smoker = _flag(survey.get("smoker"))
    if smoker:
        conditions.add("smoker")
    budget = feature_value(survey, "weekly_time_budget_min")
    return ClientContext(
        client_id=str(client_id),
        as_of=as_of,
        features=dict(features),
        risk=risk_from_features(features),
        age=None if age_years is None else int(age_years),
        sex=sex if isinstance(sex, str) and sex in _SEXES else None,
        conditions=frozenset(conditions),
        medical_clearance=bool(_flag(survey.get("medical_clearance"))),
        smoker=smoker,
        goals=_listed(survey.get("goals"), GOALS),
        preferred_domains=_listed(survey.get("preferred_domains"), DOMAINS),
        preferred_settings=_listed(survey.get("preferred_settings"), SETTINGS),
        weekly_time_budget_min=budget,
    )
