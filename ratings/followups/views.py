from flask import Blueprint
bp = Blueprint("follow_ups", __name__, template_folder="templates")
