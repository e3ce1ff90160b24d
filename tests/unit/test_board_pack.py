"""The partnership board pack, without I/O: the quality service's rules for drafting a pack and
recording commentary (what is refused, naming the field), who may read a pack of each view;
and the pack as the dashboard lays it out: the sections chosen, in order, each with its
commentary attributed in the order written, the seed's attendance and triage tables, and each
board's definitions cut from docs/boards.md."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.quality import events as e
from contracts.quality.codes import PackView
from services.projections.boards.declarations import BOARDS
from services.projections.boards.model import Figure, change, figure
from services.projections.dashboard import DEFINITIONS
from services.projections.dashboard.packs import (
    attendance_matrices,
    commentary_by_section,
    definitions_of,
    sections_chosen,
    triage_months,
)
from services.quality.domain import commands as c
from services.quality.domain.pack import BoardPack
from services.quality.routes.packs import may_read
from shared.aggregate import AlreadyRecorded, Decision, DomainRuleViolation, UnknownStream
from shared.auth import Principal, Role
from shared.envelope import Agency, DomainEvent
from shared.sealing import seal

D = Decision(today=date(2020, 7, 31))
SEALED = seal(bytes(32), "board-pack/BP-1", "commentary", "Referrals rose in June.")


def fold(pack: BoardPack, events: Sequence[DomainEvent]) -> Sequence[DomainEvent]:
    for event in events:
        pack.when(event)
        pack.version += 1
    return events


def draft(**overrides: Any) -> c.DraftBoardPack:
    fields: dict[str, Any] = {
        "pack_id": "BP-1",
        "title": "Safeguarding partnership executive, July 2020",
        "as_at": "2020-07-08",
        "boards": ["attendance", "early-help-triage"],
        "view": "partnership",
        **overrides,
    }
    return c.DraftBoardPack(**fields)


def commentary(**overrides: Any) -> c.RecordBoardPackCommentary:
    fields: dict[str, Any] = {
        "commentary_id": "BPC-1",
        "section": "early-help-triage",
        "commentary": "Referrals rose in June.",
        **overrides,
    }
    return c.RecordBoardPackCommentary(**fields)


def drafted() -> BoardPack:
    pack = BoardPack("BP-1")
    fold(pack, pack.draft(draft(), D))
    return pack


def refused_on(field: str) -> Any:
    return pytest.raises(DomainRuleViolation, check=lambda v: v.field == field)


# -- the quality service's rules ----------------------------------------------------------------


def test_a_pack_is_drafted_once_with_its_boards_day_localities_and_view() -> None:
    pack = BoardPack("BP-1")
    [event] = fold(pack, pack.draft(draft(localities=[]), D))
    assert isinstance(event, e.BoardPackDrafted)
    assert (event.boards, event.localities, event.view) == (
        ["attendance", "early-help-triage"],
        [],
        PackView.PARTNERSHIP,
    )
    assert pack.exists and pack.as_at == date(2020, 7, 8)
    with pytest.raises(AlreadyRecorded):
        pack.draft(draft(), D)


def test_a_pack_dated_in_the_future_is_refused_naming_as_at() -> None:
    with refused_on("as_at"):
        BoardPack("BP-1").draft(draft(as_at="2020-08-01"), D)
    # the day itself is fine: a pack as at today
    assert BoardPack("BP-1").draft(draft(as_at="2020-07-31"), D)


def test_a_board_or_locality_named_twice_is_refused_naming_the_field() -> None:
    with refused_on("boards"):
        BoardPack("BP-1").draft(draft(boards=["attendance", "attendance"]), D)
    with refused_on("localities"):
        BoardPack("BP-1").draft(draft(localities=["Exeter", "Exeter"]), D)


def test_a_pack_names_at_least_one_board_and_only_board_names() -> None:
    with pytest.raises(ValidationError):
        draft(boards=[])
    with pytest.raises(ValidationError):
        draft(boards=["Attendance!"])


def test_commentary_is_on_a_board_of_the_pack_and_sealed() -> None:
    pack = drafted()
    with refused_on("section"):
        pack.comment(commentary(section="timeliness"), D, SEALED)
    [event] = fold(pack, pack.comment(commentary(), D, SEALED))
    assert isinstance(event, e.BoardPackCommentaryRecorded)
    assert event.commentary == SEALED and event.section == "early-help-triage"
    with pytest.raises(AlreadyRecorded):
        pack.comment(commentary(), D, SEALED)
    with refused_on("commentary"):
        pack.comment(commentary(commentary_id="BPC-2", commentary=None), D, None)


def test_commentary_on_no_pack_is_404() -> None:
    with pytest.raises(UnknownStream):
        BoardPack("BP-none").comment(commentary(), D, SEALED)


def test_the_events_carry_no_plain_text_and_no_author_from_the_body() -> None:
    """Who wrote a commentary is the envelope's actor (the caller's token): the body cannot
    name anyone, and the event's text field takes only sealed text."""
    with pytest.raises(ValidationError):
        c.RecordBoardPackCommentary.model_validate(
            {**commentary().model_dump(), "recorded_by": "someone-else"}
        )
    with pytest.raises(ValidationError):
        e.BoardPackCommentaryRecorded(
            commentary_id="BPC-1", section="attendance", commentary="plain text"
        )


def person(role: Role, agency: Agency = Agency.COUNCIL, **kw: Any) -> Principal:
    return Principal(f"u-{role}", agency, role, **kw)


def test_who_may_read_a_pack_of_each_view() -> None:
    manager = person(Role.MANAGER)
    board = person(Role.BOARD_MEMBER)
    police = person(Role.PARTNER, Agency.POLICE)
    north = person(Role.PRACTITIONER, localities=frozenset({"North"}))
    for who in (manager, board, police, north):  # the partnership's view: every reader
        assert may_read(who, PackView.PARTNERSHIP, []) is None
    assert may_read(manager, PackView.COUNCIL, []) is None
    assert may_read(board, PackView.COUNCIL, ["North"])
    assert may_read(police, PackView.COUNCIL, ["North"])
    assert may_read(north, PackView.COUNCIL, ["North"]) is None
    assert "whole county" in (may_read(north, PackView.COUNCIL, []) or "")
    assert "Exeter" in (may_read(north, PackView.COUNCIL, ["North", "Exeter"]) or "")


def test_a_draft_happens_when_it_is_recorded_not_on_its_as_at_day() -> None:
    """The pack's events are not dated by a field (as_at is the figures' day, not the
    draft's): they occur when recorded, the envelope's time."""
    assert e.BoardPackDrafted(**draft().model_dump()).occurred_at() is None


# -- the pack as the dashboard lays it out --------------------------------------------------------

BOARDS_MD = """
<a id="attendance"></a>
## attendance: school attendance of vulnerable groups

| group key | children who, on the day |
|---|---|
| `cic` | are in care, see the [cuts](#cuts) |

<a id="risk"></a>
## risk: risk ratings

Not this one.

<a id="early-help-triage"></a>
## early-help-triage: early help triage

Event: EarlyHelpTriageDiscussed.
"""


def test_the_sections_are_the_boards_chosen_in_order_each_once_and_known() -> None:
    assert sections_chosen(["early-help-triage", "attendance", "attendance", "no-such"]) == [
        "early-help-triage",
        "attendance",
    ]


def written(section: str, user: str, at: str, n: int) -> dict[str, Any]:
    return {
        "commentary_id": f"BPC-{n}",
        "section": section,
        "commentary": f"note {n}",
        "user_id": user,
        "role": "manager",
        "recorded_at": at,
    }


def test_commentary_is_attributed_per_section_in_the_order_written() -> None:
    entries = [
        written("attendance", "b", "2020-07-08T10:05:00+00:00", 2),
        written("attendance", "a", "2020-07-08T09:00:00+00:00", 1),
        written("early-help-triage", "c", "2020-07-08T11:00:00+00:00", 3),
        written("timeliness", "d", "2020-07-08T11:00:00+00:00", 4),  # no longer in the pack
    ]
    by = commentary_by_section(entries, ["attendance", "early-help-triage"])
    assert [(c.user_id, c.text) for c in by["attendance"]] == [("a", "note 1"), ("b", "note 2")]
    assert [c.user_id for c in by["early-help-triage"]] == ["c"]
    assert set(by) == {"attendance", "early-help-triage"}
    assert by["attendance"][0].recorded_at.hour == 9


def test_the_definitions_are_cut_per_board_and_link_to_the_definitions_page() -> None:
    attendance = definitions_of("attendance", BOARDS_MD)
    assert "cic" in attendance and "Not this one" not in attendance
    assert 'class="govuk-table"' in attendance and 'href="/definitions#cuts"' in attendance
    triage = definitions_of("early-help-triage", BOARDS_MD)
    assert "EarlyHelpTriageDiscussed" in triage and "risk" not in triage
    assert definitions_of("no-such", BOARDS_MD) == ""


def test_the_real_definitions_have_a_section_for_every_board() -> None:
    document = DEFINITIONS.read_text()
    for name in BOARDS:
        assert definitions_of(name, document), name


def share(key: str, day: str, count: int, of: int, suppressed: bool = False) -> Figure:
    f = figure(key, key, count, of, period=day)
    return f.hidden() if suppressed else f


def test_attendance_is_the_seeds_tables_groups_down_dates_across() -> None:
    days = ("2020-06-23", "2020-07-08")
    figures = [
        share(key, day, 10, 30, suppressed=(key == "ehcp" and day == days[0]))
        for day in days
        for key in ("cic", "cic_own_schools", "ehcp", "cp_plan", "rag_red", "cut.age_0_8")
    ]
    tables = attendance_matrices(figures, "t")
    assert [t.caption for t in tables] == [
        "Children in care",
        "Children with EHCP plans",
        "Children in need and those with a child protection plan",
        "RAG rating",
        "Other vulnerable groups",
    ]
    care = tables[0]
    assert [key for key, _, _ in care.rows] == ["cic", "cic_own_schools"]
    assert [period for period, _ in care.dates] == list(days)
    assert [p.value for p in care.rows[0][1].points] == [33.33, 33.33]
    ehcp = tables[1].rows[0][1].points
    assert ehcp[0].value is None and ehcp[0].suppressed  # hidden, never a 0
    assert 'role="img"' in care.rows[0][2]  # each row's trend, an accessible picture


def test_triage_is_the_last_four_complete_months_against_the_year_before() -> None:
    figures = [
        change("families_discussed", "Families discussed at triage", n, b, f"2020-{m:02d}", "")
        for m, n, b in ((2, 90, 80), (3, 133, 112), (4, 146, 92), (5, 192, 115), (6, 226, 121))
    ] + [change("families_discussed", "x", 40, 0, "2020-07", "").hidden()]
    months = triage_months(figures, date(2020, 7, 8))
    assert [m.label for m in months] == ["March 2020", "April 2020", "May 2020", "June 2020"]
    assert months[0].year_before_label == "March 2019"
    assert [(m.count, m.year_before, m.change) for m in months] == [
        (133, 112, 18.75),
        (146, 92, 58.7),
        (192, 115, 66.96),
        (226, 121, 86.78),
    ]
    # As at a month's last day, that month is complete and leads.
    assert triage_months(figures, date(2020, 6, 30))[-1].label == "June 2020"
    hidden = triage_months([figures[0], figures[1].hidden()], date(2020, 7, 8))
    assert hidden[-1].suppressed and hidden[-1].count is None and hidden[-1].change is None
