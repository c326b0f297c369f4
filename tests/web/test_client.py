"""The client's own pages: the approved plan only, the weekly check-in, progress, the PDF;
and nothing of anybody else's."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from health_advisor.catalog import load_catalog
from health_advisor.plans import service as plans
from health_advisor.plans.workflow import Actor
from health_advisor.store.models import Alert, CheckIn, Client, Interaction
from health_advisor.store.session import session_scope

from .conftest import CLIENT_A, CLIENT_B, Web
from .test_review import submitted_plan


def active_plan(web: Web, client: str = CLIENT_A, *, start: bool = True) -> int:
    plan_id = submitted_plan(web, client)
    doctor = Actor("doctor", "professional")
    with session_scope(web.engine) as session:
        plans.transition(session, plan_id, "approve", doctor)
        if start:
            plans.transition(session, plan_id, "activate", doctor)
    return plan_id


def _items(web: Web, plan_id: int) -> list[str]:
    with session_scope(web.engine) as session:
        return [i.intervention_id for i in plans.get_plan(session, plan_id).items]


def _this_week() -> str:
    today = dt.datetime.now(dt.UTC).date()
    return (today - dt.timedelta(days=today.weekday())).isoformat()


def test_no_plan_is_shown_before_a_professional_approves_one(web: Web) -> None:
    submitted_plan(web)  # in review: not for the client's eyes
    web.sign_in_as("client")
    page = web.http.get("/my/plan")
    assert page.status_code == 200
    assert "Su equipo de salud está preparando su plan" in page.text
    assert "Enviar reporte" not in page.text


def test_the_approved_plan_is_shown_in_spanish_with_its_reasons(web: Web) -> None:
    plan_id = active_plan(web, start=False)
    web.sign_in_as("client")
    page = web.http.get("/my/plan")
    assert '<html lang="es-PE">' in page.text
    assert "Mi plan de salud" in page.text and "Aprobado por doctor" in page.text
    assert "Qué hacer cada semana" in page.text and "Por qué está en mi plan" in page.text
    assert "Empieza pronto" in page.text
    assert "Enviar reporte" not in page.text  # approved, not started: no check-ins yet
    catalog = load_catalog()
    first = _items(web, plan_id)[0]
    assert catalog.get(first).title.get("es") in page.text


def test_a_check_in_is_stored_as_interactions(web: Web) -> None:
    plan_id = active_plan(web)
    first, second, *_ = _items(web, plan_id)
    web.sign_in_as("client")
    page = web.http.get("/my/plan")
    assert "Reporte semanal" in page.text and f'name="adherence-{first}"' in page.text
    response = web.post(
        "/my/checkin",
        {
            "week": _this_week(),
            f"adherence-{first}": "80",
            f"rating-{first}": "4",
            f"adherence-{second}": "",  # left blank: nothing reported for it
            "note": "a good week",
        },
    )
    assert response.status_code == 303 and response.headers["location"] == "/my/plan?done=checkin"
    with session_scope(web.engine) as session:
        client = session.scalar(select(Client).where(Client.external_id == CLIENT_A))
        assert client is not None
        rows = session.execute(
            select(Interaction.intervention_id, Interaction.kind, Interaction.value).where(
                Interaction.client_id == client.id
            )
        ).all()
        checkin = session.scalar(select(CheckIn))
        assert checkin is not None and checkin.note == "a good week"
        assert checkin.created_by == "alice"
    assert sorted(rows) == [(first, "adherence", 80.0), (first, "rating", 4.0)]
    after = web.http.get("/my/plan?done=checkin")
    assert "¡Gracias! Su reporte semanal quedó guardado." in after.text
    assert 'id="checkins-' in after.text  # the weekly bar chart of the item
    assert "1 reporte hasta ahora" in after.text


def test_side_effects_raise_an_alert_for_the_care_team(web: Web) -> None:
    plan_id = active_plan(web)
    first = _items(web, plan_id)[0]
    web.sign_in_as("client")
    response = web.post(
        "/my/checkin",
        {"week": _this_week(), f"adherence-{first}": "30", f"side-effects-{first}": "knee pain"},
    )
    assert response.status_code == 303
    with session_scope(web.engine) as session:
        kinds = set(session.scalars(select(Alert.kind)))
    assert "side_effect" in kinds


def test_a_bad_check_in_is_refused_with_reasons_and_nothing_stored(web: Web) -> None:
    plan_id = active_plan(web)
    first = _items(web, plan_id)[0]
    web.sign_in_as("client")
    for form in (
        {"week": _this_week(), f"adherence-{first}": "180"},
        {"week": _this_week(), f"adherence-{first}": "lots"},
        {"week": _this_week()},
        {"week": "2020-01-06", f"adherence-{first}": "50"},
    ):
        response = web.post("/my/checkin", form)
        assert response.status_code == 422, form
        assert "Revise lo siguiente:" in response.text
    with session_scope(web.engine) as session:
        assert session.scalar(select(CheckIn.id)) is None


def test_check_ins_need_an_active_plan(web: Web) -> None:
    plan_id = active_plan(web, start=False)
    web.sign_in_as("client")
    first = _items(web, plan_id)[0]
    response = web.post("/my/checkin", {"week": _this_week(), f"adherence-{first}": "50"})
    assert response.status_code == 409
    assert "Su plan todavía no empieza" in response.text


def test_the_plan_downloads_as_a_pdf(web: Web) -> None:
    active_plan(web)
    web.sign_in_as("client")
    response = web.http.get("/my/plan.pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert response.headers["cache-control"] == "no-store"


def test_without_a_plan_there_is_no_pdf(web: Web) -> None:
    web.sign_in_as("client")
    assert web.http.get("/my/plan.pdf").status_code == 404


def test_a_client_cannot_see_another_clients_pages(web: Web) -> None:
    other = active_plan(web, CLIENT_B)
    own = active_plan(web, CLIENT_A)
    web.sign_in_as("client")
    assert web.http.get(f"/clients/{CLIENT_B}").status_code == 403
    assert web.http.get(f"/clients/{CLIENT_A}").status_code == 403  # staff pages only
    assert web.http.get("/clients").status_code == 403
    assert web.http.get(f"/plans/{other}").status_code == 403
    assert web.http.get(f"/plans/{own}").status_code == 403
    assert web.http.get(f"/plans/{other}/pdf").status_code == 403
    assert web.http.get("/review").status_code == 403
    assert web.http.get("/admin/users").status_code == 403
    web.sign_in_as("other_client")
    assert web.http.get("/my/plan").status_code == 200
    first = _items(web, own)[0]
    web.post("/my/checkin", {"week": _this_week(), f"adherence-{first}": "90"})
    with session_scope(web.engine) as session:  # bob's check-in is bob's, never alice's
        alice = session.scalar(select(Client.id).where(Client.external_id == CLIENT_A))
        assert session.scalar(select(Interaction.id).where(Interaction.client_id == alice)) is None


def test_staff_have_no_my_plan_page(web: Web) -> None:
    web.sign_in_as("coordinator")
    assert web.http.get("/my/plan").status_code == 403
