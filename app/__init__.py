"""Linli: the application factory.

``create_app`` sets up configuration, extensions, the shell's own pages, API
toolkit, error handlers and CLI commands, then walks the one list of domains
(:data:`app.registry.DOMAINS`): each domain's ``init_app`` registers its pages,
API, models, receivers, template globals and slots, jobs, commands and
notification kinds with the shell's registries.  The shell imports no domain.
"""

from __future__ import annotations

from flask import Flask

from app.clock import SystemClock
from app.config import load_config
from app.registry import init_domains


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=False)
    app.config.update(load_config())
    if config:
        app.config.update(config)
    app.extensions["linli.clock"] = app.config.pop("CLOCK", None) or SystemClock()
    if app.config.get("LINLI_PROXY_HOPS"):  # behind a load balancer: its client address and scheme
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["LINLI_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    register_extensions(app)
    register_blueprints(app)
    init_domains(app)
    init_shell_after_domains(app)
    register_error_handlers(app)
    register_commands(app)
    register_hooks(app)
    return app


def register_extensions(app: Flask) -> None:
    from app import i18n
    from app.db import configure_sqlite
    from app.extensions import babel, csrf, db, login_manager, migrate

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)
    migrate.init_app(app, db, directory=str(_root() / "migrations"), compare_type=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=i18n.select_timezone)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    # The message on the log-in page a protected page sends a visitor to, in their language
    # (Flask-Login's own is English only); flashed as a notice, not an error.
    from flask_babel import lazy_gettext as _l

    login_manager.login_message = _l("Please log in to access this page.")
    login_manager.login_message_category = "info"
    login_manager.localize_callback = str  # the lazy message, rendered in the request's language
    login_manager.session_protection = "strong"
    import app.auth.services  # noqa: F401  (registers the user loader)

    import_models()


def import_models() -> None:
    """Import the shell's models; each domain imports its own in its ``init_app``."""
    import app.audit  # noqa: F401
    import app.grids.models  # noqa: F401  (streets and households, which communities and users name)
    import app.models  # noqa: F401
    import app.notifications  # noqa: F401
    import app.delivery.models  # noqa: F401


def register_blueprints(app: Flask) -> None:
    """The shell's own pages and API (the account), and the API toolkit."""
    from app.api import IdConverter, init_api
    from app.auth.api import account_blp
    from app.auth.services import JOBS as auth_jobs
    from app.auth.recovery_views import bp as recovery_bp
    from app.auth.views import bp as auth_bp
    from app.notifications_views import bp as notifications_bp
    from app.registry import init_registry
    from app.views import bp as main_bp

    app.url_map.converters["int"] = IdConverter  # before any route is added
    found = init_registry(app)
    init_api(app)
    found.pages(main_bp, auth_bp, recovery_bp, notifications_bp)
    found.api(account_blp)
    found.jobs_from(auth_jobs)
    from app.delivery import init_app as init_delivery

    init_delivery(app)  # the outbox: its pages, worker job and settings


def init_shell_after_domains(app: Flask) -> None:
    """Shell modules registered after the domains: the grid tree's demo data places the
    demo residents the providers' loader made (it names no domain module)."""
    from app import grids

    grids.init_app(app)


def register_error_handlers(app: Flask) -> None:
    from app import uow
    from app.errors import register_error_handlers as register

    register(app)
    uow.init_app(app)


def register_commands(app: Flask) -> None:
    from app.cli import register_commands as register

    register(app)


def register_hooks(app: Flask) -> None:
    from app import assets, headers, i18n, reloads

    i18n.register_template_helpers(app)
    reloads.init_app(app)  # the address a reload of a page answering a POST asks for
    headers.init_app(app)  # security headers and Cache-Control (app/headers.py)
    assets.init_app(app)  # static files: hashed addresses, long caching, gzip; the favicon


def _root():
    from app.config import ROOT

    return ROOT
