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
from functools import lru_cache

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select

from health_advisor.api.app import create_app
from health_advisor.config import Settings
from health_advisor.core import metrics
from health_advisor.security import passwords, users
from health_advisor.security.consent import RECOMMENDATIONS, record_consent
from health_advisor.store.models import (
    Alert,
    Client,
    DataSource,
    FeatureSnapshot,
    Measurement,
    Quarantine,
    Survey,
    User,
)
from health_advisor.store.session import session_scope
from health_advisor.web.app import mount_web
from health_advisor.web.session import SESSION_COOKIE

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's TestClient warns about httpx on import
    from fastapi.testclient import TestClient

PASSWORD = "correct horse battery staple"
CLIENT_A, CLIENT_B = "client-a", "client-b"
USERS = {  # who -> (username, role, linked client)
    "admin": ("root-admin", "admin", None),
    "coordinator": ("coord", "coordinator", None),
    "professional": ("doctor", "professional", None),
    "client": ("alice", "client", CLIENT_A),
    "other_client": ("bob", "client", CLIENT_B),
}
LAST_DAY = dt.date(2026, 11, 29)
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


@lru_cache(maxsize=1)
def password_hash() -> str:
    return passwords.hash_password(PASSWORD)


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
    made: dict[str, User] = {}
    with session_scope(engine) as session:
        source = DataSource(
            kind="csv", file_name="seed.csv", sha256="1" * 64, size_bytes=10, parser_version="1"
        )
        session.add(source)
        session.flush()
        for ext, name in ((CLIENT_A, "Ana Quispe Rojas"), (CLIENT_B, "Bruno Díaz Soto")):
            client = Client(external_id=ext, name=name, sex="female", birth_year=1974)
            session.add(client)
            session.flush()
            record_consent(session, client, RECOMMENDATIONS, True, "intake form")
            session.add(_snapshot(client, RISK_A))
            session.add(_survey(client))
            session.add_all(_readings(client, source))
            session.add(
                Alert(
                    client_id=client.id,
                    dedup_key=f"{ext}|rhr_elevated|2026-11-20",
                    kind="rhr_elevated",
                    severity="warning",
                    metric="40443-4",
                    window_start=dt.date(2026, 11, 20),
                    window_end=dt.date(2026, 11, 23),
                    explanation="Resting heart rate averaged 88 /min on 3 days.",
                )
            )
            session.add(
                Quarantine(
                    source_id=source.id,
                    line=7,
                    field="heart_rate",
                    reason="heart_rate: 400 /min outside 25-250",
                    raw=f"{ext},400",
                    client_external_id=ext,
                )
            )
        session.flush()
        for who, (username, role, client_ext) in USERS.items():
            client_pk = (
                session.scalar(select(Client.id).where(Client.external_id == client_ext))
                if client_ext
                else None
            )
            user = User(
                username=username,
                password_hash=password_hash(),
                role=role,
                client_id=client_pk,
                display_name=None,
                active=True,
                failed_logins=0,
            )
            session.add(user)
            made[who] = user
        session.flush()
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
        """Be ``who`` (a key of :data:`USERS`) without the cost of the password form."""
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
