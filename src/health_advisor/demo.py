"""The demo clinic's people and plans, so a person can try every role at once.

``health-advisor demo`` builds and ingests a synthetic clinic, then calls
:func:`prepare` here: consents recorded from the (synthetic) intake forms, the model
trained, one account per role, and plans in every state of the workflow (a draft for
the coordinator, one in review for the professional, an active one for the client).
Running it again is safe: accounts and consents are reused, and new plan versions
supersede earlier unapproved ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from health_advisor.config import Settings
from health_advisor.errors import ConfigurationError

__all__ = ["ACCOUNTS", "DemoReport", "prepare"]

# Demo passwords are printed by `demo`; production refuses to create them.
ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("admin", "admin", "pisco-sour-2026"),
    ("coordinadora", "coordinator", "cebiche-limeno-2026"),
    ("doctora", "professional", "lomo-saltado-2026"),
    ("cliente", "client", "aji-de-gallina-2026"),
)
EVIDENCE = "synthetic intake form (demo clinic)"


@dataclass
class DemoReport:
    accounts: list[dict[str, str]] = field(default_factory=list)
    model: dict[str, Any] = field(default_factory=dict)
    plans: dict[str, int] = field(default_factory=dict)
    client_user_client: str | None = None


def _consents(engine: Engine) -> int:
    from health_advisor.security import consent
    from health_advisor.store.models import Client
    from health_advisor.store.session import session_scope

    added = 0
    with session_scope(engine) as session:
        for client in session.scalars(select(Client).order_by(Client.id)):
            for purpose in consent.PURPOSES:
                if not consent.has_consent(session, client.id, purpose):
                    consent.record_consent(session, client, purpose, True, EVIDENCE)
                    added += 1
    return added


def _accounts(engine: Engine, clients: list[str], assigned: int) -> list[dict[str, str]]:
    from health_advisor.security import users
    from health_advisor.store.models import User
    from health_advisor.store.session import session_scope

    out = []
    with session_scope(engine) as session:
        for username, role, password in ACCOUNTS:
            if session.scalar(select(User).where(User.username == username)) is None:
                linked = clients[0] if role == "client" else None
                users.add_user(session, username, role, password, client_external_id=linked)
            out.append({"username": username, "role": role, "password": password})
        for client in clients[:assigned]:
            users.assign_client(session, "coordinadora", client)
    return out


def _plans(engine: Engine, settings: Settings, clients: list[str], count: int) -> dict[str, int]:
    from health_advisor.catalog import load_catalog
    from health_advisor.plans import service
    from health_advisor.plans.scoring import load_champion
    from health_advisor.plans.workflow import Actor
    from health_advisor.store.session import session_scope

    coordinator = Actor("coordinadora", "coordinator")
    doctor = Actor("doctora", "professional")
    catalog = load_catalog()
    model, fallback = load_champion(settings)
    states: dict[str, int] = {}
    with session_scope(engine) as session:
        for k, client in enumerate(clients[:count]):
            plan = service.generate(
                session, client, coordinator, catalog=catalog, model=model, fallback=fallback
            )
            # The client's own plan is active; a few wait for review; the rest are drafts.
            if k == 0 or k % 3 == 1:
                service.transition(session, plan.id, "submit", coordinator)
            if k == 0:
                service.transition(session, plan.id, "approve", doctor, comment="demo")
                service.transition(session, plan.id, "activate", coordinator)
            states[plan.status] = states.get(plan.status, 0) + 1
    return states


def prepare(
    engine: Engine,
    settings: Settings,
    *,
    seed: int = 0,
    plans: int = 24,
    assigned: int = 100,
    train: bool = True,
) -> DemoReport:
    """Consents, the model, the demo accounts and plans in every workflow state."""
    from health_advisor.store.models import Client
    from health_advisor.store.session import session_scope

    if settings.env == "production":
        raise ConfigurationError("the demo accounts are not created in production")
    _consents(engine)
    report = DemoReport()
    if train:
        from health_advisor.recommender.training import train as train_model

        trained = train_model(engine, settings, model_name="hybrid", seed=seed)
        report.model = {
            "version": trained.version,
            "promoted": trained.promoted,
            "gate": trained.gate_reason,
        }
    with session_scope(engine) as session:
        clients = [str(c) for c in session.scalars(select(Client.external_id).order_by(Client.id))]
    report.accounts = _accounts(engine, clients, assigned)
    report.client_user_client = clients[0] if clients else None
    report.plans = _plans(engine, settings, clients, plans)
    return report
