"""The provider dashboard's first-run checklist: what a new organisation still has to do
before residents can book it and it can be paid.

:func:`done` is the one rule of what counts as done, from :class:`Facts` read in a few
statements (:func:`facts_of`):

- **documents**: at least one qualification document in force and valid today, and none
  of the kinds the provider's categories need is missing (``providers.registration.
  missing_qualifications``: an expired copy does not count);
- **listing**: at least one listing created *and* published (a draft is not enough);
- **availability**: a listing that is not archived has weekly hours (availability is
  modelled as weekly windows per listing, ``providers.models.AvailabilityWindow``, cut
  into bookable slots);
- **payout**: the payout account is set: a bank account number or a connected Stripe
  account (billing's ``PayoutAccount``, which this layer reads through the registry's
  fact ``billing.payout_account_set``; unknown counts as not set);
- **carers**: at least one active carer on the roster.

The checklist is shown while something is left to do and the provider is pending,
rejected or active; once every item is done it is hidden.  Its headline (:func:`headline`)
says what is true in the provider's state: not approved yet, approved but not yet bookable
(no published listing with weekly hours), or bookable already with items left to finish —
residents of an active provider with a published listing are never told they cannot book.
The payout account is recorded by the district office (providers cannot set it themselves):
its item says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask import url_for
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy.orm import Session

from app.registry import fact_of
from providers import registration
from providers.carers.models import Carer
from providers.models import AvailabilityWindow, Listing, ListingStatus, Provider, ProviderStatus

PAYOUT_FACT = "billing.payout_account_set"
SHOWN_FOR = (ProviderStatus.PENDING, ProviderStatus.REJECTED, ProviderStatus.ACTIVE)
KEYS = ("documents", "listing", "availability", "payout", "carers")


@dataclass(frozen=True)
class Facts:
    """What the checklist's rule looks at, as read from the database."""

    valid_documents: int
    missing_documents: int
    listings: int  # not archived
    published_listings: int
    listings_with_hours: int  # not archived, with at least one weekly window
    payout_account_set: bool
    active_carers: int


def done(facts: Facts) -> dict[str, bool]:
    """The rule: for each item of :data:`KEYS`, whether it counts as done."""
    return {
        "documents": facts.valid_documents > 0 and facts.missing_documents == 0,
        "listing": facts.published_listings > 0,
        "availability": facts.listings_with_hours > 0,
        "payout": facts.payout_account_set,
        "carers": facts.active_carers > 0,
    }


def facts_of(session: Session, provider: Provider, on: date) -> Facts:
    """The facts about ``provider`` on the local day ``on`` (documents from the provider's
    loaded relationship; listings and carers in one statement each)."""
    in_force = registration.documents_in_force(provider)
    missing = registration.missing_qualifications(provider.categories, in_force, on)
    live = sa.and_(Listing.provider_id == provider.id, Listing.status != ListingStatus.ARCHIVED)
    has_hours = sa.exists().where(AvailabilityWindow.listing_id == Listing.id)
    listings, published, with_hours = session.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sa.case((Listing.status == ListingStatus.PUBLISHED, 1), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((has_hours, 1), else_=0)), 0),
        ).select_from(Listing).where(live)
    ).one()
    carers = session.scalar(sa.select(sa.func.count()).select_from(Carer)
                            .where(Carer.provider_id == provider.id, Carer.active.is_(True))) or 0
    return Facts(
        valid_documents=sum(1 for d in in_force if not d.is_expired(on)),
        missing_documents=len(missing),
        listings=int(listings or 0),
        published_listings=int(published or 0),
        listings_with_hours=int(with_hours or 0),
        payout_account_set=bool(fact_of(PAYOUT_FACT, provider, default=False)),
        active_carers=int(carers),
    )


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    done: bool
    detail: str
    link: str | None
    link_label: str | None


LABELS = {
    "documents": _l("Qualification documents uploaded and valid"),
    "listing": _l("A first listing created and published"),
    "availability": _l("Weekly hours set for your services"),
    "payout": _l("Payout account recorded by the district office"),
    "carers": _l("Carers on your roster"),
}


def _step(key: str, is_done: bool, detail, link: str | None = None, link_label=None) -> Step:
    return Step(key, str(LABELS[key]), is_done, str(detail), None if is_done else link,
                None if is_done or link_label is None else str(link_label))


def steps(session: Session, provider: Provider, on: date) -> list[Step] | None:
    """The checklist for the dashboard, or None when it is not shown (all done, or the
    provider is suspended or removed)."""
    if provider.status not in SHOWN_FOR:
        return None
    facts = facts_of(session, provider, on)
    marks = done(facts)
    if all(marks.values()):
        return None
    active = provider.status == ProviderStatus.ACTIVE
    listing_link = url_for("providers.my_listings") if facts.listings else url_for("providers.new_listing")
    if marks["documents"]:
        documents = _l("Your documents are valid.")
    elif facts.missing_documents:
        documents = ngettext("%(num)d kind of document your categories need is missing or expired.",
                        "%(num)d kinds of document your categories need are missing or expired.",
                        facts.missing_documents)
    else:
        documents = _l("Upload your business licence and the other documents your categories need.")
    if marks["listing"]:
        listing = ngettext("%(num)d listing published.", "%(num)d listings published.", facts.published_listings)
    elif not active:
        listing = _l("You can create listings once the district approves your organisation.")
    elif facts.listings:
        listing = _l("Your listing is a draft: publish it so residents can book it.")
    else:
        listing = _l("Create your first listing: what you offer, the price and where.")
    if marks["availability"]:
        hours = _l("Residents book the slots in your weekly hours.")
    else:
        hours = _l("Give each listing the days and hours you work; residents book the slots in them.")
    return [
        _step("documents", marks["documents"], documents, url_for("providers.dashboard") + "#documents",
              _l("Upload a document")),
        _step("listing", marks["listing"], listing, listing_link if active else None,
              _l("Publish a listing") if facts.listings else _l("Create a listing")),
        _step("availability", marks["availability"], hours, listing_link if active else None,
              _l("Set weekly hours")),
        _step("payout", marks["payout"],
              _l("Your payouts go to this account.") if marks["payout"] else
              _l("You cannot set this yourself: the district office records the bank account your monthly "
                 "payouts go to. Send it your account details. Your statements show what you are owed and "
                 "each payout."),
              url_for("settlements.my_statements"), _l("See your statements")),
        _step("carers", marks["carers"],
              ngettext("%(num)d active carer.", "%(num)d active carers.", facts.active_carers) if marks["carers"] else
              _l("Add the carers who do the visits: each booking is assigned to one."),
              url_for("carers.roster"), _l("Add a carer")),
    ]


def bookable(provider: Provider, items: list[Step]) -> bool:
    """Whether residents can book the provider now as far as the checklist knows: approved,
    with a published listing and weekly hours."""
    marks = {item.key: item.done for item in items}
    return provider.status == ProviderStatus.ACTIVE and marks["listing"] and marks["availability"]


def headline(provider: Provider, items: list[Step] | None) -> str | None:
    """The line over the checklist, true for the provider's state (None without a checklist)."""
    if not items:
        return None
    left = sum(1 for item in items if not item.done)
    if provider.status != ProviderStatus.ACTIVE:
        return ngettext("%(num)d step left. Residents can book you once the district has approved your "
                        "organisation and you have published a listing with weekly hours.",
                        "%(num)d steps left. Residents can book you once the district has approved your "
                        "organisation and you have published a listing with weekly hours.", left)
    if not bookable(provider, items):
        return ngettext("%(num)d step left before residents can book you.",
                        "%(num)d steps left before residents can book you.", left)
    return ngettext("Residents can already book you. %(num)d item left to finish:",
                    "Residents can already book you. %(num)d items left to finish:", left)
