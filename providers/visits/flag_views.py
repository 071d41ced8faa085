from flask import Blueprint
bp = Blueprint("visit_flags", __name__)
