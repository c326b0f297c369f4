"""The whole journey in a real browser: a coordinator signs in, generates and edits a
plan and submits it; a professional approves it; the client sees it in Spanish on a
phone-sized screen, checks in, and the check-in is an interaction in the store.

Screenshots of each step go to ``test-artifacts/e2e/``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from health_advisor.catalog import load_catalog
from health_advisor.plans import service as plans
from health_advisor.store.models import CheckIn, Client, Interaction
from health_advisor.store.session import session_scope

from .conftest import ACCOUNTS, ARTIFACTS, PASSWORD, Clinic

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}  # an iPhone 12-14 sized screen
TIMEOUT_MS = 10_000
BROWSER_ERRORS: list[str] = []  # console errors and uncaught exceptions (CSP refusals too)


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _sign_in(browser: Any, clinic: Clinic, who: str, viewport: dict[str, int]) -> Any:
    from playwright.sync_api import expect

    context = browser.new_context(viewport=viewport, base_url=clinic.base_url)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.on("console", lambda m: BROWSER_ERRORS.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: BROWSER_ERRORS.append(str(error)))
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "es-PE")
    page.get_by_label("Usuario").fill(ACCOUNTS[who])
    page.get_by_label("Contraseña").fill(PASSWORD)
    page.get_by_role("button", name="Iniciar sesión").click()
    expect(page.get_by_role("button", name="Cerrar sesión")).to_be_visible()
    return page


def _addable(clinic: Clinic, plan_id: int) -> str:
    """A sleep intervention the plan lacks that no rule keeps out and nothing conflicts
    with (what a coordinator would pick from the list)."""
    catalog = load_catalog()
    with session_scope(clinic.engine) as session:
        plan = plans.get_plan(session, plan_id)
        held = {i.intervention_id for i in plan.items}
        excluded = {e["intervention_id"] for e in plan.excluded.get("items", [])}
    return next(
        item.id
        for item in catalog.interventions
        if item.domain == "sleep"
        and item.id not in held | excluded
        and not any(catalog.conflict(item.id, h) or catalog.conflict(h, item.id) for h in held)
    )


def _coordinator_builds_and_submits(browser: Any, clinic: Clinic) -> int:
    from playwright.sync_api import expect

    page = _sign_in(browser, clinic, "coordinator", DESKTOP)
    expect(page.get_by_role("heading", name="Clientes", level=1)).to_be_visible()
    page.get_by_role("link", name=clinic.client_id, exact=True).click()
    expect(page.get_by_role("heading", name="Explicación de los riesgos")).to_be_visible()
    expect(page.locator("svg.chart").first).to_be_visible()
    _shot(page, "1-coordinator-client")
    page.get_by_role("button", name="Generar un plan nuevo").click()
    expect(page.get_by_text("Plan generado.")).to_be_visible()
    plan_id = int(page.url.rsplit("/plans/", 1)[1].split("?")[0])

    removable = page.locator("form[action$='/remove']")  # not required by the guidelines
    item = page.locator("li.item").filter(has=removable).first
    removed = item.get_by_role("heading", level=3).inner_text()
    item.get_by_text("Cambiar esta actividad").click()
    item.get_by_label("Motivo para retirarla").fill("Ya lo hace con su entrenador")
    item.get_by_role("button", name="Retirar").click()
    expect(page.get_by_text("Actividad retirada.")).to_be_visible()
    expect(page.get_by_role("heading", name=removed, exact=True)).to_have_count(0)

    page.get_by_label("Intervención", exact=True).select_option(_addable(clinic, plan_id))
    page.get_by_label("Motivo para agregarla").fill("Duerme mal desde hace un mes")
    page.get_by_role("button", name="Agregar", exact=True).click()
    expect(page.get_by_text("Actividad agregada.")).to_be_visible()
    expect(page.get_by_text("Agregada por el coordinador")).to_be_visible()
    page.get_by_role("button", name="Enviar a revisión").click()
    expect(page.get_by_text("Enviado a revisión.")).to_be_visible()
    _shot(page, "2-coordinator-plan-submitted")
    page.context.close()
    return plan_id


def _professional_approves(browser: Any, clinic: Clinic, plan_id: int) -> None:
    from playwright.sync_api import expect

    page = _sign_in(browser, clinic, "professional", DESKTOP)
    expect(page.get_by_role("heading", name="Por revisar", level=1)).to_be_visible()
    page.get_by_role("link", name="Revisar la versión 1").click()
    expect(page.get_by_role("heading", name="Reglas de seguridad que se aplicaron")).to_be_visible()
    start_now = page.get_by_label("Iniciar el plan ahora (el cliente puede reportar desde hoy)")
    expect(start_now).to_be_checked()
    page.get_by_label("Comentario (opcional)").fill("Adecuado. Control en 4 semanas.")
    page.get_by_role("button", name="Aprobar").click()
    expect(page.get_by_text("Plan activo: el cliente ya puede verlo")).to_be_visible()
    _shot(page, "3-professional-approved")
    page.context.close()
    with session_scope(clinic.engine) as session:
        assert plans.get_plan(session, plan_id).status == "active"


def _client_checks_in(browser: Any, clinic: Clinic, plan_id: int) -> str:
    from playwright.sync_api import expect

    page = _sign_in(browser, clinic, "client", PHONE)
    expect(page.get_by_role("heading", name="Mi plan de salud")).to_be_visible()
    expect(page.get_by_text("Aprobado por dra.rios")).to_be_visible()
    with session_scope(clinic.engine) as session:
        first = plans.get_plan(session, plan_id).items[0].intervention_id
    title_es = load_catalog().get(first).title.get("es")
    expect(page.get_by_role("heading", name=title_es).first).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width}px)"
    _shot(page, "4-client-plan-phone")
    page.locator(f"#adherence-{first}").fill("80")
    page.locator(f"#rating-{first}").select_option("4")
    page.get_by_role("button", name="Enviar reporte").click()
    expect(page.get_by_text("¡Gracias! Su reporte semanal quedó guardado.")).to_be_visible()
    expect(page.locator("svg.chart-bar").first).to_be_visible()
    _shot(page, "5-client-checked-in-phone")
    with page.expect_download() as download:
        page.get_by_role("link", name="Descargar mi plan (PDF)").click()
    assert download.value.suggested_filename.endswith(".pdf")
    page.context.close()
    return first


def test_plan_from_coordinator_to_client_check_in(browser: Any, clinic: Clinic) -> None:
    BROWSER_ERRORS.clear()
    plan_id = _coordinator_builds_and_submits(browser, clinic)
    _professional_approves(browser, clinic, plan_id)
    item = _client_checks_in(browser, clinic, plan_id)
    today = dt.datetime.now(dt.UTC).date()
    week_end = today - dt.timedelta(days=today.weekday()) + dt.timedelta(days=6)
    with session_scope(clinic.engine) as session:
        client_pk = session.scalar(select(Client.id).where(Client.external_id == clinic.client_id))
        stored = session.execute(
            select(Interaction.kind, Interaction.value, Interaction.at).where(
                Interaction.client_id == client_pk,
                Interaction.intervention_id == item,
                Interaction.kind.in_(("adherence", "rating")),
                Interaction.source_id.is_(None),
            )
        ).all()
        checkin = session.scalar(select(CheckIn).where(CheckIn.client_id == client_pk))
        assert checkin is not None and checkin.created_by == ACCOUNTS["client"]
    assert sorted((kind, value) for kind, value, _ in stored) == [
        ("adherence", 80.0),
        ("rating", 4.0),
    ]
    assert {at.date() for _, _, at in stored} == {week_end}
    assert BROWSER_ERRORS == [], "\n".join(BROWSER_ERRORS)
    for name in ("1-coordinator-client", "3-professional-approved", "5-client-checked-in-phone"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 10_000
