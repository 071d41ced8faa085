"""Item 15 of issue 12: links that leave the site come from configuration, and production
answers only the hosts it is configured for.

A forged ``Host: evil.example`` once made Stripe's return pages
``http://evil.example/bookings/…``.  Now the checkout's success and cancel URLs are
built from ``LINLI_PUBLIC_URL`` whatever the request's host (app/urls.py), a host
outside ``TRUSTED_HOSTS`` is a 400 before anything runs (nothing written, the gateway
never asked), and production refuses to start without a public https:// address.
"""

from __future__ import annotations

import contextlib

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

from app.config import ConfigError, load_config, production_problems
from app.urls import external_url
from billing import payments
from billing.gateways.stripe_gateway import StripeGateway
from billing.payment_models import Payment
from tests.billing_helpers import WEBHOOK_SECRET, accepted_booking, gateway
from tests.stripe_fixtures import stripe_stub, stripe_stub_server  # noqa: F401

PUBLIC = "https://linli.example.gov.cn"


@pytest.fixture
def stripe(app, stripe_stub):  # noqa: F811
    """The Stripe gateway on the stub, the site at PUBLIC (also answering the test client's host)."""
    gw = StripeGateway(secret_key="sk_test_linli", api_base=stripe_stub.base_url)
    with gateway(app, gw, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET, LINLI_PUBLIC_URL=PUBLIC,
                 TRUSTED_HOSTS=["linli.example.gov.cn", "localhost"]):
        yield stripe_stub


def pay_form(client, booking_id: int) -> tuple[str, dict]:
    """The pay form the resident's booking page renders: its action and fields."""
    page = BeautifulSoup(client.get(f"/bookings/{booking_id}").get_data(as_text=True), "html.parser")
    form = page.find("form", action=f"/bookings/{booking_id}/pay")
    assert form is not None, "the booking page offers no pay form"
    return form["action"], {i["name"]: i.get("value", "") for i in form.find_all("input") if i.get("name")}


@contextlib.contextmanager
def forged_host(app, host: str):
    """Requests arrive with ``Host: host`` and the client's own cookies (what curl sends; the
    test client would pick cookies by the Host header, so the header is set behind it)."""
    inner = app.wsgi_app

    def forged(environ, start_response):
        environ["HTTP_HOST"] = host
        return inner(environ, start_response)

    app.wsgi_app = forged
    try:
        yield
    finally:
        app.wsgi_app = inner


def checkout_urls(stub) -> list[tuple[str, str]]:
    return [(form["success_url"], form["cancel_url"]) for _m, _p, form, _h in stub.requests_to("/v1/checkout/sessions")]


def test_a_forged_host_is_refused_before_anything_runs(app, auth, client, db_session, stripe):
    booking, _ = accepted_booking()
    payment = payments.live_payment(db_session, booking.id)
    auth.login(booking.resident)
    action, fields = pay_form(client, booking.id)

    with forged_host(app, "evil.example"):
        response = client.post(action, data=fields)
        api = client.get("/api/v1/me")
    assert response.status_code == 400
    assert "Host 'evil.example' is not trusted." in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    assert stripe.requests_to("/v1/checkout/sessions") == []  # the gateway was never asked
    db_session.refresh(payment)
    assert payment.checkout_session_id is None
    assert db_session.scalars(sa.select(Payment.id).where(Payment.booking_id == booking.id)).all() == [payment.id]
    assert api.status_code == 400 and api.mimetype == "application/problem+json"


@pytest.mark.parametrize("headers", [{}, {"X-Forwarded-Host": "evil.example"}], ids=["own host", "forwarded host"])
def test_the_return_pages_are_at_the_public_address_whatever_the_request_names(
        app, auth, client, db_session, stripe, headers):
    booking, _ = accepted_booking()
    auth.login(booking.resident)
    action, fields = pay_form(client, booking.id)
    response = client.post(action, data=fields, headers=headers)
    assert response.status_code == 303
    back = f"{PUBLIC}/bookings/{booking.id}"
    assert checkout_urls(stripe) == [(back + "?paid=1", back)]


def test_without_a_trusted_hosts_list_a_forged_host_still_cannot_move_the_return_pages(
        app, auth, client, db_session, stripe):
    app.config["TRUSTED_HOSTS"] = None  # (restored by the fixture)
    booking, _ = accepted_booking()
    auth.login(booking.resident)
    action, fields = pay_form(client, booking.id)
    with forged_host(app, "evil.example"):
        response = client.post(action, data=fields)
    assert response.status_code == 303
    assert checkout_urls(stripe) == [(f"{PUBLIC}/bookings/{booking.id}?paid=1", f"{PUBLIC}/bookings/{booking.id}")]


def test_a_link_built_outside_a_request_is_at_the_public_address(app):
    app.config["LINLI_PUBLIC_URL"] = PUBLIC
    try:
        with app.app_context():
            assert external_url("bookings.resident_booking", booking_id=7) == f"{PUBLIC}/bookings/7"
    finally:
        app.config["LINLI_PUBLIC_URL"] = ""


# --- production configuration ------------------------------------------------------------------

KEY = "f3a9c2e18b7d4c60a5e2f1b9d8c7a6e5f4b3c2d1e0f9a8b7"


def production_env(tmp_path, **change) -> dict:
    env = {"LINLI_ENV": "production", "SECRET_KEY": KEY, "DATABASE_URL": "postgresql://linli@127.0.0.1:1/linli",
           "LINLI_INSTANCE_DIR": str(tmp_path / "instance"), "LINLI_PUBLIC_URL": PUBLIC}
    env.update(change)
    return {k: v for k, v in env.items() if v is not None}


@pytest.mark.parametrize("change, message", [
    ({"LINLI_PUBLIC_URL": None}, "LINLI_PUBLIC_URL is required in production"),
    ({"LINLI_PUBLIC_URL": "http://linli.example.gov.cn"}, "LINLI_PUBLIC_URL must be an https:// address"),
    ({"LINLI_PUBLIC_URL": "linli.example.gov.cn"}, "LINLI_PUBLIC_URL must be an https:// address"),
    ({"LINLI_PUBLIC_URL": "https://linli.example.gov.cn/app"}, "LINLI_PUBLIC_URL must be the site's origin only"),
    ({"LINLI_PUBLIC_URL": "https://linli.example.gov.cn/?x=1"}, "LINLI_PUBLIC_URL must be the site's origin only"),
    ({"LINLI_TRUSTED_HOSTS": "linli.internal, https://evil.example"}, "LINLI_TRUSTED_HOSTS: 'https://evil.example'"),
    ({"LINLI_TRUSTED_HOSTS": "linli.internal:8000"}, "LINLI_TRUSTED_HOSTS: 'linli.internal:8000'"),
], ids=["missing", "http", "no scheme", "path", "query", "scheme in a host", "port in a host"])
def test_production_needs_its_public_address_and_well_formed_hosts(tmp_path, change, message):
    problems = production_problems(production_env(tmp_path, **change))
    assert len(problems) == 1 and problems[0].startswith(message), problems
    with pytest.raises(ConfigError, match=message):
        load_config(production_env(tmp_path, **change))


def test_production_answers_its_public_host_and_the_listed_ones_only(tmp_path):
    config = load_config(production_env(tmp_path, LINLI_PUBLIC_URL=PUBLIC + "/",
                                        LINLI_TRUSTED_HOSTS="10.0.0.5, .internal.example"))
    assert config["LINLI_PUBLIC_URL"] == PUBLIC
    assert config["TRUSTED_HOSTS"] == ["linli.example.gov.cn", "10.0.0.5", ".internal.example"]
    assert config["PREFERRED_URL_SCHEME"] == "https"
    assert load_config(production_env(tmp_path))["TRUSTED_HOSTS"] == ["linli.example.gov.cn"]


def test_development_trusts_every_host_unless_told(tmp_path):
    env = {"LINLI_INSTANCE_DIR": str(tmp_path / "instance")}
    assert load_config(env)["TRUSTED_HOSTS"] is None
    assert load_config({**env, "LINLI_TRUSTED_HOSTS": "localhost"})["TRUSTED_HOSTS"] == ["localhost"]
