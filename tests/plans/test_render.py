"""The plan document as HTML and PDF, in Spanish and English, for clients and professionals."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from pypdf import PdfReader

from health_advisor.catalog import load_catalog
from health_advisor.core.catalog import Catalog
from health_advisor.errors import InputError
from health_advisor.plans.model import ComposedPlan
from health_advisor.plans.render import PlanDocument, render_html, render_pdf

PLAN_JSON = Path(__file__).parent / "data" / "plan_two_languages.json"
VOID = {"meta", "br", "hr", "img", "input", "link"}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def plan() -> ComposedPlan:
    return ComposedPlan.from_dict(json.loads(PLAN_JSON.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def doc(plan: ComposedPlan) -> PlanDocument:
    return PlanDocument(
        plan=plan,
        plan_id=17,
        version=2,
        status="approved",
        client_name="María <b>Huamán</b>",
        approved_by="Dr. José Pérez",
        approved_at=dt.datetime(2027, 1, 5, 15, 30, tzinfo=dt.UTC),  # 10:30 in Lima
        created_at=dt.datetime(2027, 1, 4, 13, 0, tzinfo=dt.UTC),
    )


@pytest.fixture(scope="module")
def draft(doc: PlanDocument) -> PlanDocument:
    return dataclasses.replace(doc, status="draft", approved_by=None, approved_at=None)


class _Outline(HTMLParser):
    """Tags and attributes of a page, and whether every element is closed in order."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"unbalanced </{tag}>")

    def count(self, tag: str) -> int:
        return sum(1 for name, _ in self.tags if name == tag)


def _outline(html: str) -> _Outline:
    parser = _Outline()
    parser.feed(html)
    parser.close()
    return parser


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", html)


# --------------------------------------------------------------------------- HTML


@pytest.mark.parametrize("lang", ["es", "en"])
def test_html_shows_every_item_in_the_language(
    doc: PlanDocument, catalog: Catalog, lang: str
) -> None:
    html = render_html(doc, lang, catalog)
    other = "en" if lang == "es" else "es"
    for item in doc.plan.items:
        entry = catalog.get(item.intervention_id)
        assert f"<h3>{entry.title.get(lang)}" in html
        assert entry.description.get(lang) in html
        assert entry.title.get(other) not in html or entry.title.es == entry.title.en
        assert item.citation in html


def test_html_formats_numbers_and_dates_es_pe(doc: PlanDocument, catalog: Catalog) -> None:
    html = render_html(doc, "es", catalog)
    assert '<html lang="es-PE">' in html
    assert "Pasos diarios: aumentar a 7,550 al día para el 1 de febrero de 2027." in html
    assert "1,250 clientes con un perfil similar" in html
    assert "<td>4 de enero de 2027</td>" in html  # created (in Lima)
    assert "<td>260 min por semana</td>" in html
    assert "Aprobado por Dr. José Pérez, profesional de salud, el 5 de enero de 2027" in html
    assert "Ejercicio" in html and "Estrés y salud mental" in html


def test_html_in_english(doc: PlanDocument, catalog: Catalog) -> None:
    html = render_html(doc, "en", catalog)
    assert '<html lang="en">' in html
    assert "Daily steps: increase to 7,550 per day by February 1, 2027." in html
    assert "Approved by Dr. José Pérez, health professional, on January 5, 2027" in html
    assert "Borrador" not in html and "Ejercicio" not in html


def test_html_escapes_peoples_text(doc: PlanDocument, catalog: Catalog) -> None:
    html = render_html(doc, "es", catalog, audience="professional")
    assert "<script>" not in html and "<b>Huamán" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &#34;salt&#34; &lt; 5 g" in html
    assert "María &lt;b&gt;Huamán&lt;/b&gt;" in html
    assert _outline(html).errors == []


@pytest.mark.parametrize("audience", ["client", "professional"])
def test_html_is_accessible(doc: PlanDocument, catalog: Catalog, audience: str) -> None:
    outline = _outline(render_html(doc, "en", catalog, audience=audience))
    assert outline.errors == [] and outline.stack == []
    assert outline.tags[0] == ("html", {"lang": "en"})
    assert outline.count("title") == 1 and outline.count("h1") == 1
    assert outline.count("h2") >= len({i.domain for i in doc.plan.items})
    assert outline.count("h3") == len(doc.plan.items)
    headers = [attrs for tag, attrs in outline.tags if tag == "th"]
    assert headers and all(attrs.get("scope") in {"row", "col"} for attrs in headers)
    assert outline.count("caption") == outline.count("table")
    assert outline.count("style") == 1 and outline.count("link") == 0  # self-contained


def test_client_version_hides_the_rules_and_keeps_a_note(
    doc: PlanDocument, catalog: Catalog
) -> None:
    client = render_html(doc, "es", catalog)
    professional = render_html(doc, "es", catalog, audience="professional")
    hiit = catalog.get("ex_hiit")
    rule = next(c for c in hiit.contraindications if c.id == "acsm_vigorous_needs_clearance")
    for hidden in ("acsm_vigorous_needs_clearance", hiit.title.es, rule.reason.es, "Puntaje"):
        assert hidden not in client
        assert hidden in professional
    note = "Por su seguridad, 2 actividades quedaron fuera de este plan."
    assert note in _text(client)
    assert "autorización de un médico" in client
    assert "Se levanta con autorización médica" in professional
    assert "Para profesionales" in professional and "Para profesionales" not in client


def test_unapproved_plans_say_draft(draft: PlanDocument, catalog: Catalog) -> None:
    html = render_html(draft, "es", catalog)
    assert "BORRADOR — no aprobado por un profesional de salud." in html
    assert "Aprobado por" not in html
    assert "<td>Borrador</td>" in html
    rejected = dataclasses.replace(draft, status="rejected", approved_by="Dr. X")
    assert "BORRADOR" in render_html(rejected, "es", catalog)  # rejected: never approved
    approved = render_html(dataclasses.replace(draft, status="approved", approved_by="Dr. X"), "en")
    assert "DRAFT" not in approved and "Approved by Dr. X" in approved


def test_rendering_is_deterministic(doc: PlanDocument, catalog: Catalog) -> None:
    assert render_html(doc, "es", catalog) == render_html(doc, "es", catalog)


def test_empty_plan_renders(draft: PlanDocument, catalog: Catalog) -> None:
    empty = dataclasses.replace(draft, plan=dataclasses.replace(draft.plan, items=(), excluded=()))
    html = render_html(empty, "en", catalog)
    assert "This plan has no activities." in html
    assert _outline(html).errors == []


def test_bad_language_or_audience_is_an_input_error(doc: PlanDocument) -> None:
    with pytest.raises(InputError, match="unsupported language"):
        render_html(doc, "fr")
    with pytest.raises(InputError, match="audience"):
        render_html(doc, "es", audience="insurer")


# --------------------------------------------------------------------------- PDF


@pytest.mark.parametrize("lang", ["es", "en"])
def test_pdf_parses_and_holds_the_clients_items(
    doc: PlanDocument, catalog: Catalog, lang: str
) -> None:
    pdf = render_pdf(doc, lang, catalog)
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 1
    text = _text(" ".join(page.extract_text() for page in reader.pages))
    for item in doc.plan.items:
        assert catalog.get(item.intervention_id).title.get(lang) in text
    approved = "Aprobado por Dr. José Pérez" if lang == "es" else "Approved by Dr. José Pérez"
    assert approved in text
    title = {"es": "Plan de salud de", "en": "Health plan of"}[lang]
    assert reader.metadata is not None
    assert reader.metadata.title == f"{title} María <b>Huamán</b>"
