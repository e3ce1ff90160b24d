"""A partnership audit: the quality assurance group's 'live' multi-agency audit of a theme,
its findings and actions per agency taking part, and its conclusion."""

from __future__ import annotations

from datetime import date

from contracts.quality import events as e
from contracts.quality.codes import ActionOf, AuditAgency
from services.quality.domain import commands as c
from services.quality.domain.record import Actions, QualityRecord, not_given, required
from shared.aggregate import (
    AlreadyRecorded,
    Decision,
    DomainRuleViolation,
    not_before,
    not_in_future,
)
from shared.envelope import DomainEvent


class PartnershipAudit(QualityRecord):
    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.agencies: frozenset[AuditAgency] = frozenset()
        self.findings: set[str] = set()
        self.concluded_on: date | None = None
        self.actions = Actions(ActionOf.PARTNERSHIP_AUDIT)

    def open(self, cmd: c.OpenPartnershipAudit, d: Decision) -> list[DomainEvent]:
        self._new("audit")
        not_in_future("opened_on", cmd.opened_on, d)
        for name, values in (("agencies", cmd.agencies), ("cases", cmd.cases)):
            for i, value in enumerate(values):
                if value in values[:i]:
                    raise DomainRuleViolation(f"{name}[{i}]", "is listed twice")
        return [e.PartnershipAuditOpened(**cmd.model_dump())]

    def record_finding(
        self, cmd: c.RecordAuditFinding, d: Decision, finding: str | None
    ) -> list[DomainEvent]:
        opened_on = self._open_to("recorded_on")
        if cmd.finding_id in self.findings:
            raise AlreadyRecorded(f"finding {cmd.finding_id!r} is already recorded")
        self._taking_part(cmd.agency)
        not_in_future("recorded_on", cmd.recorded_on, d)
        not_before("recorded_on", cmd.recorded_on, opened_on, "the audit's opening")
        return [
            e.PartnershipAuditFindingRecorded(
                **cmd.model_dump(exclude={"finding"}), finding=finding
            )
        ]

    def agree_action(
        self, cmd: c.AgreeQualityAction, d: Decision, summary: str | None
    ) -> list[DomainEvent]:
        opened_on = self._open_to("agreed_on")
        required("agency", cmd.agency, "for a partnership audit's action")
        if cmd.agency is not None:
            self._taking_part(cmd.agency)
        not_given("priority_id", cmd.priority_id, "the improvement plan's actions")
        return [self.actions.agree(cmd, d, summary, opened_on, "the audit's opening")]

    def complete_action(self, cmd: c.CompleteQualityAction, d: Decision) -> list[DomainEvent]:
        self._opened()  # actions are followed up after the audit concludes too
        return [self.actions.complete(cmd, d)]

    def conclude(self, cmd: c.ConcludePartnershipAudit, d: Decision) -> list[DomainEvent]:
        opened_on = self._open_to("concluded_on")
        not_in_future("concluded_on", cmd.concluded_on, d)
        not_before("concluded_on", cmd.concluded_on, opened_on, "the audit's opening")
        return [e.PartnershipAuditConcluded(**cmd.model_dump())]

    def _open_to(self, field: str) -> date:
        opened_on = self._opened()
        if self.concluded_on is not None:
            raise DomainRuleViolation(
                field, f"the audit concluded on {self.concluded_on.isoformat()}"
            )
        return opened_on

    def _taking_part(self, agency: AuditAgency) -> None:
        if agency not in self.agencies:
            raise DomainRuleViolation("agency", f"{agency.value} is not taking part in the audit")

    def when(self, event: DomainEvent) -> None:
        match event:
            case e.PartnershipAuditOpened():
                self.opened_on, self.agencies = event.opened_on, frozenset(event.agencies)
            case e.PartnershipAuditFindingRecorded():
                self.findings.add(event.finding_id)
            case e.PartnershipAuditConcluded():
                self.concluded_on = event.concluded_on
            case _:
                self.actions.when(event)
