"""What the audit log records: who (a therapist's account) did what, to which patient."""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    SIGNED_IN = "signed_in"
    SIGN_IN_REFUSED = "sign_in_refused"  # wrong name or password, or locked out
    LOCKED_OUT = "locked_out"  # this refusal started a lock-out
    SIGNED_OUT = "signed_out"
    THERAPIST_ADDED = "therapist_added"  # main.py therapist add (at the server's console)
    PASSWORD_SET = "password_set"
    PATIENT_VIEWED = "patient_viewed"
    DOSE_CHANGED = "dose_changed"  # a programme item's dose, with before and after
    PROPOSALS_CONFIRMED = "proposals_confirmed"  # the progression rules' proposals applied
    PROPOSALS_DECLINED = "proposals_declined"
    REPORT_DOWNLOADED = "report_downloaded"
    EXPORT_DOWNLOADED = "export_downloaded"
