"""The caller's own account under ``/api/v1/me`` (the shell's API resource), and its
personal API tokens (listed and renewed; they are made on the account page)."""

from __future__ import annotations

from flask import abort
from flask.views import MethodView
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields, validate

from app.api import AUTHENTICATED, Blueprint, problems, require_user, unit_of_work
from app.extensions import db


class UserSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=80))
    phone = fields.String(dump_only=True)
    role = fields.String(dump_only=True)
    community_id = fields.Integer(dump_only=True, allow_none=True)
    locale = fields.String(validate=validate.OneOf(["zh", "en"]), allow_none=True)
    large_text = fields.Boolean()


class UserUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=80))
    locale = fields.String(validate=validate.OneOf(["zh", "en"]))
    large_text = fields.Boolean()


account_blp = Blueprint(
    "account_api", __name__, url_prefix="/api/v1/me", description="The caller's own account"
)


@account_blp.before_request
def _logged_in():
    """401 before the body is parsed, so no one learns about validation."""
    require_user()


@account_blp.route("")
class Me(MethodView):
    @account_blp.doc(security=AUTHENTICATED)
    @account_blp.response(200, UserSchema)
    @problems(account_blp, 401)
    def get(self):
        """The account of the caller."""
        return require_user()

    @account_blp.doc(security=AUTHENTICATED)
    @account_blp.arguments(UserUpdateSchema)
    @account_blp.response(200, UserSchema)
    @problems(account_blp, 400, 401, 422)
    def patch(self, changes):
        """Change the caller's name, language or text size."""
        user = require_user()
        if "name" in changes:
            name = changes["name"].strip()
            if not name:
                abort(422, description=str(_l("Enter your name.")))
            user.name = name
        if "locale" in changes:
            user.locale = changes["locale"]
        if "large_text" in changes:
            user.large_text = changes["large_text"]
        db.session.commit()
        return user


class TokenSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)
    prefix = fields.String(dump_only=True, metadata={"description": "The first characters of the token."})
    scope = fields.String(dump_only=True, metadata={"description": "`read` (GET only) or `write`."})
    created_at = fields.DateTime(dump_only=True)
    expires_at = fields.DateTime(dump_only=True)
    last_used_at = fields.DateTime(dump_only=True, allow_none=True)


@account_blp.route("/tokens")
class Tokens(MethodView):
    @account_blp.doc(security=AUTHENTICATED)
    @account_blp.response(200, TokenSchema(many=True))
    @problems(account_blp, 401)
    def get(self):
        """The caller's API tokens that are not revoked (expired ones too: they can be renewed)."""
        from app.auth.services import live_tokens

        return live_tokens(db.session, require_user())


@account_blp.route("/tokens/<int:token_id>/renew")
class RenewToken(MethodView):
    @account_blp.doc(security=AUTHENTICATED)
    @account_blp.response(200, TokenSchema)
    @problems(account_blp, 400, 401, 403, 404, 409, 422)
    def post(self, token_id: int):
        """Renew one of the caller's tokens: it works for another full lifetime from now
        (a read token may not: 403).  A revoked token cannot be renewed (409)."""
        from app.auth.services import renew_token

        with unit_of_work():
            token = renew_token(db.session, require_user(), token_id)
        return token
