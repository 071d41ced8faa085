"""Who may use each route: one rule per endpoint of ``app.url_map`` (tests/test_access_matrix.py).

The owner of every object a URL names is resident A (``resident``) or provider P
(whose staff is ``staff``); ``other_resident`` and ``other_staff`` (provider B) are
the same kind of user without a claim on it.  The sets come from the product's
rules (docs/*.md): a resident's booking is theirs, P's listing is P's staff's,
officials and admins supervise everything, public pages are for everyone.

``params`` fill the route's variables from the world (tests/access_world.py);
a value starting with ``=`` is taken literally.  ``body`` is what allowed users
and the owner's peers send with a write (a form to pages, JSON to the API; a
callable of the world for a body that needs its ids or files): valid where the
check of whose object it is comes after the body's validation, so that the
denial, not the validation, is what is tested.  Anonymous callers and users of a
kind the rule does not admit at all send a body no schema accepts: they must be
turned away (401/403) before anything of it is read.  Every method of the route
is tried; ``allowed`` may differ by method.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.access_world import ADMIN, ANON, EVAL, GRID, OFFICIAL, RES, RES2, ROLES, STAFF, STAFF2
from tests.rating_helpers import PDF

EVERYONE = frozenset(ROLES)
LOGGED_IN = EVERYONE - {ANON}
RESIDENTS = frozenset({RES, RES2})
STAFFS = frozenset({STAFF, STAFF2})
OFFICIALS = frozenset({OFFICIAL, ADMIN})
CALLERS = OFFICIALS | {EVAL}  # the follow-up queue: officials, and the programme's evaluator
A = frozenset({RES})  # resident A, the owner
P = frozenset({STAFF})  # provider P's staff, the owner


@dataclass(frozen=True)
class Rule:
    allowed: frozenset | dict  # the roles, or {method: roles}
    params: dict = field(default_factory=dict)
    body: dict | Callable[[dict], dict] | None = None
    denial: dict = field(default_factory=dict)  # role -> the statuses its denial may have
    multipart: bool = False
    redirects: frozenset = frozenset()  # allowed users whose GET is sent elsewhere (else 200)

    def allowed_for(self, method: str) -> frozenset:
        return self.allowed[method] if isinstance(self.allowed, dict) else self.allowed


def rule(allowed, *, body=None, denial=None, multipart=False, redirects=(), **params) -> Rule:
    return Rule(frozenset(allowed) if not isinstance(allowed, dict) else allowed, params, body, denial or {},
                multipart, frozenset(redirects))


def _plan(world) -> dict:
    return {"files": [(io.BytesIO(PDF), "补充.pdf")]}


def _listing(world) -> dict:
    return {"category_id": world["category"], "title": "深度保洁", "description": "三小时深度保洁。", "price_fen": 15000,
            "pricing_unit": "per_visit", "duration_minutes": 120, "response_hours": 4,
            "community_ids": [world["community"]],
            "availability": [{"weekday": 0, "start_minute": 540, "end_minute": 1020, "capacity": 2}]}


def _claim_form(world) -> dict:
    return {"accepted_on": "2026-11-01", "verified_quantity": "120", "verified_investment_fen": "30000000",
            "acceptance_certificate": (io.BytesIO(PDF), "验收.pdf"), "invoices": [(io.BytesIO(PDF), "发票.pdf")]}


B = "booking"  # A's upcoming booking with P, accepted
DONE = "done"  # A's booking with P, completed in October, rated and complained about
RATING = {"overall": 5, "timeliness": 5, "quality": 5, "attitude": 5}
PLAN = {"root_cause": "人手不足", "corrective_actions": "增加护理员", "preventive_steps": "每周复核"}
POLICY = {"pay_at": "booking", "late_cancel_fee_percent": 10}
RESOLVE = {"outcome": "dismissed", "note": "已现场核实"}
ADMIN_ONLY = frozenset({ADMIN})

def _call_result(world) -> dict:
    prefix = f"call-{world['done']}"
    return {f"{prefix}-outcome": "served", f"{prefix}-satisfaction": "4", f"{prefix}-note": "满意"}


RULES: dict[str, Rule] = {
    # Proof of service: the officials' flag pages, the follow-up queue, the programme's evaluators.
    "visit_flags.flag_list": rule(OFFICIALS),
    "visit_flags.clear_flag": rule(OFFICIALS, flag_id="flag", body=lambda w: {f"flag-{w['flag']}-reason": "已核实"}),
    "follow_ups.queue": rule(CALLERS),
    "follow_ups.reveal_phone": rule(CALLERS, booking_id="done"),
    "follow_ups.record": rule(CALLERS, booking_id="done", body=_call_result),
    "programmes.appoint_evaluator": rule(OFFICIALS, programme_id="programme", body={"phone": "13900000000"}),
    "programmes.end_evaluator": rule(OFFICIALS, programme_id="programme", appointment_id="appointment"),
    # --- the grid tree (officials) and the grid worker's residents -----------------------
    "grids.index": rule(OFFICIALS),
    "grids.community": rule(OFFICIALS, community_id="community"),
    "grids.place_community": rule(OFFICIALS, community_id="community",
                                  body={"street_name": "般阳路街道", "district": "淄川区"}),
    "grids.create_grid": rule(OFFICIALS, community_id="community", body={"code": "G9", "name": "第九网格"}),
    "grids.grid": rule(OFFICIALS, grid_id="grid"),
    "grids.edit_grid": rule(OFFICIALS, grid_id="grid", body={"name": "第一网格（改）"}),
    # The grid holds A's household: retiring it is refused (409).
    "grids.retire_grid": rule(OFFICIALS, grid_id="grid"),
    "grids.create_household": rule(OFFICIALS, grid_id="grid", body={"code": "H909", "address": "幸福路9号"}),
    "grids.household": rule(OFFICIALS, household_id="household"),
    "grids.edit_household": rule(OFFICIALS, household_id="household",
                                 body=lambda w: {"address": "般阳路12号102室", "grid_id": str(w["grid"])}),
    "grids.add_member": rule(OFFICIALS, household_id="household", body={"phone": "13000000000"}),
    "grids.remove_member": rule(OFFICIALS, household_id="household", user_id="resident_account"),
    # A lives in it: retiring is refused (409).
    "grids.retire_household": rule(OFFICIALS, household_id="household"),
    "grids.import_csv": rule(OFFICIALS, multipart=True, body=lambda w: {
        "kind": "grids", "file": (io.BytesIO(b"community_code,grid_code,grid_name,parent_grid_code\r\n"
                                             b"nowhere,G1,X,\r\n"), "grids.csv")}),
    "grids.import_template": rule(OFFICIALS, kind="=households"),
    "grids.assignments": rule(OFFICIALS),
    "grids.assign": rule(OFFICIALS, body={"phone": "13000000000", "valid_from": "2026-11-01"}),
    "grids.end_assignment": rule(OFFICIALS, assignment_id="grid_assignment"),
    "grid_worker.residents": rule({GRID}),
    "grid_worker.resident": rule({GRID}, resident_id="resident_account"),
    # --- the shell: home, log-in, account, preferences, notifications -----------------
    "main.home": rule(EVERYONE, redirects=STAFFS | OFFICIALS | {EVAL, GRID}),  # to where their work is
    "main.healthz": rule(EVERYONE),
    "auth.signup": rule(EVERYONE),
    "auth.login": rule(EVERYONE),
    "auth.logout": rule(LOGGED_IN),
    "auth.account": rule(LOGGED_IN),
    "auth.change_password": rule(LOGGED_IN),
    "auth.create_token": rule(LOGGED_IN),
    "auth.revoke_token": rule(A, token_id="token"),
    "auth.renew_token": rule(A, token_id="token"),
    # Without a code pending in the session, the code steps send back to their first step.
    "auth.signup_verify": rule(EVERYONE, redirects=EVERYONE),
    "auth.signup_resend": rule(EVERYONE),
    "auth.login_code": rule(EVERYONE),
    "auth.login_code_verify": rule(EVERYONE, redirects=EVERYONE),
    "auth.sms_outbox": rule(OFFICIALS),
    # Account recovery (app/auth/recovery_views.py): the reset pages are public; an assisted
    # reset is a grid worker's for the residents of her grids, an official's for any resident.
    "recovery.forgot": rule(EVERYONE),
    "recovery.reset": rule(EVERYONE, redirects=EVERYONE),  # to /password/forgot without a code asked for
    "recovery.set_password": rule(LOGGED_IN, redirects=LOGGED_IN),  # home unless the password is temporary
    "recovery.worker_reset": rule({GRID}, resident_id="resident_account",
                                  body={"method": "in_person_id", "id_last4": "1234", "note": "本人到场"}),
    "recovery.official_reset": rule(OFFICIALS, resident_id="resident_account",
                                    body={"method": "phone_call_back", "note": "回拨本人"}),
    # Paper: the weekly schedule of A, for A, officials and A's grid worker.
    "schedule.weekly": rule(A | OFFICIALS | {GRID}, resident_id="resident_account"),
    "auth.set_language": rule(EVERYONE),
    "auth.toggle_large_text": rule(EVERYONE),
    "notifications.index": rule(LOGGED_IN),
    "notifications.read_all": rule(LOGGED_IN),
    "notifications.open_one": rule(A, notification_id="notification"),
    # The outbox (app/delivery): each user's channels; the outbox and its dead letters for officials.
    # Message 1 is the world's first notification copied to SMS; it is not dead, so a retry is refused.
    "delivery.preferences": rule(LOGGED_IN, body={"sms": "y", "email_address": ""}),
    "delivery.outbox": rule(OFFICIALS),
    "delivery.retry": rule(OFFICIALS, message_id="=1"),
    "account_api.Me": rule(LOGGED_IN, body={"locale": "fr"}),
    "account_api.Tokens": rule(LOGGED_IN),
    "account_api.RenewToken": rule(A, token_id="token"),
    # --- providers: registration, dashboard, documents, listings, vetting, catalogue -----
    "providers.catalogue": rule(EVERYONE),
    "providers.listing": rule(EVERYONE, listing_id="listing"),
    "providers.provider_profile": rule(EVERYONE, provider_id="provider"),
    "providers.register": rule(EVERYONE, redirects=LOGGED_IN),  # log out first to register
    # Without a registration waiting for its code, back to the form.
    "providers.register_verify": rule(EVERYONE, redirects=EVERYONE),
    "providers.register_resend": rule(EVERYONE),
    "providers.dashboard": rule(STAFFS),
    "providers.upload_document": rule(STAFFS),
    "providers.edit_details": rule(STAFFS),
    "providers.resubmit": rule(STAFFS),
    "providers.withdraw_change": rule(STAFFS),
    "providers.document_download": rule(P | OFFICIALS, document_id="document"),
    "providers.my_listings": rule(STAFFS),
    "providers.new_listing": rule(STAFFS),
    "providers.edit_listing": rule(P, listing_id="listing"),
    "providers.listing_history": rule(P, listing_id="listing"),
    "providers.change_listing_status": rule(P, listing_id="listing", body={"status": "paused"}),
    "providers.remove_listing_photo": rule(P, listing_id="listing", photo_id="spare_listing_photo"),
    # P's listing is published: its photos are public, as its page is.
    "providers.listing_photo": rule(EVERYONE, photo_id="listing_photo", size="=thumb"),
    "carers.roster": rule(STAFFS),
    "carers_api.Carers": rule(STAFFS),
    "carers.add": rule(STAFFS, body={"name": "赵护理员", "phone": "13912345678", "id_number": "11010519491231002X"}),
    "carers.carer": rule(P, carer_id="carer"),
    "carers.update": rule(P, carer_id="carer", body={"name": "王秀兰", "phone": "13900000001"}),
    "carers.deactivate": rule(P, carer_id="carer"),
    "carers.reactivate": rule(P, carer_id="carer"),
    "carers.add_qualification": rule(P, carer_id="carer",
                                     body={"kind": "health", "number": "JK2026001", "expires_on": "2027-06-30"}),
    "carers.remove_qualification": rule(P, carer_id="carer", qualification_id="qualification"),
    "providers.vetting_queue": rule(OFFICIALS),
    "providers.vetting_provider": rule(OFFICIALS, provider_id="provider"),
    "providers.vetting_decision": rule(OFFICIALS, provider_id="provider"),
    "providers.vetting_change_decision": rule(OFFICIALS, provider_id="provider"),
    "catalogue_api.search_catalogue": rule(EVERYONE),
    "catalogue_api.list_categories": rule(EVERYONE),
    "catalogue_api.list_communities": rule(EVERYONE),
    "catalogue_api.get_listing": rule(EVERYONE, listing_id="listing"),
    "catalogue_api.get_provider": rule(EVERYONE, provider_id="provider"),
    "my_listings_api.MyListings": rule(STAFFS),
    "my_listings_api.MyListing": rule(P, listing_id="listing", body=_listing),
    "my_listings_api.change_listing_status": rule(P, listing_id="listing", body={"status": "paused"}),
    "my_listings_api.listing_versions": rule(P, listing_id="listing"),
    "vetting_api.provider_queue": rule(OFFICIALS),
    "vetting_api.review_provider": rule(OFFICIALS, provider_id="provider"),
    "vetting_api.decide_provider": rule(OFFICIALS, provider_id="provider"),
    "vetting_api.decide_provider_change": rule(OFFICIALS, provider_id="provider", body={"action": "approve"}),
    # --- bookings ----------------------------------------------------------------------
    "bookings.book": rule(RESIDENTS, listing_id="listing"),
    "bookings.my_bookings": rule(RESIDENTS),
    "bookings.resident_booking": rule(A, booking_id=B),
    "bookings.cancel": rule(A, booking_id=B),
    "bookings.confirm": rule(A, booking_id=DONE),
    "bookings.report_no_show": rule(A, booking_id=B),
    "bookings.provider_agenda": rule(STAFFS),
    "bookings.provider_booking": rule(P, booking_id=B),
    "bookings.change_carer": rule(P, booking_id=B, body=lambda world: {"carer_id": world["carer"]}),
    "bookings.provider_booking_action": rule(P, booking_id=B, action="=cancel", body={"reason": "人手不足"}),
    "bookings.official_booking": rule(OFFICIALS, booking_id=B),
    "bookings.reveal_contact": rule(OFFICIALS, booking_id=B),
    "bookings.official_confirm_no_show": rule(OFFICIALS, booking_id=B),
    # --- visits (the carer's check-in and check-out, the visit photos) ----------------------
    "visits.today_visits": rule(STAFFS),
    "visits.check_in": rule(P, booking_id=B),
    "visits.check_out": rule(P, booking_id=B),
    "visits.photo": rule(P | OFFICIALS, booking_id=DONE, photo_id="visit_photo"),
    "bookings_api.listing_slots": rule(EVERYONE, listing_id="listing"),
    "bookings_api.request_booking": rule(RESIDENTS),
    "bookings_api.list_bookings": rule(RESIDENTS | STAFFS),
    "bookings_api.get_booking": rule(A | P | OFFICIALS, booking_id=B),
    # Residents and staff may cancel; an official may only confirm a provider's no-show (403).
    "bookings_api.booking_action": rule(A | P, booking_id=B, action="=cancel", body={"reason": "有事"}),
    # --- visits: homes, code cards, the evidence page ------------------------------------
    # A resident sets their own home (once: the world's A has none yet, A2's too).
    "visit_home.my_home": rule(RESIDENTS),
    "visit_home.set_my_home": rule(RESIDENTS, body={"lat": "31.2304", "lon": "121.4737", "method": "entered",
                                                    "consent": "y"}),
    "visit_office.find_resident": rule(OFFICIALS),
    "visit_office.resident_home": rule(OFFICIALS, resident_id="resident_account"),
    "visit_office.set_resident_home": rule(OFFICIALS, resident_id="resident_account",
                                           body={"lat": "31.2304", "lon": "121.4737", "consent": "y"}),
    "visit_office.resident_cards": rule(OFFICIALS, resident_id="resident_account"),
    # A has a card in use: issuing another is a 409.
    "visit_office.issue_card": rule(OFFICIALS, resident_id="resident_account"),
    "visit_office.revoke_card": rule(OFFICIALS, card_id="card", body={"reason": "遗失"}),
    # The completed booking has no visit record in the world: the forms answer 409.
    "visit_office.visit_evidence": rule(OFFICIALS, booking_id=DONE),
    "visit_office.show_locations": rule(OFFICIALS, booking_id=DONE, body={"reveal-reason": "核查"}),
    "visit_office.clear_visit": rule(OFFICIALS, booking_id=DONE, body={"clear-reason": "电话回访确认"}),
    # --- payments, payment policy, settlements ------------------------------------------
    "billing.pay": rule(A, booking_id=B),
    "billing.payment_received": rule(P, booking_id=B),
    "billing.provider_phone": rule(A, booking_id=B),  # B is accepted: the number is shown
    "billing.provider_phone_page": rule(A, booking_id=B),  # the number once asked for, else the button
    "billing.payment_page": rule(A, booking_id=B),  # how to pay B (409 when nothing is due)
    "billing_webhooks.stripe_webhook": rule(EVERYONE),  # anyone may call it; the signature decides
    "billing_policy.payment_policy": rule(P, listing_id="listing", body={"pay_at": "booking",
                                                                        "late_cancel_fee_percent": "10"}),
    "payment_policy_api.ListingPaymentPolicy": rule({"GET": P | OFFICIALS, "PUT": P}, listing_id="listing",
                                                    body=POLICY),
    "settlements.my_statements": rule(STAFFS),
    # The caller's own statement: B has none for the month (404), P has.
    "settlements.my_statement": rule(P, period="period"),
    "settlements.my_statement_csv": rule(P, period="period"),
    "settlements.provider_statements": rule(OFFICIALS, provider_id="provider"),
    "settlements.provider_statement": rule(OFFICIALS, provider_id="provider", period="period"),
    "settlements.provider_statement_csv": rule(OFFICIALS, provider_id="provider", period="period"),
    "settlements.overview": rule(OFFICIALS),
    "settlements.period_settlements": rule(OFFICIALS, period="period"),
    "settlements.period_settlements_csv": rule(OFFICIALS, period="period"),
    "settlements.overview_months_csv": rule(OFFICIALS),
    "settlements.trial_balance_csv": rule(OFFICIALS),
    "settlements.provider_statements_csv": rule(OFFICIALS, provider_id="provider"),
    "settlements.bank_file": rule(OFFICIALS, period="period"),
    "settlements.confirm_bank_file": rule(OFFICIALS, period="period"),
    # --- ratings and complaints -----------------------------------------------------------
    "ratings.rate": rule(A, booking_id=DONE),
    "ratings.complain": rule(A, booking_id=DONE),
    "ratings.my_complaints": rule(RESIDENTS),
    "ratings.complaint": rule(A | P | OFFICIALS, complaint_id="complaint"),
    "ratings.complaint_photo": rule(A | P | OFFICIALS, complaint_id="complaint", photo_id="photo"),
    "ratings.provider_complaints": rule(STAFFS),
    "ratings.respond": rule(P, complaint_id="complaint", body={"response": "已安排整改"}),
    "ratings.official_complaints": rule(OFFICIALS),
    "ratings.decide": rule(OFFICIALS, complaint_id="complaint"),
    "ratings.provider_ratings": rule(STAFFS),
    "ratings.reply": rule(P, rating_id="rating", body={"reply": "谢谢"}),
    "ratings.official_ratings": rule(OFFICIALS),
    "ratings.hide": rule(OFFICIALS, rating_id="rating"),
    "ratings.unhide": rule(OFFICIALS, rating_id="rating"),
    "ratings_api.rate_booking": rule(A, booking_id=DONE, body=RATING),
    "ratings_api.reply_to_rating": rule(P, rating_id="rating", body={"reply": "谢谢"}),
    "ratings_api.listing_ratings": rule(EVERYONE, listing_id="listing"),
    "complaints_api.file_complaint": rule(A, booking_id=DONE, body={"kind": "late", "description": "又迟到"}),
    "complaints_api.get_complaint": rule(A | P | OFFICIALS, complaint_id="complaint"),
    "complaints_api.respond": rule(P, complaint_id="complaint", body={"response": "已安排整改"}),
    "complaints_api.decide": rule(OFFICIALS, complaint_id="complaint"),
    "complaints_api.complaint_queue": rule(OFFICIALS),
    "scorecard.my_scorecard": rule(STAFFS),
    "scorecard.provider_scorecard": rule(OFFICIALS, provider_id="provider"),
    "scorecard_api.my_scorecard": rule(STAFFS),
    "scorecard_api.provider_scorecard": rule(OFFICIALS, provider_id="provider"),
    # --- purchase programmes and entitlements ----------------------------------------------
    "programmes.public_list": rule(EVERYONE),
    "programmes.public_page": rule(EVERYONE, programme_id="programme"),
    "programmes.apply": rule(RESIDENTS, programme_id="programme"),
    "programmes.my_entitlements": rule(RESIDENTS),
    "programmes.book": rule(RESIDENTS, listing_id="listing"),  # both are enrolled
    "programmes.provider_awards": rule(STAFFS),
    "programmes.official_list": rule(OFFICIALS),
    "programmes.official_list_csv": rule(OFFICIALS),
    "programmes.enrolments_csv": rule(OFFICIALS, programme_id="programme"),
    "programmes.awards_csv": rule(OFFICIALS, programme_id="programme"),
    "programmes.entitlements_csv": rule(OFFICIALS, programme_id="programme"),
    "programmes.create": rule(OFFICIALS),
    "programmes.manage": rule(OFFICIALS, programme_id="programme"),
    "programmes.edit": rule(OFFICIALS, programme_id="programme"),
    "programmes.award": rule(OFFICIALS, programme_id="programme"),
    "programmes.budget": rule(OFFICIALS, programme_id="programme"),
    "programmes.top_up": rule(OFFICIALS, programme_id="programme"),
    "programmes.open_": rule(OFFICIALS, programme_id="programme"),
    "programmes.close": rule(OFFICIALS, programme_id="programme"),
    "programmes.withdraw": rule(OFFICIALS, programme_id="programme"),
    "programmes.evaluate": rule(OFFICIALS, programme_id="programme"),
    "programmes.enrol": rule(OFFICIALS, programme_id="programme"),
    "programmes.upload": rule(OFFICIALS, programme_id="programme"),
    "programmes.decide": rule(OFFICIALS, programme_id="programme", enrolment_id="enrolment", verb="=withdraw"),
    "programmes.details": rule(OFFICIALS, programme_id="programme", enrolment_id="enrolment"),
    "programmes_public_api.public_programmes": rule(EVERYONE),
    "programmes_public_api.public_programme": rule(EVERYONE, programme_id="programme"),
    "programmes_public_api.apply": rule(RESIDENTS, programme_id="programme"),
    "entitlements_api.my_entitlements": rule(RESIDENTS),
    "entitlements_api.book": rule(RESIDENTS),
    "programme_awards_api.my_programme_awards": rule(STAFFS),
    "programmes_official_api.list_programmes": rule(OFFICIALS),
    "programmes_official_api.create_programme": rule(OFFICIALS),
    "programmes_official_api.get_programme": rule(OFFICIALS, programme_id="programme"),
    "programmes_official_api.update_programme": rule(OFFICIALS, programme_id="programme"),
    "programmes_official_api.move_programme": rule(OFFICIALS, programme_id="programme", action="=close"),
    "programmes_official_api.award": rule(OFFICIALS, programme_id="programme"),
    "programmes_official_api.programme_budget": rule(OFFICIALS, programme_id="programme"),
    "programmes_official_api.top_up": rule(OFFICIALS, programme_id="programme"),
    "programmes_official_api.evaluate": rule(OFFICIALS, programme_id="programme"),
    "programmes_official_api.list_enrolments": rule(OFFICIALS, programme_id="programme"),
    "programmes_official_api.enrol": rule(OFFICIALS, programme_id="programme"),
    "programmes_official_api.enrol_csv": rule(OFFICIALS, programme_id="programme"),
    "programmes_official_api.decide": rule(OFFICIALS, programme_id="programme", enrolment_id="enrolment"),
    "programmes_official_api.details": rule(OFFICIALS, programme_id="programme", enrolment_id="enrolment"),
    "programmes_official_api.withdraw_enrolment": rule(OFFICIALS, programme_id="programme",
                                                       enrolment_id="enrolment"),
    # --- subsidies (build, then subsidise) ---------------------------------------------------
    "subsidies.my_subsidies": rule(STAFFS),
    "subsidies.new_project": rule(STAFFS),
    "subsidies.my_project": rule(P, project_id="project"),
    "subsidies.file_claim": rule(P, project_id="project"),
    "subsidies.my_claim": rule(P, claim_id="claim"),
    "subsidies.evidence_download": rule(P | OFFICIALS, evidence_id="evidence"),
    "subsidies.notices": rule(EVERYONE),  # the public notice: anyone reads it; objecting needs a log-in
    "subsidies.notice": rule(EVERYONE, claim_id="notice"),
    "subsidies.notices_csv": rule(EVERYONE),
    # Residents of the project's community object (A already has: 409), nobody else (403, with the reason).
    "subsidies.object_to": rule(RESIDENTS, claim_id="notice", body={"text": "设备未投入使用"},
                                denial={STAFF: {403}}),
    "subsidies.queue": rule(OFFICIALS),
    "subsidies.queue_csv": rule(OFFICIALS),
    "subsidies.claim": rule(OFFICIALS, claim_id="claim"),
    "subsidies.verify": rule(OFFICIALS, claim_id="claim"),
    "subsidies.approve": rule(OFFICIALS, claim_id="claim"),
    "subsidies.reject": rule(OFFICIALS, claim_id="claim"),
    "subsidies.disburse": rule(OFFICIALS, claim_id="notice"),
    "subsidies.early_stop": rule(OFFICIALS, claim_id="notice"),
    # The official verified the claim at the district step: another official decides its objections.
    "subsidies.resolve": rule(ADMIN_ONLY, objection_id="objection", body=RESOLVE, denial={OFFICIAL: {403}}),
    "subsidies.policy_list": rule(OFFICIALS),
    "subsidies.new_policy": rule(OFFICIALS, project_type="project_type"),
    "subsidies.new_tier_cap": rule(OFFICIALS, tier="tier"),
    "subsidy_policies_api.current": rule(LOGGED_IN),
    "subsidy_notices_api.list_notices": rule(LOGGED_IN),
    "subsidy_notices_api.object_to": rule(RESIDENTS, claim_id="notice", body={"text": "设备未投入使用"},
                                          denial={STAFF: {403}}),
    "my_subsidies_api.my_projects": rule(STAFFS),
    "my_subsidies_api.register_project": rule(STAFFS),
    "my_subsidies_api.my_project": rule(P, project_id="project"),
    "my_subsidies_api.file_claim": rule(P, project_id="project", body=_claim_form, multipart=True),
    "my_subsidies_api.my_claims": rule(STAFFS),
    "my_subsidies_api.my_claim": rule(P, claim_id="claim"),
    "official_subsidies_api.claim_queue": rule(OFFICIALS),
    "official_subsidies_api.get_claim": rule(OFFICIALS, claim_id="claim"),
    "official_subsidies_api.verify": rule(OFFICIALS, claim_id="claim"),
    "official_subsidies_api.approve": rule(OFFICIALS, claim_id="claim"),
    "official_subsidies_api.reject": rule(OFFICIALS, claim_id="claim"),
    "official_subsidies_api.disburse": rule(OFFICIALS, claim_id="notice"),
    "official_subsidies_api.early_stop": rule(OFFICIALS, claim_id="notice"),
    "official_subsidies_api.resolve": rule(ADMIN_ONLY, objection_id="objection", body=RESOLVE,
                                           denial={OFFICIAL: {403}}),
    "official_subsidies_api.new_policy": rule(OFFICIALS, project_type="project_type"),
    "official_subsidies_api.new_tier_cap": rule(OFFICIALS, tier="tier"),
    # --- supervision: rules, runs, reports, review, appeals, league table -----------------------
    "supervision.rule_set": rule(OFFICIALS),
    "supervision.save_rule_set": rule(OFFICIALS),
    "supervision.exclusion_list": rule(OFFICIALS),
    "supervision.add_exclusion": rule(OFFICIALS),
    "supervision.run_list": rule(OFFICIALS),
    "supervision.run_detail": rule(OFFICIALS, run_id="run"),
    "supervision.report_list": rule(OFFICIALS),
    "supervision.report_detail": rule(OFFICIALS, report_id="report"),
    "supervision.my_report": rule(P, report_id="report"),
    "sanctions.review_queue": rule(OFFICIALS),
    "sanctions.decide": rule(OFFICIALS, report_id="report"),
    "sanctions.confirm": rule(OFFICIALS, report_id="report"),
    "sanctions.dismiss": rule(OFFICIALS, report_id="report"),
    "sanctions.decide_appeal": rule(OFFICIALS, report_id="report"),
    "sanctions.dashboard": rule(OFFICIALS),
    "sanctions.league_table": rule(EVERYONE),
    "evaluation.evaluate_page": rule(OFFICIALS),
    "evaluation.store_run": rule(OFFICIALS, body={"as_of": "2026-11-01", "fingerprint": "x"}),
    # --- lists as CSV: who may see the page may download it -----------------------------------
    "supervision_csv.runs_csv": rule(OFFICIALS),
    "supervision_csv.reports_csv": rule(OFFICIALS),
    "supervision_csv.queue_csv": rule(OFFICIALS),
    "supervision_csv.sanctions_csv": rule(OFFICIALS),
    "supervision_csv.grades_csv": rule(EVERYONE),
    "supervision_csv.grade_reviews_csv": rule(OFFICIALS),
    "supervision_csv.exclusions_csv": rule(OFFICIALS),
    "ratings.official_complaints_csv": rule(OFFICIALS),
    "ratings.official_ratings_csv": rule(OFFICIALS),
    "providers.vetting_queue_csv": rule(OFFICIALS),
    "visit_flags.flag_list_csv": rule(OFFICIALS),
    "follow_ups.queue_csv": rule(CALLERS),
    "appeals.appeal_page": rule(P, report_id="report"),
    "appeals.submit_appeal": rule(P, report_id="report", body=PLAN),
    "appeals.appeal_file": rule(P | OFFICIALS, file_id="appeal_file"),
    # --- due process: the public rules, publication, statements of reasons, grade reviews -------
    "publication.public_rules": rule(EVERYONE),
    "publication.add_comment": rule(LOGGED_IN, rule_set_id="announced", body={"body": "请多给些时间"}),
    "publication.version_detail": rule(OFFICIALS, rule_set_id="draft"),
    "publication.publish_version": rule(OFFICIALS, rule_set_id="draft", body={"days": "30"}),
    "publication.withdraw_version": rule(OFFICIALS, rule_set_id="draft", body={"reason": "撤回"}),
    "dueprocess.statement": rule(P | OFFICIALS, report_id="report"),
    "dueprocess.my_grades": rule(STAFFS),
    "dueprocess.request_review": rule(P, snapshot_id="snapshot", body={"reason": "请复核"}),
    "dueprocess.review_queue": rule(OFFICIALS),
    "dueprocess.decide_review": rule(OFFICIALS, review_id="grade_review",
                                     body={"outcome": "upheld", "reason": "数据无误"}),
    "supervision_api.current_rule_set": rule(OFFICIALS),
    "supervision_api.list_rule_sets": rule(OFFICIALS),
    "supervision_api.create_rule_set": rule(OFFICIALS),
    "supervision_api.list_exclusions": rule(OFFICIALS),
    "supervision_api.create_exclusion": rule(OFFICIALS),
    "supervision_api.list_runs": rule(OFFICIALS),
    "supervision_api.get_run": rule(OFFICIALS, run_id="run"),
    "supervision_api.evaluate": rule(OFFICIALS),
    "supervision_api.list_reports": rule(STAFFS | OFFICIALS),  # staff: their own provider's only
    "supervision_api.get_report": rule(P | OFFICIALS, report_id="report"),
    "sanctions_api.queue": rule(OFFICIALS),
    "sanctions_api.get_review": rule(P | OFFICIALS, report_id="report"),
    "sanctions_api.confirm": rule(OFFICIALS, report_id="report"),
    "sanctions_api.dismiss": rule(OFFICIALS, report_id="report"),
    "sanctions_api.appeal": rule(P, report_id="report", body=PLAN),
    "sanctions_api.appeal_files": rule(P, report_id="report", body=_plan, multipart=True),
    "sanctions_api.decide_appeal": rule(OFFICIALS, report_id="report"),
    "sanctions_api.grades": rule(EVERYONE),
    "sanctions_api.dashboard": rule(OFFICIALS),
}

# Routes outside the matrix, and why.
NOT_IN_MATRIX = {
    "static": "files under /static, the same for everyone",
    "favicon": "the site icon at /favicon.ico (app/assets.py), the same for everyone",
    "api-docs.openapi_json": "the OpenAPI document, public by design (tests/test_openapi.py)",
}
