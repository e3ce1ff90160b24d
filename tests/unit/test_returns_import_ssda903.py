"""The SSDA903 import (deploy/returns/from_ssda903.py) is the export's inverse: a return
exported, read back into commands, decided by the services' own aggregates in memory
(deploy/returns/rehearsal.py) and exported again is the same return, file for file. A row that
cannot be read is a problem naming its file, line, column and reason, and its child is not
imported at all; the other children are."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from functools import cache
from pathlib import Path

import pytest

from contracts.ids import upn_check_letter
from deploy.demo.county import plan
from deploy.returns.from_ssda903 import import_team, read_ssda903
from deploy.returns.importing import ImportPlan, Problem
from deploy.returns.rehearsal import records_from_steps, rehearsed_children
from services.case_events.domain.reference import AddSocialWorker, AddTeam
from services.projections.returns import ssda903
from services.projections.returns.facts import ChildRecord, CollectionYear

TODAY = date(2026, 12, 1)
THIS_YEAR = CollectionYear.of(TODAY)
LOCALITY = "Exeter"
Folders = dict[str, dict[str, str]]  # year label -> file name -> CSV text


@cache
def demo() -> tuple[list[ChildRecord], dict[str, str]]:
    """A small demo county's records as the platform holds them today, and their UPNs."""
    work = plan(7, 0.1, TODAY)
    return records_from_steps([s for j in work.journeys + work.later for s in j.steps], TODAY)


def exported(
    records: Sequence[ChildRecord], upns: Mapping[str, str], years: Sequence[CollectionYear]
) -> Folders:
    """Each year's return as the export's zip has it (as at today, or its end if passed)."""
    return {
        year.label: ssda903.files(
            ssda903.with_upns(ssda903.ssda903(records, year, upns, min(TODAY, year.end)), upns)
        )
        for year in years
    }


def written(folders: Folders, root: Path) -> Path:
    for label, files in folders.items():
        (root / label).mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (root / label / name).write_text(text, newline="")
    return root


def rehearsed(imported: ImportPlan) -> tuple[list[ChildRecord], dict[str, str]]:
    """The import's commands decided by the aggregates: none refused."""
    children = {child: [d.step for d in dated] for child, dated in imported.children.items()}
    decided = rehearsed_children(children, TODAY)
    assert decided.refused == {}
    return decided.records(TODAY), decided.upns


def assert_same(again: Folders, first: Folders) -> None:
    assert again.keys() == first.keys()
    for label, files in first.items():
        for name, text in files.items():
            assert again[label][name].splitlines() == text.splitlines(), f"{label}/{name}"


def test_the_demo_countys_two_years_come_back_the_same_from_their_commands(
    tmp_path: Path,
) -> None:
    records, upns = demo()
    years = [THIS_YEAR, THIS_YEAR.previous]
    first = exported(records, upns, years)
    rows = Counter(
        name
        for files in first.values()
        for name, text in files.items()
        for _ in text.splitlines()[1:]
    )
    # Every table of the return but AD1 (no one of the small county was adopted in these years:
    # test_a_return_of_every_kind_of_row_comes_back_the_same has one).
    assert {name for name, n in rows.items() if n} == set(ssda903.FILE_NAMES.values()) - {"ad1.csv"}
    imported = read_ssda903(written(first, tmp_path), LOCALITY)
    assert imported.problems == []
    assert imported.rows == sum(rows.values())
    assert_same(exported(*rehearsed(imported), years), first)


def test_a_year_read_alone_comes_back_the_same(tmp_path: Path) -> None:
    """Without the year before, a period of care open at the year's start began before the
    file: it is started the day before its first episode (or on an earlier decision to place
    for adoption), a day in no year of the file."""
    records, upns = demo()
    first = exported(records, upns, [THIS_YEAR])
    imported = read_ssda903(written(first, tmp_path) / THIS_YEAR.label, LOCALITY)
    assert imported.problems == []
    assert_same(exported(*rehearsed(imported), [THIS_YEAR]), first)


def test_a_fact_of_both_years_is_one_command(tmp_path: Path) -> None:
    """An episode open across 31 March is in both years' files: its commands are made once,
    with the bodies the previous year's files alone would give them (the later year's row
    adds what it knows more: the episode's end)."""
    records, upns = demo()
    folders = exported(records, upns, [THIS_YEAR, THIS_YEAR.previous])
    both = _imported_demo()
    alone = read_ssda903(written(folders, tmp_path) / THIS_YEAR.previous.label, LOCALITY)

    def steps(imported: ImportPlan) -> list[tuple[str, str, str]]:
        return [
            (d.step.service, d.step.path, json.dumps(d.step.body, sort_keys=True))
            for dated in imported.children.values()
            for d in dated
        ]

    across = {
        tuple(row.split(",")[:2])
        for row in folders[THIS_YEAR.label]["episodes.csv"].splitlines()[1:]
    } & {
        tuple(row.split(",")[:2])
        for row in folders[THIS_YEAR.previous.label]["episodes.csv"].splitlines()[1:]
    }
    assert across, "some episodes are open across 31 March"
    assert len(set(steps(both))) == len(steps(both))
    # But for a missing episode or a deprivation of liberty open at the year's end, which the
    # later year ends (one command each, with its end).
    ended_later = ("/missing-episodes", "/deprivation-of-liberty")
    assert {s for s in steps(alone) if not s[1].endswith(ended_later)} <= set(steps(both))


def test_the_reference_data_names_every_social_worker_in_the_import_team(
    tmp_path: Path,
) -> None:
    records, upns = demo()
    imported = read_ssda903(
        written(exported(records, upns, [THIS_YEAR]), tmp_path), LOCALITY, year=THIS_YEAR.start_year
    )
    named = {
        d.step.body["worker_id"]
        for dated in imported.children.values()
        for d in dated
        if d.step.path.endswith("/social-worker-allocations")
    }
    team, *workers = imported.reference  # the locality is the council's: never added
    assert AddTeam.model_validate(team.body).team_id == import_team(LOCALITY)
    assert {AddSocialWorker.model_validate(w.body).worker_id for w in workers} == named
    assert all(step.exists_ok for step in imported.reference)


# -- a return of every kind of row, by hand ---------------------------------------------------

UPN = "878300120045"
RICH = {
    "header.csv": [
        "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB",
        "CH1,F,15/06/2022,WBRI,UN1,,",
        f"CH2,M,03/03/2010,AOTH,{upn_check_letter('?' + UPN)}{UPN},,",
        "CH3,F,20/09/2007,WBRI,,,",
        "CH4,F,05/05/2009,WIRT,,1,10/10/2025",
        "CH5,M,01/03/2026,WBRI,UN1,,",
    ],
    "episodes.csv": [
        "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,"
        "PL_POST,URN",
        # placed for adoption with the foster carers (T), and adopted
        "CH1,10/01/2024,S,C2,N1,U6,PR1,01/05/2025,X1,,EX4,EX2,SC056734",
        "CH1,01/05/2025,L,E1,N1,U6,PR1,20/05/2025,X1,PLACE,EX4,EX2,SC056734",
        "CH1,20/05/2025,T,E1,N1,A5,PR1,15/12/2025,E11,,EX4,EX2,XXXXXXX",
        # in care since before the file (its first episode a change of legal status), a
        # fortnight in a temporary placement and back
        "CH2,01/02/2025,L,V2,N8,U4,PR4,10/06/2025,X1,,EX1,PL1,SC412000",
        "CH2,10/06/2025,P,V2,N8,T3,,20/06/2025,X1,,EX1,PL4,",
        "CH2,20/06/2025,P,V2,N8,U4,PR4,,,,EX1,PL1,SC412000",
        # home, and back into care on another order
        "CH4,01/06/2025,S,V2,N4,K2,PR4,01/09/2025,E4A,,EX12,TQ1,SC450000",
        "CH4,01/11/2025,S,C1,N1,U6,PR1,,,,EX12,EX16,SC056734",
        # a baby known before birth, in care from days old
        "CH5,05/03/2026,S,C1,N1,U6,PR1,,,,EX4,EX2,SC056734",
    ],
    "reviews.csv": [
        "CHILD,DOB,REVIEW,REVIEW_CODE",
        "CH1,15/06/2022,20/07/2025,PN0",
        "CH2,03/03/2010,01/07/2025,PN1",
        "CH2,03/03/2010,01/01/2026,PN5",
    ],
    "uasc.csv": ["CHILD,SEX,DOB,DUC", "CH2,M,03/03/2010,01/02/2026"],
    "oc2.csv": [
        "CHILD,DOB,SDQ_SCORE,SDQ_REASON,CONVICTED,HEALTH_CHECK,IMMUNISATIONS,TEETH_CHECK,"
        "HEALTH_ASSESSMENT,SUBSTANCE_MISUSE,INTERVENTION_RECEIVED,INTERVENTION_OFFERED",
        "CH2,03/03/2010,14,,0,,1,1,1,1,1,",
    ],
    "oc3.csv": ["CHILD,DOB,IN_TOUCH,ACTIV,ACCOM", "CH3,20/09/2007,YES,F2,D1"],
    "ad1.csv": [
        "CHILD,DOB,DATE_INT,DATE_MATCH,FOSTER_CARE,NB_ADOPTR,SEX_ADOPTR,LS_ADOPTR",
        "CH1,15/06/2022,10/04/2025,12/05/2025,1,2,MF,L11",
    ],
    "placed_for_adoption.csv": [
        "CHILD,DOB,DATE_PLACED,DATE_PLACED_CEASED,REASON_PLACED_CEASED",
        "CH1,15/06/2022,10/04/2025,,",
    ],
    "previous_permanence.csv": [
        "CHILD,DOB,PREV_PERM,LA_PERM,DATE_PERM",
        "CH4,05/05/2009,P2,879,01/01/2020",
        "CH5,01/03/2026,Z1,,",
    ],
    "missing.csv": [
        "CHILD,DOB,MISSING,MIS_START,MIS_END",
        "CH2,03/03/2010,M,05/08/2025,07/08/2025",
        "CH2,03/03/2010,A,01/03/2026,",
    ],
    "sw_episodes.csv": [
        "CHILD,DOB,SW_ID,SW_DECOM,SW_DEC,SW_REASON",
        "CH1,15/06/2022,SW-1,10/01/2024,15/12/2025,FCONTA",
        # a first contact the day the last one ended (an older return's, before rule SW10b)
        "CH2,03/03/2010,SW-2,01/02/2025,15/10/2025,FCONTA",
        "CH2,03/03/2010,SW-3,15/10/2025,,FCONTA",
        "CH4,05/05/2009,SW-2,01/06/2025,01/12/2025,FCONTA",
        "CH4,05/05/2009,SW-4,01/12/2025,,LEFTRL",
        "CH5,01/03/2026,SW-1,05/01/2026,,FCONTA",
    ],
    "dolo.csv": [
        "CHILD,DOB,DOLO_START,DOLO_END",
        "CH2,03/03/2010,01/09/2025,01/11/2025",
        "CH2,03/03/2010,01/12/2025,",
    ],
}
LAST_YEAR = CollectionYear(2025)
EVERY_CHILD = {"CH1", "CH2", "CH3", "CH4", "CH5"}


def rich(root: Path, **changed: list[str]) -> Path:
    """The hand-made return (2025-26) in `root`'s year folder, some files changed."""
    folder = root / LAST_YEAR.label
    folder.mkdir(parents=True)
    for name, lines in {**RICH, **changed}.items():
        (folder / name).write_text("\r\n".join(lines) + "\r\n", newline="")
    return root


def test_a_return_of_every_kind_of_row_comes_back_the_same(tmp_path: Path) -> None:
    imported = read_ssda903(rich(tmp_path), LOCALITY)
    assert imported.problems == []
    assert set(imported.children) == EVERY_CHILD
    registered = [d.step.path.rsplit("/", 1)[-1] for d in imported.children["CH5"][:3]]
    assert registered == ["unborn-children", "social-worker-allocations", "births"]
    again = exported(*rehearsed(imported), [LAST_YEAR])[LAST_YEAR.label]
    for name, lines in RICH.items():
        assert again[name].splitlines() == lines, name


def test_commands_come_in_an_order_the_services_take() -> None:
    """Registration first, then each child's commands by day."""
    for child, dated in _imported_demo().children.items():
        assert dated[0].step.path in ("/children", "/unborn-children"), child
        assert [d.day for d in dated[1:]] == sorted(d.day for d in dated[1:]), child


@cache
def _imported_demo() -> ImportPlan:
    records, upns = demo()
    with tempfile.TemporaryDirectory() as root:
        folders = exported(records, upns, [THIS_YEAR, THIS_YEAR.previous])
        return read_ssda903(written(folders, Path(root)), LOCALITY)


def test_the_same_files_make_the_same_commands(tmp_path: Path) -> None:
    """Deterministic bodies: the content-hashed idempotency keys of a second import are the
    first's."""

    def bodies(imported: ImportPlan) -> list[str]:
        return [
            json.dumps([d.step.service, d.step.path, d.step.body], sort_keys=True)
            for dated in imported.children.values()
            for d in dated
        ]

    first = read_ssda903(rich(tmp_path / "a"), LOCALITY)
    again = read_ssda903(rich(tmp_path / "b"), LOCALITY)
    assert bodies(first) == bodies(again)
    assert len(set(bodies(first))) == len(bodies(first))


def test_a_full_postcode_is_kept_as_its_district(tmp_path: Path) -> None:
    episodes = [line.replace(",EX12,TQ1,", ",EX12 3AB,TQ1 1AA,") for line in RICH["episodes.csv"]]
    imported = read_ssda903(rich(tmp_path, **{"episodes.csv": episodes}), LOCALITY)
    assert imported.problems == []
    bodies = {d.step.path.rsplit("/", 1)[1]: d.step.body for d in imported.children["CH4"]}
    assert bodies["periods-of-care"]["home_postcode"] == "EX12"
    assert [
        d.step.body["postcode"]
        for d in imported.children["CH4"]
        if d.step.path.endswith("/placements")
    ] == ["TQ1", "EX16"]


# -- bad input: a problem with file, line, column and reason; that child only left out ---------

FILE = f"{LAST_YEAR.label}/"


@pytest.mark.parametrize(
    ("file", "changed", "expected"),
    [
        (
            "episodes.csv",
            lambda lines: [line.replace("CH4,01/11/2025", "CH4,31/11/2025") for line in lines],
            [
                Problem(
                    FILE + "episodes.csv",
                    9,
                    "DECOM",
                    "not a date (dd/mm/yyyy): '31/11/2025'",
                    "CH4",
                )
            ],
        ),
        (
            "episodes.csv",
            lambda lines: [
                line.replace("CH4,01/11/2025,S,C1,", "CH4,01/11/2025,S,Z9,") for line in lines
            ],
            [
                Problem(
                    FILE + "episodes.csv",
                    9,
                    "LS",
                    "unknown code 'Z9': 'C1', 'C2', 'D1', 'E1', 'J1', 'J2', 'J3', 'L1', 'L2',"
                    " 'L3', 'V2', 'V3' or 'V4'",
                    "CH4",
                )
            ],
        ),
        (
            "reviews.csv",
            lambda lines: [*lines, lines[2]],
            [Problem(FILE + "reviews.csv", 5, "REVIEW", "duplicate of line 3", "CH2")],
        ),
        (
            "episodes.csv",
            lambda lines: [*lines[:-1], lines[-1][:24]],  # the last row cut short
            [
                Problem(
                    FILE + "episodes.csv",
                    10,
                    "",
                    "truncated: 6 values where the header has 13 columns",
                    "CH5",
                )
            ],
        ),
        (
            "missing.csv",
            lambda lines: [line.rsplit(",", 1)[0] for line in lines],
            [
                Problem(
                    FILE + "missing.csv", 0, "MIS_END", "missing column: the file is not imported"
                ),
                Problem(
                    FILE + "missing.csv",
                    2,
                    "MIS_END",
                    f"not imported: {FILE}missing.csv has no MIS_END column",
                    "CH2",
                ),
                Problem(
                    FILE + "missing.csv",
                    3,
                    "MIS_END",
                    f"not imported: {FILE}missing.csv has no MIS_END column",
                    "CH2",
                ),
            ],
        ),
        (
            "missing.csv",
            lambda lines: [*lines, "CH9,03/03/2010,M,05/08/2025,07/08/2025"],
            [Problem(FILE + "missing.csv", 4, "CHILD", "not in the year's header.csv", "CH9")],
        ),
    ],
    ids=[
        "bad date",
        "unknown code",
        "duplicate row",
        "truncated file",
        "missing column",
        "not in the Header",
    ],
)
def test_a_bad_row_is_a_problem_and_leaves_out_its_child_only(
    tmp_path: Path, file: str, changed: Callable[[list[str]], list[str]], expected: list[Problem]
) -> None:
    imported = read_ssda903(rich(tmp_path, **{file: changed(RICH[file])}), LOCALITY)
    assert imported.problems == expected
    left_out = {p.child for p in expected if p.child}
    assert set(imported.children) == EVERY_CHILD - left_out
    assert imported.children  # the others are imported


def test_a_spreadsheets_byte_order_mark_is_no_part_of_the_first_column(tmp_path: Path) -> None:
    root = rich(tmp_path)
    header = root / LAST_YEAR.label / "header.csv"
    header.write_bytes(b"\xef\xbb\xbf" + header.read_bytes())
    imported = read_ssda903(root, LOCALITY)
    assert imported.problems == []
    assert set(imported.children) == EVERY_CHILD


def test_a_return_without_its_header_imports_no_one(tmp_path: Path) -> None:
    (tmp_path / "episodes.csv").write_text("\r\n".join(RICH["episodes.csv"]))
    imported = read_ssda903(tmp_path, LOCALITY)
    assert imported.children == {}
    assert imported.problems == [
        Problem(str(tmp_path), 0, "", "no header.csv: the Header is required")
    ]
