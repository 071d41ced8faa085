"""Every state machine in Linli, through one generic test (app/states.py).

For each machine registered in :data:`app.states.MACHINES`:

- every state is reachable from an initial state;
- the declared terminal states are exactly the states without exits;
- every move the table refuses raises :class:`IllegalTransition` and leaves the
  object (a real model instance) unchanged, and every move it allows is made;
- a real service call that attempts an illegal move on a real row raises and
  writes nothing: the whole database (the row, its audit events, booking events,
  notifications, ledger postings…) is the same after the refusal and a flush of
  whatever the service left in the session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace
from typing import Callable

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

# Importing the models registers every machine.
import billing.programmes.models
import billing.subsidies.models
import providers.bookings.models
import providers.models
import ratings.models
import ratings.supervision.models
import ratings.supervision.sanction_models  # noqa: F401
from app.errors import IllegalTransition
from app.extensions import db
from app.models import User
from app.states import MACHINES, StateMachine

EXPECTED = {
    "provider", "listing", "complaint", "programme", "enrolment", "entitlement_use", "subsidy_claim",
    "penalty_report", "appeal", "provider_change",
}

# The model each machine moves (an object of it is checked to stay unchanged).
MODELS = {
    "provider": providers.models.Provider,
    "listing": providers.models.Listing,
    "complaint": ratings.models.Complaint,
    "programme": billing.programmes.models.PurchaseProgramme,
    "enrolment": billing.programmes.models.Enrolment,
    "entitlement_use": billing.programmes.models.EntitlementUse,
    "subsidy_claim": billing.subsidies.models.SubsidyClaim,
    "penalty_report": ratings.supervision.models.PenaltyReport,
    "appeal": ratings.supervision.sanction_models.PenaltyAppeal,
    "booking": providers.bookings.models.Booking,
    "provider_change": providers.models.ProviderChange,
}

NAMES = sorted(MACHINES)


@pytest.fixture(autouse=True)
def english(app):
    """Refusals are matched in English (the source msgids)."""
    with force_locale("en"):
        yield


def test_every_machine_is_registered_under_its_name():
    assert EXPECTED <= set(MACHINES)
    # A new machine is added here, to MODELS and to SERVICE_CASES.
    assert set(MACHINES) - EXPECTED - {"booking"} == set()
    assert all(machine.name == name for name, machine in MACHINES.items())


def test_the_booking_machine_is_registered():
    if "booking" not in MACHINES:
        pytest.skip("the booking machine is registered by the actions stream")
    assert MACHINES["booking"].states is providers.bookings.models.BookingStatus


# --- the tables ------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_every_state_is_reachable_from_an_initial_state(name):
    machine = MACHINES[name]
    assert machine.initial, "a machine needs an initial state"
    assert machine.reachable() == frozenset(machine.states)


@pytest.mark.parametrize("name", NAMES)
def test_terminal_states_have_no_exits_and_every_dead_end_is_declared_terminal(name):
    machine = MACHINES[name]
    for state in machine.terminal:
        assert machine.exits(state) == frozenset(), f"{name}: terminal {state} has exits"
    assert machine.terminal == machine.dead_ends


def _instance(name: str, machine: StateMachine, state):
    model = MODELS.get(name)
    obj = model() if model is not None else SimpleNamespace()
    setattr(obj, machine.attribute, state)
    return obj


def _state_of(obj) -> dict:
    if isinstance(obj, SimpleNamespace):
        return dict(vars(obj))
    return dict(sa.inspect(obj).dict)


@pytest.mark.parametrize("name", NAMES)
def test_an_illegal_move_raises_and_leaves_the_object_unchanged(name):
    machine = MACHINES[name]
    pairs = machine.illegal_pairs()
    assert pairs, f"{name}: every move allowed?"
    for old, new in pairs:
        obj = _instance(name, machine, old)
        before = _state_of(obj)
        with pytest.raises(IllegalTransition) as refused:
            machine.move(obj, new)
        assert _state_of(obj) == before, f"{name}: {old} → {new} changed the object"
        assert getattr(obj, machine.attribute) == old
        assert str(refused.value), f"{name}: {old} → {new} refused without a message"
        assert not machine.can(old, new)


@pytest.mark.parametrize("name", NAMES)
def test_every_allowed_move_is_made(name):
    machine = MACHINES[name]
    for old in machine.states:
        for new in machine.exits(old):
            obj = _instance(name, machine, old)
            assert machine.move(obj, new) == old
            assert getattr(obj, machine.attribute) == new


def test_a_machine_refuses_a_terminal_state_with_exits_and_an_undeclared_dead_end():
    from enum import StrEnum

    class Door(StrEnum):
        OPEN = "open"
        SHUT = "shut"
        GONE = "gone"

    table = {Door.OPEN: {Door.SHUT}, Door.SHUT: {Door.OPEN, Door.GONE}}
    with pytest.raises(ValueError, match="have exits"):
        StateMachine("door-test", Door, table, initial=Door.OPEN, terminal={Door.SHUT, Door.GONE})
    with pytest.raises(ValueError, match="not terminal"):
        StateMachine("door-test", Door, table, initial=Door.OPEN, terminal=())
    assert "door-test" not in MACHINES  # a refused machine is not registered


def test_a_refusal_carries_the_given_wording_and_field():
    machine = MACHINES["listing"]
    Listing = providers.models.ListingStatus
    with pytest.raises(IllegalTransition, match="A listing cannot go from Archived to Published") as refused:
        machine.check(Listing.ARCHIVED, Listing.PUBLISHED)
    assert refused.value.field is None
    with pytest.raises(IllegalTransition, match="^Not now$") as refused:
        machine.check(Listing.ARCHIVED, Listing.PUBLISHED, message="Not now", field="status")
    assert refused.value.field == "status"


# --- real services on real rows ---------------------------------------------------------


def _database() -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order (read through the test's connection)."""
    rows = {}
    for table in db.metadata.sorted_tables:
        order = list(table.primary_key.columns) or list(table.columns)
        rows[table.name] = [tuple(r) for r in db.session.execute(sa.select(table).order_by(*order))]
    return rows


@dataclass
class Case:
    machine: str
    id: str
    arrange: Callable[[object], Callable[[], object]]  # (clock) -> the refused call
    match: str = ""


def _provider_removed_while_pending(clock):
    from providers import sanctions
    from tests import factories

    provider = factories.provider(status=providers.models.ProviderStatus.PENDING)
    official = factories.official()
    return lambda: sanctions.remove(db.session, provider, actor=official, reason="重复注册")


def _draft_listing_paused(clock):
    from providers import listings
    from tests import factories

    listing = factories.listing(status=providers.models.ListingStatus.DRAFT)
    member = factories.staff(listing.provider)
    return lambda: listings.change_status(db.session, listing, "paused", actor=member)


def _decided_complaint(clock):
    from ratings import complaints
    from tests import factories
    from tests.rating_helpers import completed_booking

    booking, _staff = completed_booking(clock)
    resident = db.session.get(User, booking.resident_id)
    complaint = complaints.file_complaint(db.session, resident, booking.id, kind="late", description="迟到一小时")
    official = factories.official()
    complaints.decide(db.session, official, complaint.id, "upheld", "证据充分")
    db.session.commit()
    return complaint, official, _staff


def _complaint_decided_again(clock):
    from ratings import complaints

    complaint, official, _staff = _decided_complaint(clock)
    return lambda: complaints.decide(db.session, official, complaint.id, "dismissed", "改判")


def _complaint_answered_after_decision(clock):
    from ratings import complaints

    complaint, _official, staff = _decided_complaint(clock)
    return lambda: complaints.respond(db.session, staff, complaint.id, "我们已整改")


def _draft_programme_closed(clock):
    from billing.programmes import programmes
    from tests import factories
    from tests.programme_helpers import terms

    official = factories.official()
    community = factories.community()
    programme = programmes.create_programme(db.session, official, terms([community.id]))
    db.session.commit()
    return lambda: programmes.close_programme(db.session, programme, official, reason="提前结束")


def _withdrawn_resident_applies(clock):
    from billing.programmes import eligibility
    from billing.programmes.eligibility import ProfileFacts
    from billing.programmes.models import Enrolment
    from tests.programme_helpers import enrolled_resident, open_programme

    programme, _award, _listing, _member, official, community = open_programme()
    resident = enrolled_resident(programme, official, community)
    enrolment = db.session.scalar(sa.select(Enrolment).where(Enrolment.resident_id == resident.id))
    eligibility.withdraw(db.session, enrolment, official, "已迁出本社区")
    db.session.commit()
    # Other (still eligible) facts: a refused application must not store them.
    facts = ProfileFacts(birth_date=date(1948, 5, 1), lives_alone=True, low_income=True)
    return lambda: eligibility.apply(db.session, programme, resident, facts)


def _released_entitlement_consumed(clock):
    from billing.programmes import entitlements
    from providers.bookings import services
    from tests import factories
    from tests.programme_helpers import enrolled_resident, open_programme

    programme, _award, listing, member, official, community = open_programme()
    resident = enrolled_resident(programme, official, community)
    booking = entitlements.book_with_entitlement(
        db.session, resident, listing_id=listing.id, starts_at=factories.next_slot(listing), address="城里社区3号楼")
    services.decline(db.session, booking, member, "人手不足")
    db.session.commit()
    use = entitlements.use_of(db.session, booking.id)
    assert use.status == billing.programmes.models.UseStatus.RELEASED
    return lambda: entitlements.consume(db.session, use)


def _submitted_claim_disbursed(clock):
    from billing.subsidies import review
    from tests import factories
    from tests import subsidy_helpers as h

    provider, staff, community = h.provider_with_staff()
    project = h.register(provider, staff, community)
    claim = h.file(provider, staff, project, clock=clock)
    official = factories.official()
    return lambda: review.disburse(db.session, claim.id, actor=official)


def _dismissed_report(clock):
    from ratings.supervision import review
    from tests import factories
    from tests.sanction_helpers import provider_with_staff, report

    provider, _staff = provider_with_staff()
    item = report(provider, ratings.supervision.models.Sanction.FINE)
    official = factories.official()
    found = review.dismiss(db.session, item.id, official, reason="数据有误")
    db.session.commit()
    return item, found, official


def _dismissed_report_takes_effect(clock):
    from ratings.supervision import sanctions

    item, found, official = _dismissed_report(clock)
    return lambda: sanctions.take_effect(db.session, item, found, actor=official)


def _dismissed_report_confirmed(clock):
    from ratings.supervision import review
    from tests import factories

    item, _found, _official = _dismissed_report(clock)
    other = factories.official()
    return lambda: review.confirm(db.session, item.id, other)


def _appealed_report(clock):
    from ratings.supervision import appeals, review
    from tests import factories
    from tests.sanction_helpers import provider_with_staff, report

    provider, staff = provider_with_staff()
    item = report(provider, ratings.supervision.models.Sanction.WARNING)
    review.confirm(db.session, item.id, factories.official())
    appeals.submit(db.session, item.id, provider_id=provider.id, staff=staff, root_cause="人手不足",
                   corrective_actions="增加两名护理员", preventive_steps="每周排班复核")
    db.session.commit()
    return item


def _appeal_decided_again(clock):
    from ratings.supervision import appeals
    from tests import factories

    item = _appealed_report(clock)
    appeals.decide(db.session, item.id, factories.official(), outcome="upheld", reason="措施得当")
    db.session.commit()
    other = factories.official()
    return lambda: appeals.decide(db.session, item.id, other, outcome="rejected", reason="改判")


def _appeal_out_of_step_decided(clock):
    """An appeal row already decided while its report still says appealed: the appeal's
    own machine refuses before the decision fields or the report are written."""
    from ratings.supervision import appeals
    from tests import factories

    item = _appealed_report(clock)
    appeal = appeals.appeal_of(db.session, item.id)
    appeal.outcome = ratings.supervision.sanction_models.AppealOutcome.REJECTED
    db.session.commit()
    other = factories.official()
    return lambda: appeals.decide(db.session, item.id, other, outcome="upheld", reason="措施得当")


def _declined_booking_cancelled(clock):
    from providers.bookings import services
    from tests import factories

    listing = factories.listing()
    member = factories.staff(listing.provider)
    booking = factories.booking(listing)
    services.decline(db.session, booking, member, "人手不足")
    db.session.commit()
    resident = db.session.get(User, booking.resident_id)
    return lambda: services.cancel_by_resident(db.session, booking, resident, "不需要了")


def _provider_change_decided_again(clock):
    from providers import registration, vetting
    from tests import factories

    provider = factories.provider(categories=["housekeeping"])
    staff = factories.staff(provider)
    details = registration.ProviderDetails(
        name="新名字服务中心", credit_code=provider.credit_code, legal_representative=provider.legal_representative,
        contact_name=provider.contact_name, contact_phone=provider.contact_phone,
        category_ids=[factories.category("housekeeping").id], community_ids=[c.id for c in provider.communities])
    registration.update_details(db.session, provider, details, actor=staff)
    vetting.decide_change(db.session, provider, "approve", official=factories.official())
    db.session.commit()
    other = factories.official()
    return lambda: vetting.decide_change(db.session, provider, "reject", official=other, reason="改判")


SERVICE_CASES = [
    Case("provider", "removed-while-pending", _provider_removed_while_pending, "A provider cannot go from Pending review to Removed"),
    Case("listing", "draft-paused", _draft_listing_paused, "A listing cannot go from Draft to Paused"),
    Case("complaint", "decided-again", _complaint_decided_again, "This complaint is already"),
    Case("complaint", "answered-after-decision", _complaint_answered_after_decision, "This complaint is already"),
    Case("programme", "draft-closed", _draft_programme_closed, "This programme is Draft"),
    Case("enrolment", "withdrawn-applies", _withdrawn_resident_applies, "This enrolment is Withdrawn"),
    Case("entitlement_use", "released-consumed", _released_entitlement_consumed, "This entitlement is Released"),
    Case("subsidy_claim", "submitted-disbursed", _submitted_claim_disbursed, "A subsidy claim cannot go from"),
    Case("penalty_report", "dismissed-takes-effect", _dismissed_report_takes_effect,
         "A penalty report cannot go from Dismissed"),
    Case("penalty_report", "dismissed-confirmed", _dismissed_report_confirmed, "already decided"),
    Case("appeal", "decided-again", _appeal_decided_again, "no appeal waiting"),
    Case("appeal", "out-of-step-decided", _appeal_out_of_step_decided, "An appeal cannot go from"),
    Case("booking", "declined-cancelled", _declined_booking_cancelled, "cannot become"),
    Case("provider_change", "decided-again", _provider_change_decided_again, "no change waiting for review"),
]


@pytest.mark.parametrize("name", NAMES)
def test_every_machine_has_a_service_case(name):
    assert any(case.machine == name for case in SERVICE_CASES)


@pytest.mark.parametrize("case", SERVICE_CASES, ids=lambda c: f"{c.machine}-{c.id}")
def test_a_refused_service_call_writes_nothing(case, clock):
    call = case.arrange(clock)
    db.session.commit()
    before = _database()
    with pytest.raises(IllegalTransition, match=case.match):
        call()
    db.session.flush()  # whatever the service wrote on its objects before refusing reaches the database
    after = _database()
    changed = {name for name in before if before[name] != after[name]}
    assert changed == set(), f"tables written by a refused move: {sorted(changed)}"
