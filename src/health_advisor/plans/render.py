"""The plan document: HTML for screens and email, PDF for printing and signing.

A stored plan (:class:`PlanDocument`: the composer's :class:`~.model.ComposedPlan` plus
the workflow's version, status and approval) is first turned into a *view*: plain
strings already translated and formatted for one language and one audience. The Jinja2
template only lays the view out, with autoescaping on, so text typed by people (a
coordinator's reason, a client's name) can never inject markup. The PDF is the same
HTML printed by WeasyPrint (imported inside :func:`render_pdf`: it is heavy and only the
PDF needs it).

Two audiences: ``client`` (what to do and why, plus a short safety note) and
``professional`` (also every excluded item with the rule, the facts that fired it and
whether a physician's clearance would lift it, and the model's figures).
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from health_advisor.core.catalog import Catalog
from health_advisor.errors import InputError
from health_advisor.i18n import (
    check_lang,
    format_date,
    format_number,
    format_percent,
    format_time,
    local_date,
    ngettext,
    translations,
)
from health_advisor.plans import i18n as texts
from health_advisor.plans.model import ComposedPlan, Exclusion, PlanItem

__all__ = [
    "APPROVED_STATUSES",
    "AUDIENCES",
    "PlanDocument",
    "html_lang",
    "render_html",
    "render_pdf",
]

AUDIENCES: tuple[str, ...] = ("client", "professional")
# States in which a professional has approved this version (superseded: it was approved,
# then replaced by a newer version).
APPROVED_STATUSES: frozenset[str] = frozenset({"approved", "active", "completed", "superseded"})
_HTML_LANG = {"es": "es-PE", "en": "en"}


@dataclass(frozen=True)
class PlanDocument:
    """One stored version of a plan, as the documents and the FHIR export need it."""

    plan: ComposedPlan
    plan_id: int | None
    version: int
    status: str
    client_name: str | None
    approved_by: str | None
    approved_at: dt.datetime | None
    created_at: dt.datetime

    @property
    def approved(self) -> bool:
        """Approved by a professional: only then may the client follow it."""
        return self.status in APPROVED_STATUSES and bool(self.approved_by)

    @property
    def review_date(self) -> dt.date | None:
        """When the plan's targets are reviewed (the latest target review date)."""
        dates = [item.target.review_date for item in self.plan.items]
        return max(dates) if dates else None


def html_lang(lang: str) -> str:
    """The BCP 47 tag of the document's language (``es-PE`` / ``en``)."""
    return _HTML_LANG[check_lang(lang)]


def render_html(
    doc: PlanDocument, lang: str, catalog: Catalog | None = None, *, audience: str = "client"
) -> str:
    """The plan as one self-contained, printable HTML page in ``lang``.

    ``catalog`` gives titles, descriptions and the catalog's wording of rules; the
    packaged catalog is used when None.
    """
    check_lang(lang)
    if audience not in AUDIENCES:
        raise InputError(f"unknown audience {audience!r}: expected one of {', '.join(AUDIENCES)}")
    view = _view(doc, lang, catalog if catalog is not None else _default_catalog(), audience)
    return _environment(lang).get_template("plan.html").render(view)


def render_pdf(
    doc: PlanDocument, lang: str, catalog: Catalog | None = None, *, audience: str = "client"
) -> bytes:
    """The same document as a PDF (A4), printed by WeasyPrint."""
    html = render_html(doc, lang, catalog, audience=audience)
    with warnings.catch_warnings():
        # Without the system's libharfbuzz-subset WeasyPrint warns (once, at import) that a
        # future version will need it; today it only means fonts are embedded whole.
        warnings.filterwarnings("ignore", message="HarfBuzz-Subset", category=DeprecationWarning)
        from weasyprint import HTML  # heavy (Pango, fontTools): only when a PDF is asked for

    pdf = HTML(string=html).write_pdf()
    if pdf is None:  # only None when a target file is given
        raise RuntimeError("WeasyPrint returned no PDF")
    return bytes(pdf)


# --------------------------------------------------------------------------- templates


@cache
def _environment(lang: str) -> Environment:
    """One Jinja2 environment per language, with that language's catalog installed."""
    env = Environment(
        loader=PackageLoader("health_advisor.plans", "templates"),
        autoescape=select_autoescape(["html", "htm", "xml"], default_for_string=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


def _default_catalog() -> Catalog:
    from health_advisor.catalog import load_catalog

    return load_catalog()


# --------------------------------------------------------------------------- the view


def _view(doc: PlanDocument, lang: str, catalog: Catalog, audience: str) -> dict[str, Any]:
    plan = doc.plan
    professional = audience == "professional"
    return {
        "lang": lang,
        "html_lang": html_lang(lang),
        "professional": professional,
        "client_name": doc.client_name or plan.client_id,
        "client_id": plan.client_id,
        "plan_id": doc.plan_id,
        "version": doc.version,
        "status": doc.status,
        "status_name": texts.status_name(doc.status, lang),
        "approved": doc.approved,
        "approval": _approval(doc, lang),
        "created": format_date(local_date(doc.created_at), lang),
        "start": format_date(plan.as_of, lang),
        "review": format_date(doc.review_date, lang) if doc.review_date else None,
        "weekly_minutes": format_number(plan.weekly_minutes, lang),
        "item_count": len(plan.items),
        "domains": _domains(plan, lang, catalog, professional),
        "safety": _safety(plan.excluded, lang, catalog, professional),
        "model": _model_view(plan, lang) if professional else None,
        "catalog_version": plan.catalog_version,
    }


def _approval(doc: PlanDocument, lang: str) -> dict[str, str] | None:
    if not doc.approved or doc.approved_by is None:
        return None
    when = doc.approved_at
    return {
        "by": doc.approved_by,
        "date": format_date(local_date(when), lang) if when else "",
        "time": format_time(when, lang) if when else "",
    }


def _domains(
    plan: ComposedPlan, lang: str, catalog: Catalog, professional: bool
) -> list[dict[str, Any]]:
    """Items grouped by domain, domains in the order of their first item."""
    order: list[str] = []
    for item in plan.items:
        if item.domain not in order:
            order.append(item.domain)
    return [
        {
            "id": domain,
            "name": texts.domain_name(domain, lang),
            "items": [
                _item(item, lang, catalog, professional)
                for item in plan.items
                if item.domain == domain
            ],
        }
        for domain in order
    ]


def _item(item: PlanItem, lang: str, catalog: Catalog, professional: bool) -> dict[str, Any]:
    entry = catalog.by_id.get(item.intervention_id)
    reasons = [
        texts.reason_text(
            r, lang, catalog, intervention_id=item.intervention_id, with_citation=False
        )
        for r in item.reasons
    ]
    citation = item.citation or (entry.evidence.citation if entry is not None else "")
    return {
        "id": item.intervention_id,
        "title": texts.intervention_title(item.intervention_id, lang, catalog),
        "description": entry.description.get(lang) if entry is not None else "",
        "intensity": texts.intensity_name(item.intensity, lang),
        "weekly_minutes": format_number(item.weekly_minutes, lang),
        "target": texts.target_text(item.target, lang),
        "reasons": reasons,
        "citation": citation,
        "mandatory": item.mandatory,
        "score": format_number(item.score, lang, max_fraction=3) if professional else None,
        "adherence": format_percent(item.predicted_adherence, lang),
    }


def _safety(
    excluded: tuple[Exclusion, ...], lang: str, catalog: Catalog, professional: bool
) -> dict[str, Any]:
    _ = translations(lang).gettext
    note = ""
    if excluded:
        note = ngettext(
            "For your safety, %(count)s activity was left out of this plan. Your health "
            "professional can tell you why.",
            "For your safety, %(count)s activities were left out of this plan. Your health "
            "professional can tell you why.",
            len(excluded),
            lang,
        ) % {"count": format_number(len(excluded), lang)}
        if any(e.clearance_lifts for e in excluded):
            note += " " + _(
                "Some of them may become possible after a physician's clearance: ask your doctor."
            )
    rows = [
        {
            "title": texts.intervention_title(e.intervention_id, lang, catalog),
            "kind": _("Conflict") if e.kind == "conflict" else _("Contraindication"),
            "rule": e.rule,
            "why": texts.exclusion_text(e, lang, catalog),
            "clearance": _("Yes") if e.clearance_lifts else _("No"),
        }
        for e in excluded
    ]
    return {"note": note, "rows": rows if professional else []}


def _model_view(plan: ComposedPlan, lang: str) -> dict[str, str]:
    _ = translations(lang).gettext
    if plan.model_version is None:
        model = _("none (guideline rules only)")
    else:
        model = str(plan.model_version)
    return {
        "version": model,
        "cold_start": _("Yes") if plan.cold_start else _("No"),
        "adherence": format_percent(plan.expected_adherence, lang),
        "benefit": format_number(plan.expected_benefit, lang, max_fraction=3),
        "budget": format_number(plan.time_budget_min, lang)
        if plan.time_budget_min is not None
        else "—",
    }
