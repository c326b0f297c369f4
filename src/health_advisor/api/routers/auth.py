"""Sign-in (OAuth2 password flow), token refresh with rotation, sign-out, and oneself."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from health_advisor.api.deps import Ctx, SessionDep, client_address
from health_advisor.errors import InputError, PermissionDenied
from health_advisor.security import audit, passwords, tokens, users
from health_advisor.security.access import Principal
from health_advisor.security.errors import AuthenticationFailed
from health_advisor.security.ratelimit import LoginLimiter
from health_advisor.store.models import Client, User

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
_PRINTABLE = re.compile(r"^[\x20-\x7e]{1,64}$")


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="seconds the access token is valid")
    refresh_token: str
    refresh_expires_in: int


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=256)


class LogoutIn(RefreshIn):
    everywhere: bool = Field(False, description="also revoke every other session of this user")


class PasswordIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=passwords.MAX_LENGTH)
    new_password: str = Field(min_length=1, max_length=passwords.MAX_LENGTH)


class MeOut(BaseModel):
    name: str
    role: str
    kind: str
    display_name: str | None = None
    client_id: str | None = None
    scopes: list[str] = []


def _principal(user: User) -> Principal:
    return Principal(kind="user", name=user.username, role=user.role, user_id=user.id)


def _tokens(request: Request, session: SessionDep, user: User) -> TokenOut:
    access, expires = request.app.state.signer.issue(user)
    refresh, refresh_expires = tokens.issue_refresh_token(session, user)
    now = expires - request.app.state.signer.ttl
    return TokenOut(
        access_token=access,
        expires_in=int((expires - now).total_seconds()),
        refresh_token=refresh,
        refresh_expires_in=int((refresh_expires - now).total_seconds()),
    )


@router.post(
    "/token",
    response_model=TokenOut,
    summary="Sign in with username and password",
    responses={401: {}, 429: {}},
)
def token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
) -> TokenOut:
    limiter: LoginLimiter = request.app.state.limiter
    address = client_address(request) or "-"
    shown = form.username if _PRINTABLE.match(form.username) else "<unprintable>"
    limiter.check(shown, address)
    try:
        user = users.authenticate(session, form.username, form.password)
    except AuthenticationFailed:
        limiter.failure(shown, address)
        audit.record(session, shown, "login", "user", shown, None, address, outcome="failed")
        session.commit()  # keep the failure count and the trail; the error still goes out
        raise
    limiter.success(shown, address)
    audit.record(session, _principal(user), "login", "user", user.username, None, address)
    return _tokens(request, session, user)


@router.post(
    "/refresh",
    response_model=TokenOut,
    summary="Trade a refresh token for new tokens (the old one is revoked)",
    responses={401: {}},
)
def refresh(request: Request, body: RefreshIn, session: SessionDep) -> TokenOut:
    try:
        user, new_refresh, refresh_expires = tokens.rotate_refresh_token(
            session, body.refresh_token
        )
    except AuthenticationFailed:
        session.commit()  # a replayed token's revocation of the whole family must stick
        raise
    access, expires = request.app.state.signer.issue(user)
    now = expires - request.app.state.signer.ttl
    return TokenOut(
        access_token=access,
        expires_in=int((expires - now).total_seconds()),
        refresh_token=new_refresh,
        refresh_expires_in=int((refresh_expires - now).total_seconds()),
    )


@router.post(
    "/logout",
    status_code=204,
    summary="Revoke a refresh token (optionally every session of its user)",
    response_class=Response,
)
def logout(body: LogoutIn, session: SessionDep) -> Response:
    owner = tokens.owner_of(session, body.refresh_token)
    if owner is not None and body.everywhere:
        tokens.revoke_all(session, owner)
    elif owner is not None:
        tokens.revoke_refresh_token(session, body.refresh_token)
    return Response(status_code=204)


@router.get("/me", response_model=MeOut, summary="Who am I")
def me(ctx: Ctx) -> MeOut:
    p = ctx.principal
    if p.kind != "user":
        return MeOut(name=p.name, role=p.role, kind=p.kind, scopes=sorted(p.scopes))
    user = ctx.session.get(User, p.user_id)
    client = ctx.session.get(Client, p.client_id) if p.client_id is not None else None
    return MeOut(
        name=p.name,
        role=p.role,
        kind=p.kind,
        display_name=user.display_name if user else None,
        client_id=client.external_id if client else None,
    )


@router.post(
    "/password",
    status_code=204,
    summary="Change my password (signs out every other session)",
    response_class=Response,
    responses={429: {}},
)
def change_password(request: Request, body: PasswordIn, ctx: Ctx) -> Response:
    if ctx.principal.kind != "user":
        raise PermissionDenied("only people have passwords")
    limiter: LoginLimiter = request.app.state.limiter
    address = ctx.source or "-"
    limiter.check(ctx.principal.name, address)
    user = ctx.session.get(User, ctx.principal.user_id)
    if user is None or not passwords.verify_password(user.password_hash, body.current_password):
        limiter.failure(ctx.principal.name, address)
        raise InputError("current password is incorrect")
    users.set_password(ctx.session, user.username, body.new_password)
    ctx.audit("change_password", "user", user.username)
    return Response(status_code=204)
