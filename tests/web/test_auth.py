"""Sign-in and sign-out, the session cookie, CSRF, rate limiting and the language switch."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from health_advisor.security.tokens import TokenSigner
from health_advisor.store.models import AuditEntry
from health_advisor.store.session import session_scope
from health_advisor.web.session import CSRF_COOKIE, LANG_COOKIE, SESSION_COOKIE

from .conftest import PASSWORD, Web


def _login(web: Web, username: str, password: str = PASSWORD, **extra: str):  # type: ignore[no-untyped-def]
    return web.post("/login", {"username": username, "password": password, **extra})


def _set_cookie(response, name: str) -> str:  # type: ignore[no-untyped-def]
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert headers, f"no {name} cookie set"
    return headers[-1]


def test_the_sign_in_form_is_spanish_by_default_and_labelled(web: Web) -> None:
    page = web.http.get("/login")
    assert page.status_code == 200
    assert '<html lang="es-PE">' in page.text
    assert "Iniciar sesión" in page.text
    assert '<label for="username">' in page.text and 'id="username"' in page.text
    assert 'autocomplete="current-password"' in page.text


def test_signing_in_sets_a_safe_session_cookie_and_goes_home(web: Web) -> None:
    response = _login(web, "Coord")  # usernames are case-insensitive
    assert response.status_code == 303
    assert response.headers["location"] == "/clients"
    cookie = _set_cookie(response, SESSION_COOKIE).lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain http (the test server); https sets it
    assert "max-age=900" in cookie  # the access token's life
    assert _set_cookie(response, CSRF_COOKIE)  # a new form secret for the new session
    assert web.http.get("/clients").status_code == 200


def test_the_cookie_is_secure_over_https(web: Web) -> None:
    web.http.base_url = "https://testserver"  # type: ignore[assignment]
    response = _login(web, "doctor")
    assert response.status_code == 303
    assert "secure" in _set_cookie(response, SESSION_COOKIE).lower()


def test_each_role_lands_on_its_home(web: Web) -> None:
    homes = {"root-admin": "/admin/users", "doctor": "/review", "alice": "/my/plan"}
    for username, home in homes.items():
        web.http.cookies.clear()
        assert _login(web, username).headers["location"] == home
        assert web.http.get("/", follow_redirects=False).headers["location"] == home


def test_a_safe_next_is_followed_and_another_site_is_not(web: Web) -> None:
    assert _login(web, "coord", next="/clients/client-a").headers["location"] == "/clients/client-a"
    web.http.cookies.clear()
    for evil in ("//evil.example/x", "https://evil.example", "/\\evil.example"):
        assert _login(web, "coord", next=evil).headers["location"] == "/clients"


def test_a_wrong_password_is_refused_and_audited(web: Web) -> None:
    response = _login(web, "coord", "not the password at all")
    assert response.status_code == 401
    assert "Usuario o contraseña incorrectos" in response.text
    assert SESSION_COOKIE not in response.cookies
    with session_scope(web.engine) as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.outcome == "failed"))
        assert entry is not None and entry.actor == "coord" and entry.action == "login"
        assert entry.detail["ui"] == "web"


def test_repeated_failures_are_rate_limited(web: Web) -> None:
    for _ in range(5):
        assert _login(web, "alice", "wrong password again").status_code == 401
    response = _login(web, "alice")  # even the right password waits now
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert SESSION_COOKIE not in response.cookies


def test_a_post_without_the_csrf_token_is_refused(web: Web) -> None:
    web.http.get("/login")  # the browser has a CSRF cookie, the forged form has no field
    forged = web.http.post(
        "/login", data={"username": "coord", "password": PASSWORD}, follow_redirects=False
    )
    assert forged.status_code == 403
    assert SESSION_COOKIE not in forged.cookies
    wrong = web.http.post(
        "/login",
        data={"username": "coord", "password": PASSWORD, "csrf_token": "0" * 64},
        follow_redirects=False,
    )
    assert wrong.status_code == 403


def test_csrf_protects_every_signed_in_form_too(web: Web) -> None:
    web.sign_in_as("coordinator")
    web.csrf()
    response = web.http.post("/clients/client-a/plans", follow_redirects=False)
    assert response.status_code == 403
    assert "formulario" in response.text.lower()
    header = web.http.post(
        "/clients/client-a/plans",
        headers={"X-CSRF-Token": web.csrf()},
        follow_redirects=False,
    )
    assert header.status_code == 303  # htmx may send the token as a header instead


def test_a_token_from_another_browser_does_not_pass(web: Web) -> None:
    token = web.csrf()
    web.http.cookies.delete(CSRF_COOKIE)
    web.http.cookies.set(CSRF_COOKIE, "another-browsers-secret")
    response = web.http.post(
        "/login",
        data={"username": "coord", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 403


def test_pages_need_a_session(web: Web) -> None:
    response = web.http.get("/clients/client-a?p=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/clients/client-a%3Fp%3D1"


def test_an_expired_session_goes_back_to_the_form_and_says_so(web: Web) -> None:
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    token, _ = web.app.state.signer.issue(web.users["coordinator"], now=old)
    web.http.cookies.set(SESSION_COOKIE, token)
    response = web.http.get("/clients", follow_redirects=False)
    assert response.status_code == 303 and "expired=1" in response.headers["location"]
    page = web.http.get(response.headers["location"])
    assert "Su sesión terminó" in page.text


def test_a_forged_session_is_not_a_session(web: Web) -> None:
    forged, _ = TokenSigner(b"x" * 48).issue(web.users["admin"])
    web.http.cookies.set(SESSION_COOKIE, forged)
    assert web.http.get("/admin/users", follow_redirects=False).status_code == 303


def test_a_session_past_half_its_life_is_renewed(web: Web) -> None:
    signer = web.app.state.signer
    aged = dt.datetime.now(dt.UTC) - signer.ttl * 0.6
    token, _ = signer.issue(web.users["coordinator"], now=aged)
    web.http.cookies.set(SESSION_COOKIE, token)
    response = web.http.get("/clients")
    assert response.status_code == 200
    renewed = response.cookies.get(SESSION_COOKIE)
    assert renewed and renewed != token
    assert signer.decode(renewed).expires_at > signer.decode(token).expires_at


def test_a_deactivated_user_is_signed_out_at_once(web: Web) -> None:
    web.sign_in_as("coordinator")
    assert web.http.get("/clients").status_code == 200
    with session_scope(web.engine) as session:
        from health_advisor.security import users

        users.update_user(session, "coord", active=False)
    assert web.http.get("/clients", follow_redirects=False).status_code == 303


def test_signing_out_clears_the_session_and_is_audited(web: Web) -> None:
    assert _login(web, "coord").status_code == 303
    response = web.post("/logout")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert 'ha_session=""' in _set_cookie(response, SESSION_COOKIE)
    assert web.http.get("/clients", follow_redirects=False).status_code == 303
    with session_scope(web.engine) as session:
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-1] == "logout"


def test_the_language_switch_is_kept_in_a_cookie(web: Web) -> None:
    response = web.http.get("/lang/en?next=/login", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    cookie = _set_cookie(response, LANG_COOKIE).lower()
    assert "ha_lang=en" in cookie and "httponly" in cookie and "max-age=" in cookie
    page = web.http.get("/login")
    assert '<html lang="en">' in page.text and ">Sign in</h1>" in page.text
    web.http.get("/lang/es")
    assert "Iniciar sesión" in web.http.get("/login").text


def test_an_unknown_language_is_not_accepted(web: Web) -> None:
    assert web.http.get("/lang/fr", follow_redirects=False).status_code == 422
    web.http.cookies.set(LANG_COOKIE, "fr")
    assert '<html lang="es-PE">' in web.http.get("/login").text
    assert (
        web.http.get("/lang/en?next=//evil.example", follow_redirects=False).headers["location"]
        == "/"
    )
