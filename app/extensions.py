"""Unbound extension objects, bound to an app in :func:`app.create_app`.

Domain packages import from here (and from ``app.models``/``app.audit``), never
from the factory, so there are no import cycles.
"""

from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from app.db import Base


class LinliApi(Api):
    """flask-smorest's Api without its app-wide error handler.

    Errors are rendered by :mod:`app.errors`, which answers JSON problem
    documents under ``/api/`` and HTML pages everywhere else.
    """

    def _register_error_handlers(self):  # noqa: D401 - override
        pass


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
api = LinliApi()
