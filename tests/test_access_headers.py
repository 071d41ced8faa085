"""Item 16 of issue 12, over the access matrix's world: every answer to a logged-in user,
on every route and method, carries the security headers and ``Cache-Control: no-store``.

The routes, users and bodies are those of tests/test_access_matrix.py (the same
table, tests/access_table.py, and the same world, tests/access_world.py): each
route is called as each logged-in user, allowed or not, and the answer, whatever
its status (a page, a redirect, a refusal, a file), must say

- ``Content-Security-Policy`` (no inline script, no framing), ``X-Content-Type-Options:
  nosniff``, ``X-Frame-Options: DENY``, ``Referrer-Policy: same-origin``;
- ``Cache-Control: no-store`` (app/headers.py decides it in one place: a logged-in
  user's answer, a private area, a file download).

Anonymous visitors get the security headers everywhere; public pages may be cached
for them, private areas and files may not.
"""

from __future__ import annotations

import io

import pytest

from app.headers import CSP
from tests.access_table import RULES
from tests.access_world import ANON, OFFICIAL, RES, ROLES, STAFF, client_as
from tests.test_access_matrix import app, body_for, describe, methods_of, send, url_for_rule, world  # noqa: F401

SECURITY = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
LOGGED_IN = [role for role in ROLES if role != ANON]


def header_problems(response, *, must_not_store: bool) -> list[str]:
    if isinstance(response, Exception):
        return [describe(response)]
    problems = [f"{name}: {response.headers.get(name)!r}" for name, value in SECURITY.items()
                if response.headers.get(name) != value]
    cache = response.headers.get("Cache-Control", "")
    if must_not_store and "no-store" not in [part.strip() for part in cache.split(",")]:
        problems.append(f"Cache-Control: {cache!r}")
    return problems


@pytest.mark.parametrize("endpoint", sorted(RULES))
def test_every_answer_to_a_logged_in_user_has_the_security_headers_and_no_store(app, world, endpoint):  # noqa: F811
    rule = RULES[endpoint]
    problems = []
    for method, _path in methods_of(app, endpoint):
        url = url_for_rule(app, world, endpoint, method)
        for role in LOGGED_IN:
            response = send(app, world, role, method, url, body=body_for(rule, role, method),
                            multipart=rule.multipart)
            for problem in header_problems(response, must_not_store=True):
                problems.append(f"{method} {url} as {role} → {describe(response)}: {problem}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("endpoint", sorted(RULES))
def test_every_answer_to_a_visitor_has_the_security_headers(app, world, endpoint):  # noqa: F811
    problems = []
    for method, _path in methods_of(app, endpoint):
        url = url_for_rule(app, world, endpoint, method)
        response = send(app, world, ANON, method, url, body={"not_a_field": "never read"})
        private = url.startswith(("/account", "/provider", "/official", "/api/"))
        for problem in header_problems(response, must_not_store=private):
            problems.append(f"{method} {url} → {describe(response)}: {problem}")
    assert not problems, "\n".join(problems)


# The pages the probe found cacheable, and the evidence file that said "no-cache".
NAMED = [
    ("bookings.resident_booking", RES), ("ratings.complaint", RES), ("notifications.index", RES),
    ("programmes.my_entitlements", RES), ("subsidies.evidence_download", STAFF),
    ("subsidies.evidence_download", OFFICIAL), ("ratings.complaint_photo", RES),
    ("providers.document_download", STAFF), ("settlements.my_statement_csv", STAFF),
]


@pytest.mark.parametrize("endpoint, role", NAMED, ids=[f"{e}-{r}" for e, r in NAMED])
def test_the_pages_and_files_the_probe_found_are_no_store(app, world, endpoint, role):  # noqa: F811
    response = send(app, world, role, "GET", url_for_rule(app, world, endpoint, "GET"))
    assert response.status_code == 200, describe(response)
    assert "no-store" in [part.strip() for part in response.headers["Cache-Control"].split(",")]
    assert "no-cache" not in response.headers["Cache-Control"] and "Expires" not in response.headers


def test_public_pages_stay_cacheable_for_visitors_and_static_files_for_everyone(app, world):  # noqa: F811
    visitor = app.test_client()
    for endpoint in ("providers.catalogue", "providers.listing", "sanctions.league_table"):
        url = url_for_rule(app, world, endpoint, "GET")
        response = visitor.get(url)
        assert response.status_code == 200, url
        assert "no-store" not in response.headers.get("Cache-Control", ""), url
    css = client_as(app, world, RES).get("/static/css/linli.css")
    assert css.status_code == 200 and "no-store" not in css.headers.get("Cache-Control", "")
    assert css.headers["X-Content-Type-Options"] == "nosniff"
    css.close()


def test_a_view_may_opt_into_caching_and_a_download_may_not_escape_no_store(app):  # noqa: F811
    from flask import send_file

    from app.headers import cacheable

    made = type(app)(__name__)
    made.config.update(SECRET_KEY="x" * 32, SESSION_COOKIE_SECURE=False)
    from app import headers

    headers.init_app(made)

    @made.get("/shared")
    @cacheable
    def shared():
        return "the same for everyone"

    @made.get("/file")
    def file():
        return send_file(io.BytesIO(b"%PDF"), mimetype="application/pdf", as_attachment=True, download_name="a.pdf")

    @made.get("/private")
    def private():
        from flask import session

        session["_user_id"] = "1"
        return "mine"

    client = made.test_client()
    assert "no-store" not in client.get("/shared").headers.get("Cache-Control", "")
    assert client.get("/file").headers["Cache-Control"] == "no-store"
    client.get("/private")
    assert client.get("/private").headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/shared").headers.get("Cache-Control", "")  # opted in, even logged in
