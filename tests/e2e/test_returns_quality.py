"""The returns' live data-quality board through the running platform (real Kafka and
PostgreSQL, the DfE's validators in .venv-returns): faults the domain accepts but the DfE's
rules reject are recorded through the public APIs, the board reports exactly those rules for
exactly those children (with the worker allocated), and the facts that mend them take them off.
How long each took, from the recording's answer to the board, is printed: the bound the board
is held to is measured here (the assertions are of outcomes, not of timings).

    flock /tmp/csp-tests.lock .venv/bin/python -m pytest tests/e2e/test_returns_quality.py \\
        -x -q -p no:cacheprovider -s    (-s: the measured delays)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from deploy.returns.rulesets import name_of
from services.projections.returns.facts import CollectionYear
from services.projections.returns.quality import DEFAULT_VALIDATORS
from services.projections.returns.rules import NOT_YET
from shared.settings import Settings
from tests.e2e.conftest import Platform
from tests.e2e.journey import Practitioner
from tests.infrastructure import HTTP, OPERATIONS, auth, platform_today, poll_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.e2e,
    pytest.mark.skipif(not DEFAULT_VALIDATORS.exists(), reason="no .venv-returns (make install)"),
]
OWN_PLATFORM = True  # the returns' quality board counts every child of the platform
PLATFORM_SETTINGS = {"CSP_RETURNS_CHECK": "true"}  # the board this module tests

TODAY = platform_today()
MANAGER = auth("manager", user="tm-quality")
WORKER, TEAM = "SW-0001", "T-EX-CIN"  # tests/reference_data.py
DEADLINE_S = 120.0
Rule = tuple[str, str]  # (return, rule)


def ago(days: int) -> str:
    return (TODAY - timedelta(days=days)).isoformat()


def weekday_ago(days: int) -> str:
    """A working day about `days` ago (an initial conference is never at a weekend: 8875)."""
    day = TODAY - timedelta(days=days)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day.isoformat()


@dataclass
class Planted:
    """A child recorded with a fault: the rules the board should name, and the facts that
    mend it."""

    child: str
    rules: set[Rule]
    mend: Callable[[], object]
    # Phase -> when its last fact's answer came (time.monotonic(), and the wall clock's).
    recorded: dict[str, float] = field(default_factory=lambda: {"found": time.monotonic()})
    recorded_at: dict[str, datetime] = field(default_factory=lambda: {"found": datetime.now(UTC)})
    seen: dict[str, float] = field(default_factory=dict)  # phase -> when the board agreed


def outcome_of(outcome: str, need: str | None) -> dict[str, Any]:
    """A referral's outcome, with the primary need it was accepted for if given."""
    return {"outcome": outcome, **({"primary_need": need} if need else {})}


class Recorder(Practitioner):
    """Records a child's facts through the public APIs, as a practitioner."""

    def new_child(self, born: str, locality: str = "Exeter") -> str:
        # Letters and digits only: the CIN census's LAchildID takes nothing else (rule 1580).
        child = f"Q{uuid.uuid4().hex[:12].upper()}"
        body = {"child_id": child, "date_of_birth": born, "locality": locality}
        self.post("case_events", "/children", body)
        self.child(
            "case_events",
            child,
            "/social-worker-allocations",
            allocated_on=ago(40),
            worker_id=WORKER,
            team_id=TEAM,
            reason="FCONTA",
        )
        return child

    def characteristics(self, child: str, sex: str, on: int = 39, **more: Any) -> None:
        self.child(
            "case_events",
            child,
            "/characteristics",
            recorded_on=ago(on),
            sex=sex,
            ethnicity="WBRI",
            disabilities=["NONE"],
            **more,
        )

    def in_care(self, child: str) -> None:
        self.child(
            "case_events",
            child,
            "/periods-of-care",
            start_date=ago(20),
            legal_status="C2",
            home_postcode="EX4",
            category_of_need="N1",
        )
        self.child(
            "case_events", child, "/previous-permanence", recorded_on=ago(20), arrangement="Z1"
        )

    def placed(self, child: str) -> None:
        self.wait_known(child, ("accommodation",))
        self.child(
            "accommodation",
            child,
            "/placements",
            placement_id=f"PL-{child}",
            start_date=ago(20),
            placement_type="U4",
            provider="PR1",
            in_council_area=True,
            postcode="EX2",
            urn="SC123456",
        )

    def referred(self, child: str, outcome: str, need: str | None, days: int = 45) -> None:
        self.child(
            "case_events",
            child,
            "/referrals",
            referral_id=f"R-{child}",
            referral_date=ago(days),
            source="1A",
        )
        self.child(
            "case_events",
            child,
            "/referral-outcomes",
            referral_id=f"R-{child}",
            decided_on=ago(days - 1),
            **outcome_of(outcome, need),
        )

    def assessed(self, child: str, name: str, started: int, done: int, factors: list[str]) -> None:
        self.child(
            "case_events", child, "/assessments", assessment_id=name, start_date=ago(started)
        )
        self.child(
            "case_events",
            child,
            "/assessment-completions",
            assessment_id=name,
            completion_date=ago(done),
            factors=factors,
            primary_need="N1",
        )


def plant(rec: Recorder) -> list[Planted]:
    """Children whose records break the DfE's rules only where planted (a clean one beside)."""
    planted: list[Planted] = []
    three = ago(3 * 365 + 30)  # under school age: no UPN is asked for (UN1)

    # SSDA903 393: a girl looked after whose motherhood was never recorded.
    girl = rec.new_child(three)
    rec.characteristics(girl, "2")
    rec.in_care(girl)
    rec.placed(girl)
    mended: dict[str, Any] = {"on": 1, "mother": False}  # recorded again: not a mother
    planted.append(
        Planted(girl, {("ssda903", "393")}, lambda: rec.characteristics(girl, "2", **mended))
    )

    # SSDA903 526 (no placement provider), 392b (no placement postcode), 218 (no URN): a child
    # in care with no placement recorded; mended in another service (accommodation).
    unplaced = rec.new_child(three)
    rec.characteristics(unplaced, "1")
    rec.in_care(unplaced)
    planted.append(
        Planted(
            unplaced,
            {("ssda903", "526"), ("ssda903", "392b"), ("ssda903", "218")},
            lambda: rec.placed(unplaced),
        )
    )

    # CIN census 8610: a referral that led to an assessment, with no primary need recorded;
    # mended by the assessment that finds one.
    needless = rec.new_child(three)
    rec.characteristics(needless, "1")
    rec.referred(needless, "assessment", None)
    planted.append(
        Planted(
            needless,
            {("cin", "8610")},
            lambda: rec.assessed(needless, f"A-{needless}", 30, 10, ["2A"]),
        )
    )

    # CIN census 2885 and 8675Q: a child protection plan with no initial conference; mended by
    # the conference's recording.
    unconferenced = rec.new_child(three)
    rec.characteristics(unconferenced, "2")
    rec.referred(unconferenced, "s47", "N1", days=40)
    rec.assessed(unconferenced, f"A-{unconferenced}", 38, 25, ["2A"])
    rec.child(
        "case_events",
        unconferenced,
        "/strategy-discussions",
        discussion_id=f"SD-{unconferenced}",
        discussion_date=ago(38),
        section_47_enquiry=True,
    )
    rec.child(
        "case_events",
        unconferenced,
        "/section-47-outcomes",
        discussion_id=f"SD-{unconferenced}",
        concluded_on=ago(32),
        outcome="icpc",
    )
    conference = weekday_ago(30)
    rec.child(
        "case_events",
        unconferenced,
        "/child-protection-plans",
        plan_id=f"CP-{unconferenced}",
        category="NEG",
        start_date=conference,
    )
    planted.append(
        Planted(
            unconferenced,
            {("cin", "2885"), ("cin", "8675Q")},
            lambda: rec.child(
                "case_events",
                unconferenced,
                "/initial-child-protection-conferences",
                conference_date=conference,
                plan_required=True,
            ),
        )
    )

    # CIN census 8873Q: the only assessment found no factors ("21"), then a child in need
    # plan; mended by a second assessment that found some.
    no_factors = rec.new_child(three)
    rec.characteristics(no_factors, "1")
    rec.referred(no_factors, "assessment", "N1")
    rec.assessed(no_factors, f"A-{no_factors}", 43, 25, ["21"])
    rec.child(
        "case_events",
        no_factors,
        "/child-in-need-plans",
        plan_id=f"CIN-{no_factors}",
        start_date=ago(24),
        primary_need="N1",
    )
    planted.append(
        Planted(
            no_factors,
            {("cin", "8873Q")},
            lambda: rec.assessed(no_factors, f"B-{no_factors}", 15, 5, ["2A"]),
        )
    )

    # A clean child in need beside them: never on the board.
    clean = rec.new_child(three)
    rec.characteristics(clean, "1")
    rec.referred(clean, "assessment", "N1")
    rec.assessed(clean, f"A-{clean}", 43, 25, ["2A"])
    planted.append(Planted(clean, set(), lambda: None))
    return planted


def council_board(platform: Platform) -> dict[str, Any]:
    r = HTTP.get(
        f"{platform.projections.url}/returns/quality",
        params={"view": "council"},
        headers=MANAGER,
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert r.headers["x-audit-id"]  # a person-level read, audited
    body: dict[str, Any] = r.json()
    return body


def reported(board: dict[str, Any], children: set[str]) -> dict[str, set[Rule]]:
    """The rules the board names for these children, the known gaps (rules.NOT_YET) aside."""
    found: dict[str, set[Rule]] = {}
    for issue in board["issues"]:
        kind, rule = issue["return"], issue["rule"]
        if issue["child_id"] in children and rule not in NOT_YET[kind]:
            assert issue["known"] is None
            found.setdefault(issue["child_id"], set()).add((kind, rule))
    return found


def wait_for(
    platform: Platform, planted: list[Planted], phase: str, expected: Callable[[Planted], set[Rule]]
) -> dict[str, Any]:
    """Poll the board (deadline, no bare sleep) until each child's rules are as expected,
    noting when each first was; the last board read."""
    children = {p.child for p in planted}
    deadline = time.monotonic() + DEADLINE_S
    while True:
        board = council_board(platform)
        now = time.monotonic()
        found = reported(board, children)
        for p in planted:
            if phase not in p.seen and found.get(p.child, set()) == expected(p):
                p.seen[phase] = now
        if all(phase in p.seen for p in planted):
            return board
        if now > deadline:
            pytest.fail(
                f"{phase}: after {DEADLINE_S}s the board names "
                f"{ {p.child: sorted(found.get(p.child, set())) for p in planted} }, expected "
                f"{ {p.child: sorted(expected(p)) for p in planted} } (waiting: {board['waiting']})"
            )
        time.sleep(0.1)  # the next poll


def delays(planted: list[Planted], phase: str) -> list[float]:
    """From each fault's (or mend's) last answer to the first poll that saw the board agree:
    an upper bound (the polls are 0.1 s apart, and the children recorded one after another,
    a child's first poll waits for the others' recordings)."""
    return [p.seen[phase] - p.recorded[phase] for p in planted if p.rules]


def written(planted: list[Planted], board: dict[str, Any]) -> list[float]:
    """From each fault's last answer to the checker's write that put it on the board (the
    issue's found_at, the database's clock; the same machine's as the test's)."""
    found: dict[str, datetime] = {}
    for issue in board["issues"]:
        at = datetime.fromisoformat(issue["found_at"])
        child = issue["child_id"]
        if child and issue["known"] is None:
            found[child] = min(found.get(child, at), at)
    return [(found[p.child] - p.recorded_at["found"]).total_seconds() for p in planted if p.rules]


def measured(platform: Platform) -> str:
    """The checker's metrics: from a child's first touch to its check written, and a batch's
    check, as the worker measured them (count, mean, and the buckets)."""
    text = OPERATIONS.get(f"{platform.projections_worker.url}/metrics", timeout=30).text
    said = []
    for name in ("csp_returns_quality_delay_seconds", "csp_returns_quality_check_seconds"):
        values = {
            line.split(" ")[0]: float(line.split(" ")[1])
            for line in text.splitlines()
            if line.startswith(name)
        }
        count, total = values.get(f"{name}_count", 0.0), values.get(f"{name}_sum", 0.0)
        buckets = {
            k.split('le="')[1].rstrip('"}'): int(v)
            for k, v in values.items()
            if "_bucket" in k and v
        }
        mean = total / count if count else 0.0
        said.append(f"{name}: {int(count)}, mean {mean:.2f}s, cumulative {buckets}")
    return "; ".join(said)


def threshold(platform: Platform) -> int:
    """The small-number threshold the platform's API runs with (its setting, else the
    default)."""
    default = Settings.model_fields["small_number_threshold"].default
    return int(platform.projections.env.get("CSP_SMALL_NUMBER_THRESHOLD", default))


def shown_or_hidden(count: int | None, limit: int) -> bool:
    """A partnership count is hidden (None), none (0), or at least the threshold."""
    return count is None or count == 0 or count >= limit


def partnership_names_nobody(platform: Platform, planted: list[Planted]) -> None:
    """The partnership view while the faults are on the board: every rule planted is counted
    (or its count hidden), no count from 1 to the threshold's less one is shown, and no
    child, worker or issue row is named."""
    police = auth("partner", "police")
    r = HTTP.get(f"{platform.projections.url}/returns/quality", headers=police, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["view"] == "partnership" and "issues" not in body
    limit = threshold(platform)
    rules = {(rule["return"], rule["rule"]): rule for rule in body["rules"]}
    assert set().union(*(p.rules for p in planted)) <= set(rules)  # never vacuous
    for rule in body["rules"]:
        assert rule["suppressed"] == (rule["children"] is None)
        assert shown_or_hidden(rule["children"], limit), rule
        assert all(shown_or_hidden(n, limit) for n in rule["localities"].values()), rule
    assert shown_or_hidden(body["children"]["county"], limit)
    assert "worker_id" not in r.text and WORKER not in r.text
    assert not [p.child for p in planted if p.child in r.text]


PLANTED: list[Planted] = []  # the children the first test recorded (for the later ones)


@pytest.fixture(scope="module")
def board_ready(platform: Platform) -> None:
    """The worker's checker has checked the (empty) county once: the validators run."""

    def checked() -> bool:
        r = HTTP.get(f"{platform.projections.url}/returns/quality", headers=MANAGER, timeout=30)
        return r.status_code == 200 and r.json()["county_checked_at"] is not None

    poll_until(checked, DEADLINE_S, 0.2, "the first check of the county")


def test_a_fault_is_on_the_board_and_its_mending_takes_it_off(
    platform: Platform, board_ready: None
) -> None:
    planted = plant(Recorder(platform))
    PLANTED[:] = planted
    board = wait_for(platform, planted, "found", lambda p: p.rules)
    partnership_names_nobody(platform, planted)

    # Each with the worker allocated, who can put it right, and its locality.
    by_child = {i["child_id"]: i for i in board["issues"] if i["child_id"]}
    for p in planted:
        if p.rules:
            assert (by_child[p.child]["worker_id"], by_child[p.child]["locality"]) == (
                WORKER,
                "Exeter",
            )
    # The collection year as at today: the import's day, or a day on if midnight has passed.
    years = {CollectionYear.of(d).start_year for d in (TODAY, platform_today())}
    assert board["year"] in years
    # Which rules checked each return: the year's own, or the newest until they are out.
    for kind, prefix in (("ssda903", "lac"), ("cin", "cin")):
        run = board["validators"][f"{kind} rules"]
        own = name_of(prefix, board["year"])
        assert run == own or run.endswith(f", standing in for {own}"), run

    for p in planted:
        p.mend()
        p.recorded["mended"] = time.monotonic()
    wait_for(platform, planted, "mended", lambda p: set())

    # Once nothing waits (every touch checked), every child is clean, the one never planted
    # with a fault too (a poll before its check would have seen it clean for nothing).
    poll_until(lambda: council_board(platform)["waiting"] == 0, DEADLINE_S, 0.2, "nothing waiting")
    assert reported(council_board(platform), {p.child for p in planted}) == {}

    found, by_write, mended = (
        delays(planted, "found"),
        written(planted, board),
        delays(planted, "mended"),
    )
    print(
        "\nreturns quality board, seconds from a recording's answer to the board:"
        f"\n  a fault written on it {sorted(round(d, 2) for d in by_write)}"
        f"\n  a fault seen by a poll {sorted(round(d, 2) for d in found)}"
        f"\n  a mend seen by a poll {sorted(round(d, 2) for d in mended)}"
        f"\n  the worker's own {measured(platform)}"
    )


def test_the_partnership_view_counts_children_and_names_nobody(
    platform: Platform, board_ready: None
) -> None:
    police = auth("partner", "police")
    r = HTTP.get(f"{platform.projections.url}/returns/quality", headers=police, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["view"] == "partnership" and "issues" not in body
    assert "worker_id" not in r.text and WORKER not in r.text
    limit = threshold(platform)
    for rule in body["rules"]:  # (the faults mended by now: the counts are checked above)
        assert rule["suppressed"] == (rule["children"] is None)
        assert shown_or_hidden(rule["children"], limit), rule
    assert not [p.child for p in PLANTED if p.child in r.text]
    council = HTTP.get(
        f"{platform.projections.url}/returns/quality",
        params={"view": "council"},
        headers=police,
        timeout=30,
    )
    assert council.status_code == 403


def test_the_page_shows_the_board(platform: Platform, board_ready: None) -> None:
    for view in ("partnership", "council"):
        r = HTTP.get(
            f"{platform.projections.url}/dashboard/data-quality",
            params={"view": view},
            headers=MANAGER,
            timeout=30,
        )
        assert r.status_code == 200, r.text
        assert "Data quality of the statutory returns" in r.text
        assert ("x-audit-id" in r.headers) == (view == "council")
