"""Notifications that arrive: the outbox (durable delivery), its channels and policies.

- :mod:`app.delivery.models`: the outbox row (generic: channel, recipient, template,
  params, dedup key) and the users' channel preferences.
- :mod:`app.delivery.outbox`: enqueue in the caller's transaction; the worker that
  claims, sends after commit and records (retries, dead letters).
- :mod:`app.delivery.channels`: the notifier interface and its transports (embedded
  outbox, Aliyun SMS, SMTP email), chosen by configuration.
- :mod:`app.delivery.policy`: quiet hours, the per-phone daily limit.
- :mod:`app.delivery.templates`: message templates in Chinese and English.

``init_app`` reads the settings (app/delivery/settings.py), registers the pages,
the worker job (every 15 seconds in the scheduler process) and ``flask outbox``.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from app.delivery import models  # noqa: F401  (tables for the metadata)
    from app.delivery.outbox import deliver_outbox
    from app.delivery.settings import check, settings
    from app.delivery.views import bp
    from app.registry import registry

    for key, value in settings().items():
        app.config.setdefault(key, value)
    check(app.config)
    found = registry(app)
    found.pages(bp)
    found.job(deliver_outbox, trigger="interval", seconds=15)
