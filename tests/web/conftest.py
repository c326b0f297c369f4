"""A small hand-made clinic for the web tests: two clients with snapshots, readings,
alerts, a quarantined record and a survey; one user per role (two client users).

Users share one argon2 hash computed once per session; most tests sign in by setting
the session cookie minted with the app's signer, and the sign-in tests exercise the
real form. The app is the API's ``create_app`` with ``mount_web`` called on it, as the
server does.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from health_advisor.api.app import create_app
from health_advisor.config import Settings
from health_advisor.core import metrics
from health_advisor.security import users
from health_advisor.security.consent import RECOMMENDATIONS
from health_advisor.store.models import (
    Client,
    DataSource,
    FeatureSnapshot,
    Measurement,
    Survey,
    User,
)
from health_advisor.store.session import session_scope
from health_advisor.web.app import mount_web
from health_advisor.web.session import SESSION_COOKIE

from .. import seeding
from ..seeding import CLIENT_A
from ..seeding import CLIENT_B as CLIENT_B  # re-exported for the tests
from ..seeding import PASSWORD as PASSWORD  # re-exported for the tests

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's TestClient warns about httpx on import
    from fastapi.testclient import TestClient

LAST_DAY = dt.date(2026, 11, 29)
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


RISK_A = {
    "blood_pressure": {
        "category": "stage_2",
        "reason": "mean systolic 146 mm Hg over 90 days: stage 2 (ACC/AHA 2017)",
        "rule": "ACC/AHA 2017:blood_pressure.stage_2",
    },
    "bmi": {"category": "overweight", "reason": "BMI 27.1 kg/m2", "rule": "WHO:bmi.overweight"},
    "activity": {"category": "insufficient", "reason": "90 min/week", "rule": "WHO 2020"},
    "sleep": {"category": "recommended", "reason": "7.4 h/night", "rule": "NSF/AASM"},
    "ldl": {"category": "unknown", "reason": "no LDL cholesterol available", "rule": "ldl"},
    "overall": {
        "category": "high",
        "reason": "blood_pressure: stage 2",
        "reasons": ["blood_pressure: mean systolic 146 mm Hg: stage 2 <b>hypertension</b>"],
    },
}


def _snapshot(client: Client, risk: dict[str, object]) -> FeatureSnapshot:
    categories = {
        f"{k}_category": v["category"]  # type: ignore[index]
        for k, v in risk.items()
        if k != "overall"
    }
    return FeatureSnapshot(
        client_id=client.id,
        as_of=LAST_DAY,
        feature_version="1.0.0",
        features={
            **categories,
            "health_risk_category": risk["overall"]["category"],  # type: ignore[index]
            "age_years": 52.0,
            "sex": "female",
            "steps_mean_28d": 5200.0,
            "systolic_bp_mean_90d": 146.0,
        },
        risk=risk,
    )


def _survey(client: Client) -> Survey:
    return Survey(
        client_id=client.id,
        answered_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        answers={
            "goals": ["lower_bp"],
            "preferred_domains": ["exercise", "nutrition"],
            "preferred_settings": ["home"],
            "weekly_time_budget_min": 240,
            "conditions": ["hypertension"],
            "medical_clearance": False,
            "smoker": False,
        },
    )


def _readings(client: Client, source: DataSource) -> list[Measurement]:
    """30 days of steps and a systolic reading every third day for the charts."""
    rows = []
    for k in range(30):
        day = LAST_DAY - dt.timedelta(days=29 - k)
        at = dt.datetime.combine(day, dt.time(15), dt.UTC)
        for name, value in (("steps", 4000.0 + 60 * k), ("active_minutes", 12.0 + k % 5)):
            rows.append((name, value, at))
        if k % 3 == 0:
            rows.append(("systolic_bp", 150.0 - k / 3, at))
    return [
        Measurement(
            client_id=client.id,
            metric=metrics.code_for(name),
            value=value,
            unit=metrics.by_name(name).unit,
            original_value=value,
            original_unit=metrics.by_name(name).unit,
            observed_at=at,
            source_id=source.id,
            source_record=f"{client.external_id}:{name}:{at.isoformat()}",
        )
        for name, value, at in rows
    ]


def seed(engine: Engine) -> dict[str, User]:
    with session_scope(engine) as session:
        source = seeding.add_source(session, digest_char="1")
        for ext, name in seeding.CLIENT_NAMES.items():
            client = seeding.add_client(
                session,
                purposes=[RECOMMENDATIONS],
                note="intake form",
                external_id=ext,
                name=name,
                sex="female",
                birth_year=1974,
            )
            session.add(_snapshot(client, RISK_A))
            session.add(_survey(client))
            session.add_all(_readings(client, source))
            seeding.add_heart_rate_findings(
                session,
                source,
                client,
                start=dt.date(2026, 11, 20),
                explanation="Resting heart rate averaged 88 /min on 3 days.",
                line=7,
            )
        session.flush()
        made = seeding.add_users(session, seeding.ACCOUNTS)
        users.assign_client(session, "coord", CLIENT_A)
        session.expunge_all()
    return made


@dataclass
class Web:
    """The app, a browser-like client and the seeded users."""

    app: FastAPI
    http: TestClient
    engine: Engine
    users: dict[str, User] = field(default_factory=dict)

    def sign_in_as(self, who: str) -> None:
        """Be ``who`` (a key of :data:`seeding.ACCOUNTS`) without the cost of the
        password form."""
        token, _ = self.app.state.signer.issue(self.users[who])
        self.http.cookies.set(SESSION_COOKIE, token)

    def csrf(self, path: str = "/login") -> str:
        """This browser's form token, read from a page as a person's browser would."""
        found = _CSRF.search(self.http.get(path).text)
        assert found, f"no CSRF field on {path}"
        return found[1]

    def post(self, path: str, data: dict[str, str] | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
        """A form post with this browser's CSRF token (redirects not followed)."""
        form = {"csrf_token": self.csrf(), **(data or {})}
        return self.http.post(path, data=form, follow_redirects=False, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def app(engine: Engine, settings: Settings) -> FastAPI:
    application = create_app(settings, engine=engine)
    mount_web(application, settings)
    return application


@pytest.fixture
def web(app: FastAPI, engine: Engine) -> Iterator[Web]:
    made = seed(engine)
    with TestClient(app) as http:
        yield Web(app=app, http=http, engine=engine, users=made)
