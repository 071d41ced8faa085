"""The outbox's settings, read from the environment (defaults: embedded, no keys).

``LINLI_SMS_SENDER``: ``outbox`` (embedded: the text is kept in ``sms_outbox`` for
officials to read) or ``aliyun`` (Alibaba Cloud SMS through its SDK:
``LINLI_ALIYUN_ACCESS_KEY_ID``, ``LINLI_ALIYUN_ACCESS_KEY_SECRET``,
``LINLI_ALIYUN_SMS_SIGN_NAME``, ``LINLI_ALIYUN_SMS_TEMPLATES`` as JSON
``{"reminder_24h": {"zh": "SMS_123", "en": "SMS_456"}, …}``, optionally
``LINLI_ALIYUN_SMS_ENDPOINT``/``_PROTOCOL``).
``LINLI_EMAIL_SENDER``: ``outbox`` (embedded: the rendered text stays on the row)
or ``smtp`` (``LINLI_SMTP_HOST``, ``_PORT``, ``_USER``, ``_PASSWORD``,
``_STARTTLS``, ``LINLI_EMAIL_FROM``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from app.config import ConfigError

SMS_SENDERS = ("outbox", "aliyun")
EMAIL_SENDERS = ("outbox", "smtp")


def _int(env: Mapping, name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def settings(env: Mapping | None = None) -> dict:
    env = os.environ if env is None else env
    email_sender = env.get("LINLI_EMAIL_SENDER", "outbox")
    if email_sender not in EMAIL_SENDERS:
        raise ConfigError(f"LINLI_EMAIL_SENDER must be one of {', '.join(EMAIL_SENDERS)}, got {email_sender!r}")
    raw_templates = env.get("LINLI_ALIYUN_SMS_TEMPLATES") or "{}"
    try:
        templates = json.loads(raw_templates)
    except ValueError as exc:
        raise ConfigError("LINLI_ALIYUN_SMS_TEMPLATES must be JSON: {template: {language: TemplateCode}}") from exc
    return {
        "EMAIL_SENDER": email_sender,
        # Delivery: retries back off from BASE seconds, doubling, up to CAP; dead after MAX attempts.
        "DELIVERY_MAX_ATTEMPTS": _int(env, "LINLI_DELIVERY_MAX_ATTEMPTS", 8, 1),
        "DELIVERY_BACKOFF_SECONDS": _int(env, "LINLI_DELIVERY_BACKOFF_SECONDS", 30, 1),
        "DELIVERY_BACKOFF_CAP_SECONDS": _int(env, "LINLI_DELIVERY_BACKOFF_CAP_SECONDS", 6 * 3600, 1),
        "DELIVERY_LEASE_SECONDS": _int(env, "LINLI_DELIVERY_LEASE_SECONDS", 300, 1),
        "DELIVERY_BATCH": _int(env, "LINLI_DELIVERY_BATCH", 50, 1),
        # Quiet hours, local time: non-urgent messages wait until they end.
        "QUIET_HOURS_START": _int(env, "LINLI_QUIET_HOURS_START", 22),
        "QUIET_HOURS_END": _int(env, "LINLI_QUIET_HOURS_END", 8),
        # Text messages one phone receives per local day (urgent ones go out regardless).
        "SMS_DAILY_LIMIT": _int(env, "LINLI_SMS_DAILY_LIMIT", 10, 1),
        "ALIYUN_ACCESS_KEY_ID": env.get("LINLI_ALIYUN_ACCESS_KEY_ID", ""),
        "ALIYUN_ACCESS_KEY_SECRET": env.get("LINLI_ALIYUN_ACCESS_KEY_SECRET", ""),
        "ALIYUN_SMS_ENDPOINT": env.get("LINLI_ALIYUN_SMS_ENDPOINT", "dysmsapi.aliyuncs.com"),
        "ALIYUN_SMS_PROTOCOL": env.get("LINLI_ALIYUN_SMS_PROTOCOL", "https"),
        "ALIYUN_SMS_SIGN_NAME": env.get("LINLI_ALIYUN_SMS_SIGN_NAME", ""),
        "ALIYUN_SMS_TEMPLATES": templates,
        "ALIYUN_TIMEOUT_MS": _int(env, "LINLI_ALIYUN_TIMEOUT_MS", 5000, 1),
        "SMTP_HOST": env.get("LINLI_SMTP_HOST", "localhost"),
        "SMTP_PORT": _int(env, "LINLI_SMTP_PORT", 25, 1),
        "SMTP_USER": env.get("LINLI_SMTP_USER", ""),
        "SMTP_PASSWORD": env.get("LINLI_SMTP_PASSWORD", ""),
        "SMTP_STARTTLS": env.get("LINLI_SMTP_STARTTLS", "") in ("1", "true", "yes", "on"),
        "SMTP_TIMEOUT_SECONDS": _int(env, "LINLI_SMTP_TIMEOUT_SECONDS", 10, 1),
        "EMAIL_FROM": env.get("LINLI_EMAIL_FROM", "Linli <noreply@linli.local>"),
    }


def check(config: Mapping) -> None:
    """Refuse to start with a channel that cannot work (one line per problem)."""
    problems = []
    if config.get("SMS_SENDER", "outbox") not in SMS_SENDERS:
        problems.append(f"LINLI_SMS_SENDER must be one of {', '.join(SMS_SENDERS)}, got {config['SMS_SENDER']!r}")
    if config.get("SMS_SENDER") == "aliyun":
        for key in ("ALIYUN_ACCESS_KEY_ID", "ALIYUN_ACCESS_KEY_SECRET", "ALIYUN_SMS_SIGN_NAME"):
            if not config.get(key):
                problems.append(f"LINLI_{key} is required when LINLI_SMS_SENDER=aliyun")
    if problems:
        raise ConfigError(problems[0], problems)
