"""Provider pages: registration, the provider's own dashboard and listings,
officials' vetting queue, and the public catalogue and profiles.

The routes live in this package's modules, on :data:`bp`; ``providers.init_app``
imports them and registers the blueprint."""

from flask import Blueprint

bp = Blueprint("providers", __name__, template_folder="../templates")
