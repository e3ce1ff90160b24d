"""Partnership audits: opened with the agencies taking part, each agency's findings and
actions (their text sealed with the audit's key), concluded; and the record of one audit.

An audit is the whole council's: it samples children of every locality and holds every
agency's findings, so neither its record nor its commands are for a user limited to some
localities (403, `county_wide`)."""

from __future__ import annotations

from contracts.ids import ID_PATTERN
from services.quality.domain import commands as c
from services.quality.domain.audit import PartnershipAudit
from services.quality.routes.sealed import (
    Record,
    SealedRoute,
    county_wide,
    record_router,
    sealed_router,
    the_records,
)
from shared.routes import CommandRoute, Commands, StreamParam, command_router

AUDIT = StreamParam("audit_id", ID_PATTERN, "The partnership audit's id")
AUDITS = Commands("/partnership-audits", AUDIT, PartnershipAudit)
RECORD = Record(AUDITS, "audit_id", the_records("partnership-audit"))
TAG = "partnership audits"

sealed = county_wide(
    sealed_router(
        RECORD,
        [
            SealedRoute(
                "", c.OpenPartnershipAudit, PartnershipAudit.open, "Open a partnership audit", TAG
            ),
            SealedRoute(
                "/findings",
                c.RecordAuditFinding,
                PartnershipAudit.record_finding,
                "Record an agency's finding (sealed)",
                TAG,
                text="finding",
            ),
            SealedRoute(
                "/actions",
                c.AgreeAuditAction,
                PartnershipAudit.agree_action,
                "Agree an agency's action (its summary sealed)",
                TAG,
                text="summary",
            ),
        ],
    )
)
commands = county_wide(
    command_router(
        AUDITS,
        [
            CommandRoute(
                "/action-completions",
                c.CompleteAuditAction,
                PartnershipAudit.complete_action,
                "Complete one of the audit's actions",
                TAG,
            ),
            CommandRoute(
                "/conclusions",
                c.ConcludePartnershipAudit,
                PartnershipAudit.conclude,
                "Conclude the audit",
                TAG,
            ),
        ],
    )
)
record = county_wide(record_router(RECORD))
