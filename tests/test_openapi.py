"""The OpenAPI document at /api/v1/openapi.json: valid, complete, honest about auth and errors."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

HTTP_METHODS = {"get", "put", "post", "patch", "delete"}
PROBLEM = "application/problem+json"
PUBLIC_PATHS = {
    "/api/v1/catalogue",
    "/api/v1/categories",
    "/api/v1/communities",
    "/api/v1/listings/{listing_id}",
    "/api/v1/listings/{listing_id}/ratings",
    "/api/v1/listings/{listing_id}/slots",
    "/api/v1/providers/{provider_id}",
    "/api/v1/programmes",
    "/api/v1/programmes/{programme_id}",
    "/api/v1/supervision/grades",
}


@pytest.fixture
def spec(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def openapi_path(rule: str) -> str:
    """Flask's ``/listings/<int:listing_id>`` as OpenAPI's ``/listings/{listing_id}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def test_the_document_is_valid_openapi_3(spec):
    assert spec["openapi"].startswith("3.")
    validate(spec)


def test_every_api_route_of_the_app_is_documented(app, spec):
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or rule.rule.endswith("/openapi.json"):
            continue
        documented = spec["paths"].get(openapi_path(rule.rule), {})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method.lower() not in documented:
                missing.append(f"{method} {rule.rule}")
    assert missing == []
    assert {"/api/v1/catalogue", "/api/v1/my/listings/{listing_id}/status",
            "/api/v1/official/providers/{provider_id}/decision"} <= set(spec["paths"])


def test_security_schemes_and_per_operation_security(spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert schemes["cookieAuth"]["in"] == "cookie"
    for path, method, operation in operations(spec):
        where = f"{method.upper()} {path}"
        assert "security" in operation, where
        if path in PUBLIC_PATHS:
            assert operation["security"] == [], where
        else:
            assert {"bearerAuth": []} in operation["security"], where
            unauthorized = operation["responses"]["401"]
            assert "WWW-Authenticate" in unauthorized["headers"], where


def test_every_error_response_is_a_problem_document(spec):
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    assert spec["components"]["responses"]["PROBLEM"]["content"][PROBLEM]["schema"] == problem_ref
    for path, method, operation in operations(spec):
        responses = operation["responses"]
        assert responses["default"] == {"$ref": "#/components/responses/PROBLEM"}
        assert any(code.startswith("2") for code in responses), f"{method} {path}"
        for code, response in responses.items():
            if code[0] in "45":
                assert response["content"] == {PROBLEM: {"schema": problem_ref}}, f"{code} {method} {path}"
        if method in {"post", "put", "patch"}:
            assert {"400", "401", "422"} <= set(responses), f"{method} {path}"
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "errors"} <= set(problem["properties"])


def test_the_catalogue_parameters_and_listing_body_are_described(spec):
    catalogue = spec["paths"]["/api/v1/catalogue"]["get"]
    parameters = {p["name"]: p["schema"] for p in catalogue["parameters"]}
    assert set(parameters) == {"q", "category", "community_id", "provider_id", "min_price_fen",
                               "max_price_fen", "sort", "page", "per_page", "all_communities"}
    assert parameters["sort"]["enum"] == ["relevance", "price_asc", "price_desc", "rating", "newest"]
    assert (parameters["per_page"]["minimum"], parameters["per_page"]["maximum"]) == (1, 100)
    assert parameters["min_price_fen"]["minimum"] == 0
    body = spec["components"]["schemas"]["ListingInput"]
    assert set(body["required"]) == {"category_id", "title", "description", "price_fen", "pricing_unit",
                                     "duration_minutes", "response_hours", "community_ids", "availability"}
    assert body["properties"]["price_fen"]["type"] == "integer"
    created = spec["paths"]["/api/v1/my/listings"]["post"]["responses"]
    assert "201" in created and "409" in created


def test_the_document_needs_no_login_and_is_not_cached(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"


def test_the_proof_of_service_figures_and_rules_are_described(spec):
    figure = spec["components"]["schemas"]["Figure"]["properties"]
    assert {"programme_visits", "verified_visits", "unverified_visits", "verified_rate", "not_served_visits",
            "flagged_visits", "flagged_rate", "follow_up_calls", "follow_up_satisfaction"} <= set(figure["key"]["enum"])
    assert "follow_up_call" in figure["subject"]["enum"]
    rules = spec["components"]["schemas"]["RuleValues"]["properties"]
    assert {"verified_rate_percent", "verified_min_visits", "not_served_min_count", "flagged_rate_percent",
            "flagged_min_count"} <= set(rules)
