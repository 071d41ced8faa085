"""Every route states who may use it, and the server enforces it.

A new HTML view without an access rule (``public``, ``login_required``,
``roles_required`` …) fails here; API views check the caller with
``require_user`` and declare their security in the OpenAPI document.
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


def test_no_html_view_changes_state_on_get(app):
    """Views that take GET are read-only by design: POST-only endpoints change state."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") or rule.endpoint in UNRULED_OK:
            continue
        if "GET" in rule.methods:
            name = rule.endpoint.rsplit(".", 1)[-1]
            assert not name.startswith(("delete", "approve", "reject", "revoke", "logout")), rule.rule


def test_roles_are_enforced_for_official_pages(client, auth):
    for role in (Role.RESIDENT, Role.PROVIDER_STAFF):
        user = factories.user(role)
        auth.login(user)
        assert client.get("/official/providers").status_code == 403, role
        auth.logout()
    assert client.get("/official/providers").status_code == 302  # anonymous: to log-in
    auth.login(factories.official())
    assert client.get("/official/providers").status_code == 200
