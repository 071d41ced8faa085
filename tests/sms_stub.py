"""A local stand-in for Alibaba Cloud's SMS API (dysmsapi 2017-05-25), and a real SMTP server.

:class:`AliyunStub` is a real HTTP server on a free port that answers ``SendSms`` in
Aliyun's documented shapes: ``{"Code": "OK", "Message": "OK", "BizId": …, "RequestId": …}``
on success, ``{"Code": "isv.…", "Message": …}`` (HTTP 200) for a business refusal, and
an HTTP 500 with ``{"Code": "ServiceUnavailable", …}`` for a provider fault.  It records
every request (the SDK sends the parameters in the query string), so tests count what
arrived per ``OutId`` — the outbox's deduplication key.

``failing(k)`` makes the next ``k`` requests fail (HTTP 500, or a given error code);
the requests after them succeed.

:func:`smtp_server` runs aiosmtpd's Controller in-process on a free port and collects
the messages it receives.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections import Counter
from contextlib import contextmanager
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class AliyunStub:
    def __init__(self):
        self.requests: list[dict] = []
        self.answers: list[tuple[int, dict]] = []
        self._failures: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                form = {k: v[0] for k, v in parse_qs(body).items()}
                status, answer = stub.answer({**query, **form}, dict(self.headers))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.server.server_port}"

    def start(self) -> AliyunStub:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def failing(self, count: int, code: str | None = None) -> None:
        """The next ``count`` requests fail: HTTP 500, or HTTP 200 with Aliyun error ``code``."""
        with self._lock:
            self._failures.extend([(500 if code is None else 200, code or "ServiceUnavailable")] * count)

    def answer(self, params: dict, headers: dict) -> tuple[int, dict]:
        request_id = uuid.uuid4().hex.upper()
        with self._lock:
            if self._failures:
                status, code = self._failures.pop(0)
                answer = {"Code": code, "Message": "The request has failed due to a temporary failure of the server."
                          if status == 500 else "触发分钟级流控Permits:1", "RequestId": request_id}
                if status == 500:
                    answer["HostId"] = "dysmsapi.aliyuncs.com"
            else:
                status, answer = 200, {"Code": "OK", "Message": "OK", "BizId": f"{len(self.requests)}^0",
                                       "RequestId": request_id}
            self.requests.append({**params, "_action": headers.get("x-acs-action"),
                                  "_authorization": headers.get("Authorization", "")})
            self.answers.append((status, answer))
        return status, answer

    def delivered(self) -> Counter:
        """Successful deliveries per OutId (the dedup key)."""
        return Counter(r.get("OutId") for r, (_s, a) in zip(self.requests, self.answers) if a["Code"] == "OK")

    def received(self) -> Counter:
        return Counter(r.get("OutId") for r in self.requests)


@contextmanager
def aliyun_stub():
    stub = AliyunStub().start()
    try:
        yield stub
    finally:
        stub.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Collector:
    def __init__(self):
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's naming)
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "message": message})
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server():
    from aiosmtpd.controller import Controller

    collector = _Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, collector.messages
    finally:
        controller.stop()
