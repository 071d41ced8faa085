"""A small local Stripe API stub for what localstripe lacks.

localstripe has no Checkout Sessions, no Connect transfers and no idempotency
keys.  This stub answers ``POST /v1/checkout/sessions`` and ``POST /v1/transfers``
(and ``GET`` of the objects it created) in Stripe's documented JSON shapes,
records every request, honours ``Idempotency-Key`` (a repeated key returns the
same object and creates nothing), and can be told to fail the next N transfers.

Stable API (other tests import it)::

    with StripeStub() as stub:          # or the ``stripe_stub`` fixture (tests/stripe_fixtures.py)
        stub.base_url                   # "http://127.0.0.1:<port>" for STRIPE_API_BASE
        stub.requests                   # [(method, path, form dict, headers dict), ...]
        stub.fail_next_transfers(2, status=500)   # 500 (retryable) or 402 (card_error)
        stub.objects                    # id -> created object (dict)
        stub.requests_to("/v1/transfers")

Forms are decoded from Stripe's bracket encoding into a flat dict
(``{"line_items[0][price_data][unit_amount]": "12000", ...}``).  A failed
request (``fail_next_transfers``) stores no idempotent result, so the retry
with the same key is processed afresh — as Stripe does for requests that never
started executing.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl


def _nested(form: dict[str, str], prefix: str) -> dict[str, str]:
    """``metadata[payment_id]`` → ``{"payment_id": ...}`` for one bracket prefix."""
    out = {}
    for key, value in form.items():
        if key.startswith(prefix + "[") and key.endswith("]") and key.count("[") == 1:
            out[key[len(prefix) + 1:-1]] = value
    return out


def _list(form: dict[str, str], name: str) -> list[str]:
    items = sorted(
        ((key, value) for key, value in form.items() if key.startswith(name + "[") and key.count("[") == 1),
        key=lambda item: int(item[0][len(name) + 1:-1]),
    )
    return [value for _, value in items]


class StripeStub:
    """A threaded local HTTP server speaking a small part of the Stripe API."""

    def __init__(self):
        self.requests: list[tuple[str, str, dict[str, str], dict[str, str]]] = []
        self.objects: dict[str, dict] = {}
        self._by_key: dict[str, tuple[int, dict]] = {}
        self._fail_transfers: list[int] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control ---------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "the stub is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail_next_transfers(self, n: int, status: int = 500) -> None:
        """The next ``n`` POST /v1/transfers answer ``status`` (500: api_error, 402: card_error...)."""
        with self._lock:
            self._fail_transfers.extend([status] * n)

    def requests_to(self, path: str, method: str = "POST") -> list[tuple[str, str, dict, dict]]:
        return [r for r in self.requests if r[0] == method and r[1] == path]

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.objects.clear()
            self._by_key.clear()
            self._fail_transfers.clear()

    def start(self) -> StripeStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                stub._handle(self, "GET")

            def do_POST(self):
                stub._handle(self, "POST")

            def do_DELETE(self):
                stub._handle(self, "DELETE")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StripeStub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- serving ---------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path, _, query = handler.path.partition("?")
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length).decode() if length else query
        form = dict(parse_qsl(body, keep_blank_values=True))
        headers = {k: v for k, v in handler.headers.items()}
        with self._lock:
            self.requests.append((method, path, form, headers))
            status, payload = self._answer(method, path, form, headers)
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("Request-Id", f"req_stub_{next(self._ids)}")
        if status >= 500:
            handler.send_header("Stripe-Should-Retry", "true")
        handler.end_headers()
        handler.wfile.write(data)

    def _answer(self, method: str, path: str, form: dict, headers: dict) -> tuple[int, dict]:
        key = next((v for k, v in headers.items() if k.lower() == "idempotency-key"), None)
        if method == "POST" and key and (method, path, key) in self._by_key:
            return self._by_key[(method, path, key)]
        if method == "GET" and path.count("/") == 3:
            found = self.objects.get(path.rsplit("/", 1)[1])
            if found is not None:
                return 200, found
        if method == "POST" and path == "/v1/checkout/sessions":
            result = (200, self._checkout_session(form))
        elif method == "POST" and path == "/v1/transfers":
            if self._fail_transfers:
                return self._failure(self._fail_transfers.pop(0))
            result = (200, self._transfer(form))
        else:
            return 404, {"error": {"type": "invalid_request_error",
                                   "message": f"Unrecognized request URL ({method}: {path})."}}
        if key and method == "POST":
            self._by_key[(method, path, key)] = result
        return result

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_stub{next(self._ids):06d}"

    def _checkout_session(self, form: dict) -> dict:
        """A ``checkout.session`` object (https://docs.stripe.com/api/checkout/sessions/object)."""
        session_id = self._new_id("cs_test")
        amount = sum(
            int(form.get(f"line_items[{i}][price_data][unit_amount]", 0))
            * int(form.get(f"line_items[{i}][quantity]", 1))
            for i in range(10) if f"line_items[{i}][price_data][unit_amount]" in form
        )
        obj = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": amount,
            "amount_total": amount,
            "cancel_url": form.get("cancel_url"),
            "success_url": form.get("success_url"),
            "client_reference_id": form.get("client_reference_id"),
            "created": int(time.time()),
            "currency": form.get("line_items[0][price_data][currency]"),
            "customer": None,
            "expires_at": int(time.time()) + 86400,
            "livemode": False,
            "metadata": _nested(form, "metadata"),
            "mode": form.get("mode", "payment"),
            "payment_intent": None,
            "payment_method_types": _list(form, "payment_method_types") or ["card"],
            "payment_status": "unpaid",
            "status": "open",
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        }
        self.objects[session_id] = obj
        return obj

    def _transfer(self, form: dict) -> dict:
        """A ``transfer`` object (https://docs.stripe.com/api/transfers/object)."""
        transfer_id = self._new_id("tr")
        obj = {
            "id": transfer_id,
            "object": "transfer",
            "amount": int(form.get("amount", 0)),
            "amount_reversed": 0,
            "created": int(time.time()),
            "currency": form.get("currency"),
            "description": form.get("description"),
            "destination": form.get("destination"),
            "livemode": False,
            "metadata": _nested(form, "metadata"),
            "reversed": False,
            "transfer_group": form.get("transfer_group"),
        }
        self.objects[transfer_id] = obj
        return obj

    @staticmethod
    def _failure(status: int) -> tuple[int, dict]:
        if status == 402:
            return 402, {"error": {"type": "card_error", "code": "balance_insufficient",
                                   "message": "Insufficient funds in Stripe account."}}
        return status, {"error": {"type": "api_error", "message": "An unknown error occurred (stub)."}}
