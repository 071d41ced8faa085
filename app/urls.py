"""Links that leave the site (a payment gateway's return pages, a link in a message).

They are built from configuration, ``LINLI_PUBLIC_URL``, never from the request: a
``Host`` (or forwarded host) header is the client's to choose, so a link built from
it would send a resident back to whatever site the request named.  Production
refuses to start without the setting (app/config.py); in development, without it,
the request's own address is used.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, has_request_context, url_for


def external_url(endpoint: str, **values) -> str:
    """The absolute URL of ``endpoint`` at the site's public address."""
    public = current_app.config.get("LINLI_PUBLIC_URL")
    if not public:
        if has_request_context():
            return url_for(endpoint, _external=True, **values)
        raise RuntimeError("LINLI_PUBLIC_URL is not set: no address to build a link that leaves the site")
    parts = urlsplit(public)
    adapter = current_app.url_map.bind(parts.netloc, url_scheme=parts.scheme)
    return adapter.build(endpoint, values, force_external=True)
