"""``flask create-grid-worker``: a grid worker's account (officials then assign it to grids)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.errors import LinliError
from app.extensions import db
from app.models import Role


@click.command("create-grid-worker")
@click.option("--phone", required=True, help="Mobile number; the log-in.")
@click.option("--name", required=True)
@click.password_option(help="Prompted for when not given.")
@with_appcontext
def create_grid_worker(phone: str, name: str, password: str) -> None:
    """Create a grid worker (网格员) account; an official assigns it to grids on /official/grid-workers."""
    from app.auth.services import create_user

    try:
        user = create_user(db.session, phone=phone, name=name, password=password, role=Role.GRID_WORKER)
    except LinliError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Created grid worker {user.name} ({user.phone}), id {user.id}.")
