"""The shell's CLI commands: officials and admins (never by self sign-up), communities,
demo data (each domain's loader, registered by its ``init_app``), the scheduler, the outbox
(app/delivery/cli.py).
Domains add their own commands (``registry().command``)."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import with_appcontext

from app.errors import LinliError
from app.extensions import db
from app.models import Community, CommunityTier, Role


def _create_staff_user(role: Role, phone: str, name: str, password: str) -> None:
    from app.auth.services import create_user

    try:
        user = create_user(db.session, phone=phone, name=name, password=password, role=role)
    except LinliError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Created {role.value} {user.name} ({user.phone}), id {user.id}.")


@click.command("create-official")
@click.option("--phone", required=True, help="Mobile number; the log-in.")
@click.option("--name", required=True)
@click.password_option(help="Prompted for when not given.")
@with_appcontext
def create_official(phone: str, name: str, password: str) -> None:
    """Create an official account (officials cannot sign themselves up)."""
    _create_staff_user(Role.OFFICIAL, phone, name, password)


@click.command("create-admin")
@click.option("--phone", required=True)
@click.option("--name", required=True)
@click.password_option()
@with_appcontext
def create_admin(phone: str, name: str, password: str) -> None:
    """Create an administrator account."""
    _create_staff_user(Role.ADMIN, phone, name, password)


@click.command("create-evaluator")
@click.option("--phone", required=True, help="Mobile number; the log-in.")
@click.option("--name", required=True)
@click.password_option(help="Prompted for when not given.")
@with_appcontext
def create_evaluator(phone: str, name: str, password: str) -> None:
    """Create a third-party evaluator account (an official then appoints it to a programme)."""
    _create_staff_user(Role.EVALUATOR, phone, name, password)


@click.command("create-community")
@click.option("--code", required=True, help="Short unique code, e.g. zichuan-chengli.")
@click.option("--name", required=True)
@click.option("--district", required=True)
@click.option("--tier", type=click.Choice([t.value for t in CommunityTier]), default="basic")
@with_appcontext
def create_community(code: str, name: str, district: str, tier: str) -> None:
    """Add a community residents can sign up into."""
    if db.session.scalar(sa.select(Community).where(Community.code == code)):
        raise click.ClickException(f"A community with code {code!r} exists already.")
    community = Community(code=code, name=name, district=district, tier=CommunityTier(tier))
    db.session.add(community)
    db.session.commit()
    click.echo(f"Created community {community.name} ({community.code}), id {community.id}.")


@click.command("demo-data")
@with_appcontext
def demo_data() -> None:
    """Load the demo communities, people, providers and listings (idempotent)."""
    from app.registry import registry

    loaded = {name: loader(db.session) for name, loader in registry().demo_loaders}
    db.session.commit()
    if any(loaded.values()):
        bookings = loaded.get("ratings", 0)  # ratings' loader returns the past bookings it made
        click.echo(f"Demo data loaded ({bookings} past bookings with ratings and complaints).")
    else:
        click.echo("Demo data already present; nothing changed.")


def register_commands(app: Flask) -> None:
    from app.delivery.cli import outbox
    from app.scheduler import scheduler_command

    for command in (create_official, create_admin, create_evaluator, create_community, demo_data, scheduler_command, outbox):
        app.cli.add_command(command)
