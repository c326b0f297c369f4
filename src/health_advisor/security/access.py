"""Who may do what to which client: the principal, its role, and object-level checks.

The rules in one table (:data:`RULES`): a role reaches either every client, the clients
assigned to it, or only its own, and may perform a set of actions on what it reaches.

    role          reaches    actions
    admin         all        read write ingest export acknowledge erase
    professional  all        read acknowledge        (approves plans: the plans module)
    coordinator   assigned   read write ingest export acknowledge
    client        own        read write ingest export
    service       all        ingest                  (an API key with scope "ingest")

A client outside the principal's reach is answered as *not found* (:class:`NotVisible`),
so other people's ids cannot be probed; a reachable client and a forbidden action is
*forbidden* (:class:`AccessDenied`). Both carry an audit note for a ``denied`` entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, false, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from health_advisor.errors import NotFoundError, PermissionDenied
from health_advisor.security.errors import AccessDenied, NotVisible
from health_advisor.store import repositories
from health_advisor.store.models import Client, ClientAssignment


class Action(StrEnum):
    READ = "read"
    WRITE = "write"
    INGEST = "ingest"
    EXPORT = "export"
    ACKNOWLEDGE = "acknowledge"
    ERASE = "erase"


ALL_ACTIONS = frozenset(Action)
RULES: dict[str, tuple[str, frozenset[Action]]] = {
    "admin": ("all", ALL_ACTIONS),
    "professional": ("all", frozenset({Action.READ, Action.ACKNOWLEDGE})),
    "coordinator": (
        "assigned",
        frozenset({Action.READ, Action.WRITE, Action.INGEST, Action.EXPORT, Action.ACKNOWLEDGE}),
    ),
    "client": ("own", frozenset({Action.READ, Action.WRITE, Action.INGEST, Action.EXPORT})),
    "service": ("all", frozenset({Action.INGEST})),
}
STAFF: tuple[str, ...] = ("admin", "coordinator", "professional")
_Q = TypeVar("_Q", bound="Select[*tuple[Any, ...]]")


@dataclass(frozen=True, slots=True)
class Principal:
    """Whoever makes a request: a signed-in user, or a machine with an API key."""

    kind: str  # "user" | "api_key"
    name: str  # username, or "api-key:<prefix>"
    role: str  # admin | coordinator | professional | client | service
    user_id: int | None = None
    client_id: int | None = None  # a client user's client (store id)
    scopes: frozenset[str] = field(default_factory=frozenset)


def require_role(principal: Principal, *roles: str) -> None:
    if principal.role not in roles:
        raise PermissionDenied(f"this needs the role {' or '.join(roles)}")


def allowed(principal: Principal, action: Action) -> bool:
    reach_actions = RULES.get(principal.role)
    if reach_actions is None:
        return False
    if principal.role == "service" and "ingest" not in principal.scopes:
        return False
    return action in reach_actions[1]


def client_condition(
    principal: Principal, client_pk: InstrumentedAttribute[int] | Any = Client.id
) -> ColumnElement[bool]:
    """A SQL condition on a client-id column: true for the clients the principal reaches."""
    reach = RULES.get(principal.role, ("none", frozenset()))[0]
    if reach == "all":
        return true()
    if reach == "assigned" and principal.user_id is not None:
        assigned = select(ClientAssignment.client_id).where(
            ClientAssignment.user_id == principal.user_id
        )
        return client_pk.in_(assigned)
    if reach == "own" and principal.client_id is not None:
        return client_pk == principal.client_id
    return false()


def restrict(query: _Q, principal: Principal, client_pk: Any = Client.id) -> _Q:
    """``query`` limited to rows whose ``client_pk`` the principal reaches."""
    return query.where(client_condition(principal, client_pk))


def reaches(session: Session, principal: Principal, client_pk: int) -> bool:
    found = session.scalar(
        select(Client.id).where(Client.id == client_pk, client_condition(principal))
    )
    return found is not None


def require_client(
    session: Session, principal: Principal, external_id: str, action: Action
) -> Client:
    """The client ``external_id`` if the principal may do ``action`` to it."""
    client = repositories.get_client(session=session, external_id=external_id)
    if client is None:
        raise NotFoundError(f"client {external_id!r} not found")
    note = _audit_note(principal, action, external_id)
    if not reaches(session, principal, client.id):
        raise NotVisible(f"client {external_id!r} not found", audit=note)
    if not allowed(principal, action):
        raise AccessDenied(f"a {principal.role} may not {action} this client's data", audit=note)
    return client


def require_clients(
    session: Session, principal: Principal, external_ids: Iterable[str], action: Action
) -> dict[str, int]:
    """Store ids of clients that all exist and that the principal may ``action``.

    For batch operations (a file with many clients): one message naming the first few
    clients refused, so the whole batch is refused and nothing is half-done.
    """
    wanted = sorted(set(external_ids))
    if not allowed(principal, action):
        raise AccessDenied(f"a {principal.role} may not {action} client data")
    rows = session.execute(
        select(Client.external_id, Client.id).where(
            Client.external_id.in_(wanted), client_condition(principal)
        )
    )
    found = {ext: pk for ext, pk in rows}
    refused = [ext for ext in wanted if ext not in found]
    if refused:
        shown = ", ".join(repr(r) for r in refused[:5])
        more = f" and {len(refused) - 5} more" if len(refused) > 5 else ""
        raise AccessDenied(f"unknown or not yours: client {shown}{more}")
    return found


def _audit_note(principal: Principal, action: Action, external_id: str) -> dict[str, Any]:
    return {
        "actor": principal.name,
        "actor_role": principal.role,
        "action": str(action),
        "object_type": "client",
        "object_id": external_id,
        "client_ref": external_id,
    }
