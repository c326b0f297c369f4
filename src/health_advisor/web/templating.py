"""Jinja2 pages in the reader's language.

One environment per language (the gettext catalog installed, autoescaping on, undefined
names an error), with the formatters and code-to-name helpers bound to that language,
so templates write ``{{ fmt_date(day) }}`` and ``{{ status_name(plan.status) }}``.
:func:`render` adds what every page needs: the user, the language, the CSRF token of
this browser and the request id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from functools import cache, partial
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from health_advisor import i18n
from health_advisor.plans import i18n as plan_texts
from health_advisor.web import texts
from health_advisor.web.session import CSRF_COOKIE, LANG_COOKIE, CsrfGuard
from health_advisor.web.trends import category_tone

__all__ = ["csrf_token", "environment", "language", "render"]

_HTML_LANG = {"es": "es-PE", "en": "en"}


def language(request: Request) -> str:
    """The language chosen in the cookie, else Spanish."""
    lang = request.cookies.get(LANG_COOKIE, i18n.DEFAULT)
    return lang if lang in i18n.SUPPORTED else i18n.DEFAULT


def _fmt_datetime(value: dt.datetime | None, *, lang: str) -> str:
    return i18n.format_datetime(value, lang, format="medium") if value is not None else "—"


def _fmt_date(value: dt.date | str | None, format: str = "medium", *, lang: str) -> str:
    if value is None:
        return "—"
    day = dt.date.fromisoformat(value) if isinstance(value, str) else value
    return i18n.format_date(day, lang, format=format)


def _fmt_num(value: float | None, digits: int = 1, *, lang: str) -> str:
    return "—" if value is None else i18n.format_number(value, lang, max_fraction=digits)


def _fmt_pct(value: float | None, *, lang: str) -> str:
    """A 0-100 percentage (as stored for adherence)."""
    return "—" if value is None else i18n.format_percent(value / 100.0, lang)


def _helpers(lang: str) -> dict[str, Callable[..., str]]:
    return {
        "fmt_date": partial(_fmt_date, lang=lang),
        "fmt_datetime": partial(_fmt_datetime, lang=lang),
        "fmt_num": partial(_fmt_num, lang=lang),
        "fmt_pct": partial(_fmt_pct, lang=lang),
        "status_name": partial(plan_texts.status_name, lang=lang),
        "risk_name": partial(plan_texts.risk_name, lang=lang),
        "risk_category_name": partial(plan_texts.risk_category_name, lang=lang),
        "domain_name": partial(plan_texts.domain_name, lang=lang),
        "intensity_name": partial(plan_texts.intensity_name, lang=lang),
        "metric_name": partial(plan_texts.metric_name, lang=lang),
        "sex_name": partial(plan_texts.sex_name, lang=lang),
        "role_name": partial(texts.role_name, lang=lang),
        "alert_kind_name": partial(texts.alert_kind_name, lang=lang),
        "severity_name": partial(texts.severity_name, lang=lang),
        "event_name": partial(texts.event_name, lang=lang),
        "progress_text": partial(texts.progress_text, lang=lang),
        "tone": category_tone,
    }


@cache
def environment(lang: str) -> Environment:
    """The template environment of one language (built once per process)."""
    env = Environment(
        loader=PackageLoader("health_advisor.web", "templates"),
        autoescape=select_autoescape(["html"], default_for_string=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(_helpers(lang))
    env.globals["lang"] = lang
    env.globals["html_lang"] = _HTML_LANG[lang]
    return env


def csrf_token(request: Request) -> str:
    """The form token of this browser; a secret is made (and later set as a cookie by
    the response) when the browser has none yet."""
    guard: CsrfGuard = request.app.state.web.csrf
    secret = getattr(request.state, "new_csrf", None) or request.cookies.get(CSRF_COOKIE)
    if not secret:
        secret = request.state.new_csrf = guard.new_secret()
    return guard.token_for(secret)


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
) -> HTMLResponse:
    """A page: ``template`` rendered in the reader's language with the common context."""
    lang = language(request)
    page = environment(lang).get_template(template)
    body = page.render(
        {
            "user": getattr(request.state, "web_user", None),
            "csrf_token": csrf_token(request),
            "path": request.url.path,
            "request_id": getattr(request.state, "request_id", None),
            **(context or {}),
        }
    )
    return HTMLResponse(body, status_code=status)
