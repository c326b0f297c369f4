"""A plan's words: reasons, SMART targets and code names in Spanish and English."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from health_advisor.catalog import load_catalog
from health_advisor.core import vocabulary
from health_advisor.core.catalog import Catalog
from health_advisor.core.metrics import METRICS
from health_advisor.errors import InputError
from health_advisor.plans import i18n as texts
from health_advisor.plans.model import Exclusion, Reason, Target

LANGS = ("es", "en")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _target(**changes: Any) -> Target:
    base = Target(
        metric="steps",
        unit="/d",
        direction="increase",
        baseline=6200.0,
        value=7550.0,
        goal=8000.0,
        weekly_change=337.5,
        start_date=dt.date(2027, 1, 4),
        review_date=dt.date(2027, 2, 1),
        rule="steps_plus_10pct_weekly",
    )
    return dataclasses.replace(base, **changes)


# --------------------------------------------------------------------------- targets


def test_target_sentence_is_smart_in_both_languages() -> None:
    assert texts.target_text(_target(), "en") == (
        "Daily steps: increase to 7,550 per day by February 1, 2027. Starting point: 6,200 "
        "per day. Planned change: +338 per week. Guideline goal: 8,000 per day."
    )
    assert texts.target_text(_target(), "es") == (
        "Pasos diarios: aumentar a 7,550 al día para el 1 de febrero de 2027. Punto de "
        "partida: 6,200 al día. Cambio previsto: +338 por semana. Meta según las guías: "
        "8,000 al día."
    )


def test_target_directions_and_units() -> None:
    bp = _target(
        metric="systolic_bp",
        unit="mm[Hg]",
        direction="decrease",
        baseline=138.2,
        value=134.0,
        goal=120.0,
        weekly_change=-1.0,
    )
    assert texts.target_text(bp, "es").startswith(
        "Presión arterial sistólica: reducir a 134 mmHg para el 1 de febrero de 2027."
    )
    assert "Planned change: −1 per week." in texts.target_text(bp, "en")
    keep = _target(
        metric="sleep_duration", unit="h", direction="maintain", baseline=7.4, value=7.4, goal=7.4
    )
    assert texts.target_text(keep, "en") == (
        "Sleep duration: keep at 7.4 h until February 1, 2027. Starting point: 7.4 h. "
        "Planned change: +338 per week."
    )
    hba1c = _target(metric="hba1c", unit="%", direction="decrease", value=6.46, baseline=None)
    assert "reduce to 6.5%" in texts.target_text(hba1c, "en")


def test_target_without_baseline_or_metric() -> None:
    behaviour = _target(metric=None, unit="min/wk", baseline=None, goal=None, weekly_change=None)
    assert texts.target_text(behaviour, "en") == (
        "This activity: increase to 7,550 min/week by February 1, 2027."
    )
    assert "aún sin medición" in texts.target_text(_target(baseline=float("nan")), "es")


@pytest.mark.parametrize(
    ("unit", "value", "spanish", "english"),
    [
        ("{visit}", 1.0, "asistir a 1 consulta para el 1 de febrero de 2027.",
         "attend 1 visit by February 1, 2027."),
        ("d/wk", 7.0, "7 días por semana hasta el 1 de febrero de 2027.",
         "7 days a week until February 1, 2027."),
        ("min/wk", 150.0, "150 min cada semana hasta el 1 de febrero de 2027.",
         "150 min every week until February 1, 2027."),
    ],
)  # fmt: skip
def test_behavioural_targets_of_the_composer(
    unit: str, value: float, spanish: str, english: str
) -> None:
    target = _target(
        metric=None, unit=unit, direction="maintain", baseline=None, value=value, goal=value,
        weekly_change=None, rule="behaviour",
    )  # fmt: skip
    assert texts.target_text(target, "es") == f"Esta actividad: {spanish}"
    assert texts.target_text(target, "en", activity="Dental check") == f"Dental check: {english}"


def test_bedtime_reads_as_a_clock_time() -> None:
    bedtime = _target(
        metric="bedtime", unit="h", direction="decrease", baseline=0.75, value=-0.5, goal=-1.0,
        weekly_change=-0.25,
    )  # fmt: skip
    text = texts.target_text(bedtime, "es")
    assert "reducir a 23:30" in text
    assert "Punto de partida: 00:45." in text
    assert "−15 min por semana" in text


# --------------------------------------------------------------------------- reasons

REASONS: dict[str, tuple[dict[str, Any], str, str]] = {
    # kind: (params, a piece of the Spanish text, a piece of the English text)
    "risk_gap": (
        {
            "risk": "blood_pressure",
            "category": "stage_1",
            "metric": "systolic_bp",
            "value": 138.2,
            "unit": "mm[Hg]",
        },
        "Presión arterial, hipertensión en etapa 1 (Presión arterial sistólica: 138 mmHg)",
        "Blood pressure, stage 1 hypertension (Systolic blood pressure: 138 mmHg)",
    ),
    "goal": ({"goal": "lower_bp"}, "bajar la presión arterial", "lower blood pressure"),
    "preference": ({"setting": "home"}, "preferencia: en casa", "preference: at home"),
    "model": (
        {"predicted_adherence": 0.724, "model_version": 3},
        "Cumplimiento estimado: 72% (modelo, versión 3)",
        "Predicted adherence: 72% (model version 3)",
    ),
    "peers": (
        {"clients": 1250, "mean_adherence": 0.655},
        "1,250 clientes con un perfil similar lo probaron",
        "1,250 similar clients tried it and followed it 66% on average",
    ),
    "evidence": (
        {"note": "a note", "citation": "Appel LJ 1997"},
        "Evidencia: a note Fuente: Appel LJ 1997",
        "Evidence: a note Source: Appel LJ 1997",
    ),
    "mandatory": (
        {"rule": "some_rule", "because": ["risk.blood_pressure=stage_2", "condition=pregnancy"]},
        "Obligatorio según las guías clínicas. Motivo: Presión arterial: hipertensión en etapa "
        "2; Embarazo.",
        "Required by the clinical guidelines. Because of: Blood pressure: stage 2 "
        "hypertension; Pregnancy.",
    ),
    "cold_start": ({}, "Aún no tenemos un historial", "We have no history"),
    "rules_only": ({"fallback": "no_model"}, "todavía no hay un modelo", "no trained model yet"),
    "coordinator": (
        {"reason": "prefers swimming", "author": "ana"},
        "coordinación de cuidados (ana): prefers swimming",
        "care coordinator (ana): prefers swimming",
    ),
}


def test_every_documented_reason_kind_has_a_text() -> None:
    assert set(REASONS) == set(texts.REASON_KINDS)


@pytest.mark.parametrize("kind", texts.REASON_KINDS)
def test_reason_text_in_both_languages(kind: str) -> None:
    params, spanish, english = REASONS[kind]
    reason = Reason(kind, params)
    assert spanish in texts.reason_text(reason, "es")
    assert english in texts.reason_text(reason, "en")


def test_reasons_use_the_catalogs_own_words(catalog: Catalog) -> None:
    dash = catalog.get("nu_dash_diet")
    evidence = Reason("evidence", {"note": dash.evidence.note_en, "citation": "x"})
    assert dash.evidence.note_es is not None
    assert dash.evidence.note_es in texts.reason_text(evidence, "es", catalog)
    assert dash.evidence.note_en in texts.reason_text(evidence, "en", catalog)
    no_citation = texts.reason_text(evidence, "en", catalog, with_citation=False)
    assert "Source" not in no_citation
    with_spanish = Reason("evidence", {"note": "n", "note_es": "nota", "citation": "c"})
    assert texts.reason_text(with_spanish, "es") == "Evidencia: nota Fuente: c"
    assert texts.reason_text(with_spanish, "en") == "Evidence: n Source: c"


def test_mandatory_reasons_use_the_guidelines_words(catalog: Catalog) -> None:
    followup = catalog.get("pr_physician_bp_followup")
    assert followup.mandatory_reason is not None
    because = ["risk.blood_pressure=crisis"]
    mandatory = Reason("mandatory", {"rule": "mandatory_when", "because": because})
    text = texts.reason_text(mandatory, "es", catalog, intervention_id=followup.id)
    assert text == f"{followup.mandatory_reason.es} Motivo: Presión arterial: crisis hipertensiva."
    # The composer's clearance visit names the ACSM rule that kept exercise out.
    acsm = next(
        c
        for c in catalog.get("ex_hiit").contraindications
        if c.id == "acsm_vigorous_needs_clearance"
    )
    clearance = Reason("mandatory", {"rule": acsm.id, "because": because})
    text = texts.reason_text(clearance, "en", catalog, intervention_id="pr_exercise_clearance")
    assert text.startswith(f"Required by the clinical guidelines: {acsm.reason.en} Because of:")
    assert texts.reason_text(mandatory, "en") == (
        "Required by the clinical guidelines. Because of: Blood pressure: hypertensive crisis."
    )


def test_unknown_or_malformed_reasons_read_generically() -> None:
    assert texts.reason_text(Reason("new_kind", {"level": 3}), "en") == (
        "Other reason (new kind): level: 3."
    )
    assert texts.reason_text(Reason("new_kind"), "es") == "Otro motivo (new kind)."
    assert texts.reason_text(Reason("risk_gap", {}), "en") == "Other reason (risk gap)."
    for params in (
        {"predicted_adherence": "high"},
        {"predicted_adherence": float("inf")},
    ):
        assert texts.reason_text(Reason("model", params), "en").startswith("Other reason (model)")
    peers = Reason("peers", {"clients": float("inf"), "mean_adherence": 0.5})
    assert texts.reason_text(peers, "es").startswith("Otro motivo (peers)")


_NASTY = st.one_of(
    st.sampled_from([None, "", "x", 0, -1, float("nan"), float("inf"), -float("inf"), [], {}]),
    st.text(max_size=12),
    st.integers(-5, 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.text(max_size=8), max_size=3),
)
_PARAMS = st.dictionaries(
    st.sampled_from(["risk", "category", "metric", "value", "unit", "goal", "domain", "setting",
                     "predicted_adherence", "model_version", "clients", "mean_adherence", "note",
                     "citation", "rule", "because", "fallback", "reason", "author", "x"]),
    _NASTY,
    max_size=6,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from([*texts.REASON_KINDS, "", "other"]), params=_PARAMS)
def test_reason_text_never_raises(kind: str, params: dict[str, Any]) -> None:
    for lang in LANGS:
        text = texts.reason_text(Reason(kind, params), lang)
        assert isinstance(text, str) and text


# --------------------------------------------------------------------------- names


def test_every_vocabulary_code_has_a_name_in_both_languages() -> None:
    tables = [
        (texts.STATUSES, texts.status_name),
        (vocabulary.DOMAINS, texts.domain_name),
        (tuple(vocabulary.INTENSITIES), texts.intensity_name),
        (tuple(vocabulary.RISK_CATEGORIES), texts.risk_name),
        (vocabulary.GOALS, texts.goal_name),
        (vocabulary.SETTINGS, texts.setting_name),
        (vocabulary.CONDITIONS, texts.condition_name),
        (tuple(m.name for m in METRICS), texts.metric_name),
    ]
    for codes, name in tables:
        for code in codes:
            spanish, english = name(code, "es"), name(code, "en")
            assert "_" not in spanish and "_" not in english, code
            assert spanish != english or code in {"prediabetes", "osteoporosis", "plan"}, code
    categories = {c for cats in vocabulary.RISK_CATEGORIES.values() for c in cats}
    for category in categories:
        assert texts.risk_category_name(category, "es") != category.replace("_", " ") or (
            category in {"normal", "prediabetes", "diabetes"}
        ), category


def test_statuses_and_intensities() -> None:
    assert [texts.status_name(s, "es") for s in texts.STATUSES] == [
        "Borrador", "En revisión", "Aprobado", "Activo", "Completado", "Reemplazado", "Rechazado",
    ]  # fmt: skip
    assert texts.intensity_name("vigorous", "es") == "vigorosa"
    assert texts.domain_name("stress", "en") == "Stress and mental health"
    assert texts.status_name("archived", "en") == "archived"  # unknown: readable, no error


def test_every_metric_unit_reads_in_both_languages() -> None:
    for metric in METRICS:
        for lang in LANGS:
            shown = texts.quantity_text(12.0, metric.unit, lang, metric=metric.name)
            assert "[" not in shown and "{" not in shown, (metric.name, shown)
    assert texts.quantity_text(7700, "/d", "es") == "7,700 al día"
    assert texts.quantity_text(5.66, "%", "en") == "5.7%"


def test_facts_read_as_words() -> None:
    assert texts.fact_text("risk.bmi=obese_2", "es") == "Índice de masa corporal: obesidad grado 2"
    assert texts.fact_text("condition=heart_failure", "en") == "Heart failure"
    assert texts.fact_text("sex=female", "es") == "Sexo: femenino"
    assert texts.fact_text("medical_clearance=false", "en") == "No medical clearance yet"
    assert texts.fact_text("age=unknown", "es") == "Edad: sin registrar"
    assert texts.fact_text("condition not in [heart_failure, pregnancy]", "es") == (
        "Sin diagnóstico de: Insuficiencia cardiaca, Embarazo"
    )
    assert texts.fact_text("something odd", "en") == "something odd"


# --------------------------------------------------------------------------- exclusions


def test_exclusion_text_uses_the_catalog_rule(catalog: Catalog) -> None:
    hiit = catalog.get("ex_hiit")
    rule = next(c for c in hiit.contraindications if c.id == "acsm_vigorous_needs_clearance")
    exclusion = Exclusion(
        "ex_hiit", "contraindication", rule.id, ("risk.blood_pressure=stage_2",), True
    )
    spanish = texts.exclusion_text(exclusion, "es", catalog)
    assert spanish.startswith(rule.reason.es)
    assert "Motivo: Presión arterial: hipertensión en etapa 2." in spanish
    assert spanish.endswith(texts.clearance_note("es"))
    assert "acsm vigorous needs clearance" in texts.exclusion_text(exclusion, "en")  # no catalog
    conflict = Exclusion("ex_nordic_walking", "conflict", "ex_brisk_walking")
    assert texts.exclusion_text(conflict, "en", catalog) == (
        f"Not combined with {catalog.get('ex_brisk_walking').title.en}, which is already in "
        "the plan."
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda: texts.reason_text(Reason("goal", {"goal": "get_fit"}), "fr"),
        lambda: texts.target_text(_target(), "de"),
        lambda: texts.intensity_name("light", "ES"),
        lambda: texts.status_name("draft", "pt"),
    ],
)
def test_unsupported_language_is_an_input_error(call: Any) -> None:
    with pytest.raises(InputError):
        call()
