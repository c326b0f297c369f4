"""Plan bodies are rendered once per version of a plan: a second read is served from the
cache, and every change (an item edit, a transition, another language) renders anew."""

from __future__ import annotations

import gc

from sqlalchemy import select

from health_advisor.api.plan_cache import RenderCache
from health_advisor.security import consent
from health_advisor.store.models import Client
from health_advisor.store.session import session_scope

from .conftest import CLIENT_A, World


def _consent(world: World) -> None:
    with session_scope(world.engine) as session:
        client = session.scalar(select(Client).where(Client.external_id == CLIENT_A))
        assert client is not None
        consent.record_consent(session, client, consent.RECOMMENDATIONS, True, "form 2")


def test_reads_are_served_from_the_cache_and_changes_render_anew(world: World) -> None:
    _consent(world)
    coord, doctor = world.headers("coordinator"), world.headers("professional")
    cache = world.app.state.plan_bodies
    made = world.http.post(f"/api/v1/clients/{CLIENT_A}/plans", json={}, headers=coord)
    assert made.status_code == 201, made.text
    plan = made.json()
    url = f"/api/v1/plans/{plan['plan_id']}"

    hits = cache.hits
    first = world.http.get(url, headers=coord).json()
    second = world.http.get(url, headers=coord).json()
    assert first == second == plan
    assert cache.hits == hits + 2  # the body made by the generation is reused
    # kept as JSON bytes: nothing for the garbage collector to traverse (a cache of models
    # added some 130 objects a plan, and full passes over them stalled the server)
    assert all(isinstance(body, bytes) and not gc.is_tracked(body) for body in cache.values())

    english = world.http.get(url, params={"lang": "en"}, headers=coord).json()
    assert english["lang"] == "en" and english["items"][0]["title"] != plan["items"][0]["title"]

    present = {i["intervention_id"] for i in plan["items"]}
    extra = next(
        i["id"]
        for i in world.http.get("/api/v1/interventions?limit=200", headers=coord).json()["items"]
        if i["id"] not in present and i["domain"] == "stress"
    )
    added = world.http.post(
        f"{url}/items", json={"intervention_id": extra, "reason": "client asked"}, headers=coord
    )
    assert added.status_code == 201, added.text
    after = world.http.get(url, headers=coord).json()
    assert extra in {i["intervention_id"] for i in after["items"]}
    assert after == added.json() != plan

    world.http.post(f"{url}/submit", json={}, headers=coord).raise_for_status()
    assert world.http.get(url, headers=doctor).json()["status"] == "in_review"
    world.http.post(f"{url}/approve", json={"comment": "ok"}, headers=doctor).raise_for_status()
    approved = world.http.get(url, headers=coord).json()
    assert approved["status"] == "approved" and approved["reviewed_by"] == "doctor"


def test_the_cache_keeps_the_most_recently_used() -> None:
    cache: RenderCache[int] = RenderCache(size=2)
    renders: list[str] = []

    def render(key: str) -> int:
        renders.append(key)
        return len(renders)

    assert cache.get("a", lambda: render("a")) == 1
    assert cache.get("b", lambda: render("b")) == 2
    assert cache.get("a", lambda: render("a")) == 1  # a hit; "b" is now the oldest
    assert cache.get("c", lambda: render("c")) == 3  # evicts "b"
    assert cache.get("b", lambda: render("b")) == 4
    assert renders == ["a", "b", "c", "b"] and len(cache) == 2
    assert (cache.hits, cache.misses) == (1, 4)
