"""A synthetic county, loaded through the services' public command APIs.

    python -m deploy.demo.county [--seed 7] [--scale 1.0] [--base-port 8000]

Deterministic from the seed (and the end date, default today): about two years of history
for the children a large shire council's children's services know (at scale 1: 5,000 children
in need, 650 on child protection plans, 850 in care, 700 care leavers), in five localities,
with early-help triage, IRO escalations, risk ratings and dip samples, and register feeds.
It shows the patterns the boards are for: plans that drift past 9 months, care leavers whose
accommodation turns unsuitable, NEET spells, attendance that recovers over weeks, escalations
raised and resolved. Every command carries an idempotency key, so a load that is interrupted
can simply be run again. `make run` loads it on first start.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from shared.auth import LocalIssuer

# Where `make run` keeps its state (deploy/local/stack.py), unless CSP_STATE_DIR says otherwise.
LOCAL_RUN = Path(__file__).resolve().parents[2] / ".local" / "run"
LOCALITIES = ["Exeter", "North", "East", "South", "Mid and West"]
PORTS = {"case_events": 1, "accommodation": 2, "education": 3, "escalations": 4}
# The school whose register feeds the demo sends: every school-age child on a child protection
# plan or in care is on its roll for the feeds' ten weeks (a feed may mark only its pupils).
DEMO_SCHOOL = "113254"
SCHOOL_AGES = range(5, 16)
GIVEN_NAMES = [
    "Alex",
    "Amara",
    "Charlie",
    "Freya",
    "Harry",
    "Isla",
    "Jayden",
    "Kai",
    "Leah",
    "Maya",
    "Noah",
    "Oliver",
    "Poppy",
    "Riley",
    "Sami",
    "Tyler",
    "Zara",
]
FAMILY_NAMES = [
    "Ashworth",
    "Bennett",
    "Carter",
    "Dawlish",
    "Evans",
    "Fowler",
    "Hughes",
    "Kowalski",
    "Mensah",
    "Nowak",
    "Okafor",
    "Pascoe",
    "Quinn",
    "Trelawny",
]


@dataclass
class Step:
    service: str
    path: str
    body: dict[str, Any]


@dataclass
class Journey:
    key: str
    steps: list[Step] = field(default_factory=list)

    def add(self, service: str, path: str, **body: Any) -> None:
        self.steps.append(Step(service, path, {k: _json(v) for k, v in body.items()}))


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


class County:
    def __init__(self, seed: int, scale: float, end: date) -> None:
        self.rng = random.Random(seed)
        self.seed, self.scale, self.end = seed, scale, end
        self.start = end - timedelta(days=730)
        self.n = 0

    def day(self, after: date, within: int) -> date:
        """A day after `after`, at most `within` days later, never after the end."""
        return min(after + timedelta(days=self.rng.randint(1, max(1, within))), self.end)

    def child(self, journey: Journey, age_from: int, age_to: int) -> tuple[str, date, str]:
        self.n += 1
        child_id = f"DC-{self.seed}-{self.n:06d}"
        dob = self.end - timedelta(days=self.rng.randint(age_from * 365, age_to * 365))
        locality = self.rng.choice(LOCALITIES)
        names = random.Random(f"{self.seed}-{self.n}")  # apart: the journeys stay as they were
        journey.add(
            "case_events",
            "/children",
            child_id=child_id,
            date_of_birth=dob,
            locality=locality,
            personal={  # invented names, sealed by the service
                "given_names": names.choice(GIVEN_NAMES),
                "family_name": names.choice(FAMILY_NAMES),
            },
        )
        return child_id, dob, locality

    def count(self, n: int) -> int:
        return max(1, round(n * self.scale))

    # -- journeys ---------------------------------------------------------------------------

    def children_in_need(self) -> Iterator[Journey]:
        for _ in range(self.count(5000)):
            j = Journey(f"cin-{self.n}")
            cid, dob, _ = self.child(j, 1, 17)
            c = f"/children/{cid}"
            referred = self.day(max(self.start, dob), 600)
            j.add(
                "case_events",
                f"{c}/referrals",
                referral_id=f"R{self.n}",
                referral_date=referred,
                source=self.rng.choice(["1A", "2A", "3A", "3B", "5D", "6", "6", "8"]),
            )
            j.add(
                "case_events", f"{c}/assessments", assessment_id=f"A{self.n}", start_date=referred
            )
            done = self.day(referred, 60)
            j.add(
                "case_events",
                f"{c}/assessment-completions",
                assessment_id=f"A{self.n}",
                completion_date=done,
            )
            j.add(
                "case_events",
                f"{c}/child-in-need-plans",
                plan_id=f"CIN{self.n}",
                start_date=done,
                primary_need=self.rng.choice(["N1", "N2", "N3", "N4", "N5"]),
            )
            if self.rng.random() < 0.4 and (self.end - done).days > 100:
                j.add(
                    "case_events",
                    f"{c}/child-in-need-plan-endings",
                    plan_id=f"CIN{self.n}",
                    end_date=self.day(done, 300),
                    reason="RC7",
                )
            self.rating(j, cid, done, ["GREEN"] * 6 + ["AMBER"] * 3 + ["RED"])
            yield j

    def child_protection(self) -> Iterator[Journey]:
        for _ in range(self.count(650)):
            j = Journey(f"cp-{self.n}")
            cid, dob, _ = self.child(j, 0, 16)
            c = f"/children/{cid}"
            discussed = self.day(max(self.start, dob), 650)
            j.add(
                "case_events",
                f"{c}/strategy-discussions",
                discussion_id=f"SD{self.n}",
                discussion_date=discussed,
                section_47_enquiry=True,
            )
            conference = self.day(discussed, 20)
            j.add(
                "case_events",
                f"{c}/initial-child-protection-conferences",
                conference_date=conference,
                plan_required=True,
            )
            plan = f"CP{self.n}"
            j.add(
                "case_events",
                f"{c}/child-protection-plans",
                plan_id=plan,
                category=self.rng.choice(["NEG", "NEG", "NEG", "EMO", "PHY", "SAB", "MUL"]),
                start_date=conference,
            )
            last, review = conference, conference + timedelta(days=88)
            while review < self.end and self.rng.random() < 0.85:
                j.add(
                    "case_events",
                    f"{c}/child-protection-plan-reviews",
                    plan_id=plan,
                    review_date=review,
                )
                last, review = review, review + timedelta(days=180)
            if self.rng.random() < 0.5 and (self.end - conference).days > 200:
                j.add(
                    "case_events",
                    f"{c}/child-protection-plan-endings",
                    plan_id=plan,
                    end_date=self.day(last, 120),
                )  # the rest drift on
            elif self.rng.random() < 0.2:
                j.add("case_events", f"{c}/pre-proceedings", entered_on=self.day(last, 60))
            self.rating(j, cid, conference, ["RED"] * 4 + ["AMBER"] * 5 + ["GREEN"])
            age = (self.end - dob).days // 365
            if age in SCHOOL_AGES:  # last, so the journey's earlier steps keep their keys
                j.add(
                    "education",
                    f"{c}/enrolments",
                    enrolment_id=f"EN{self.n}",
                    school_urn=DEMO_SCHOOL,
                    school_in_council_area=True,
                    start_date=self.end - timedelta(days=300),
                    year_group=age - 5,
                )
            yield j

    def in_care(self) -> Iterator[Journey]:
        for _ in range(self.count(850)):
            j = Journey(f"cic-{self.n}")
            cid, dob, _ = self.child(j, 1, 17)
            c = f"/children/{cid}"
            start = self.day(max(self.start, dob), 500)
            j.add(
                "case_events",
                f"{c}/periods-of-care",
                start_date=start,
                legal_status=self.rng.choice(["C2", "C2", "C1", "V2", "E1"]),
            )
            kinds = ["U4", "U6", "U6", "U1", "U3", "K2", "K2"]
            if (start - dob).days > 16 * 365:
                kinds += ["H5", "K3", "P2"]
            j.add(
                "accommodation",
                f"{c}/placements",
                placement_id=f"PL{self.n}-0",
                start_date=start,
                placement_type=self.rng.choice(kinds),
                provider=self.rng.choice(["PR1", "PR1", "PR4", "PR5"]),
                in_council_area=self.rng.random() < 0.7,
            )
            moved = start
            for move in range(1, self.rng.choice([1, 1, 1, 2, 2, 3])):
                moved = self.day(moved, 200)
                if moved >= self.end:
                    break
                j.add(
                    "accommodation",
                    f"{c}/placement-changes",
                    placement_id=f"PL{self.n}-{move}",
                    start_date=moved,
                    placement_type=self.rng.choice(kinds),
                    provider="PR1",
                    in_council_area=True,
                    reason=self.rng.choice(["CARPL", "CHILD", "PLACE"]),
                )
            review = start + timedelta(days=25)
            if review < self.end:
                j.add("case_events", f"{c}/looked-after-reviews", review_date=review)
            if self.rng.random() < 0.8:
                j.add(
                    "case_events",
                    f"{c}/permanence-plans",
                    recorded_on=self.day(start, 120),
                    plan=self.rng.choice(
                        [
                            "long_term_fostering",
                            "adoption",
                            "sgo_or_cao",
                            "return_to_family",
                            "long_term_residential",
                        ]
                    ),
                )
            age = (self.end - dob).days // 365
            if 5 <= age <= 16:
                elsewhere = f"{100000 + self.rng.randint(1, 400):06d}"
                j.add(
                    "education",
                    f"{c}/enrolments",
                    enrolment_id=f"EN{self.n}",
                    # Starts at least 200 days before the end, before the register feeds.
                    school_urn=DEMO_SCHOOL if age in SCHOOL_AGES else elsewhere,
                    school_in_council_area=self.rng.random() < 0.8,
                    start_date=self.day(max(start, self.end - timedelta(days=300)), 30),
                    year_group=max(0, age - 5),
                )
                if self.rng.random() < 0.25:
                    j.add("education", f"{c}/ehcps", started_on=self.day(start, 200))
                if age == 16 and self.rng.random() < 0.74:
                    j.add(
                        "education",
                        f"{c}/year-11-confirmed-destinations",
                        recorded_on=self.day(self.end - timedelta(days=120), 100),
                        destination=self.rng.choice(["F2", "F2", "F4", "F5"]),
                    )
            self.rating(j, cid, start, ["AMBER"] * 5 + ["GREEN"] * 3 + ["RED"] * 2)
            yield j

    def care_leavers(self) -> Iterator[Journey]:
        for _ in range(self.count(700)):
            j = Journey(f"cl-{self.n}")
            cid, dob, _ = self.child(j, 17, 24)
            c = f"/children/{cid}"
            sixteen = dob + timedelta(days=16 * 365 + 5)
            status_on = max(sixteen, self.start - timedelta(days=400))
            j.add(
                "case_events",
                f"{c}/care-leaver-status",
                recorded_on=status_on,
                status=self.rng.choice(["relevant", "former_relevant", "former_relevant"]),
            )
            j.add(
                "case_events",
                f"{c}/personal-advisers",
                allocated_on=status_on,
                adviser_id=f"PA-{self.rng.randint(1, 60)}",
            )
            j.add(
                "case_events", f"{c}/health-passport-offers", offered_on=status_on, milestone="16"
            )
            if self.rng.random() < 0.6:
                j.add(
                    "case_events",
                    f"{c}/health-passport-acceptances",
                    accepted_on=self.day(status_on, 60),
                )
            plan = max(status_on, self.start)
            j.add("case_events", f"{c}/pathway-plans", created_on=plan)
            while (review := plan + timedelta(days=self.rng.randint(150, 230))) < self.end:
                j.add("case_events", f"{c}/pathway-plan-reviews", review_date=review)
                plan = review
            contact = max(status_on, self.end - timedelta(days=120))
            while (contact := contact + timedelta(days=self.rng.randint(7, 45))) < self.end:
                j.add(
                    "case_events",
                    f"{c}/contacts",
                    contact_date=contact,
                    in_touch="YES" if self.rng.random() < 0.85 else "NO",
                )
            moved_in = max(status_on, self.end - timedelta(days=500))
            letter = self.rng.choice(["T", "T", "S", "E", "B", "R", "D"])
            j.add(
                "accommodation",
                f"{c}/care-leaver-accommodation",
                recorded_on=moved_in,
                accommodation=letter,
                suitability="1",
            )
            if self.rng.random() < 0.15:  # accommodation turns unsuitable: priority cohort
                turned = self.day(moved_in, 300)
                j.add(
                    "accommodation",
                    f"{c}/suitability-reassessments",
                    reassessed_on=turned,
                    suitability="2",
                )
                j.add(
                    "case_events",
                    f"{c}/priority-cohort-flags",
                    set_on=turned,
                    reason="unsuitable_accommodation",
                )
            activity_on = max(sixteen, self.end - timedelta(days=400))
            for _spell in range(self.rng.choice([1, 2, 3])):  # NEET spells come and go
                j.add(
                    "education",
                    f"{c}/eet-activities",
                    recorded_on=activity_on,
                    activity=self.rng.choice(["F2", "F4", "F5", "P5", "G5", "G5", "G6", "F1"]),
                )
                activity_on = self.day(activity_on, 150)
                if activity_on >= self.end:
                    break
            self.rating(j, cid, max(status_on, self.start), ["GREEN"] * 5 + ["AMBER"] * 3 + ["RED"])
            yield j

    def rating(self, j: Journey, cid: str, on: date, choices: list[str]) -> None:
        rated = max(on, self.start)
        j.add(
            "escalations",
            f"/children/{cid}/risk-ratings",
            rated_on=rated,
            rating=self.rng.choice(choices),
        )
        if self.rng.random() < 0.3:  # a manager's dip sample; 87% agree
            agreed = self.rng.random() < 0.87
            j.add(
                "escalations",
                f"/children/{cid}/dip-samples",
                sampled_on=self.day(rated, 60),
                manager_id=f"TM-{self.rng.randint(1, 30)}",
                agreed=agreed,
                **(
                    {}
                    if agreed
                    else {
                        "moderated_to": "AMBER" if j.steps[-1].body["rating"] != "AMBER" else "RED"
                    }
                ),
            )

    def triage(self) -> Iterator[Journey]:
        day = self.start
        family = 0
        while day < self.end:
            if day.weekday() < 5:
                for _ in range(
                    self.rng.randint(3, 9)
                    if self.scale >= 1
                    else self.rng.randint(0, max(1, round(9 * self.scale)))
                ):
                    family += 1
                    j = Journey(f"fam-{family}")
                    j.add(
                        "case_events",
                        f"/families/FAM-{self.seed}-{family}/triage-discussions",
                        discussion_date=day,
                        locality=self.rng.choice(LOCALITIES),
                    )
                    yield j
            day += timedelta(days=1)

    def escalations(self, children: list[tuple[str, date]]) -> Iterator[Journey]:
        for i in range(self.count(280)):
            cid, since = self.rng.choice(children)
            j = Journey(f"esc-{i}")
            raised = self.day(max(since, self.start), 400)
            eid = f"IRO-{self.seed}-{i}"
            j.add(
                "escalations",
                "/escalations",
                escalation_id=eid,
                child_id=cid,
                raised_on=raised,
                raised_by=self.rng.choice(["IRO", "IRO", "CP_CHAIR"]),
                reason=self.rng.choice(
                    ["permanence_planning"] * 4
                    + ["drift_in_cp_plan", "pathway_plan_quality", "care_planning"]
                ),
            )
            if self.rng.random() < 0.4:
                j.add(
                    "escalations",
                    f"/escalations/{eid}/advancements",
                    advanced_on=self.day(raised, 20),
                    stage="formal",
                )
            if self.rng.random() < 0.75 and raised < self.end - timedelta(days=30):
                j.add(
                    "escalations",
                    f"/escalations/{eid}/resolutions",
                    resolved_on=self.day(raised + timedelta(days=20), 40),
                    resolution=self.rng.choice(["plan_changed", "agreed"]),
                )
            yield j


def register_feeds(county: County, pupils: list[str]) -> Iterator[Step]:
    """Ten weeks of register feeds in which attendance recovers, as in the seed's tables, from
    the demo school for its pupils (enrolled there from before the first)."""
    rng, end = county.rng, county.end
    days = [
        end - timedelta(days=d) for d in range(70, 0, -1) if (end - timedelta(days=d)).weekday() < 5
    ]
    for i, day in enumerate(days):
        rate = 0.35 + 0.55 * i / max(1, len(days) - 1)
        marks = [
            {
                "child_id": cid,
                "date": day.isoformat(),
                "session": session,
                "code": ("/" if session == "AM" else "\\")
                if rng.random() < rate
                else rng.choice(["N", "I", "O", "E"]),
            }
            for cid in pupils
            for session in ("AM", "PM")
        ]
        for at in range(0, len(marks), 10_000):
            yield Step(
                "education",
                "/attendance/register-feed",
                {"school_urn": DEMO_SCHOOL, "marks": marks[at : at + 10_000]},
            )


async def send(
    client: httpx.AsyncClient, url: str, step: Step, key: str, auth: dict[str, str]
) -> None:
    """Send one command until it is recorded; a transport error, the rate limit, or a child
    not yet known to another service is waited out (the idempotency key makes resending
    safe); any other refusal stops the load."""
    deadline = time.monotonic() + 600
    pause = 0.2
    while True:
        try:
            r = await client.post(url, json=step.body, headers={**auth, "Idempotency-Key": key})
        except httpx.TransportError:
            # E.g. the server closed an idle keep-alive connection as it was reused.
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)
            continue
        if r.status_code in (200, 201):
            return
        if r.status_code == 429 and time.monotonic() < deadline:  # over the rate limit
            await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
            continue
        # A child registered a moment ago may not be known to the other services yet.
        if r.status_code == 404 and step.service != "case_events" and time.monotonic() < deadline:
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)
            continue
        raise RuntimeError(f"{step.path}: {r.status_code} {r.text[:300]}")


async def load(
    base_port: int,
    seed: int,
    scale: float,
    end: date,
    auth: dict[str, str],
    concurrency: int = 24,
    urls: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Load the county through the APIs at `urls` (service -> base URL), by default the local
    stack's ports from `base_port`, as the user `auth` (its Authorization header) names;
    return what was loaded."""
    county = County(seed, scale, end)
    journeys = [
        *county.children_in_need(),
        *county.child_protection(),
        *county.in_care(),
        *county.care_leavers(),
    ]
    children = [
        (s.body["child_id"], date.fromisoformat(s.body["date_of_birth"]))
        for j in journeys
        for s in j.steps
        if s.path == "/children"
    ]
    county.rng.shuffle(journeys)
    # Escalations name children registered above: they run after every child is loaded, or
    # they could hold every slot waiting for children whose journeys cannot start.
    later = [*county.triage(), *county.escalations(children)]
    # The demo school's roll: its register feeds mark these children only.
    pupils = [
        s.path.split("/")[2]
        for j in journeys
        for s in j.steps
        if s.path.endswith("/enrolments") and s.body["school_urn"] == DEMO_SCHOOL
    ]
    feeds = list(register_feeds(county, pupils))
    total = sum(len(j.steps) for j in journeys + later) + len(feeds)
    done = 0
    started = time.monotonic()
    semaphore = asyncio.Semaphore(concurrency)
    urls = urls or {s: f"http://127.0.0.1:{base_port + p}" for s, p in PORTS.items()}

    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=64)) as client:

        async def post(step: Step, key: str) -> None:
            await send(client, f"{urls[step.service]}{step.path}", step, key, auth)

        async def run(journey: Journey) -> None:
            nonlocal done
            async with semaphore:
                for i, step in enumerate(journey.steps):
                    await post(step, f"demo-{seed}-{journey.key}-{i}")
                    done += 1

        async def progress() -> None:
            while True:
                await asyncio.sleep(5)
                rate = done / max(0.001, time.monotonic() - started)
                print(
                    f"demo county: {done:,} of {total:,} commands ({100 * done / total:.0f}%),"
                    f" {rate:,.0f}/s",
                    flush=True,
                )

        reporter = asyncio.create_task(progress())
        try:
            await asyncio.gather(*(run(j) for j in journeys))
            await asyncio.gather(*(run(j) for j in later))
            for i, step in enumerate(feeds):
                await post(step, f"demo-{seed}-feed-{i}")
                done += 1
        finally:
            reporter.cancel()
    seconds = time.monotonic() - started
    marks = sum(len(s.body["marks"]) for s in feeds)
    summary = {
        "children": len(children),
        "commands": total,
        "register_feed_marks": marks,
        "seconds": round(seconds, 1),
    }
    print(
        f"demo county loaded: {len(children):,} children, {total:,} commands "
        f"(including {len(feeds)} register feeds with {marks:,} marks) in {seconds:.0f}s",
        flush=True,
    )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.demo.county",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="1.0 is a large shire county; larger for benchmarks",
    )
    parser.add_argument(
        "--end",
        type=date.fromisoformat,
        default=None,
        help="the last day of history (default today)",
    )
    parser.add_argument(
        "--base-port", type=int, default=int(os.environ.get("CSP_HTTP_BASE_PORT", "8000"))
    )
    parser.add_argument(
        "--auth-dir",
        type=Path,
        default=Path(os.environ.get("CSP_STATE_DIR", LOCAL_RUN)) / "auth",
        help="the local identity provider's folder, whose key signs the "
        "loader's token (default: the local stack's)",
    )
    args = parser.parse_args()
    end = args.end or date.today()
    try:
        auth = LocalIssuer(args.auth_dir).headers("demo-loader", "council", "practitioner")
        asyncio.run(load(args.base_port, args.seed, args.scale, end, auth))
    except (RuntimeError, httpx.HTTPError) as error:
        sys.exit(f"demo county: {error!r}")


if __name__ == "__main__":
    main()
