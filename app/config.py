"""Configuration, read from the environment once at start-up.

Every setting has a safe default for the embedded (SQLite, offline) mode used by
``make run``; production (``make serve``) sets them through environment variables.
A value that cannot be parsed stops the app with a clear message instead of
running half-configured.
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE = ROOT / "instance"


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names it (one line per problem)."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or [message]


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given in the usual libpq form."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _int(env: dict, name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def _bool(env: dict, name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _secret_key(env: dict, instance: Path) -> str:
    key = env.get("SECRET_KEY")
    if key:
        if len(key) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters long")
        return key
    if env.get("LINLI_ENV") == "production":
        raise ConfigError("SECRET_KEY is required in production")
    # Embedded mode: one random key per checkout, kept under instance/.
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


# Words that mark a SECRET_KEY copied from an example, a test or a placeholder.
PLACEHOLDER_KEY_WORDS = ("secret", "change", "example", "password", "placeholder", "dummy", "insecure", "default")


def _secret_key_problem(key: str, instance: Path) -> str | None:
    generate = "generate one with: python3 -c 'import secrets; print(secrets.token_hex(32))'"
    if not key:
        return f"SECRET_KEY is required in production; {generate}"
    if len(key) < 32:
        return f"SECRET_KEY must be at least 32 characters long (it has {len(key)}); {generate}"
    embedded = instance / "secret_key"
    if embedded.is_file() and embedded.read_text().strip() == key:
        return f"SECRET_KEY is the embedded-mode key from {embedded}; {generate}"
    word = next((w for w in PLACEHOLDER_KEY_WORDS if w in key.lower()), None)
    if word:
        return f"SECRET_KEY looks like a placeholder (it contains {word!r}); {generate}"
    if len(set(key)) < 10:
        return f"SECRET_KEY is too predictable (fewer than 10 different characters); {generate}"
    return None


def _database_url_problem(url: str) -> str | None:
    example = "postgresql://linli:…@db.example:5432/linli"
    if not url:
        return f"DATABASE_URL is required in production, e.g. {example}"
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(normalise_database_url(url))
    except ArgumentError:
        return f"DATABASE_URL is not a database URL, e.g. {example}"
    if parsed.get_backend_name() != "postgresql":
        return f"DATABASE_URL must be a PostgreSQL URL in production (got {parsed.get_backend_name()}), e.g. {example}"
    if not parsed.database:
        return f"DATABASE_URL names no database, e.g. {example}"
    return None


def _public_url_problem(url: str) -> str | None:
    example = "https://linli.example.gov.cn"
    if not url:
        return (f"LINLI_PUBLIC_URL is required in production: the site's address, from which links that "
                f"leave the site (payment return pages) are built, e.g. {example}")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return f"LINLI_PUBLIC_URL must be an https:// address with a host name, e.g. {example}"
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        return f"LINLI_PUBLIC_URL must be the site's origin only (no path, query or user), e.g. {example}"
    return None


def _host_problems(hosts: list[str]) -> list[str]:
    return [f"LINLI_TRUSTED_HOSTS: {host!r} is not a host name (e.g. linli.example.gov.cn or "
            ".example.gov.cn for its subdomains; no scheme, port or path)"
            for host in hosts if not _HOST.fullmatch(host)]


# A host name or an IPv4 address; a leading dot matches subdomains.  (Werkzeug matches no
# IPv6 address against the list.)
_HOST = re.compile(r"\.?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*")


def _host_list(env: dict) -> list[str]:
    return [h.strip().lower() for h in env.get("LINLI_TRUSTED_HOSTS", "").split(",") if h.strip()]


def site_settings(env: dict, production: bool) -> dict:
    """Where the site is: ``LINLI_PUBLIC_URL`` (links that leave the site are built from it,
    never from the request's Host header) and the hosts it answers to (Flask's
    ``TRUSTED_HOSTS``: any other Host header is a 400).  In production the public URL's
    host is always trusted, with ``LINLI_TRUSTED_HOSTS`` added (an internal name, the
    health check's address); in development only ``LINLI_TRUSTED_HOSTS``, when set."""
    public = (env.get("LINLI_PUBLIC_URL") or "").strip().rstrip("/")
    hosts = _host_list(env)
    host = urlsplit(public).hostname if public else None
    if production and host:
        hosts = [host, *[h for h in hosts if h != host]]
    return {
        "LINLI_PUBLIC_URL": public,
        "TRUSTED_HOSTS": hosts or None,
        "PREFERRED_URL_SCHEME": urlsplit(public).scheme if public else "http",
    }


def gateway_settings(env: dict) -> dict:
    """The payment gateway's settings (billing.gateways.build_gateway checks them)."""
    return {
        "LINLI_PAYMENT_GATEWAY": env.get("LINLI_PAYMENT_GATEWAY", "offline"),
        "STRIPE_SECRET_KEY": env.get("STRIPE_SECRET_KEY", ""),
        "STRIPE_WEBHOOK_SECRET": env.get("STRIPE_WEBHOOK_SECRET", ""),
        "STRIPE_API_BASE": env.get("STRIPE_API_BASE", ""),
        "STRIPE_CURRENCY": env.get("STRIPE_CURRENCY", "cny").lower(),
        "STRIPE_PAYMENT_METHODS": tuple(
            m.strip() for m in env.get("STRIPE_PAYMENT_METHODS", "card,alipay,wechat_pay").split(",") if m.strip()
        ),
    }


def production_problems(env: dict) -> list[str]:
    """Everything wrong with a production environment (``LINLI_ENV=production``), one line each.

    Production runs only with a strong SECRET_KEY of its own, PostgreSQL, cookies
    sent over HTTPS only, its public https:// address (``LINLI_PUBLIC_URL``) and well-formed
    trusted hosts, and a gateway whose keys billing accepts; anything else
    stops the start-up instead of running half-configured.
    """
    instance = Path(env.get("LINLI_INSTANCE_DIR") or DEFAULT_INSTANCE)
    problems = [
        _secret_key_problem(env.get("SECRET_KEY") or "", instance),
        _database_url_problem(env.get("DATABASE_URL") or ""),
        _public_url_problem((env.get("LINLI_PUBLIC_URL") or "").strip()),
        *_host_problems(_host_list(env)),
    ]
    try:
        if not _bool(env, "LINLI_SECURE_COOKIES", True):
            problems.append("LINLI_SECURE_COOKIES must be on in production (log-in cookies only over HTTPS)")
    except ConfigError as error:
        problems.append(str(error))
    # (SQLAlchemy reads a pool_size of 0 or an overflow of -1 as "no limit".)
    for name, default, least in (("LINLI_PROXY_HOPS", 0, 0), ("LINLI_DB_POOL_SIZE", 2, 1),
                                 ("LINLI_DB_MAX_OVERFLOW", 3, 0)):
        try:
            if _int(env, name, default) < least:
                problems.append(f"{name} must be {least} or more")
        except ConfigError as error:
            problems.append(str(error))
    # Each domain checks its own settings (billing: the gateway's keys), named by the
    # one list of domains so that the shell imports none of them.
    from app.registry import domain_modules

    for domain in domain_modules():
        check = getattr(domain, "config_problems", None)
        if check is not None:
            problems.extend(check(env))
    return [p for p in problems if p]


def load_config(env: dict | None = None) -> dict:
    """Build the Flask configuration mapping from environment variables."""
    env = dict(os.environ if env is None else env)
    instance = Path(env.get("LINLI_INSTANCE_DIR") or DEFAULT_INSTANCE)
    production = env.get("LINLI_ENV") == "production"
    if production:
        problems = production_problems(env)
        if problems:
            raise ConfigError("\n".join(problems), problems)
    database_url = env.get("DATABASE_URL")
    if not database_url:
        if production:
            raise ConfigError("DATABASE_URL is required in production")
        instance.mkdir(parents=True, exist_ok=True)
        database_url = f"sqlite:///{instance / 'linli.db'}"

    return {
        "LINLI_ENV": "production" if production else "development",
        "SECRET_KEY": _secret_key(env, instance),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "SQLALCHEMY_ENGINE_OPTIONS": {
            "pool_pre_ping": True,
            # Per process (a sync gunicorn worker uses one at a time): machines × workers ×
            # (pool + overflow) + the scheduler must fit max_connections (docs/deploy.md).
            "pool_size": _int(env, "LINLI_DB_POOL_SIZE", 2),
            "max_overflow": _int(env, "LINLI_DB_MAX_OVERFLOW", 3),
        } if database_url.startswith(("postgres://", "postgresql")) else {"pool_pre_ping": True},
        # Trusted reverse proxies (load balancer) in front: X-Forwarded-For/-Proto/-Host hops.
        "LINLI_PROXY_HOPS": _int(env, "LINLI_PROXY_HOPS", 0),
        # The site's address and the Host headers it accepts (links leaving the site, e.g.
        # Stripe's return pages, use LINLI_PUBLIC_URL, never the request's Host).
        **site_settings(env, production),
        "UPLOAD_DIR": str(Path(env.get("LINLI_UPLOAD_DIR") or instance / "uploads")),
        # Whole request; a document itself is capped lower (DOCUMENT_MAX_BYTES).
        "MAX_CONTENT_LENGTH": 12 * 1024 * 1024,
        "DOCUMENT_MAX_BYTES": _int(env, "LINLI_DOCUMENT_MAX_BYTES", 5 * 1024 * 1024),
        # A JSON body (API, webhooks): refused before parsing when larger or deeper (app/jsonguard.py).
        "JSON_MAX_BYTES": _int(env, "LINLI_JSON_MAX_BYTES", 1024 * 1024),
        "JSON_MAX_DEPTH": _int(env, "LINLI_JSON_MAX_DEPTH", 32),
        # /healthz answers 503 when the upload folder has less free space than this.
        "UPLOAD_MIN_FREE_BYTES": _int(env, "LINLI_UPLOAD_MIN_FREE_BYTES", 64 * 1024 * 1024),
        "LINLI_TIMEZONE": env.get("LINLI_TIMEZONE", "Asia/Shanghai"),
        "BABEL_DEFAULT_LOCALE": "zh",
        "BABEL_DEFAULT_TIMEZONE": env.get("LINLI_TIMEZONE", "Asia/Shanghai"),
        "BABEL_TRANSLATION_DIRECTORIES": str(ROOT / "app" / "translations"),
        "LANGUAGES": ("zh", "en"),
        # Cookies (OWASP ASVS 3.4).
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(env, "LINLI_SECURE_COOKIES", production),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool(env, "LINLI_SECURE_COOKIES", production),
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
        "WTF_CSRF_TIME_LIMIT": None,  # tied to the session, which expires itself
        # Passwords: argon2id (RFC 9106 low-memory profile, above OWASP's minimum).
        "ARGON2_TIME_COST": _int(env, "LINLI_ARGON2_TIME_COST", 3),
        "ARGON2_MEMORY_COST_KIB": _int(env, "LINLI_ARGON2_MEMORY_KIB", 65536),
        "ARGON2_PARALLELISM": 4,
        # Log-in throttling: failures per phone and per address in a sliding window.
        "LOGIN_MAX_FAILURES_PER_PHONE": _int(env, "LINLI_LOGIN_MAX_FAILURES", 5),
        "LOGIN_MAX_FAILURES_PER_IP": _int(env, "LINLI_LOGIN_MAX_FAILURES_IP", 30),
        "LOGIN_WINDOW_MINUTES": _int(env, "LINLI_LOGIN_WINDOW_MINUTES", 15),
        # The known-device cookie set at a log-in (its failures count per device, not per phone).
        "DEVICE_COOKIE_DAYS": _int(env, "LINLI_DEVICE_COOKIE_DAYS", 365),
        # Text messages (app/sms.py): "outbox" keeps them in the database (no keys needed).
        "SMS_SENDER": env.get("LINLI_SMS_SENDER", "outbox"),
        # Phone codes: valid for minutes, tries per code, codes per phone per window.
        "PHONE_CODE_MINUTES": _int(env, "LINLI_PHONE_CODE_MINUTES", 10),
        "PHONE_CODE_ATTEMPTS": _int(env, "LINLI_PHONE_CODE_ATTEMPTS", 5),
        "PHONE_CODES_PER_PHONE": _int(env, "LINLI_PHONE_CODES_PER_PHONE", 3),
        # Sign-ups (codes sent) per client address in a sliding window.
        "SIGNUP_MAX_PER_IP": _int(env, "LINLI_SIGNUP_MAX_PER_IP", 20),
        "SIGNUP_WINDOW_MINUTES": _int(env, "LINLI_SIGNUP_WINDOW_MINUTES", 60),
        # Personal API tokens expire after this many days (renewable).
        "API_TOKEN_DAYS": _int(env, "LINLI_API_TOKEN_DAYS", 90),
        # Catalogue.
        "CATALOGUE_PAGE_SIZE": 20,
        # Searches kept per worker (providers/catalogue_cache.py); 0 seconds turns it off.
        "CATALOGUE_CACHE_SECONDS": _int(env, "LINLI_CATALOGUE_CACHE_SECONDS", 30),
        "CATALOGUE_CACHE_ENTRIES": _int(env, "LINLI_CATALOGUE_CACHE_ENTRIES", 512),
        "CATALOGUE_CHECK_MS": _int(env, "LINLI_CATALOGUE_CHECK_MS", 1000),
        # Bookings (DOMAIN.md: grace 15 minutes; auto-confirm after 72 hours).
        "BOOKING_GRACE_MINUTES": _int(env, "LINLI_BOOKING_GRACE_MINUTES", 15),
        "BOOKING_FREE_CANCEL_HOURS": _int(env, "LINLI_BOOKING_FREE_CANCEL_HOURS", 24),
        "BOOKING_AUTO_CONFIRM_HOURS": 72,
        "BOOKING_HORIZON_DAYS": 60,
        "CONTACT_HIDDEN_AFTER_DAYS": 30,
        "RATING_WINDOW_DAYS": 14,
        "COMPLAINT_RESPONSE_HOURS": 48,
        "SCORECARD_WINDOW_DAYS": 90,
        "RULES_COMMENT_DAYS": 30,  # a new rule-set version is open for comment this long before it applies
        # Payments (billing/gateways): offline needs no keys; stripe checks its keys at start-up.
        **gateway_settings(env),
        "LINLI_PLATFORM_FEE_PERCENT": _int(env, "LINLI_PLATFORM_FEE_PERCENT", 5),
        # Purchase programmes: deduction from a below-standard provider's programme payments.
        "LINLI_PROGRAMME_DEDUCTION_PERCENT": _int(env, "LINLI_PROGRAMME_DEDUCTION_PERCENT", 10),
        # Days after check-out within which a programme visit must be verified or cleared
        # before it is released unpaid (billing/programmes/visit_money.py).
        "LINLI_PROGRAMME_VERIFY_DAYS": _int(env, "LINLI_PROGRAMME_VERIFY_DAYS", 30),
        # OpenAPI (flask-smorest generates the document from the code).
        "API_TITLE": "Linli API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
    }
