"""Build-then-subsidise (先建后补): versioned policies, projects registered before
building, claims with evidence, two-step review, public notice with objections,
disbursement through the ledger, and the operating obligation with its clawback.

Services by concept: policies.py (versions and the computation), projects.py,
claims.py (filing and evidence), review.py (verification, approval, notice,
objections, disbursement), obligations.py (early stop and clawback).
"""

from __future__ import annotations
