"""What a page handler is handed: the request's session, the signed-in user and helpers.

The database session is the API's (:func:`health_advisor.api.deps.get_session`: one
transaction per request, committed before the page is sent). :class:`Page` mirrors the
API's ``Context``: audit, access checks and rendering in a line each, so handlers stay
short.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse

from health_advisor.api.deps import SessionDep, client_address
from health_advisor.core.catalog import Catalog
from health_advisor.security import access, audit
from health_advisor.security.access import Action
from health_advisor.store.models import Client
from health_advisor.web.session import WebUser, read_user
from health_advisor.web.templating import language, render

__all__ = ["Page", "PageDep", "get_page"]


@dataclass(slots=True)
class Page:
    request: Request
    session: Session
    user: WebUser

    @property
    def lang(self) -> str:
        return language(self.request)

    @property
    def catalog(self) -> Catalog:
        return self.request.app.state.web.catalog

    def audit(
        self,
        action: str,
        object_type: str,
        object_id: str | int | None = None,
        client_ref: str | None = None,
        **detail: Any,
    ) -> None:
        """One audit entry in the request's transaction (so it exists iff the page did)."""
        request_id = getattr(self.request.state, "request_id", None)
        if request_id:
            detail["request_id"] = request_id
        detail["ui"] = "web"
        audit.record(
            self.session,
            self.user.principal,
            action,
            object_type,
            object_id,
            client_ref,
            client_address(self.request),
            detail,
        )

    def client(self, external_id: str, action: Action = Action.READ) -> Client:
        """The client if this user may ``action`` it (else not found / forbidden)."""
        return access.require_client(self.session, self.user.principal, external_id, action)

    def require_role(self, *roles: str) -> None:
        access.require_role(self.user.principal, *roles)

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        return render(self.request, template, context, status=status)


def get_page(request: Request, session: SessionDep) -> Page:
    user = read_user(request, session, request.app.state.signer)
    request.state.web_user = user
    return Page(request=request, session=session, user=user)


PageDep = Annotated[Page, Depends(get_page)]
