"""Issue 12, item 10: JSON bodies are bounded before anything parses them (app/jsonguard.py).

The probe sent 1,100 nested ``[`` (2.2 KB) to every JSON write endpoint and got a 500
from each (RecursionError in the JSON parser).  Every write operation of the OpenAPI
document is tried here, as every kind of caller, with that body: a 400 problem document
that says why, and nothing written to any table.  The webhook's own cases are in
tests/test_stripe_webhook_checks.py.
"""

from __future__ import annotations

import functools
import os
import re
import tempfile

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.jsonguard import json_depth, problem_with_json
from tests import factories

# The assertions read the English messages.
pytestmark = pytest.mark.usefixtures("english_messages")

DEEP = b"[" * 1100 + b"]" * 1100
WRITE_METHODS = ("post", "put", "patch", "delete")


@functools.cache
def _write_operations() -> list[tuple[str, str, dict]]:
    """(method, path, operation) of every write operation of the OpenAPI document, read from
    an app of its own (the document does not depend on the database)."""
    from app import create_app

    with tempfile.TemporaryDirectory() as instance:
        saved = os.environ.get("LINLI_INSTANCE_DIR")
        os.environ["LINLI_INSTANCE_DIR"] = instance
        try:
            app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance}/doc.db",
                              "SECRET_KEY": "json-limits-secret-key-long-enough-1234", "SERVER_NAME": None})
            document = app.test_client().get("/api/v1/openapi.json").get_json()
            with app.app_context():
                db.engine.dispose()
        finally:
            if saved is None:
                os.environ.pop("LINLI_INSTANCE_DIR", None)
            else:
                os.environ["LINLI_INSTANCE_DIR"] = saved
    return [(method, path, operation) for path, item in document["paths"].items()
            for method, operation in item.items() if method in WRITE_METHODS]


def pytest_generate_tests(metafunc):
    if "write_operation" in metafunc.fixturenames:
        operations = _write_operations()
        metafunc.parametrize("write_operation", operations,
                             ids=[f"{method.upper()} {path}" for method, path, _ in operations])


def concrete(path: str, operation: dict) -> str:
    """The path with each parameter filled: an id that may exist, or the first allowed value."""
    parameters = {p["name"]: p.get("schema", {}) for p in operation.get("parameters", []) if p["in"] == "path"}

    def value(match):
        schema = parameters.get(match.group(1), {})
        if schema.get("enum"):
            return str(schema["enum"][0])
        return "1" if schema.get("type") == "integer" else "x"

    return re.sub(r"\{(\w+)\}", value, path)


def row_counts() -> tuple:
    """The number of rows of every table, in one statement."""
    tables = db.metadata.sorted_tables
    return tuple(db.session.execute(sa.select(
        *[sa.select(sa.func.count()).select_from(t).scalar_subquery() for t in tables])).one())


@pytest.fixture
def callers(db_session):
    from app.auth.services import issue_token

    provider = factories.provider()
    people = {"resident": factories.resident(), "provider": factories.staff(provider),
              "official": factories.official(), "admin": factories.admin()}
    headers = {"anonymous": {}}
    for role, user in people.items():
        headers[role] = {"Authorization": f"Bearer {issue_token(db.session, user, 'json-limits')[1]}"}
    db.session.commit()
    return headers


def test_the_document_has_the_json_write_operations():
    operations = _write_operations()
    with_json = [op for _, _, op in operations if "application/json" in op.get("requestBody", {}).get("content", {})]
    assert len(with_json) > 30


def test_a_body_nested_1100_deep_is_a_400_problem_and_writes_nothing(write_operation, client, callers):
    method, path, operation = write_operation
    url = concrete(path, operation)
    assert "400" in operation["responses"]  # the answer is one the document lists
    before = row_counts()
    for role, headers in callers.items():
        response = client.open(url, method=method.upper(), data=DEEP, content_type="application/json",
                               headers=headers)
        assert response.status_code == 400, (role, response.status_code, response.get_data(as_text=True)[:300])
        assert response.mimetype == "application/problem+json"
        assert response.json["status"] == 400
        assert "nested too deeply" in response.json["detail"] and "32" in response.json["detail"]
    assert row_counts() == before


def test_a_body_larger_than_the_limit_is_a_413_before_it_is_read(client, callers, app):
    body = b'{"title": "' + b"x" * app.config["JSON_MAX_BYTES"] + b'"}'
    before = row_counts()
    response = client.post("/api/v1/my/listings", data=body, content_type="application/json",
                           headers=callers["provider"])
    assert response.status_code == 413 and response.mimetype == "application/problem+json"
    assert "too large" in response.json["detail"]
    assert row_counts() == before


def test_a_body_that_is_not_utf8_is_a_400(client, callers):
    body = '{"title": "家政"}'.encode("utf-16")
    response = client.post("/api/v1/my/listings", data=body, content_type="application/json",
                           headers=callers["provider"])
    assert response.status_code == 400 and "UTF-8" in response.json["detail"]


def test_32_levels_still_reach_the_endpoint(client, callers):
    """At the limit the body is parsed and validated as before (a 422 for the wrong fields)."""
    body = b'{"title": ' + b"[" * 31 + b"]" * 31 + b"}"
    assert json_depth(body) == 32
    response = client.post("/api/v1/my/listings", data=body, content_type="application/json",
                           headers=callers["provider"])
    assert response.status_code == 422, response.get_data(as_text=True)
    assert "title" in response.json["errors"]


def test_a_deep_body_sent_as_form_data_is_not_parsed_as_json(client, callers):
    """Other media types are never read as JSON: the endpoint answers as for no body."""
    response = client.post("/api/v1/my/listings", data=DEEP, content_type="text/plain",
                           headers=callers["provider"])
    assert response.status_code == 422


def test_the_limits_are_configurable(client, callers, app):
    saved = app.config["JSON_MAX_DEPTH"]
    app.config["JSON_MAX_DEPTH"] = 2
    try:
        response = client.post("/api/v1/my/listings", data=b'{"a": {"b": {}}}', content_type="application/json",
                               headers=callers["provider"])
    finally:
        app.config["JSON_MAX_DEPTH"] = saved
    assert response.status_code == 400 and "at most 2 levels" in response.json["detail"]


@pytest.mark.parametrize(("body", "depth"), [
    (b"", 0), (b"12", 0), (b"[]", 1), (b'{"a": [1, {"b": []}]}', 4), (b"[[],[],[[]]]", 3),
    (b'["[[[[", "]]]"]', 1),  # brackets inside strings do not count
    (b'["\\"[[[[", {"k\\\\": [[]]}]', 4),  # escaped quotes and backslashes
    (b'[[["unterminated [[[[[[', 9),  # not JSON: an upper bound of what a parser reaches
    (b"]]]][[", 0), (b"{" * 40, 40),
])
def test_the_depth_is_measured_without_parsing(body, depth):
    assert json_depth(body) == depth


def test_a_hostile_body_is_measured_in_one_pass():
    """Quotes and backslashes that never close a string: still one pass (this took minutes
    with a backtracking pattern)."""
    assert json_depth(b'["' + b'\\"[' * 300_000) == 300_001
    assert json_depth(b'"' * 300_001 + b"[") == 1
    assert problem_with_json(b'[' * 33, None, max_bytes=100, max_depth=32)[0] == 400
    assert problem_with_json(None, 101, max_bytes=100, max_depth=32)[0] == 413
    assert problem_with_json(b"[" * 32, None, max_bytes=100, max_depth=32) is None
