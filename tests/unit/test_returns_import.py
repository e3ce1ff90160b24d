"""Importing past returns, the part common to both readers (deploy/returns/importing.py, no
I/O): several returns merged by child, each command once and in its day's order; a child with
a problem in any return imported from none; idempotency keys made from content alone; a history
a service would refuse half-way reported at the row of the command refused, before anything is
sent."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from deploy.demo.county import plan
from deploy.demo.journey import Step
from deploy.returns.import_returns import read
from deploy.returns.importing import (
    Dated,
    ImportPlan,
    Problem,
    idempotency_key,
    keyed,
    merged,
    rehearsed,
)
from deploy.returns.rehearsal import records_from_steps
from services.projections.returns import cin_census, ssda903
from services.projections.returns.facts import ChildRecord, CollectionYear

TODAY = date(2026, 12, 1)
THIS_YEAR = CollectionYear.of(TODAY)


def registration(child: str, born: str = "2012-02-01", file: str = "header.csv") -> Dated:
    body = {"child_id": child, "date_of_birth": born, "locality": "Exeter"}
    return Dated(date(1900, 1, 1), Step("case_events", "/children", body), file, 2)


def characteristics(child: str, on: str, line: int, file: str = "header.csv") -> Dated:
    body = {"recorded_on": on, "sex": "1", "ethnicity": "WBRI", "disabilities": ["NONE"]}
    step = Step("case_events", f"/children/{child}/characteristics", body)
    return Dated(date.fromisoformat(on), step, file, line)


def test_returns_are_merged_by_child_each_command_once_in_the_order_of_its_day() -> None:
    ssda903 = ImportPlan(
        children={
            "CH1": [registration("CH1"), characteristics("CH1", "2025-06-01", 2)],
        },
        rows=1,
    )
    cin = ImportPlan(
        children={
            "CH1": [
                registration("CH1", file="cin.xml"),
                characteristics("CH1", "2024-05-01", 9, "cin.xml"),
                characteristics("CH1", "2025-06-01", 10, "cin.xml"),  # the same fact again
            ],
            "CH2": [registration("CH2", file="cin.xml")],
        },
        rows=2,
    )
    plan = merged([ssda903, cin])
    assert plan.rows == 3
    c1 = plan.children["CH1"]
    assert [(d.file, d.step.path) for d in c1] == [
        ("header.csv", "/children"),  # registered once, by the first return
        ("cin.xml", "/children/CH1/characteristics"),
        ("header.csv", "/children/CH1/characteristics"),
    ]
    assert [d.day for d in c1] == sorted(d.day for d in c1)
    assert set(plan.children) == {"CH1", "CH2"}


def test_a_child_known_before_birth_to_one_return_is_registered_unborn_then_born() -> None:
    """The census knew the child before birth (a referral then); SSDA903 registers them born:
    they are registered unborn, and born on the day SSDA903 gives."""
    unborn = Step(
        "case_events",
        "/unborn-children",
        {"child_id": "CH1", "expected_date_of_birth": "2020-03-01", "locality": "Exeter"},
    )
    cin = ImportPlan(children={"CH1": [Dated(date(1900, 1, 1), unborn, "cin.xml", 5)]})
    ssda903 = ImportPlan(children={"CH1": [registration("CH1", born="2020-02-20")]})
    [first, born] = merged([ssda903, cin]).children["CH1"]
    assert first.step is unborn
    assert (born.step.path, born.step.body) == (
        "/children/CH1/births",
        {"date_of_birth": "2020-02-20"},
    )


def test_returns_that_disagree_on_the_date_of_birth_import_neither() -> None:
    plan = merged(
        [
            ImportPlan(children={"CH1": [registration("CH1", born="2012-02-01")]}),
            ImportPlan(children={"CH1": [registration("CH1", born="2012-02-02", file="cin.xml")]}),
        ]
    )
    assert plan.children == {}
    [problem] = plan.problems
    assert str(problem) == (
        "cin.xml:2: date of birth: born 2012-02-02 here, 2012-02-01 in header.csv:2"
    )


def test_the_idempotency_key_never_holds_a_upn() -> None:
    """A key outlives an erasure: it names the personal fields, never their values."""
    upn = "A950000178301"
    registered = registration("CH1").step
    with_upn = Step("case_events", "/children", {**registered.body, "personal": {"upn": upn}})
    details = Step("case_events", "/children/CH1/personal-details", {"upn": upn})
    other = Step("case_events", "/children/CH1/personal-details", {"upn": "B950000178301"})
    assert idempotency_key(details) == idempotency_key(other)
    assert idempotency_key(with_upn) != idempotency_key(registered)
    assert upn not in keyed(with_upn) and upn not in keyed(details)


def test_a_child_with_a_problem_in_one_return_is_imported_from_none() -> None:
    problem = Problem("cin.xml", 12, "CINreferralDate", "not a date", "CH1")
    plan = merged(
        [
            ImportPlan(children={"CH1": [registration("CH1")], "CH2": [registration("CH2")]}),
            ImportPlan(problems=[problem]),
        ]
    )
    assert set(plan.children) == {"CH2"}
    assert plan.problems == [problem]
    assert str(problem) == "cin.xml:12: CINreferralDate: not a date"


def test_the_idempotency_key_is_the_commands_content() -> None:
    a = characteristics("CH1", "2025-06-01", 2).step
    same = characteristics("CH1", "2025-06-01", 40, "other.csv").step
    other = characteristics("CH1", "2025-06-02", 2).step
    assert idempotency_key(a) == idempotency_key(same)
    assert idempotency_key(a) != idempotency_key(other)
    assert idempotency_key(a).startswith("import-")


def test_a_history_a_service_would_refuse_is_reported_at_its_row_and_none_of_it_sent() -> None:
    bad = Dated(
        date(2025, 1, 1),
        Step("case_events", "/children/CH1/characteristics", {"recorded_on": "2025-01-01"}),
        "header.csv",
        7,
    )
    plan = rehearsed(
        ImportPlan(
            children={
                "CH1": [registration("CH1"), bad],
                "CH2": [registration("CH2"), characteristics("CH2", "2025-06-01", 3)],
            }
        ),
        TODAY,
    )
    assert set(plan.children) == {"CH2"}
    [problem] = plan.problems
    assert (problem.file, problem.line, problem.child) == ("header.csv", 7, "CH1")
    assert problem.field in {"sex", "ethnicity", "disabilities"}


def test_a_command_before_the_childs_registration_is_refused() -> None:
    early = characteristics("CH3", "2025-06-01", 4)
    plan = rehearsed(ImportPlan(children={"CH3": [early, registration("CH3")]}), TODAY)
    assert plan.children == {}
    assert [(p.line, p.child) for p in plan.problems] == [(4, "CH3")]
    assert "no record" in plan.problems[0].reason


def test_neither_returns_characteristics_erase_what_the_other_said() -> None:
    """Each recording replaces the last: SSDA903 says asylum status, the CIN census says
    disabilities; each recording keeps what the other return said before it."""

    def recorded(on: str, file: str, **said: object) -> Dated:
        body = {"recorded_on": on, "sex": "1", "ethnicity": "WBRI", **said}
        step = Step("case_events", "/children/CH1/characteristics", body)
        return Dated(date.fromisoformat(on), step, file, 2)

    plan = merged(
        [
            ImportPlan(
                children={
                    "CH1": [registration("CH1"), recorded("2025-05-01", "header.csv", mother=True)]
                }
            ),
            ImportPlan(
                children={
                    "CH1": [
                        recorded("2024-01-01", "cin.xml", disabilities=["AUT"]),
                        recorded("2026-01-01", "cin.xml", disabilities=["NONE"]),
                    ]
                }
            ),
        ]
    )
    bodies = [d.step.body for d in plan.children["CH1"][1:]]
    assert [(b["recorded_on"], b.get("disabilities"), b.get("mother")) for b in bodies] == [
        ("2024-01-01", ["AUT"], None),
        ("2025-05-01", ["AUT"], True),
        ("2026-01-01", ["NONE"], True),
    ]


# -- both returns, merged: the round trip in memory ----------------------------------------


def test_both_returns_of_two_years_imported_together_export_the_same(tmp_path: Path) -> None:
    """A demo county's SSDA903 (this year's and last year's) and CIN census (both years),
    written as a council keeps them, read back by the import (`read`: merged by child,
    rehearsed), decided, and exported again: every file the same (what the e2e round trip
    shows through the real services)."""
    work = plan(7, 0.05, TODAY)
    records, upns = records_from_steps(
        (s for j in work.journeys + work.later for s in j.steps), TODAY
    )
    before = written(records, upns, tmp_path / "before")
    imported = rehearsed(read(tmp_path / "before", "Exeter"), TODAY)
    assert imported.problems == []
    steps = [d.step for dated in imported.children.values() for d in dated]
    again, again_upns = records_from_steps(steps, TODAY)
    after = written(again, again_upns, tmp_path / "after")
    assert set(after) == set(before)
    for name, content in before.items():
        assert after[name] == content, name


def written(records: list[ChildRecord], upns: dict[str, str], into: Path) -> dict[str, str]:
    """SSDA903 of this year and last in their folders, and each year's CIN census."""
    for year in (THIS_YEAR, THIS_YEAR.previous):
        folder = into / year.label
        folder.mkdir(parents=True)
        tables = ssda903.ssda903(records, year, upns, TODAY)
        for name, text in ssda903.files(tables).items():
            (folder / name).write_text(text)
        census = cin_census.cin_census(records, year, upns, "878")
        (into / f"cin-census-{year.label}.xml").write_bytes(census.xml)
    return {str(p.relative_to(into)): p.read_text() for p in sorted(into.rglob("*.*"))}
