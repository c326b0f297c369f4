"""Every error as RFC 9457 problem+json, and the OpenAPI description of those answers.

Domain errors (:mod:`health_advisor.errors`, :mod:`health_advisor.security.errors`) map
to their ``http_status``; framework errors (404, 405, validation) keep theirs; anything
unexpected becomes a 500 with no detail (the traceback goes to the server log with the
request id, never to the client; see :mod:`.middleware`). Validation errors list the
fields at fault but never echo the input, which may hold a password.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from health_advisor.errors import HealthAdvisorError
from health_advisor.security import audit
from health_advisor.security.errors import TooManyAttempts

PROBLEM = "application/problem+json"
TYPE_PREFIX = "urn:health-advisor:problem:"
log = logging.getLogger("health_advisor.api")


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details, plus the request id to quote to support."""

    type: str = Field("about:blank", description="A URI naming the kind of problem")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = Field(None, description="The request path")
    request_id: str | None = None
    errors: list[FieldError] | None = Field(None, description="Fields at fault (422 only)")


def problem_response(
    request: Request,
    status: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    type_: str = "about:blank",
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=type_,
        title=title or _phrase(status),
        status=status,
        detail=detail,
        instance=request.url.path,
        request_id=getattr(request.state, "request_id", None),
        errors=[FieldError(**e) for e in errors] if errors is not None else None,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, headers=headers, media_type=PROBLEM
    )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _slug(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name.removesuffix("Error")).lower()


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HealthAdvisorError)
    status = exc.http_status
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, TooManyAttempts):
        headers["Retry-After"] = str(exc.retry_after)
    note = getattr(exc, "audit", None)
    if note:
        _record_denial(request, note)
    detail = str(exc) if status < 500 else None
    if status >= 500:
        log.error("request %s: %s", getattr(request.state, "request_id", "-"), exc)
    return problem_response(
        request,
        status,
        title=exc.title,
        detail=detail,
        type_=TYPE_PREFIX + _slug(type(exc).__name__),
        headers=headers or None,
    )


def _record_denial(request: Request, note: dict[str, Any]) -> None:
    audit.record_denial(
        request.app.state.session_factory,
        note,
        source=request.client.host if request.client else None,
        detail={"path": request.url.path},
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail: str | None = exc.detail if isinstance(exc.detail, str) else None
    if detail == _phrase(exc.status_code):
        detail = None
    headers = dict(exc.headers) if exc.headers else None
    return problem_response(request, exc.status_code, detail=detail, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]
    return problem_response(
        request,
        422,
        title="Invalid request",
        detail="; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5]),
        type_=TYPE_PREFIX + "validation",
        errors=errors,
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(HealthAdvisorError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)


# --------------------------------------------------------------------------- OpenAPI

COMMON_ERRORS = (400, 401, 403, 404, 422, 500)
ERROR_TEXT = {
    400: "Bad request",
    401: "Not authenticated: no, an invalid or an expired token or key",
    403: "Authenticated but not allowed",
    404: "Not found (or not yours)",
    409: "Conflicts with stored state (for example, no recorded consent)",
    413: "Upload too large",
    422: "Invalid input",
    429: "Too many attempts; see Retry-After",
    500: "Unexpected error (quote the request id)",
    503: "Not ready",
}


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare problem+json answers on every operation (and drop FastAPI's JSON 422)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = components["Problem"].pop("$defs", {})
    components.update(defs)
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    ref = {"schema": {"$ref": "#/components/schemas/Problem"}}
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            wanted = set(COMMON_ERRORS) | {
                int(c) for c in responses if c.isdigit() and int(c) >= 400
            }
            wanted |= set(operation.pop("x-problems", []))
            for code in sorted(wanted):
                responses[str(code)] = {
                    "description": ERROR_TEXT.get(code, _phrase(code)),
                    "content": {PROBLEM: ref},
                    **({"headers": _retry_after()} if code == 429 else {}),
                }
    return schema


def _retry_after() -> dict[str, Any]:
    return {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}
