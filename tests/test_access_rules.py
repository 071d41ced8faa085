"""Every route states who may use it, and the server enforces it.

A new HTML view without an access rule (``public``, ``login_required``,
``roles_required`` …) fails here; API views check the caller with
``require_user`` and declare their security in the OpenAPI document.
Who may use what, route by route and user by user, that no GET changes the
database and that every write needs its CSRF token: tests/test_access_matrix.py.
"""

from app.models import Role
from tests import factories

UNRULED_OK = {"static", "api-docs.openapi_json"}


def test_every_html_view_declares_an_access_rule(app):
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in UNRULED_OK or rule.rule.startswith("/api/"):
            continue
        view = app.view_functions[rule.endpoint]
        if not hasattr(view, "linli_roles"):
            missing.append(f"{rule.rule} ({rule.endpoint})")
    assert missing == []


def test_roles_are_enforced_for_official_pages(client, auth):
    for role in (Role.RESIDENT, Role.PROVIDER_STAFF):
        user = factories.user(role)
        auth.login(user)
        assert client.get("/official/providers").status_code == 403, role
        auth.logout()
    assert client.get("/official/providers").status_code == 302  # anonymous: to log-in
    auth.login(factories.official())
    assert client.get("/official/providers").status_code == 200
