"""The floor for the web benchmark: a trivial Flask JSON endpoint, served like Linli.

    gunicorn -w 2 bench.trivial:app      (bench/web.py starts it with the same settings as Linli)

No database, no templates, no extensions: what a request costs in gunicorn and
Flask alone, so the catalogue's figures are a ratio that holds on a noisy machine.
"""

from __future__ import annotations

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/ping")
def ping():
    return jsonify({"items": [], "total": 0, "page": 1})
