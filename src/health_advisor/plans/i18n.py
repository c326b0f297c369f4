"""A plan's words: reasons, SMART targets and code names, in Spanish or English.

Plans store codes (a :class:`~.model.Reason` is a kind plus parameters, a
:class:`~.model.Target` is numbers and a metric name); this module turns them into
sentences for the HTML/PDF documents, the FHIR export and the CLI. Nothing here raises on
an unknown code: a plan stored by an older or newer version must still render, so an
unknown reason kind, status or metric becomes a readable generic text.

Only the language is checked (:func:`health_advisor.i18n.check_lang`): an unsupported one
is a caller's mistake, reported as :class:`~health_advisor.errors.InputError`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeGuard

from babel import dates as babel_dates

from health_advisor.core.catalog import Catalog, Contraindication, Intervention
from health_advisor.i18n import (
    N_,
    check_lang,
    code_name,
    format_date,
    format_number,
    format_percent,
    gettext,
    humanize,
    locale,
    ngettext,
    pgettext,
    translations,
)
from health_advisor.plans.model import Exclusion, Reason, Target

__all__ = [
    "REASON_KINDS",
    "STATUSES",
    "clearance_note",
    "condition_name",
    "domain_name",
    "exclusion_text",
    "fact_text",
    "goal_name",
    "intensity_name",
    "intervention_title",
    "metric_name",
    "quantity_text",
    "reason_text",
    "risk_category_name",
    "risk_name",
    "setting_name",
    "sex_name",
    "status_name",
    "target_text",
    "unit_text",
]

STATUSES: tuple[str, ...] = (
    "draft",
    "in_review",
    "approved",
    "active",
    "completed",
    "superseded",
    "rejected",
)
REASON_KINDS: tuple[str, ...] = (
    "risk_gap",
    "goal",
    "preference",
    "model",
    "peers",
    "evidence",
    "mandatory",
    "cold_start",
    "rules_only",
    "coordinator",
)

# --------------------------------------------------------------------------- code names

_STATUS_NAMES: dict[str, str] = {
    "draft": N_("Draft"),
    "in_review": N_("In review"),
    "approved": N_("Approved"),
    "active": N_("Active"),
    "completed": N_("Completed"),
    "superseded": N_("Superseded"),
    "rejected": N_("Rejected"),
}

_DOMAIN_NAMES: dict[str, str] = {
    "exercise": N_("Exercise"),
    "nutrition": N_("Nutrition"),
    "sleep": N_("Sleep"),
    "stress": N_("Stress and mental health"),
    "prevention": N_("Prevention"),
}

_RISK_NAMES: dict[str, str] = {
    "blood_pressure": N_("Blood pressure"),
    "cholesterol": N_("Total cholesterol"),
    "ldl": N_("LDL cholesterol"),
    "hdl": N_("HDL cholesterol"),
    "triglycerides": N_("Triglycerides"),
    "glucose": N_("Blood glucose"),
    "hba1c": N_("Hemoglobin A1c"),
    "bmi": N_("Body mass index"),
    "activity": N_("Physical activity"),
    "sleep": N_("Sleep"),
    "resting_heart_rate": N_("Resting heart rate"),
    "overall": N_("Overall risk"),
}

_GOAL_NAMES: dict[str, str] = {
    "lose_weight": N_("lose weight"),
    "lower_bp": N_("lower blood pressure"),
    "improve_sleep": N_("sleep better"),
    "reduce_stress": N_("reduce stress"),
    "get_fit": N_("get fit"),
    "eat_better": N_("eat better"),
    "manage_glucose": N_("manage blood glucose"),
    "lower_cholesterol": N_("lower cholesterol"),
    "quit_smoking": N_("quit smoking"),
    "preventive_care": N_("preventive care"),
}

_SETTING_NAMES: dict[str, str] = {
    "home": N_("at home"),
    "gym": N_("at a gym"),
    "clinic": N_("at the clinic"),
    "outdoors": N_("outdoors"),
    "app": N_("with an app"),
}

_CONDITION_NAMES: dict[str, str] = {
    "hypertension": N_("Hypertension"),
    "type2_diabetes": N_("Type 2 diabetes"),
    "prediabetes": N_("Prediabetes"),
    "cardiovascular_disease": N_("Cardiovascular disease"),
    "heart_failure": N_("Heart failure"),
    "arrhythmia": N_("Arrhythmia"),
    "dyslipidemia": N_("Dyslipidemia"),
    "obesity": N_("Obesity"),
    "asthma": N_("Asthma"),
    "copd": N_("COPD"),
    "osteoarthritis": N_("Osteoarthritis"),
    "low_back_pain": N_("Low back pain"),
    "osteoporosis": N_("Osteoporosis"),
    "pregnancy": N_("Pregnancy"),
    "depression": N_("Depression"),
    "anxiety": N_("Anxiety"),
    "insomnia": N_("Insomnia"),
    "sleep_apnea": N_("Sleep apnea"),
    "chronic_kidney_disease": N_("Chronic kidney disease"),
    "eating_disorder_history": N_("History of an eating disorder"),
    "beta_blocker_use": N_("Takes beta blockers"),
    "anticoagulant_use": N_("Takes anticoagulants"),
    "smoker": N_("Smokes tobacco"),
}

_METRIC_NAMES: dict[str, str] = {
    "heart_rate": N_("Heart rate"),
    "resting_heart_rate": N_("Resting heart rate"),
    "systolic_bp": N_("Systolic blood pressure"),
    "diastolic_bp": N_("Diastolic blood pressure"),
    "respiratory_rate": N_("Respiratory rate"),
    "body_temperature": N_("Body temperature"),
    "oxygen_saturation": N_("Oxygen saturation"),
    "body_weight": N_("Body weight"),
    "body_height": N_("Height"),
    "bmi": N_("Body mass index"),
    "body_fat": N_("Body fat"),
    "total_cholesterol": N_("Total cholesterol"),
    "ldl": N_("LDL cholesterol"),
    "hdl": N_("HDL cholesterol"),
    "triglycerides": N_("Triglycerides"),
    "glucose": N_("Blood glucose"),
    "fasting_glucose": N_("Fasting blood glucose"),
    "hba1c": N_("Hemoglobin A1c"),
    "steps": N_("Daily steps"),
    "active_minutes": N_("Active minutes per day"),
    "light_active_minutes": N_("Light activity minutes per day"),
    "sedentary_minutes": N_("Sedentary minutes per day"),
    "steps_hourly": N_("Steps per hour"),
    "calories_hourly": N_("Calories burned per hour"),
    "distance": N_("Daily distance"),
    "calories_burned": N_("Calories burned"),
    "calorie_intake": N_("Calorie intake"),
    "water_intake": N_("Water intake"),
    "sleep_duration": N_("Sleep duration"),
    "time_in_bed": N_("Time in bed"),
    "sleep_quality": N_("Sleep quality"),
    "bedtime": N_("Bedtime"),
    "carb_ratio": N_("Energy from carbohydrates"),
    "protein_ratio": N_("Energy from protein"),
    "fat_ratio": N_("Energy from fat"),
    "stress_level": N_("Stress level"),
    "strength_sessions": N_("Strength sessions per week"),
}

# UCUM code -> how it reads after a number. Units without words are shown as symbols.
_UNIT_WORDS: dict[str, str] = {
    "/min": N_("per minute"),
    "/h": N_("per hour"),
    "/d": N_("per day"),
    "/wk": N_("per week"),
    "min/d": N_("min/day"),
    "min/wk": N_("min/week"),
    "km/d": N_("km/day"),
    "kcal/d": N_("kcal/day"),
    "L/d": N_("L/day"),
    "{score}": N_("points"),
    "{session}/wk": N_("sessions per week"),
    "{visit}": N_("visits"),
    "d/wk": N_("days per week"),
}
_UNIT_SYMBOLS: dict[str, str] = {
    "mm[Hg]": "mmHg",
    "Cel": "°C",
    "kg/m2": "kg/m²",
    "%": "%",
    "kg": "kg",
    "cm": "cm",
    "mg/dL": "mg/dL",
    "kcal/h": "kcal/h",
    "h": "h",
    "min": "min",
    "1": "",
}


@cache
def _intensity_names(lang: str) -> dict[str, str]:
    return {
        "light": pgettext("intensity", "light", lang),
        "moderate": pgettext("intensity", "moderate", lang),
        "vigorous": pgettext("intensity", "vigorous", lang),
    }


@cache
def _risk_category_names(lang: str) -> dict[str, str]:
    """Category names read as a noun phrase after "<risk>: " (so no Spanish gender
    agreement with the risk's name is needed: "nivel alto", not "alto/alta/altos")."""
    return {
        "normal": pgettext("risk category", "normal", lang),
        "elevated": pgettext("risk category", "elevated", lang),
        "stage_1": pgettext("risk category", "stage 1 hypertension", lang),
        "stage_2": pgettext("risk category", "stage 2 hypertension", lang),
        "crisis": pgettext("risk category", "hypertensive crisis", lang),
        "desirable": pgettext("risk category", "desirable", lang),
        "borderline_high": pgettext("risk category", "borderline high", lang),
        "high": pgettext("risk category", "high", lang),
        "very_high": pgettext("risk category", "very high", lang),
        "optimal": pgettext("risk category", "optimal", lang),
        "near_optimal": pgettext("risk category", "near optimal", lang),
        "low": pgettext("risk category", "low", lang),
        "moderate": pgettext("risk category", "moderate", lang),
        "urgent": pgettext("risk category", "urgent", lang),
        "prediabetes": pgettext("risk category", "prediabetes", lang),
        "diabetes": pgettext("risk category", "diabetes", lang),
        "underweight": pgettext("risk category", "underweight", lang),
        "overweight": pgettext("risk category", "overweight", lang),
        "obese_1": pgettext("risk category", "obesity class 1", lang),
        "obese_2": pgettext("risk category", "obesity class 2", lang),
        "obese_3": pgettext("risk category", "obesity class 3", lang),
        "inactive": pgettext("risk category", "inactive", lang),
        "insufficient": pgettext("risk category", "insufficient", lang),
        "meets": pgettext("risk category", "meets the guideline", lang),
        "exceeds": pgettext("risk category", "exceeds the guideline", lang),
        "short": pgettext("risk category", "short", lang),
        "recommended": pgettext("risk category", "recommended", lang),
        "long": pgettext("risk category", "long", lang),
        "unknown": pgettext("risk category", "unknown", lang),
    }


@cache
def _sex_names(lang: str) -> dict[str, str]:
    return {
        "female": pgettext("sex", "female", lang),
        "male": pgettext("sex", "male", lang),
        "other": pgettext("sex", "other", lang),
        "unknown": pgettext("sex", "unknown", lang),
    }


def status_name(status: str, lang: str) -> str:
    return code_name(_STATUS_NAMES, status, lang)


def domain_name(domain: str, lang: str) -> str:
    return code_name(_DOMAIN_NAMES, domain, lang)


def intensity_name(intensity: str, lang: str) -> str:
    return _intensity_names(check_lang(lang)).get(intensity, humanize(intensity))


def risk_name(key: str, lang: str) -> str:
    """The name of a guideline risk key (``core.vocabulary.RISK_CATEGORIES``)."""
    return code_name(_RISK_NAMES, key, lang)


def risk_category_name(category: str, lang: str) -> str:
    return _risk_category_names(check_lang(lang)).get(category, humanize(category))


def goal_name(goal: str, lang: str) -> str:
    return code_name(_GOAL_NAMES, goal, lang)


def setting_name(setting: str, lang: str) -> str:
    return code_name(_SETTING_NAMES, setting, lang)


def condition_name(condition: str, lang: str) -> str:
    return code_name(_CONDITION_NAMES, condition, lang)


def sex_name(sex: str, lang: str) -> str:
    return _sex_names(check_lang(lang)).get(sex, humanize(sex))


def metric_name(metric: str, lang: str) -> str:
    """The display name of a :mod:`health_advisor.core.metrics` name."""
    return code_name(_METRIC_NAMES, metric, lang)


def unit_text(unit: str, lang: str) -> str:
    """How a UCUM unit reads after a number (``/d`` -> "per day" / "al día")."""
    if unit in _UNIT_SYMBOLS:
        return _UNIT_SYMBOLS[unit]
    marked = _UNIT_WORDS.get(unit)
    return gettext(marked, lang) if marked is not None else unit


def intervention_title(intervention_id: str, lang: str, catalog: Catalog | None) -> str:
    """The catalog title, or the id made readable when the catalog lacks it."""
    item = catalog.by_id.get(intervention_id) if catalog is not None else None
    return item.title.get(check_lang(lang)) if item is not None else humanize(intervention_id)


# --------------------------------------------------------------------------- quantities


def quantity_text(value: float, unit: str, lang: str, *, metric: str | None = None) -> str:
    """A number with its unit in the locale's style: ``7,700 per day``, ``5.7%``.

    Bedtime (hours from midnight) reads as a 24-hour clock time (``23:30``)."""
    if metric == "bedtime":
        minutes = round(value * 60) % (24 * 60)
        clock = dt.time(minutes // 60, minutes % 60)
        return babel_dates.format_time(clock, format="HH:mm", locale=locale(lang))
    number = format_number(value, lang, max_fraction=_fraction_digits(value))
    words = unit_text(unit, lang)
    if not words:
        return number
    return f"{number}{words}" if unit == "%" else f"{number} {words}"


def _fraction_digits(value: float) -> int:
    """Whole numbers from 100 up (steps, mg/dL), one decimal below (HbA1c 5.7, 7.5 h)."""
    return 0 if abs(value) >= 100 else 1


def _signed(value: float, lang: str) -> str:
    text = format_number(abs(value), lang, max_fraction=_fraction_digits(value))
    return ("+" if value >= 0 else "−") + text


# --------------------------------------------------------------------------- targets


def target_text(target: Target, lang: str, *, activity: str | None = None) -> str:
    """The SMART sentence of a target: what, how much, by when, from where, how fast.

    e.g. "Daily steps: increase to 7,700 per day by January 12, 2027. Starting point:
    7,000 per day. Planned change: +700 per week. Guideline goal: 8,000 per day."
    A behavioural target (no metric) is about the activity itself, named ``activity``
    when given (the FHIR Goal stands alone) and "This activity" otherwise (the document
    shows it under the activity's title).
    """
    _ = translations(check_lang(lang)).gettext
    if target.metric:
        what = metric_name(target.metric, lang)
    else:
        what = activity or _("This activity")
        behaviour = _behaviour_sentence(target, what, lang)
        if behaviour is not None:
            return behaviour

    def qty(value: float) -> str:
        return quantity_text(value, target.unit, lang, metric=target.metric)

    when = format_date(target.review_date, lang)
    fields = {"what": what, "value": qty(target.value), "date": when}
    if target.direction == "increase":
        parts = [_("%(what)s: increase to %(value)s by %(date)s.") % fields]
    elif target.direction == "decrease":
        parts = [_("%(what)s: reduce to %(value)s by %(date)s.") % fields]
    else:
        parts = [_("%(what)s: keep at %(value)s until %(date)s.") % fields]
    if _known(target.baseline):
        parts.append(_("Starting point: %(baseline)s.") % {"baseline": qty(_num(target.baseline))})
    elif target.metric:
        parts.append(_("Starting point: not measured yet."))
    if _known(target.weekly_change) and _num(target.weekly_change) != 0:
        change = _signed(_num(target.weekly_change), lang)
        if target.metric == "bedtime":  # hours of clock time: say it in minutes
            change = _signed(round(_num(target.weekly_change) * 60), lang) + " min"
        parts.append(_("Planned change: %(change)s per week.") % {"change": change})
    if _known(target.goal) and _num(target.goal) != target.value:
        parts.append(_("Guideline goal: %(goal)s.") % {"goal": qty(_num(target.goal))})
    return " ".join(parts)


def _behaviour_sentence(target: Target, what: str, lang: str) -> str | None:
    """Sentences for the composer's behavioural targets (``plans.targets``): a visit by
    the review date, a daily habit, or the activity's minutes every week."""
    if target.direction != "maintain" or target.baseline is not None:
        return None
    count = int(target.value) if float(target.value).is_integer() else None
    fields = {"what": what, "date": format_date(target.review_date, lang)}
    if target.unit == "{visit}" and count is not None:
        text = ngettext(
            "%(what)s: attend %(count)s visit by %(date)s.",
            "%(what)s: attend %(count)s visits by %(date)s.",
            count,
            lang,
        )
        return text % {**fields, "count": count}
    if target.unit == "d/wk" and count is not None:
        text = ngettext(
            "%(what)s: %(count)s day a week until %(date)s.",
            "%(what)s: %(count)s days a week until %(date)s.",
            count,
            lang,
        )
        return text % {**fields, "count": count}
    if target.unit == "min/wk":
        minutes = format_number(target.value, lang)
        return gettext("%(what)s: %(minutes)s min every week until %(date)s.", lang) % {
            **fields,
            "minutes": minutes,
        }
    return None


def _known(value: object) -> TypeGuard[float]:
    """True for a finite number (None and NaN mean "not measured")."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _num(value: float | None) -> float:
    return float(value) if value is not None else math.nan


# --------------------------------------------------------------------------- facts


_ABSENT_CONDITIONS = re.compile(r"condition not in \[(.+)\]")  # a failed ConditionRule


def fact_text(fact: str, lang: str) -> str:
    """One deciding fact of a catalog rule, readable: ``risk.blood_pressure=stage_2`` ->
    "Blood pressure: stage 2 hypertension"; ``condition=pregnancy`` -> "Pregnancy"."""
    _ = translations(check_lang(lang)).gettext
    absent = _ABSENT_CONDITIONS.fullmatch(fact)
    if absent:
        names = ", ".join(condition_name(c.strip(), lang) for c in absent[1].split(","))
        return _("No diagnosis of: %(conditions)s") % {"conditions": names}
    key, sep, value = fact.partition("=")
    if not sep:
        return fact
    if key.startswith("risk."):
        name = key.removeprefix("risk.")
        return f"{risk_name(name, lang)}: {risk_category_name(value, lang)}"
    if key == "condition":
        return condition_name(value, lang)
    if key == "age":
        return _("Age: not recorded") if value == "unknown" else _("Age: %(age)s") % {"age": value}
    if key == "sex":
        return _("Sex: %(sex)s") % {"sex": sex_name(value, lang)}
    if key == "medical_clearance":
        return _("Medical clearance given") if value == "true" else _("No medical clearance yet")
    return fact


def _facts(facts: Iterable[object], lang: str) -> str:
    return "; ".join(fact_text(str(f), lang) for f in facts)


# --------------------------------------------------------------------------- reasons


def reason_text(
    reason: Reason,
    lang: str,
    catalog: Catalog | None = None,
    *,
    intervention_id: str | None = None,
    with_citation: bool = True,
) -> str:
    """One reason for a plan item as a sentence in ``lang``; never raises on content.

    ``catalog`` (and the item's ``intervention_id``) let the text use the catalog's
    own wording: the Spanish evidence note, the guideline's mandatory reason. An unknown
    kind, or parameters missing or of the wrong type, give a generic readable text.
    """
    check_lang(lang)
    render = _REASONS.get(reason.kind)
    if render is not None:
        try:
            context = _ReasonContext(lang, catalog, intervention_id, with_citation)
            return render(dict(reason.params), context)
        except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError):
            pass  # malformed params: fall through to the generic text
    return _generic_reason(reason, lang)


@dataclass(frozen=True, slots=True)
class _ReasonContext:
    lang: str
    catalog: Catalog | None
    intervention_id: str | None
    with_citation: bool

    def gettext(self, message: str) -> str:
        return translations(self.lang).gettext(message)

    def intervention(self) -> Intervention | None:
        if self.catalog is None or self.intervention_id is None:
            return None
        return self.catalog.by_id.get(self.intervention_id)


def _percent(value: object, lang: str) -> str:
    if not _known(value):
        raise ValueError(f"not a finite fraction: {value!r}")
    return format_percent(value, lang)


def _risk_gap(params: dict[str, Any], ctx: _ReasonContext) -> str:
    _, lang = ctx.gettext, ctx.lang
    fields = {
        "risk": risk_name(str(params["risk"]), lang),
        "category": risk_category_name(str(params.get("category", "unknown")), lang),
    }
    metric, value = params.get("metric"), params.get("value")
    if metric and _known(value):
        unit = str(params.get("unit") or "")
        fields["metric"] = metric_name(str(metric), lang)
        fields["value"] = quantity_text(float(value), unit, lang, metric=str(metric))
        return _("Health risk addressed: %(risk)s, %(category)s (%(metric)s: %(value)s).") % fields
    return _("Health risk addressed: %(risk)s, %(category)s.") % fields


def _goal(params: dict[str, Any], ctx: _ReasonContext) -> str:
    goal = goal_name(str(params["goal"]), ctx.lang)
    return ctx.gettext("Matches your goal: %(goal)s.") % {"goal": goal}


def _preference(params: dict[str, Any], ctx: _ReasonContext) -> str:
    if params.get("domain"):
        what = domain_name(str(params["domain"]), ctx.lang)
    else:
        what = setting_name(str(params["setting"]), ctx.lang)
    return ctx.gettext("Fits your preference: %(what)s.") % {"what": what}


def _model(params: dict[str, Any], ctx: _ReasonContext) -> str:
    fields = {"percent": _percent(params["predicted_adherence"], ctx.lang)}
    version = params.get("model_version")
    if version is None:
        return ctx.gettext("Predicted adherence: %(percent)s.") % fields
    fields["version"] = str(version)
    return ctx.gettext("Predicted adherence: %(percent)s (model version %(version)s).") % fields


def _peers(params: dict[str, Any], ctx: _ReasonContext) -> str:
    clients = int(params["clients"])
    text = ngettext(
        "%(clients)s similar client tried it and followed it %(percent)s on average.",
        "%(clients)s similar clients tried it and followed it %(percent)s on average.",
        clients,
        ctx.lang,
    )
    percent = _percent(params["mean_adherence"], ctx.lang)
    return text % {"clients": format_number(clients, ctx.lang), "percent": percent}


def _evidence(params: dict[str, Any], ctx: _ReasonContext) -> str:
    note, citation = str(params.get("note") or ""), str(params.get("citation") or "")
    if ctx.lang == "es":
        note = str(params.get("note_es") or "") or _spanish_note(note, citation, ctx) or note
    parts = [ctx.gettext("Evidence: %(note)s") % {"note": note}] if note else []
    if citation and ctx.with_citation:
        parts.append(ctx.gettext("Source: %(citation)s") % {"citation": citation})
    if not parts:
        raise ValueError("empty evidence")
    return " ".join(parts)


def _spanish_note(note: str, citation: str, ctx: _ReasonContext) -> str | None:
    """The catalog's Spanish note for an English one stored without ``note_es`` (matched
    by the item when known, else by the note's text; by citation when there is no note)."""
    item = ctx.intervention()
    candidates = (
        [item] if item is not None else list(ctx.catalog.interventions if ctx.catalog else ())
    )
    for candidate in candidates:
        evidence = candidate.evidence
        same = evidence.note_en == note if note else evidence.citation == citation
        if same and evidence.note_es:
            return evidence.note_es
    return None


def _mandatory(params: dict[str, Any], ctx: _ReasonContext) -> str:
    """The guideline's own words: the contraindication that made the item necessary (the
    composer adds a clearance visit when an ACSM rule kept exercise out), else the item's
    ``mandatory_reason``, else a generic sentence; then the facts that decided it."""
    rule = str(params.get("rule") or "")
    because = params.get("because") or ()
    facts = _facts([because] if isinstance(because, str) else because, ctx.lang)
    item = ctx.intervention()
    contraindication = _contraindication(ctx.catalog, rule)
    if contraindication is not None:
        text = ctx.gettext("Required by the clinical guidelines: %(reason)s") % {
            "reason": contraindication.reason.get(ctx.lang)
        }
    elif item is not None and item.mandatory_reason is not None:
        text = item.mandatory_reason.get(ctx.lang)  # the catalog's words say "mandatory"
    else:
        text = ctx.gettext("Required by the clinical guidelines.")
    if facts:
        text += " " + ctx.gettext("Because of: %(facts)s.") % {"facts": facts}
    return text


def _contraindication(catalog: Catalog | None, rule_id: str) -> Contraindication | None:
    for item in catalog.interventions if catalog is not None and rule_id else ():
        for rule in item.contraindications:
            if rule.id == rule_id:
                return rule
    return None


def _cold_start(params: dict[str, Any], ctx: _ReasonContext) -> str:
    return ctx.gettext(
        "We have no history of your activities yet: this suggestion is based on your "
        "profile and on clients with a similar profile."
    )


def _rules_only(params: dict[str, Any], ctx: _ReasonContext) -> str:
    fallback = params.get("fallback")
    if fallback == "no_model":
        why = ctx.gettext("no trained model yet")
    elif fallback == "item_not_scored":
        why = ctx.gettext("the model has no score for this activity")
    else:
        why = humanize(fallback or ctx.gettext("no model scores"))
    return ctx.gettext("Chosen by the clinical guideline rules (%(why)s).") % {"why": why}


def _coordinator(params: dict[str, Any], ctx: _ReasonContext) -> str:
    fields = {"reason": str(params.get("reason") or "—"), "author": str(params.get("author") or "")}
    if fields["author"]:
        return ctx.gettext("Changed by the care coordinator (%(author)s): %(reason)s") % fields
    return ctx.gettext("Changed by the care coordinator: %(reason)s") % fields


_REASONS: dict[str, Callable[[dict[str, Any], _ReasonContext], str]] = {
    "risk_gap": _risk_gap,
    "goal": _goal,
    "preference": _preference,
    "model": _model,
    "peers": _peers,
    "evidence": _evidence,
    "mandatory": _mandatory,
    "cold_start": _cold_start,
    "rules_only": _rules_only,
    "coordinator": _coordinator,
}


def _generic_reason(reason: Reason, lang: str) -> str:
    _ = translations(lang).gettext
    details = "; ".join(f"{humanize(k)}: {v}" for k, v in sorted(reason.params.items(), key=str))
    fields = {"kind": humanize(reason.kind) or "?", "details": details}
    if details:
        return _("Other reason (%(kind)s): %(details)s.") % fields
    return _("Other reason (%(kind)s).") % fields


# --------------------------------------------------------------------------- exclusions


def exclusion_text(exclusion: Exclusion, lang: str, catalog: Catalog | None = None) -> str:
    """Why an item was kept out, for professionals: the catalog's wording of the rule,
    the facts that fired it, and whether a physician's clearance would lift it."""
    _ = translations(check_lang(lang)).gettext
    if exclusion.kind == "conflict":
        other = intervention_title(exclusion.rule, lang, catalog)
        text = _("Not combined with %(other)s, which is already in the plan.") % {"other": other}
    else:
        text = _contraindication_reason(exclusion, lang, catalog) or (
            _("Contraindicated (rule: %(rule)s).") % {"rule": humanize(exclusion.rule)}
        )
    if exclusion.triggers:
        text += " " + _("Because of: %(facts)s.") % {"facts": _facts(exclusion.triggers, lang)}
    if exclusion.clearance_lifts:
        text += " " + clearance_note(lang)
    return text


def clearance_note(lang: str) -> str:
    return gettext("A physician's clearance would lift this restriction.", lang)


def _contraindication_reason(exclusion: Exclusion, lang: str, catalog: Catalog | None) -> str:
    item = catalog.by_id.get(exclusion.intervention_id) if catalog is not None else None
    for rule in item.contraindications if item is not None else ():
        if rule.id == exclusion.rule:
            return rule.reason.get(lang)
    return ""
