"""User administration (administrators only): accounts, roles, client assignments."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from health_advisor.api.deps import Ctx
from health_advisor.api.pagination import Page, Paging
from health_advisor.api.schemas import ClientIdPath, ClientRef, ShortText
from health_advisor.errors import ConflictError
from health_advisor.security import passwords, users
from health_advisor.store.models import Client, User

router = APIRouter(prefix="/api/v1/users", tags=["users"])
Role = Literal["admin", "coordinator", "professional", "client"]
UsernamePath = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{2,63}$")]
Password = Annotated[str, Field(min_length=1, max_length=passwords.MAX_LENGTH)]


class UserOut(BaseModel):
    username: str
    role: str
    display_name: str | None
    client_id: str | None
    active: bool
    locked: bool
    last_login_at: dt.datetime | None
    created_at: dt.datetime
    assigned_clients: list[str]


class UserIn(BaseModel):
    username: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{2,63}$")]
    role: Role
    password: Password
    client_id: ClientRef | None = Field(None, description="required for a client user")
    display_name: ShortText | None = None


class UserUpdate(BaseModel):
    role: Role | None = None
    active: bool | None = None
    display_name: ShortText | None = None
    client_id: ClientRef | None = None
    password: Password | None = Field(None, description="reset: signs the user out")


class AssignmentIn(BaseModel):
    client_id: ClientRef


def _out(ctx: Ctx, user: User) -> UserOut:
    client = ctx.session.get(Client, user.client_id) if user.client_id is not None else None
    return UserOut(
        username=user.username,
        role=user.role,
        display_name=user.display_name,
        client_id=client.external_id if client else None,
        active=user.active,
        locked=users.is_locked(user),
        last_login_at=user.last_login_at,
        created_at=user.created_at,
        assigned_clients=users.assigned_clients(ctx.session, user.id)
        if user.role == "coordinator"
        else [],
    )


@router.get("", response_model=Page[UserOut], summary="Users")
def list_users(
    ctx: Ctx, paging: Paging, role: Role | None = None, active: bool | None = None
) -> Page[UserOut]:
    ctx.require_role("admin")
    rows, total = users.list_users(
        ctx.session, role=role, active=active, limit=paging.limit, offset=paging.offset
    )
    return Page(items=[_out(ctx, u) for u in rows], total=total, **paging.model_dump())


@router.post("", response_model=UserOut, status_code=201, summary="Add a user", responses={409: {}})
def add_user(body: UserIn, ctx: Ctx) -> UserOut:
    ctx.require_role("admin")
    user = users.add_user(
        ctx.session,
        body.username,
        body.role,
        body.password,
        body.client_id,
        display_name=body.display_name,
    )
    ctx.audit("create", "user", user.username, body.client_id, role=user.role)
    return _out(ctx, user)


@router.get("/{username}", response_model=UserOut, summary="A user")
def get_user(username: UsernamePath, ctx: Ctx) -> UserOut:
    ctx.require_role("admin")
    return _out(ctx, users.get_user(ctx.session, username))


@router.patch("/{username}", response_model=UserOut, summary="Change a user", responses={409: {}})
def update_user(username: UsernamePath, body: UserUpdate, ctx: Ctx) -> UserOut:
    ctx.require_role("admin")
    target = users.get_user(ctx.session, username)
    if target.username == ctx.principal.name and (
        body.active is False or (body.role is not None and body.role != "admin")
    ):
        raise ConflictError("administrators cannot demote or deactivate themselves")
    user = users.update_user(
        ctx.session,
        username,
        role=body.role,
        active=body.active,
        display_name=body.display_name,
        client_external_id=body.client_id,
    )
    if body.password is not None:
        users.set_password(ctx.session, username, body.password)
    changed = sorted(body.model_dump(exclude_unset=True, exclude={"password"}))
    ctx.audit(
        "update", "user", user.username, None, fields=changed, password=body.password is not None
    )
    return _out(ctx, user)


@router.delete(
    "/{username}",
    status_code=204,
    response_class=Response,
    summary="Deactivate a user (kept for the audit trail)",
    responses={409: {}},
)
def deactivate_user(username: UsernamePath, ctx: Ctx) -> Response:
    ctx.require_role("admin")
    target = users.get_user(ctx.session, username)
    if target.username == ctx.principal.name:
        raise ConflictError("administrators cannot deactivate themselves")
    users.update_user(ctx.session, username, active=False)
    ctx.audit("deactivate", "user", target.username)
    return Response(status_code=204)


@router.post(
    "/{username}/assignments",
    response_model=UserOut,
    status_code=201,
    summary="Assign a client to a coordinator",
)
def assign(username: UsernamePath, body: AssignmentIn, ctx: Ctx) -> UserOut:
    ctx.require_role("admin")
    users.assign_client(ctx.session, username, body.client_id)
    ctx.audit("assign", "user", username.lower(), body.client_id)
    return _out(ctx, users.get_user(ctx.session, username))


@router.delete(
    "/{username}/assignments/{client_id}",
    status_code=204,
    response_class=Response,
    summary="Remove a client from a coordinator",
)
def unassign(username: UsernamePath, client_id: ClientIdPath, ctx: Ctx) -> Response:
    ctx.require_role("admin")
    users.unassign_client(ctx.session, username, client_id)
    ctx.audit("unassign", "user", username.lower(), client_id)
    return Response(status_code=204)
