"""gunicorn hooks for ``make serve`` (``--preload``, app/serve.py).

With ``--preload`` the master builds the app once (``app:create_app()``, ~3.5 s of
CPU) and every worker is a fork of it: a worker that ``--max-requests`` replaces
is serving again in milliseconds, instead of all of them loading the app at
once.  What the master opened must not be shared by the forks:

* database connections: the master closes every pooled connection it opened
  before the first fork (``when_ready``), and each worker drops any pool it
  inherited without touching the sockets (``post_fork``: SQLAlchemy's
  ``engine.dispose(close=False)``), so every worker opens its own;
* the scheduler is not in the app: it is its own process (``flask --app app
  scheduler``), started by serve beside gunicorn, never in a worker.
"""

from __future__ import annotations


def _dispose_engines(server, *, close: bool) -> None:
    from app.extensions import db

    app = server.app.wsgi()  # the preloaded app (already built: gunicorn caches it)
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=close)


def when_ready(server) -> None:
    """In the master, after the preload and before the first fork: close its connections."""
    if server.cfg.preload_app:
        _dispose_engines(server, close=True)


def post_fork(server, worker) -> None:
    """In each new worker: forget the master's pool (its sockets stay the master's)."""
    if server.cfg.preload_app:
        _dispose_engines(server, close=False)
