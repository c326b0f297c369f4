"""The route class of every web page: CSRF on every POST, errors as pages, safe headers.

:class:`WebRoute` wraps each page's handler (its dependencies included) so that no page
can forget a check:

* a POST whose form (or ``X-CSRF-Token`` header) lacks this browser's token is refused
  before the handler runs;
* a domain error becomes an HTML page with the status it stands for (never a stack
  trace), a missing session a redirect to the sign-in form, and a denied access to a
  client's data a ``denied`` entry in the audit log (written in a transaction of its
  own: the request's was rolled back);
* every answer carries ``Cache-Control: no-store`` (pages hold health data), a strict
  Content-Security-Policy (only this site's scripts and styles), the renewed session
  and a new CSRF cookie when one was made.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from health_advisor.errors import HealthAdvisorError
from health_advisor.security import audit
from health_advisor.security.tokens import ACCESS_TTL
from health_advisor.web.session import (
    CSRF_COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    CsrfGuard,
    CsrfRejected,
    LoginRequired,
    set_cookie,
)
from health_advisor.web.templating import render

log = logging.getLogger("health_advisor.web")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)


class WebRoute(APIRoute):
    """An APIRoute whose answers are pages (see the module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                if request.method == "POST":
                    await _check_csrf(request)
                response = await handler(request)
            except Exception as error:  # every failure becomes a page
                response = await run_in_threadpool(error_page, request, error)
            _finish(request, response)
            return response

        return route


async def _check_csrf(request: Request) -> None:
    guard: CsrfGuard = request.app.state.web.csrf
    token = request.headers.get(CSRF_HEADER)
    if token is None:
        form = await request.form()  # parsed once: FastAPI reads the same cached form
        value = form.get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    if not guard.valid(request.cookies.get(CSRF_COOKIE), token):
        raise CsrfRejected("the form did not carry this browser's token")


def _finish(request: Request, response: Response) -> None:
    response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("Content-Security-Policy", CSP)
    if request.method == "POST" and not 300 <= response.status_code < 400:
        # htmx would otherwise put the POST's URL in the address bar and history
        response.headers["HX-Push-Url"] = "false"
    state = request.state
    new_csrf = getattr(state, "new_csrf", None)
    if new_csrf:
        set_cookie(request, response, CSRF_COOKIE, new_csrf)
    renewed = getattr(state, "renew_session", None)
    if renewed and not getattr(state, "signed_out", False):
        set_cookie(
            request, response, SESSION_COOKIE, renewed, max_age=int(ACCESS_TTL.total_seconds())
        )


def login_redirect(request: Request, *, expired: bool = False) -> RedirectResponse:
    """To the sign-in form, coming back here (for a page) afterwards."""
    target = "/login"
    params = []
    if request.method == "GET":
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        params.append("next=" + quote(here, safe="/"))
    if expired:
        params.append("expired=1")
    if params:
        target += "?" + "&".join(params)
    response = RedirectResponse(target, status_code=303)
    if request.cookies.get(SESSION_COOKIE):
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def error_page(request: Request, error: Exception) -> Response:
    """The page for a failure (runs in a worker thread: a denial is written to the DB)."""
    if isinstance(error, LoginRequired):
        return login_redirect(request, expired=error.expired)
    status, detail = 500, None
    if isinstance(error, HealthAdvisorError):
        status = error.http_status
        detail = str(error) if status < 500 else None
        note = getattr(error, "audit", None)
        if note:
            _record_denial(request, note)
    elif isinstance(error, RequestValidationError):
        status = 422
        detail = "; ".join(_field_error(e) for e in error.errors()[:5])
    elif isinstance(error, StarletteHTTPException):
        status = error.status_code
        detail = error.detail if isinstance(error.detail, str) and status < 500 else None
    else:
        log.exception(
            "page %s %s failed (id %s)",
            request.method,
            request.url.path,
            getattr(request.state, "request_id", "-"),
            exc_info=error,
        )
    if status >= 500 and isinstance(error, HealthAdvisorError):
        log.error("page %s: %s", request.url.path, error)
    kind = "csrf" if isinstance(error, CsrfRejected) else None
    context = {"status": status, "detail": None if kind else detail, "kind": kind}
    return render(request, "error.html", context, status=status)


def _field_error(error: Any) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path"))
    return f"{where}: {error.get('msg', '')}" if where else str(error.get("msg", ""))


def _record_denial(request: Request, note: dict[str, Any]) -> None:
    audit.record_denial(
        request.app.state.session_factory,
        note,
        source=request.client.host if request.client else None,
        detail={"path": request.url.path, "ui": "web"},
    )
