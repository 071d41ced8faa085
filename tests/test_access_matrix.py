"""The access matrix: every route of ``app.url_map`` as each of seven users.

For each endpoint the table in tests/access_table.py says which users may use it;
here every method of every route is called as anonymous, resident A, another
resident, provider P's staff, another provider's staff, an official and an admin,
on one world of objects belonging to A and P (tests/access_world.py):

- an allowed user gets an answer, not a denial: a GET is a 200 (or, where the
  rule says so, a redirect to where that user's work is); a write is a 2xx/3xx,
  or a refusal of its body or of the object's state (400/409/422); never 401/403/404;
- a denied user gets a denial: pages send anonymous users to /login and answer
  others 403, or 404 for someone else's object (another resident, another
  provider's staff: exactly 404, so nothing is revealed); the API answers 401
  and 403/404; and a denied write changes no row of any table;
- nobody ever gets a 5xx.

A route without a rule fails, and so does a rule for a route that is gone.
The same world then shows that no GET changes the database (row counts of every
table before and after walking every GET as everyone) and that every
state-changing form and session-authenticated API write needs its CSRF token.
"""

from __future__ import annotations

import json
import os
from urllib.parse import urlsplit

import pytest
from flask_migrate import upgrade

import tests.conftest as harness
from app import create_app
from app.extensions import db
from tests.access_table import NOT_IN_MATRIX, RULES
from tests.access_world import (
    ADMIN,
    ANON,
    EVAL,
    GRID,
    COMPLAINT_TEXT,
    LISTING_TITLE,
    OFFICIAL,
    PEER,
    PERIOD,
    PROJECT_TITLE,
    RATING_COMMENT,
    RES,
    RES2,
    ROLES,
    STAFF,
    STAFF2,
    TOKEN_NAME,
    build_world,
    changed_tables,
    client_as,
    fingerprint,
    log_in_everyone,
    row_counts,
)

WRITES = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """This module's app: a scratch database holding the world, committed once.

    It replaces the suite's ``app`` for these tests only, so the usual fixtures
    (``db_session``'s rolled-back transaction, ``client``, ``csrf_enabled``,
    the clock) work on the world unchanged.
    """
    os.environ.setdefault("LINLI_INSTANCE_DIR", str(tmp_path_factory.mktemp("instance")))
    url = harness.scratch_database(tmp_path_factory, "access")
    made = create_app(harness.test_config(url, tmp_path_factory.mktemp("access-files")))
    made.test_client_class = harness.IsolatedClient
    with made.app_context():
        upgrade()
        world = build_world(made.extensions["linli.clock"])
        log_in_everyone(made, world)
        db.session.remove()
    made.extensions["access.world"] = world
    yield made
    with made.app_context():
        db.engine.dispose()


@pytest.fixture
def world(app):
    return app.extensions["access.world"]


def methods_of(app, endpoint: str) -> list[tuple[str, str]]:
    """(method, rule) for each method of each URL rule of ``endpoint``."""
    return [(method, r.rule) for r in app.url_map.iter_rules(endpoint)
            for method in sorted(r.methods - {"HEAD", "OPTIONS"})]


def url_for_rule(app, world: dict, endpoint: str, method: str) -> str:
    values = {name: key[1:] if key.startswith("=") else world[key] for name, key in RULES[endpoint].params.items()}
    return app.url_map.bind("localhost").build(endpoint, values, method=method)


def is_api(url: str) -> bool:
    return url.startswith("/api/")


def send(app, world: dict, role: str, method: str, url: str, *, body=None, multipart=False, session=False):
    """Call ``url`` as ``role``: pages with the role's session cookie, the API with its
    bearer token (or, with ``session``, its cookie).  A crash is reported as a 500."""
    api = is_api(url)
    client = client_as(app, world, role) if not api or session else app.test_client()
    headers = {}
    if api and not session and role != ANON:
        headers["Authorization"] = f"Bearer {world['bearers'][role]}"
    kwargs = {}
    if method in WRITES:
        body = body(world) if callable(body) else (body or {})
        if multipart:
            kwargs = {"data": body, "content_type": "multipart/form-data"}
        elif api:
            kwargs = {"json": body}
        else:
            kwargs = {"data": body}
    try:
        return client.open(url, method=method, headers=headers, **kwargs)
    except Exception as error:  # noqa: BLE001 - with TESTING the crash would be a 500
        return error
    finally:
        db.session.rollback()  # what the end of the request does in production


def describe(response) -> str:
    if isinstance(response, Exception):
        return f"500 ({type(response).__name__}: {response})"
    text = f"{response.status_code}"
    if response.location:
        text += f" → {response.location}"
    return text


def verdict(response, *, endpoint: str, role: str, method: str, url: str) -> str | None:
    """None when the answer fits the rule, else what is wrong."""
    rule = RULES[endpoint]
    allowed = rule.allowed_for(method)
    if isinstance(response, Exception) or response.status_code >= 500:
        return "a server error"
    status = response.status_code
    if role in allowed:
        if status in (401, 403, 404):
            return "allowed, but denied"
        if 300 <= status < 400 and urlsplit(response.location or "").path == "/login":
            return "allowed, but sent to log in"
        if method in WRITES:
            return None if status < 400 or status in (400, 409, 422) else "allowed, but refused"
        if status == 200 or (300 <= status < 400 and role in rule.redirects):
            return None
        return "allowed, but not a 200"
    if role == ANON:
        if is_api(url):
            return None if status == 401 else "anonymous, not a 401"
        if status == 302 and urlsplit(response.location or "").path == "/login":
            return None
        return "anonymous, not sent to log in"
    expected = rule.denial.get(role) or ({404} if PEER.get(role) in allowed else {403, 404})
    return None if status in expected else f"denied, but not {sorted(expected)}"


KINDS = ({RES, RES2}, {STAFF, STAFF2}, {OFFICIAL}, {ADMIN}, {EVAL}, {GRID})


# Sent by a caller who must be turned away before the body is read: no schema has this field.
UNREAD = {"not_a_field": "never read"}


def body_for(rule, role: str, method: str):
    """The rule's body, or an invalid one for a caller who must be turned away before it
    is read (anonymous, or a kind of user the rule does not admit at all)."""
    allowed = rule.allowed_for(method)
    if role in allowed or role in rule.denial:
        return rule.body
    if role != ANON and any(role in kind and kind & allowed for kind in KINDS):
        return rule.body
    return UNREAD


CASES = [(endpoint, role) for endpoint in sorted(RULES) for role in ROLES]


@pytest.mark.parametrize("endpoint, role", CASES, ids=[f"{e}-{r}" for e, r in CASES])
def test_each_route_answers_each_user_as_its_rule_says(app, world, endpoint, role):
    routes = methods_of(app, endpoint)
    assert routes, f"{endpoint} has a rule in tests/access_table.py but no route any more: remove the rule"
    rule = RULES[endpoint]
    problems = []
    for method, _path in routes:
        url = url_for_rule(app, world, endpoint, method)
        denied_write = method in WRITES and role not in rule.allowed_for(method)
        before = fingerprint() if denied_write else None
        response = send(app, world, role, method, url, body=body_for(rule, role, method), multipart=rule.multipart)
        wrong = verdict(response, endpoint=endpoint, role=role, method=method, url=url)
        if wrong:
            problems.append(f"{endpoint} as {role}: {method} {url} → {describe(response)}: {wrong}")
        if denied_write:
            changed = changed_tables(before, fingerprint())
            if changed:
                problems.append(f"{endpoint} as {role}: a denied {method} {url} changed {changed}")
    assert not problems, "\n".join(problems)


def test_every_route_has_a_rule_and_every_rule_a_route(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules()}
    without_rule = sorted(endpoints - set(RULES) - set(NOT_IN_MATRIX))
    assert not without_rule, (
        "a new route without a rule in tests/access_table.py (say who may use it): " + ", ".join(without_rule))
    gone = sorted((set(RULES) | set(NOT_IN_MATRIX)) - endpoints)
    assert not gone, "rules for routes that no longer exist: " + ", ".join(gone)
    assert not set(RULES) & set(NOT_IN_MATRIX)


# --- Lists show each user their own ----------------------------------------------------------

# A list of one's own things, the owner, the owner's peer, and what marks the owner's object in it.
LISTS = {
    "bookings.my_bookings": (RES, RES2, LISTING_TITLE),
    "bookings_api.list_bookings": ((RES, STAFF), (RES2, STAFF2), LISTING_TITLE),
    "ratings.my_complaints": (RES, RES2, "/complaints/{complaint}\""),
    "notifications.index": (RES, RES2, "/notifications/{notification}/open"),
    "auth.account": (RES, RES2, TOKEN_NAME),
    "providers.my_listings": (STAFF, STAFF2, LISTING_TITLE),
    "my_listings_api.MyListings": (STAFF, STAFF2, LISTING_TITLE),
    "ratings.provider_complaints": (STAFF, STAFF2, COMPLAINT_TEXT),
    "ratings.provider_ratings": (STAFF, STAFF2, RATING_COMMENT),
    "settlements.my_statements": (STAFF, STAFF2, PERIOD),
    "subsidies.my_subsidies": (STAFF, STAFF2, PROJECT_TITLE),
    "my_subsidies_api.my_projects": (STAFF, STAFF2, PROJECT_TITLE),
    "my_subsidies_api.my_claims": (STAFF, STAFF2, '"project_id": {project}'),
    "programmes.provider_awards": (STAFF, STAFF2, "居家养老上门服务"),
    "programme_awards_api.my_programme_awards": (STAFF, STAFF2, "居家养老上门服务"),
    "supervision_api.list_reports": (STAFF, STAFF2, '"run_id": {run}'),
}


def _pairs(entry) -> list[tuple[str, str]]:
    owners, peers, _marker = entry
    if isinstance(owners, tuple):
        return list(zip(owners, peers))
    return [(owners, peers)]


def text_of(response) -> str:
    if response.is_json:
        return json.dumps(response.get_json(), ensure_ascii=False)
    return response.get_data(as_text=True)


@pytest.mark.parametrize("endpoint", sorted(LISTS))
def test_lists_show_the_owner_their_objects_and_others_none_of_them(app, world, endpoint):
    marker = LISTS[endpoint][2].format(**world)
    url = url_for_rule(app, world, endpoint, "GET")
    for owner, peer in _pairs(LISTS[endpoint]):
        mine, theirs = send(app, world, owner, "GET", url), send(app, world, peer, "GET", url)
        assert mine.status_code == 200 and marker in text_of(mine), (endpoint, owner)
        assert theirs.status_code == 200 and marker not in text_of(theirs), (endpoint, peer)


# --- No state change on GET ---------------------------------------------------------------

# Tables a GET may add rows to, and why.
GET_MAY_WRITE: dict[str, str] = {
    # An official opening a visit photo is logged (PIPL: evidence is seen only with a trace).
    "audit_event": "visits.photo: an official's view is recorded as visit.evidence_viewed",
}


def test_no_get_changes_the_database(app, world):
    """Every GET of every route as every user leaves every table's rows as they were
    (a bearer token's last use, recorded to the minute, is the one value a read writes)."""
    counts, rows = row_counts(), fingerprint()
    walked = 0
    for endpoint in sorted(RULES):
        for method, _path in methods_of(app, endpoint):
            if method != "GET":
                continue
            url = url_for_rule(app, world, endpoint, method)
            for role in ROLES:
                send(app, world, role, method, url)
                walked += 1
    assert walked > 400
    after = row_counts()
    grew = {name: (counts[name], after[name]) for name in counts
            if counts[name] != after[name] and name not in GET_MAY_WRITE}
    assert not grew, f"a GET changed the number of rows of {grew}"
    changed = [name for name in changed_tables(rows, fingerprint()) if name not in GET_MAY_WRITE]
    assert not changed, f"a GET changed rows of {changed}"


# --- CSRF -----------------------------------------------------------------------------------

# Writes that take no CSRF token by design.
CSRF_EXEMPT = {
    "billing_webhooks.stripe_webhook": "Stripe calls it; its signature authenticates it",
}
# Who sends a write without its token: the first of these the rule allows.
SENDERS = (RES, STAFF, OFFICIAL, ADMIN, RES2, STAFF2, GRID)


def writes(app, *, api: bool) -> list[tuple[str, str, str]]:
    """(endpoint, method, user) for every write of the pages (or of the API)."""
    cases = []
    for endpoint in sorted(RULES):
        for method, path in methods_of(app, endpoint):
            if method in WRITES and path.startswith("/api/") == api and endpoint not in CSRF_EXEMPT:
                allowed = RULES[endpoint].allowed_for(method)
                cases.append((endpoint, method, next(role for role in SENDERS if role in allowed)))
    return cases


def _without_token(app, world, *, api: bool) -> list[str]:
    problems = []
    for endpoint, method, role in writes(app, api=api):
        rule = RULES[endpoint]
        url = url_for_rule(app, world, endpoint, method)
        before = fingerprint()
        response = send(app, world, role, method, url, body=rule.body, multipart=rule.multipart, session=True)
        if isinstance(response, Exception) or response.status_code != 400 or "CSRF" not in text_of(response):
            problems.append(f"{endpoint} as {role}: {method} {url} without a CSRF token → {describe(response)}")
        elif api and response.mimetype != "application/problem+json":
            problems.append(f"{endpoint}: the CSRF refusal is not a problem document")
        changed = changed_tables(before, fingerprint())
        if changed:
            problems.append(f"{endpoint} as {role}: {method} {url} without a CSRF token changed {changed}")
    return problems


def test_every_form_needs_its_csrf_token(app, world, csrf_enabled):
    cases = writes(app, api=False)
    assert len(cases) > 60
    problems = _without_token(app, world, api=False)
    assert not problems, "\n".join(problems)


def test_every_session_api_write_needs_its_csrf_header(app, world, csrf_enabled):
    """Bearer-token writes need none (a browser never sends the header by itself): see app/api.py."""
    cases = writes(app, api=True)
    assert len(cases) > 40
    problems = _without_token(app, world, api=True)
    assert not problems, "\n".join(problems)


def test_a_form_with_its_token_and_an_api_write_with_its_header_are_accepted(app, world, csrf_enabled):
    from app.models import ApiToken
    from tests.conftest import csrf_token_from

    client = client_as(app, world, RES)
    tokens = row_counts()["api_token"]
    token = csrf_token_from(client.get("/account").get_data(as_text=True))
    made = client.post("/account/tokens", data={"name": "手机", "csrf_token": token})
    assert made.status_code == 302 and urlsplit(made.location).path == "/account"
    assert row_counts()["api_token"] == tokens + 1
    assert db.session.scalar(db.select(ApiToken).where(ApiToken.name == "手机")) is not None
    renamed = client.patch("/api/v1/me", json={"name": "王阿姨"}, headers={"X-CSRFToken": token})
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "王阿姨"
    bearer = app.test_client().patch("/api/v1/me", json={"name": "王阿姨"},
                                     headers={"Authorization": f"Bearer {world['bearers'][RES]}"})
    assert bearer.status_code == 200
