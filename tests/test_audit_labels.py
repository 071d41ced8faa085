"""Every audit action code the code writes has a label, in English and in Chinese; the trail
shows labels, never codes (app.audit.ACTION_LABELS, the template globals audit_label and
audit_actor)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask import render_template_string
from flask_babel import force_locale

from app import audit
from billing.programmes.models import ProgrammeStatus
from billing.subsidies.review import OUTCOMES
from providers.bookings.models import BookingStatus
from providers.models import ListingStatus
from providers.vetting import DECISIONS
from ratings.complaints import OUTCOMES as COMPLAINT_OUTCOMES

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [p for d in ("app", "providers", "ratings", "billing") for p in (ROOT / d).rglob("*.py")]
ACTION = re.compile(r"\baction=(f?)\"([^\"]+)\"")

# The codes built from a value: each f-string the sources write, and every code it can make.
BUILT = {
    "listing.{new.value}": {f"listing.{s.value}" for s in ListingStatus if s != ListingStatus.DRAFT},
    "provider.{action}": {f"provider.{a}" for a in DECISIONS},
    "provider.change_{'approved' if action == 'approve' else 'rejected'}": {
        "provider.change_approved", "provider.change_rejected"},
    "booking.{to.value}": {f"booking.{s.value}" for s in BookingStatus if s != BookingStatus.REQUESTED},
    "complaint.{to.value}": {f"complaint.{s.value}" for s in COMPLAINT_OUTCOMES},
    "subsidy_claim.objection_{outcome}": {f"subsidy_claim.objection_{o}" for o in OUTCOMES},
    "programme.{to.value}": {f"programme.{s.value}" for s in ProgrammeStatus if s != ProgrammeStatus.DRAFT},
    "enrolment.{enrolment.status.value}": {"enrolment.enrolled", "enrolment.rejected"},
}


def written_codes() -> set[str]:
    """Every action code the sources pass to ``audit.record`` (the f-strings expanded)."""
    codes, built = set(), set()
    for path in SOURCES:
        for fstring, code in ACTION.findall(path.read_text(encoding="utf-8")):
            if fstring and "{" in code:
                built.add(code)
            else:
                codes.add(code)
    unknown = built - set(BUILT)
    assert not unknown, f"an action code built in a new way: list what it makes in BUILT: {unknown}"
    return codes | set().union(*BUILT.values())


def translated() -> dict[str, str]:
    """The Chinese of each msgid: the catalogue, and the translations waiting to be merged."""
    with (ROOT / "app/translations/zh/LC_MESSAGES/messages.po").open("rb") as handle:
        table = {m.id: m.string for m in read_po(handle, locale="zh") if isinstance(m.id, str) and m.string}
    for tsv in (ROOT / "translations-pending").glob("*.tsv"):
        for line in tsv.read_text(encoding="utf-8").splitlines():
            if "\t" in line:
                msgid, msgstr = line.split("\t", 1)
                table.setdefault(msgid, msgstr)
    return table


def test_the_sources_write_the_codes_we_know():
    codes = written_codes()
    assert {"subsidy_claim.filed", "programme.created", "booking.completed", "provider.approve"} <= codes
    assert all(re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", code) for code in codes), codes


def test_every_action_code_written_has_a_label_in_english_and_chinese():
    chinese = translated()
    missing = sorted(code for code in written_codes() if code not in audit.ACTION_LABELS)
    assert not missing, f"action codes without a label in app.audit.ACTION_LABELS: {missing}"
    for code, label in audit.ACTION_LABELS.items():
        msgid = label._args[0]
        assert msgid != code and "_" not in msgid, code
        assert chinese.get(msgid), f"{code}: {msgid!r} has no Chinese translation"


def test_an_unknown_code_reads_as_a_generic_label_not_as_the_code(app):
    with app.test_request_context(), force_locale("en"):
        assert audit.action_label("something.new") == "Other change"
        assert audit.action_label(None) == "Other change"
        assert audit.action_label("subsidy_claim.filed") == "Claim filed"


@pytest.mark.parametrize(("locale", "expected"), [("en", "Claim filed · Linli (automatic)"), ("zh", None)])
def test_the_template_globals_show_the_label_and_the_system_actor(app, locale, expected):
    event = audit.AuditEvent(action="subsidy_claim.filed", object_type="subsidy_claim", object_id=1)
    with app.test_request_context(), force_locale(locale):
        shown = render_template_string("{{ audit_label(e.action) }} · {{ audit_actor(e) }}", e=event)
    assert "subsidy_claim" not in shown
    if expected:
        assert shown == expected
