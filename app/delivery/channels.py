"""The notifier interface: one transport per channel, chosen by configuration.

A :class:`Transport` sends one rendered message and answers :class:`Sent` or
raises :class:`DeliveryFailed` (``permanent`` when trying again cannot help: a
number the provider refuses, a template it does not know).  Transports are
called by the worker outside any transaction, and only there.

- SMS: ``outbox`` (embedded: the text becomes a row of ``sms_outbox``, written
  in the transaction that records the delivery, read on /official/sms-outbox
  and by ``flask outbox``) or ``aliyun`` (Alibaba Cloud's official SDK
  ``alibabacloud-dysmsapi20170525``: SignName, TemplateCode, TemplateParam JSON,
  OutId carrying our deduplication key).
- Email: ``outbox`` (embedded: the rendered text stays on the outbox row) or
  ``smtp`` (stdlib smtplib; the Message-ID derives from the deduplication key,
  so a receiver can discard a repeat).
"""

from __future__ import annotations

import hashlib
import json
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Protocol

from flask import Flask, current_app

from app.delivery.templates import Rendered


@dataclass(frozen=True)
class Outgoing:
    """A claimed message, detached from the session (the worker sends outside transactions)."""

    id: int
    channel: str
    recipient: str
    template: str
    params: dict
    language: str
    dedup_key: str
    urgent: bool
    attempts: int
    max_attempts: int
    token: str
    expires_at: datetime | None = None


@dataclass
class Sent:
    """A delivery the provider accepted; ``rows`` are written with the record of it."""

    ref: str
    rows: list = field(default_factory=list)


class DeliveryFailed(Exception):
    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class Transport(Protocol):
    channel: str
    name: str

    def send(self, message: Outgoing, rendered: Rendered) -> Sent: ...


class EmbeddedSms:
    """No provider: the text is kept in ``sms_outbox`` (what the phone would have shown)."""

    channel, name = "sms", "outbox"

    def send(self, message: Outgoing, rendered: Rendered) -> Sent:
        from app.models import SmsMessage

        return Sent(ref="outbox", rows=[SmsMessage(phone=message.recipient, body=rendered.text[:500])])


class EmbeddedEmail:
    """No mail server: the rendered text stays on the outbox row."""

    channel, name = "email", "outbox"

    def send(self, message: Outgoing, rendered: Rendered) -> Sent:
        return Sent(ref="outbox")


# Aliyun's codes for a request that will never succeed as it is (a retry cannot help).
# Flow control (isv.BUSINESS_LIMIT_CONTROL), a balance to top up (isv.AMOUNT_NOT_ENOUGH)
# and isp.* system errors are worth retrying later.
ALIYUN_PERMANENT = frozenset({
    "isv.MOBILE_NUMBER_ILLEGAL", "isv.TEMPLATE_MISSING_PARAMETERS", "isv.SMS_TEMPLATE_ILLEGAL",
    "isv.SMS_SIGNATURE_ILLEGAL", "isv.INVALID_PARAMETERS", "isv.PARAM_LENGTH_LIMIT",
    "isv.INVALID_JSON_PARAM", "isv.MOBILE_COUNT_OVER_LIMIT", "isv.TEMPLATE_PARAMS_ILLEGAL",
    "isv.BLACK_KEY_CONTROL_LIMIT", "isv.PARAM_NOT_SUPPORT_URL", "isv.SMS_SIGN_ILLEGAL",
})


class AliyunSms:
    """Alibaba Cloud SMS (dysmsapi 2017-05-25 SendSms) through the official SDK."""

    channel, name = "sms", "aliyun"

    def __init__(self, config: Mapping):
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi.utils_models import Config

        self.sign_name = config["ALIYUN_SMS_SIGN_NAME"]
        self.templates = config.get("ALIYUN_SMS_TEMPLATES") or {}
        self.client = Client(Config(
            access_key_id=config["ALIYUN_ACCESS_KEY_ID"],
            access_key_secret=config["ALIYUN_ACCESS_KEY_SECRET"],
            endpoint=config["ALIYUN_SMS_ENDPOINT"],
            protocol=config.get("ALIYUN_SMS_PROTOCOL", "https"),
            connect_timeout=config.get("ALIYUN_TIMEOUT_MS", 5000),
            read_timeout=config.get("ALIYUN_TIMEOUT_MS", 5000),
        ))

    def template_code(self, template: str, language: str) -> str:
        codes = self.templates.get(template) or {}
        code = codes.get(language) or codes.get("zh")
        if not code:
            raise DeliveryFailed(f"no Aliyun TemplateCode configured for template {template!r}", permanent=True)
        return code

    def send(self, message: Outgoing, rendered: Rendered) -> Sent:
        from alibabacloud_dysmsapi20170525 import models
        from Tea.exceptions import TeaException

        request = models.SendSmsRequest(
            phone_numbers=message.recipient,
            sign_name=self.sign_name,
            template_code=self.template_code(message.template, message.language),
            template_param=json.dumps(rendered.variables, ensure_ascii=False),
            out_id=message.dedup_key[:64],
        )
        try:
            response = self.client.send_sms(request)
        except TeaException as error:  # HTTP 4xx/5xx answered by the gateway
            status = getattr(error, "status_code", None) or 0
            if not status:  # no answer at all (the SDK's RetryError: refused, timed out)
                raise DeliveryFailed(f"Aliyun unreachable: {error.message}"[:500]) from error
            permanent = 400 <= status < 500 and status != 429
            raise DeliveryFailed(f"Aliyun {status} {error.code}: {error.message}"[:500], permanent=permanent) from error
        except Exception as error:  # connection refused, timeout, a reply that is not JSON
            raise DeliveryFailed(f"Aliyun unreachable: {type(error).__name__}: {error}"[:500]) from error
        body = response.body
        if body is None or body.code != "OK":
            code = getattr(body, "code", None)
            raise DeliveryFailed(f"Aliyun {code}: {getattr(body, 'message', '')}"[:500],
                                 permanent=code in ALIYUN_PERMANENT)
        return Sent(ref=body.biz_id or body.request_id or "")


class SmtpEmail:
    """Email over SMTP (smtplib): one connection per message, STARTTLS and log-in if configured."""

    channel, name = "email", "smtp"

    def __init__(self, config: Mapping):
        self.config = dict(config)

    def send(self, message: Outgoing, rendered: Rendered) -> Sent:
        c = self.config
        email = EmailMessage()
        email["From"] = c["EMAIL_FROM"]
        email["To"] = message.recipient
        email["Subject"] = rendered.subject
        digest = hashlib.sha256(message.dedup_key.encode()).hexdigest()[:32]
        email["Message-ID"] = f"<{digest}@linli>"
        email.set_content(rendered.text)
        try:
            with smtplib.SMTP(c["SMTP_HOST"], c["SMTP_PORT"], timeout=c["SMTP_TIMEOUT_SECONDS"]) as smtp:
                if c.get("SMTP_STARTTLS"):
                    smtp.starttls()
                if c.get("SMTP_USER"):
                    smtp.login(c["SMTP_USER"], c["SMTP_PASSWORD"])
                refused = smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as error:
            raise DeliveryFailed(f"SMTP refused {message.recipient}: {error.recipients}"[:500], permanent=True) from error
        except smtplib.SMTPResponseException as error:
            raise DeliveryFailed(f"SMTP {error.smtp_code}: {error.smtp_error!r}"[:500],
                                 permanent=500 <= error.smtp_code < 600) from error
        except (OSError, smtplib.SMTPException) as error:
            raise DeliveryFailed(f"SMTP unreachable: {type(error).__name__}: {error}"[:500]) from error
        if refused:
            raise DeliveryFailed(f"SMTP refused {sorted(refused)}", permanent=True)
        return Sent(ref=email["Message-ID"])


def build_transports(config: Mapping) -> dict[str, Transport]:
    sms = AliyunSms(config) if config.get("SMS_SENDER", "outbox") == "aliyun" else EmbeddedSms()
    email = SmtpEmail(config) if config.get("EMAIL_SENDER", "outbox") == "smtp" else EmbeddedEmail()
    return {"sms": sms, "email": email}


def transports(app: Flask | None = None) -> dict[str, Transport]:
    """The configured transports of ``app`` (built once; a test may replace them)."""
    app = app or current_app
    found = app.extensions.get("linli.transports")
    if found is None:
        found = app.extensions["linli.transports"] = build_transports(app.config)
    return found


def reset_transports(app: Flask | None = None) -> None:
    (app or current_app).extensions.pop("linli.transports", None)
