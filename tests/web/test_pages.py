"""What every page shares: accessible structure, safe headers, vendored assets, errors as
pages, and the English switch."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from health_advisor.web.routing import CSP

from .conftest import CLIENT_A, Web
from .test_client import active_plan
from .test_review import submitted_plan

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "src" / "health_advisor" / "web" / "static"


class Structure(HTMLParser):
    """Collects what the accessibility checks look at."""

    def __init__(self) -> None:
        super().__init__()
        self.html_lang: str | None = None
        self.tags: list[str] = []
        self.labels: set[str] = set()
        self.controls: list[dict[str, str | None]] = []
        self.sources: list[str] = []
        self.svgs: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "html":
            self.html_lang = a.get("lang")
        elif tag == "label" and a.get("for"):
            self.labels.add(str(a["for"]))
        elif tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.controls.append(a)
        elif tag == "svg":
            self.svgs.append(a)
        for key in ("src", "href", "action"):
            if a.get(key):
                self.sources.append(str(a[key]))


def structure(html: str) -> Structure:
    parser = Structure()
    parser.feed(html)
    return parser


def _pages(web: Web) -> dict[str, list[str]]:
    plan_id = submitted_plan(web)
    return {
        "coordinator": ["/clients", f"/clients/{CLIENT_A}", f"/plans/{plan_id}"],
        "professional": ["/review", f"/plans/{plan_id}"],
        "admin": ["/admin/users", "/admin/models", "/admin/sources", "/admin/audit"],
    }


def test_every_page_is_labelled_landmarked_and_self_contained(web: Web) -> None:
    pages = _pages(web)
    active_plan(web, "client-b")
    pages["other_client"] = ["/my/plan"]
    pages["anonymous"] = ["/login"]
    for who, paths in pages.items():
        if who != "anonymous":
            web.sign_in_as(who)
        for path in paths:
            response = web.http.get(path)
            assert response.status_code == 200, (who, path)
            page = structure(response.text)
            where = f"{who} {path}"
            assert page.html_lang == "es-PE", where
            assert page.tags.count("main") == 1 and page.tags.count("h1") == 1, where
            assert "header" in page.tags and "nav" in page.tags, where
            unlabelled = [
                c
                for c in page.controls
                if c.get("id") not in page.labels and not c.get("aria-label")
            ]
            assert unlabelled == [], where
            for svg in page.svgs:
                assert svg.get("role") == "img" and svg.get("aria-labelledby"), where
            external = [s for s in page.sources if "//" in s and not s.startswith("#")]
            assert external == [], where  # nothing from a CDN or another site
            assert 'name="viewport"' in response.text, where


def test_pages_carry_no_store_and_a_strict_content_security_policy(web: Web) -> None:
    web.sign_in_as("coordinator")
    response = web.http.get(f"/clients/{CLIENT_A}")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
    assert response.headers["x-frame-options"] == "DENY"  # the API's middleware, kept
    assert "<script>" not in response.text and " style=" not in response.text


def test_htmx_is_vendored_and_served_locally(web: Web) -> None:
    vendored = (STATIC / "vendor" / "htmx.min.js").read_text()
    lock = json.loads((ROOT / "package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/htmx.org"]["version"]
    assert f'version:"{pinned}"' in vendored  # the committed copy is the locked version
    assert (STATIC / "vendor" / "htmx.LICENSE").is_file()
    script = web.http.get("/static/vendor/htmx.min.js")
    assert script.status_code == 200 and "htmx" in script.text[:200]
    assert web.http.get("/static/css/app.css").status_code == 200
    page = web.http.get("/login").text
    assert '<script src="/static/vendor/htmx.min.js" defer></script>' in page
    assert 'hx-boost="true"' in page and '"historyCacheSize": 0' in page


@pytest.mark.parametrize(
    ("path", "status", "heading"),
    [
        ("/plans/0", 422, "Revise lo que envió"),
        ("/plans/123456", 404, "No encontrado"),
        ("/clients/bad%20id", 422, "Revise lo que envió"),
    ],
)
def test_errors_are_pages_in_the_readers_language(
    web: Web, path: str, status: int, heading: str
) -> None:
    web.sign_in_as("admin")
    response = web.http.get(path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert heading in response.text and "Traceback" not in response.text


def test_english_pages_read_in_english(web: Web) -> None:
    web.http.get("/lang/en")
    web.sign_in_as("coordinator")
    page = web.http.get(f"/clients/{CLIENT_A}")
    assert '<html lang="en">' in page.text
    assert "Risk explanations" in page.text and "stage 2 hypertension" in page.text
    assert "Systolic blood pressure" in page.text
    assert "Explicación" not in page.text


def test_the_api_still_answers_problem_json(web: Web) -> None:
    response = web.http.get("/api/v1/clients")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
