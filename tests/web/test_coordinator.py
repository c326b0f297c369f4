"""The coordinator's pages: the client list, a client's page, generating and editing a plan."""

from __future__ import annotations

import re

from sqlalchemy import select

from health_advisor.plans import service as plans
from health_advisor.security.consent import RECOMMENDATIONS, record_consent
from health_advisor.store.models import AuditEntry, Client, Plan
from health_advisor.store.session import session_scope

from .conftest import CLIENT_A, CLIENT_B, Web


def _audit(web: Web, **where: str) -> list[AuditEntry]:
    with session_scope(web.engine) as session:
        query = select(AuditEntry).order_by(AuditEntry.id)
        for column, value in where.items():
            query = query.where(getattr(AuditEntry, column) == value)
        rows = list(session.scalars(query))
        session.expunge_all()
        return rows


def _generate(web: Web, client: str = CLIENT_A) -> int:
    response = web.post(f"/clients/{client}/plans")
    assert response.status_code == 303, response.text
    found = re.fullmatch(r"/plans/(\d+)\?done=generated", response.headers["location"])
    assert found
    return int(found[1])


def _plan(web: Web, plan_id: int) -> tuple[str, list[str]]:
    with session_scope(web.engine) as session:
        plan = session.get(Plan, plan_id)
        assert plan is not None
        return plan.status, [i.intervention_id for i in plan.items]


def test_the_list_shows_only_assigned_clients_with_their_state(web: Web) -> None:
    web.sign_in_as("coordinator")
    page = web.http.get("/clients")
    assert page.status_code == 200
    assert CLIENT_A in page.text and CLIENT_B not in page.text
    assert "Ana Quispe Rojas" in page.text and "Bruno" not in page.text
    assert "risk-high" in page.text  # the overall category from the latest snapshot
    assert '<span class="badge alert-count">1</span>' in page.text  # one open alert
    assert "Sin plan todavía" in page.text
    (entry,) = _audit(web, action="list", object_type="client")
    assert entry.actor == "coord" and entry.detail["clients"] == [CLIENT_A]


def test_the_list_searches_and_shows_the_plan_and_adherence(web: Web) -> None:
    web.sign_in_as("admin")
    plan_id = _generate(web)
    page = web.http.get("/clients?q=client-a")
    assert CLIENT_A in page.text and CLIENT_B not in page.text
    assert f'href="/plans/{plan_id}">v1</a>' in page.text and "Borrador" in page.text
    assert "1 cliente" in page.text
    assert "2 clientes" in web.http.get("/clients").text  # an admin reaches everyone


def test_the_client_page_explains_risk_charts_trends_and_is_audited(web: Web) -> None:
    web.sign_in_as("coordinator")
    page = web.http.get(f"/clients/{CLIENT_A}")
    assert page.status_code == 200
    text = page.text
    assert "Explicación de los riesgos" in text
    assert "hipertensión en etapa 2" in text  # the category, translated
    assert "mean systolic 146 mm Hg over 90 days" in text  # the guideline's own reason
    assert "&lt;b&gt;hypertension&lt;/b&gt;" in text  # stored text is escaped, never markup
    assert "Sin datos de: Colesterol LDL." in text
    # charts: inline SVG, named and described, over the guideline bands
    assert text.count('<svg class="chart chart-line"') == 3  # systolic, steps, active min
    assert 'aria-labelledby="trend-systolic_bp-title trend-systolic_bp-desc"' in text
    assert '<title id="trend-systolic_bp-title">Presión arterial sistólica</title>' in text
    assert 'class="band band-risk"' in text and 'class="band band-ok"' in text
    assert "Minutos activos por semana" in text
    assert "Frecuencia cardiaca en reposo más alta de lo habitual" in text  # the alert
    (entry,) = _audit(web, action="read", object_type="client")
    assert entry.client_ref == CLIENT_A and entry.actor_role == "coordinator"
    assert entry.detail["charts"] == 3 and entry.source_address


def test_an_unassigned_client_is_not_found_and_the_attempt_is_audited(web: Web) -> None:
    web.sign_in_as("coordinator")
    page = web.http.get(f"/clients/{CLIENT_B}")
    assert page.status_code == 404
    assert "Bruno" not in page.text
    (entry,) = _audit(web, outcome="denied")
    assert entry.client_ref == CLIENT_B and entry.actor == "coord"
    assert web.post(f"/clients/{CLIENT_B}/plans").status_code == 404
    assert web.http.get("/clients/no-such-client").status_code == 404


def test_generating_shows_the_plan_with_each_items_reasons(web: Web) -> None:
    web.sign_in_as("coordinator")
    plan_id = _generate(web)
    page = web.http.get(f"/plans/{plan_id}?done=generated")
    assert page.status_code == 200
    assert "Plan generado" in page.text and "Borrador" in page.text
    assert "Por qué:" in page.text and "Riesgo de salud que atiende" in page.text
    assert "Reglas de seguridad que se aplicaron" in page.text
    assert "Enviar a revisión" in page.text
    status, items = _plan(web, plan_id)
    assert status == "draft" and items
    assert {e.action for e in _audit(web, client_ref=CLIENT_A)} >= {"create", "read"}


def test_without_consent_no_plan_is_generated(web: Web) -> None:
    with session_scope(web.engine) as session:
        client = session.scalar(select(Client).where(Client.external_id == CLIENT_A))
        assert client is not None
        record_consent(session, client, RECOMMENDATIONS, False, "withdrawn by phone")
    web.sign_in_as("coordinator")
    response = web.post(f"/clients/{CLIENT_A}/plans")
    assert response.status_code == 409
    assert "no recorded consent" in response.text
    with session_scope(web.engine) as session:
        assert session.scalar(select(Plan.id)) is None


def test_items_are_removed_added_and_swapped_with_a_reason(web: Web) -> None:
    web.sign_in_as("coordinator")
    plan_id = _generate(web)
    _, items = _plan(web, plan_id)
    with session_scope(web.engine) as session:
        plan = session.get(Plan, plan_id)
        assert plan is not None
        removable = next(i.intervention_id for i in plan.items if not i.mandatory)
    removed = web.post(
        f"/plans/{plan_id}/items/{removable}/remove", {"reason": "she already does this"}
    )
    assert removed.status_code == 303
    assert removed.headers["location"] == f"/plans/{plan_id}?done=item_removed"
    assert removable not in _plan(web, plan_id)[1]
    added = web.post(
        f"/plans/{plan_id}/items", {"intervention_id": removable, "reason": "she asked for it"}
    )
    assert added.status_code == 303
    assert removable in _plan(web, plan_id)[1]
    page = web.http.get(f"/plans/{plan_id}")
    assert "Agregada por el coordinador" in page.text and "she asked for it" in page.text
    catalog = web.app.state.web.catalog
    other = next(
        i.id
        for i in catalog.interventions
        if i.id not in _plan(web, plan_id)[1]
        and not any(catalog.conflict(i.id, x) or catalog.conflict(x, i.id) for x in items)
        and i.domain == "sleep"
    )
    swapped = web.post(
        f"/plans/{plan_id}/items/{removable}/swap",
        {"replacement": other, "reason": "sleep matters more now"},
    )
    assert swapped.status_code == 303, swapped.text
    now = _plan(web, plan_id)[1]
    assert other in now and removable not in now
    changes = [e.detail.get("change") for e in _audit(web, action="update")]
    assert changes == ["item_removed", "item_added", "item_swapped"]


def test_an_edit_without_a_reason_changes_nothing_and_says_why(web: Web) -> None:
    web.sign_in_as("coordinator")
    plan_id = _generate(web)
    before = _plan(web, plan_id)[1]
    response = web.post(f"/plans/{plan_id}/items/{before[0]}/remove", {"reason": "  "})
    assert response.status_code == 422
    assert "Indique el motivo del cambio." in response.text
    assert response.headers["hx-push-url"] == "false"  # htmx keeps the plan's address
    assert _plan(web, plan_id)[1] == before


def test_a_refused_swap_rolls_back_the_removal(web: Web) -> None:
    web.sign_in_as("coordinator")
    plan_id = _generate(web)
    assert len(_plan(web, plan_id)[1]) > 1  # the composer gives several items here
    with session_scope(web.engine) as session:
        plan = session.get(Plan, plan_id)
        assert plan is not None
        removable = next(i.intervention_id for i in plan.items if not i.mandatory)
        already = next(i.intervention_id for i in plan.items if i.intervention_id != removable)
    response = web.post(
        f"/plans/{plan_id}/items/{removable}/swap",
        {"replacement": already, "reason": "try a duplicate"},
    )
    assert response.status_code == 409
    assert "already holds" in response.text
    assert removable in _plan(web, plan_id)[1]  # the removal half was rolled back


def test_submitting_sends_the_plan_to_review_and_freezes_edits(web: Web) -> None:
    web.sign_in_as("coordinator")
    plan_id = _generate(web)
    response = web.post(f"/plans/{plan_id}/submit", {"comment": "ready"})
    assert response.status_code == 303
    assert _plan(web, plan_id)[0] == "in_review"
    page = web.http.get(f"/plans/{plan_id}")
    assert "Enviar a revisión" not in page.text and "Cambiar esta actividad" not in page.text
    item = _plan(web, plan_id)[1][0]
    late = web.post(f"/plans/{plan_id}/items/{item}/remove", {"reason": "too late"})
    assert late.status_code == 409
    assert web.post(f"/plans/{plan_id}/approve").status_code == 403  # not a professional


def test_a_professional_may_read_but_not_build(web: Web) -> None:
    web.sign_in_as("coordinator")
    plan_id = _generate(web)
    web.sign_in_as("professional")
    assert web.http.get(f"/clients/{CLIENT_B}").status_code == 200  # reaches everyone
    page = web.http.get(f"/plans/{plan_id}")
    assert page.status_code == 200 and "Cambiar esta actividad" not in page.text
    assert "Generar un plan nuevo" not in web.http.get(f"/clients/{CLIENT_A}").text
    assert web.post(f"/clients/{CLIENT_A}/plans").status_code == 403
    item = _plan(web, plan_id)[1][0]
    assert web.post(f"/plans/{plan_id}/items/{item}/remove", {"reason": "x"}).status_code == 403


def test_plans_of_other_clients_are_not_found(web: Web) -> None:
    web.sign_in_as("admin")
    other = _generate(web, CLIENT_B)
    web.sign_in_as("coordinator")
    assert web.http.get(f"/plans/{other}").status_code == 404
    assert web.post(f"/plans/{other}/submit").status_code == 404
    assert web.http.get("/plans/999999").status_code == 404
    with session_scope(web.engine) as session:
        assert plans.get_plan(session, other).status == "draft"
