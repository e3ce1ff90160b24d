"""A partnership board pack: the boards a meeting reads, as at a day, for some localities or
the county, in the partnership's view or the council's; and each person's commentary on a
section (a board), its text sealed with the pack's key.

The figures are not recorded here: the projections service draws them from the boards as at
the pack's day whenever the pack is generated, so a pack always shows what the boards answer
for that day (docs/boards.md). What is recorded is what only people know: which boards, and
what they make of them."""

from __future__ import annotations

from datetime import date

from contracts.quality import events as e
from contracts.quality.codes import PackView
from services.quality.domain import commands as c
from services.quality.domain.record import QualityRecord
from shared.aggregate import AlreadyRecorded, Decision, DomainRuleViolation, not_in_future
from shared.envelope import DomainEvent


class BoardPack(QualityRecord):
    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.boards: tuple[str, ...] = ()
        self.localities: tuple[str, ...] = ()
        self.view = PackView.PARTNERSHIP
        self.as_at: date | None = None
        self.commentaries: set[str] = set()

    def draft(self, cmd: c.DraftBoardPack, d: Decision) -> list[DomainEvent]:
        self._new("pack")
        not_in_future("as_at", cmd.as_at, d)
        for field, names in (("boards", cmd.boards), ("localities", cmd.localities)):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise DomainRuleViolation(field, f"names {', '.join(repeated)} more than once")
        return [e.BoardPackDrafted(**cmd.model_dump())]

    def comment(
        self, cmd: c.RecordBoardPackCommentary, d: Decision, commentary: str | None
    ) -> list[DomainEvent]:
        """A person's commentary on one of the pack's sections; `commentary` is the sealed
        text (a commentary with none says nothing: refused)."""
        self._opened()
        if cmd.section not in self.boards:
            raise DomainRuleViolation(
                "section", f"is not a board of this pack ({', '.join(self.boards)})"
            )
        if cmd.commentary_id in self.commentaries:
            raise AlreadyRecorded(f"commentary {cmd.commentary_id!r} is already recorded")
        if commentary is None:
            raise DomainRuleViolation("commentary", "is required")
        return [
            e.BoardPackCommentaryRecorded(
                **cmd.model_dump(exclude={"commentary"}), commentary=commentary
            )
        ]

    def when(self, event: DomainEvent) -> None:
        match event:
            case e.BoardPackDrafted():
                self.boards = tuple(event.boards)
                self.localities = tuple(event.localities)
                self.view = event.view
                self.as_at = self.opened_on = event.as_at
            case e.BoardPackCommentaryRecorded():
                self.commentaries.add(event.commentary_id)
