"""Who is signed in to the web UI, and the CSRF guard on its forms.

The session is the API's own short-lived signed access token (:mod:`..security.tokens`)
kept in an ``HttpOnly``, ``SameSite=Lax`` cookie (``Secure`` when served over https).
Like the API, the user is loaded on every request, so deactivating someone or changing
their role applies at once. The token lives :data:`~..security.tokens.ACCESS_TTL`; a
request in the second half of that life gets a fresh one, so an active person stays
signed in and an idle one is signed out after the TTL.

CSRF: signed double submit. A random secret lives in its own cookie; every form carries
``HMAC(key, secret)`` (or sends it as ``X-CSRF-Token``). A page on another site can
make the browser send the cookie but cannot read it, so it cannot compute the field.
The secret is renewed at sign-in, so a secret planted before sign-in is worthless after.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from health_advisor.errors import HealthAdvisorError
from health_advisor.plans.workflow import Actor
from health_advisor.security.access import Principal
from health_advisor.security.errors import AuthenticationFailed
from health_advisor.security.tokens import TokenSigner
from health_advisor.store.models import Client, User

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "LANG_COOKIE",
    "SESSION_COOKIE",
    "CsrfGuard",
    "CsrfRejected",
    "LoginRequired",
    "WebUser",
    "read_user",
    "set_cookie",
]

SESSION_COOKIE = "ha_session"
CSRF_COOKIE = "ha_csrf"
LANG_COOKIE = "ha_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LANG_MAX_AGE = 365 * 24 * 3600


class LoginRequired(HealthAdvisorError):
    """No valid session: the page answers with a redirect to the sign-in form."""

    http_status = 401
    title = "Not signed in"

    def __init__(self, message: str = "sign in first", *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


class CsrfRejected(HealthAdvisorError):
    """A form without the token of this browser's session (forged, or very old)."""

    http_status = 403
    title = "Form rejected"


@dataclass(frozen=True, slots=True)
class WebUser:
    """The signed-in person as the views need them."""

    principal: Principal
    display_name: str | None
    client_external_id: str | None  # a client user's own client

    @property
    def name(self) -> str:
        return self.principal.name

    @property
    def role(self) -> str:
        return self.principal.role

    @property
    def actor(self) -> Actor:
        return Actor(self.principal.name, self.principal.role)


class CsrfGuard:
    """Derives the form token from the cookie secret with a key of its own."""

    def __init__(self, signing_key: bytes) -> None:
        self._key = hmac.new(signing_key, b"health-advisor web csrf v1", hashlib.sha256).digest()

    @staticmethod
    def new_secret() -> str:
        return secrets.token_urlsafe(32)

    def token_for(self, secret: str) -> str:
        return hmac.new(self._key, secret.encode(), hashlib.sha256).hexdigest()

    def valid(self, secret: str | None, token: str | None) -> bool:
        if not secret or not token or len(secret) > 128 or len(token) > 128:
            return False
        return hmac.compare_digest(self.token_for(secret), token)


def read_user(
    request: Request, session: Session, signer: TokenSigner, *, now: datetime | None = None
) -> WebUser:
    """The user of the session cookie, or :class:`LoginRequired`.

    Puts a renewed token on ``request.state.renew_session`` when the current one is past
    half its life (the response sets it).
    """
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequired()
    try:
        claims = signer.decode(token)
    except AuthenticationFailed as error:
        raise LoginRequired("session expired", expired=True) from error
    user = session.get(User, claims.user_id)
    if user is None or not user.active or user.username != claims.username:
        raise LoginRequired("session no longer valid", expired=True)
    now = now or datetime.now(UTC)
    if claims.expires_at - now < signer.ttl / 2:
        request.state.renew_session = signer.issue(user, now=now)[0]
    client = session.get(Client, user.client_id) if user.client_id is not None else None
    client_ext = client.external_id if client is not None else None
    principal = Principal(
        kind="user",
        name=user.username,
        role=user.role,
        user_id=user.id,
        client_id=user.client_id,
    )
    return WebUser(principal, user.display_name, client_ext)


def set_cookie(
    request: Request,
    response: Response,
    name: str,
    value: str,
    *,
    max_age: int | None = None,
) -> None:
    """A cookie the page's scripts cannot read, sent only to this site's own requests
    and top-level navigations (Lax), and only over https when the page came over https."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
