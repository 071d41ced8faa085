"""Schemathesis fuzzes every /api/v1 operation as every role (issue 7, "Attack and misuse").

The Flask app is called in-process (WSGI) on a scratch database holding the demo
data set; each role sends its own personal bearer token (anonymous sends none).
For every operation Hypothesis generates a bounded, derandomised set of requests
(schema-valid ones and, for a part, deliberately invalid ones), and every
response must pass:

- ``not_a_server_error``: never a 5xx;
- ``status_code_conformance``: only a status the document lists;
- ``content_type_conformance``: the documented media type;
- ``response_schema_conformance``: the body matches the documented schema.

All failures are collected and reported together, one line per operation,
role and check, with a curl command that reproduces it.
"""

from __future__ import annotations

import os
import time

import pytest
import schemathesis
from flask_migrate import upgrade
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app import create_app
from app.clock import FrozenClock
from app.extensions import db
from tests.conftest import START, scratch_database
from tests.helpers import bearer as _bearer

# Generated requests per operation and generation mode (each one is sent as
# every role): small enough that the whole run stays well under two minutes on
# SQLite and on PostgreSQL.  LINLI_FUZZ_EXAMPLES scales both for a longer run.
SCALE = float(os.environ.get("LINLI_FUZZ_EXAMPLES", "1"))
EXAMPLES = {
    GenerationMode.POSITIVE: max(1, round(8 * SCALE)),
    GenerationMode.NEGATIVE: max(1, round(4 * SCALE)),
}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# The demo people (providers/demo.py) whose tokens the fuzzer sends.
ROLE_PHONES = {
    "resident": "13800000001",
    "provider_staff": "13700000001",
    "official": "13900000001",
    "admin": "13900000009",
}
ROLES = ["anonymous", *ROLE_PHONES]


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory):
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": scratch_database(tmp_path_factory, "fuzz"),
        "UPLOAD_DIR": str(tmp_path_factory.mktemp("fuzz-uploads")),
        "SECRET_KEY": "fuzz-secret-key-that-is-long-enough-1234",
        "CLOCK": FrozenClock(START),
        # A crash must come back as a 500 for the fuzzer to report, not raise.
        "PROPAGATE_EXCEPTIONS": False,
        "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST_KIB": 1024, "ARGON2_PARALLELISM": 1,
    })
    with app.app_context():
        upgrade()
        from app.auth.services import issue_token
        from app.models import User
        from billing.programmes.demo import load_programme_demo
        from billing.subsidies.demo import load_subsidy_demo
        from providers.demo import load_demo
        from ratings.demo import load_history

        load_demo(db.session)
        load_history(db.session)
        load_subsidy_demo(db.session)
        load_programme_demo(db.session)
        tokens = {}
        for role, phone in ROLE_PHONES.items():
            user = db.session.scalar(db.select(User).where(User.phone == phone))
            tokens[role] = issue_token(db.session, user, "fuzz")[1]
        db.session.commit()
    app.extensions["fuzz.tokens"] = tokens
    yield app
    with app.app_context():
        db.engine.dispose()


def _operations(schema):
    for result in schema.get_all_operations():
        yield result.ok()


def _fuzz(operation, mode: GenerationMode, tokens: dict, failures: dict) -> int:
    """Send each generated request as every role; collect distinct failures."""
    calls = 0

    @settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        nonlocal calls
        for role in ROLES:
            headers = {"Authorization": f"Bearer {tokens[role]}"} if role in tokens else {}
            calls += 1
            try:
                case.call_and_validate(headers=headers, checks=CHECKS)
            except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 - reported by the test
                message = str(error).strip()
                failures.setdefault((operation.label, role, message.splitlines()[0]), f"[{role}] {operation.label} [{mode.value}]: {message}"[:3000])

    try:
        run()
    except Unsatisfiable:
        pass  # nothing to make invalid (an operation without parameters)
    return calls


@pytest.mark.no_db_session
def test_every_operation_as_every_role_answers_within_its_schema(fuzz_app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app)
    tokens = fuzz_app.extensions["fuzz.tokens"]
    operations = list(_operations(schema))
    assert len(operations) > 30, "the document lost its operations"
    failures: dict = {}
    calls = 0
    started = time.monotonic()
    for operation in operations:
        for mode in EXAMPLES:
            calls += _fuzz(operation, mode, tokens, failures)
    elapsed = time.monotonic() - started
    print(f"\nfuzzed {len(operations)} operations as {len(ROLES)} roles: {calls} requests in {elapsed:.1f}s")
    assert not failures, "\n\n".join(failures.values())


# --- What the fuzzer found, pinned ----------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/bookings/99999999999999999999", "/api/v1/bookings/0",
                                  "/api/v1/listings/2147483648"])
def test_an_id_beyond_the_column_is_a_404_not_an_overflow(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_a_number_out_of_range_in_a_query_is_a_422(client):
    from tests import factories

    response = client.get("/api/v1/supervision/reports?provider_id=99999999999999999999",
                          headers=_bearer(factories.official()))
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"


def test_a_rule_value_too_long_for_decimals_is_refused_not_a_crash():
    from app.errors import Invalid
    from ratings.supervision import publication
    from tests import factories

    with pytest.raises(Invalid) as refused:
        publication.create_draft(db.session, factories.official(), {"rating_below": "1e30"}, "试试")
    assert refused.value.field == "rating_below"


def test_a_token_records_its_use_once_a_minute_and_leaves_the_session_clean(client, clock):
    from app.models import ApiToken
    from tests import factories

    user = factories.resident()
    headers = _bearer(user)
    token = db.session.scalar(db.select(ApiToken).where(ApiToken.user_id == user.id))
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    first = token.last_used_at
    assert first is not None
    clock.advance(seconds=30)
    client.get("/api/v1/me", headers=headers)
    db.session.refresh(token)
    assert token.last_used_at == first
    clock.advance(seconds=31)
    client.get("/api/v1/me", headers=headers)
    db.session.refresh(token)
    assert token.last_used_at > first


def test_decimals_dumped_as_strings_are_documented_as_strings(client):
    document = client.get("/api/v1/openapi.json").get_json()
    share = document["components"]["schemas"]["SubsidyPolicy"]["properties"]["share_percent"]
    assert share["type"] == "string"
    assert share["format"] == "decimal"
