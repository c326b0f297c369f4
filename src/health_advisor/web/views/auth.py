"""Sign in and out, the home redirect, and the language switch.

Sign-in reuses the API's guards: the per-(username, address) and per-address limiter on
``app.state.limiter`` and the account lock-out in :func:`..security.users.authenticate`;
every attempt is in the audit log, as with the API's token endpoint.
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from starlette.responses import RedirectResponse, Response

from health_advisor import i18n
from health_advisor.api.deps import SessionDep, client_address
from health_advisor.security import audit, users
from health_advisor.security.access import Principal
from health_advisor.security.errors import AuthenticationFailed, TooManyAttempts
from health_advisor.security.ratelimit import LoginLimiter
from health_advisor.web.routing import WebRoute
from health_advisor.web.session import (
    LANG_COOKIE,
    LANG_MAX_AGE,
    SESSION_COOKIE,
    CsrfGuard,
    LoginRequired,
    read_user,
    set_cookie,
)
from health_advisor.web.templating import language, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

HOME = {
    "admin": "/admin/users",
    "coordinator": "/clients",
    "professional": "/review",
    "client": "/my/plan",
}
_PRINTABLE = re.compile(r"^[\x20-\x7e]{1,64}$")
_SAFE_NEXT = re.compile(r"^/(?![/\\])[A-Za-z0-9/_.,:;=?&%+~-]{0,500}$")


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site (never another host: no open redirect)."""
    return target if target and _SAFE_NEXT.match(target) else None


def _login_page(
    request: Request, *, error: str | None = None, status: int = 200, next_: str | None = None
) -> Response:
    context = {
        "error": error,
        "next": safe_next(next_) or "",
        "expired": request.query_params.get("expired") == "1",
    }
    return render(request, "login.html", context, status=status)


@router.get("/")
def home(request: Request, session: SessionDep) -> Response:
    try:
        user = read_user(request, session, request.app.state.signer)
    except LoginRequired:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(HOME.get(user.role, "/login"), status_code=303)


@router.get("/login")
def login_form(
    request: Request, next: Annotated[str | None, Query(max_length=512)] = None
) -> Response:
    return _login_page(request, next_=next)


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    _ = i18n.translator(language(request))
    if not username.strip() or not password:
        return _login_page(
            request, error=_("Enter your username and password."), status=422, next_=next
        )
    limiter: LoginLimiter = request.app.state.limiter
    address = client_address(request) or "-"
    shown = username if _PRINTABLE.match(username) else "<unprintable>"
    try:
        limiter.check(shown, address)
    except TooManyAttempts as error:
        minutes = max(1, math.ceil(error.retry_after / 60))
        text = _("Too many failed sign-ins. Try again in %(minutes)s min.") % {"minutes": minutes}
        page = _login_page(request, error=text, status=429, next_=next)
        page.headers["Retry-After"] = str(error.retry_after)
        return page
    try:
        user = users.authenticate(session, username, password)
    except AuthenticationFailed:
        limiter.failure(shown, address)
        audit.record(
            session, shown, "login", "user", shown, None, address, {"ui": "web"}, outcome="failed"
        )
        session.commit()  # keep the failure count and the trail
        return _login_page(
            request, error=_("Incorrect username or password."), status=401, next_=next
        )
    limiter.success(shown, address)
    who = Principal(kind="user", name=user.username, role=user.role, user_id=user.id)
    audit.record(session, who, "login", "user", user.username, None, address, {"ui": "web"})
    token, _expires = request.app.state.signer.issue(user)
    response = RedirectResponse(safe_next(next) or HOME.get(user.role, "/"), status_code=303)
    set_cookie(request, response, SESSION_COOKIE, token, max_age=_ttl(request))
    guard: CsrfGuard = request.app.state.web.csrf
    request.state.new_csrf = guard.new_secret()  # a fresh form secret for the new session
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> Response:
    try:
        user = read_user(request, session, request.app.state.signer)
    except LoginRequired:
        user = None
    if user is not None:
        audit.record(
            session,
            user.principal,
            "logout",
            "user",
            user.name,
            None,
            client_address(request),
            {"ui": "web"},
        )
    request.state.signed_out = True
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    guard: CsrfGuard = request.app.state.web.csrf
    request.state.new_csrf = guard.new_secret()
    return response


@router.get("/lang/{code}")
def switch_language(
    request: Request,
    code: Annotated[str, Path(pattern="^(es|en)$")],
    next: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    response = RedirectResponse(safe_next(next) or "/", status_code=303)
    set_cookie(request, response, LANG_COOKIE, code, max_age=LANG_MAX_AGE)
    return response


def _ttl(request: Request) -> int:
    return int(request.app.state.signer.ttl.total_seconds())
