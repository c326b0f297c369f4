"""Measurements through the API: batches and files, validated like the CLI, with consent."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from health_advisor.store.models import Measurement, Quarantine
from health_advisor.store.session import session_scope

from .conftest import CLIENT_A, CLIENT_B, World

FITBIT = (
    "Id,ActivityDate,TotalSteps,TotalDistance,TrackerDistance,LoggedActivitiesDistance,"
    "VeryActiveDistance,ModeratelyActiveDistance,LightActiveDistance,SedentaryActiveDistance,"
    "VeryActiveMinutes,FairlyActiveMinutes,LightlyActiveMinutes,SedentaryMinutes,Calories\r\n"
    "{id},4/12/2016,13162,8.5,8.5,0,1.88,0.55,6.06,0,25,13,328,728,1985\r\n"
    "{id},4/13/2016,0,0,0,0,0,0,0,0,0,0,0,1440,1400\r\n"
)
CLINIC = (
    "client_id,date,heart_rate,blood_pressure,cholesterol_levels,steps_count,active_minutes,"
    "calorie_intake,water_consumption,sleep_duration,sleep_quality\n"
    "{id},2026-09-01,64,121/79,190,8000,35,2100,2.0,7.2,80\n"
)


def batch_url(client: str) -> str:
    return f"/api/v1/clients/{client}/measurements"


def stored(world: World) -> int:
    with session_scope(world.engine) as session:
        return int(session.scalar(select(func.count()).select_from(Measurement)) or 0)


def upload(world: World, who: str, name: str, text: str, source: str = "auto"):  # type: ignore[no-untyped-def]
    files = {"file": (name, io.BytesIO(text.encode()), "text/csv")}
    return world.http.post(
        "/api/v1/measurements/files",
        files=files,
        data={"source": source},
        headers=world.headers(who),
    )


def test_batch_is_validated_and_bad_rows_quarantined(world: World) -> None:
    items = [
        {"metric": "steps", "value": 8000, "observed_at": "2026-10-01T08:00:00-05:00"},
        {"metric": "weight", "value": 150, "unit": "[lb_av]", "observed_at": "2026-10-01T08:00:00"},
        {
            "metric": "body_weight",
            "value": 150,
            "unit": "[lb_av]",
            "observed_at": "2026-10-01T08:00:00",
        },
        {"metric": "heart_rate", "value": 400, "observed_at": "2026-10-01T08:00:00Z"},
    ]
    response = world.http.post(
        batch_url(CLIENT_A), json={"measurements": items}, headers=world.headers("client")
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["kind"], body["measurements"], body["quarantined"]) == ("api", 2, 2)
    assert body["quarantine"] == [
        "line 2: metric: unknown metric 'weight'",
        "line 4: heart_rate: 400 /min outside 25-250",
    ]
    rows = world.http.get(batch_url(CLIENT_A), headers=world.headers("client")).json()["items"]
    weight = next(r for r in rows if r["name"] == "body_weight")
    assert round(weight["value"], 2) == 68.04 and weight["unit"] == "kg"
    assert weight["observed_at"] == "2026-10-01T13:00:00Z"  # naive = the clinic's zone (UTC-5)
    again = world.http.post(
        batch_url(CLIENT_A), json={"measurements": items}, headers=world.headers("client")
    )
    assert again.json()["status"] == "unchanged"


def test_wearable_batch_needs_consent_manual_does_not(world: World) -> None:
    world.http.delete(
        f"/api/v1/clients/{CLIENT_A}/consents/wearable_ingestion", headers=world.headers("client")
    )
    item = {"metric": "steps", "value": 8000, "observed_at": "2026-10-01T08:00:00Z"}
    refused = world.http.post(
        batch_url(CLIENT_A), json={"measurements": [item]}, headers=world.headers("service")
    )
    assert refused.status_code == 409 and "wearable_ingestion" in refused.json()["detail"]
    disguised = world.http.post(
        batch_url(CLIENT_A),
        json={"kind": "manual", "measurements": [item]},
        headers=world.headers("service"),
    )
    assert disguised.status_code == 409  # a bridge's data is wearable whatever it claims
    assert stored(world) == 0
    manual = world.http.post(
        batch_url(CLIENT_A),
        json={"kind": "manual", "measurements": [item]},
        headers=world.headers("coordinator"),
    )
    assert manual.status_code == 201 and stored(world) == 1


def test_fitbit_upload_checks_consent_of_every_client(world: World) -> None:
    world.http.delete(
        f"/api/v1/clients/{CLIENT_B}/consents/wearable_ingestion", headers=world.headers("admin")
    )
    refused = upload(world, "admin", "dailyActivity_merged.csv", FITBIT.format(id=CLIENT_B))
    assert refused.status_code == 409
    ok = upload(world, "service", "dailyActivity_merged.csv", FITBIT.format(id=CLIENT_A))
    assert ok.status_code == 201, ok.text
    body = ok.json()
    assert body["kind"] == "fitbit" and body["quarantined"] == 1  # the not-worn day
    assert body["measurements"] > 0


def test_fitbit_upload_of_an_unknown_client_is_refused(world: World) -> None:
    response = upload(world, "admin", "dailyActivity_merged.csv", FITBIT.format(id="1503960366"))
    assert response.status_code == 409 and "register the client" in response.json()["detail"]


def test_coordinator_uploads_only_assigned_clients(world: World) -> None:
    refused = upload(world, "coordinator", "clinic.csv", CLINIC.format(id=CLIENT_B))
    assert refused.status_code == 403
    assert upload(world, "coordinator", "clinic.csv", CLINIC.format(id=CLIENT_A)).status_code == 201


def test_admin_clinic_file_may_bring_new_clients(world: World) -> None:
    response = upload(world, "admin", "clinic.csv", CLINIC.format(id="c-brand-new"))
    assert response.status_code == 201
    assert (
        world.http.get("/api/v1/clients/c-brand-new", headers=world.headers("admin")).status_code
        == 200
    )


def test_malformed_upload_is_a_problem_and_writes_nothing(world: World) -> None:
    response = upload(world, "admin", "broken.csv", "client_id,heart_rate\n\x00\x01\n")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "broken.csv" in response.json()["detail"]
    with session_scope(world.engine) as session:
        assert session.scalar(select(func.count()).select_from(Quarantine)) == 2  # the seed's
