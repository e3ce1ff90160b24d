"""A synthetic county, loaded through the services' public command APIs.

    python -m deploy.demo.county [--seed 7] [--scale 1.0] [--base-port 8000]

Deterministic from the seed (and the end date, default today): about two years of history
for the children a large shire council's children's services know (at scale 1: 5,000 children
in need, 650 on child protection plans, 850 in care, 700 care leavers, 40 unborn children), in
five localities, with early-help triage, IRO escalations, risk ratings and dip samples, register
feeds, and a year of quality assurance (deploy/demo/quality.py). First the council's reference
data (its localities, schools, teams and social workers: deploy/demo/council.py), then each
child's whole record: characteristics and UPN, the front door (contacts, referrals and their
outcomes, re-referrals, section 47 enquiries: their detail for the last year), assessment
factors, social worker allocations, statutory visits (the last weeks), review participation,
placements' postcode districts, health outcomes, missing episodes with return home interviews,
adoption, previous permanence, deprivation of liberty (deploy/demo/record.py). It shows the
patterns the boards are for: plans that drift past 9 months, care leavers whose accommodation
turns unsuitable, NEET spells, attendance that recovers over weeks, escalations raised and
resolved, visits late or missed, children in need waiting for a social worker. Every command
carries an idempotency key, so a load that is interrupted can simply be run again. `make run`
loads it on first start.

The record is one a council's would be, as the DfE's validators of the statutory returns (the
CIN census and SSDA903, deploy/returns) read it: ids of letters and digits; every episode of
need begins with a referral and is closed before the next (by a plan's end, or recorded closed
after an assessment or a plan with nothing further); conferences on working days; periods of
care with their category of need, previous permanence and a placement (with its provider's
Ofsted URN); a placement order only after the decision to place for adoption; health outcomes
every year in care; girls' motherhood; care leavers with the care they left at 16 to 18
(before the two years, for most) and contacts around their birthdays.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from contracts.case_events.codes import (
    AssessmentFactor,
    ChildInNeedClosureReason,
    PlanType,
    ReasonCeased,
    ReferralOutcome,
    Section47Outcome,
)
from contracts.education.codes import NEET
from deploy.demo.council import DEMO_SCHOOL, LOCALITIES, Council
from deploy.demo.journey import Journey, Step
from deploy.demo.quality import QualityAssurance, children_of
from deploy.demo.record import Record, exploited, upn
from shared.auth import LocalIssuer
from shared.calendar import add_months, is_working_day
from shared.clock import clock_from
from shared.settings import Settings

# What others import from here (the rest of the demo is in council.py, journey.py, record.py).
__all__ = [
    "DEMO_SCHOOL",
    "LOCALITIES",
    "County",
    "Journey",
    "Plan",
    "Step",
    "load",
    "main",
    "plan",
    "waited_out",
]

# Where `make run` keeps its state (deploy/local/stack.py), unless CSP_STATE_DIR says otherwise.
LOCAL_RUN = Path(__file__).resolve().parents[2] / ".local" / "run"
PORTS = {"case_events": 1, "accommodation": 2, "education": 3, "escalations": 4, "quality": 6}
# Every school-age child on a child protection plan or in care is on the demo school's roll
# for the feeds' ten weeks (a feed may mark only its pupils).
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
NEEDS = ["N1", "N1", "N4", "N5"]  # of a child coming into care
CP_SOURCES = ["2A", "3A", "3E", "5A", "6", "6", "6", "1A"]
UNBORN_SOURCES = ["3B", "3E", "3E", "3D", "5D", "6"]
IN_CARE_SOURCES = ["2A", "3A", "3E", "5A", "5D", "6", "6", "1A"]
# How an episode of need closes after an assessment that found no factors: with no further
# action, or (True) referred to early help.
NO_FURTHER_ACTION = {
    False: ChildInNeedClosureReason.CASE_CLOSED_AFTER_ASSESSMENT_NO_FURTHER_ACTION,
    True: ChildInNeedClosureReason.CASE_CLOSED_AFTER_ASSESSMENT_REFERRED_TO_EARLY_HELP,
}
# Why care ended for a care leaver: at 18 (staying put with the foster carers for some), or
# from 16 (into supported lodgings or home to family for most).
LEFT_AT_18 = [
    ReasonCeased.STAYING_PUT,
    ReasonCeased.INDEPENDENT_LIVING_SUPPORTED,
    ReasonCeased.INDEPENDENT_LIVING_SUPPORTED,
    ReasonCeased.INDEPENDENT_LIVING_NO_SUPPORT,
    ReasonCeased.LEFT_CARE_TO_LIVE_WITH_PARENTS_RELATIVES,
    ReasonCeased.CEASED_FOR_ANY_OTHER_REASON,
]
LEFT_BEFORE_18 = [
    ReasonCeased.INDEPENDENT_LIVING_SUPPORTED,
    ReasonCeased.INDEPENDENT_LIVING_SUPPORTED,
    ReasonCeased.LEFT_CARE_TO_LIVE_WITH_PARENTS_RELATIVES,
    ReasonCeased.CEASED_FOR_ANY_OTHER_REASON,
]
# A care leaver's first home after care (the SSDA903 letters: D semi-independent, E supported
# lodgings, B with family, U independent living, T a foyer; Z, with the former foster carers,
# only for one staying put at 18).
FIRST_HOMES = ["D", "D", "E", "E", "B", "U", "T"]
# Whether the personal adviser was in touch around a birthday (SSDA903 OC3 IN_TOUCH).
IN_TOUCH = ["YES"] * 18 + ["NO", "REFU"]


class County:
    def __init__(self, seed: int, scale: float, end: date) -> None:
        self.rng = random.Random(seed)
        self.seed, self.scale, self.end = seed, scale, end
        self.start = end - timedelta(days=730)
        # The first day of last year's collection year: the returns the county is checked by
        # are this year's and last year's.
        self.returns_from = date(end.year - (2 if end.month < 4 else 1), 4, 1)
        self.n = 0
        self.council = Council(scale)
        self.liberty = 0  # children deprived of their liberty so far

    def day(self, after: date, within: int) -> date:
        """A day after `after`, at most `within` days later, never after the end."""
        return min(after + timedelta(days=self.rng.randint(1, max(1, within))), self.end)

    def child(self, journey: Journey, age_from: int, age_to: int) -> Record:
        """Register a child: the rest of its record is added through what this returns."""
        self.n += 1
        child_id = f"DC{self.seed}{self.n:06d}"
        dob = self.end - timedelta(days=self.rng.randint(age_from * 365, age_to * 365))
        locality = self.rng.choice(LOCALITIES)
        names = random.Random(f"{self.seed}-{self.n}")  # apart: the journeys stay as they were
        personal = {  # invented, sealed by the service
            "given_names": names.choice(GIVEN_NAMES),
            "family_name": names.choice(FAMILY_NAMES),
        }
        if (self.end - dob).days // 365 >= 5:  # at school now or before: a UPN
            personal["upn"] = upn(names, dob)
        journey.add(
            "case_events",
            "/children",
            child_id=child_id,
            date_of_birth=dob,
            locality=locality,
            personal=personal,
        )
        return Record(journey, child_id, dob, locality, self.end)

    def count(self, n: int) -> int:
        return max(1, round(n * self.scale))

    # -- journeys ---------------------------------------------------------------------------
    # Each draws from the county's generator in the order it always has (the new facts draw
    # from the child's own, in Record), so the same seed still makes the same journeys.

    def children_in_need(self) -> Iterator[Journey]:
        for _ in range(self.count(5000)):
            j = Journey(f"cin-{self.n}")
            rec = self.child(j, 1, 17)
            c = f"/children/{rec.child_id}"
            referred = self.day(max(self.start, rec.date_of_birth), 600)
            source = self.rng.choice(["1A", "2A", "3A", "3B", "5D", "6", "6", "8"])
            rec.history(self.n, referred, self.start, source)
            s47 = rec.recent(referred) and rec.rng.random() < 0.08
            accepted = self.rng.choice(["N1", "N2", "N3", "N4", "N5"])
            rec.referral(
                f"R{self.n}",
                referred,
                source,
                ReferralOutcome.SECTION_47 if s47 else ReferralOutcome.ASSESSMENT,
                need=accepted,
            )
            if s47:
                rec.section_47(f"SD{self.n}", referred, Section47Outcome.CHILD_IN_NEED)
            j.add(
                "case_events", f"{c}/assessments", assessment_id=f"A{self.n}", start_date=referred
            )
            done, need, factors = self.assessed(rec, referred, accepted, settled=s47)
            ended = self.child_in_need_plan(rec, done, need)
            rec.characteristics(referred, disabled=need == "N2")
            team = self.council.team(rec.locality, "CIN")
            rec.allocate(team, referred, ended, unallocated=0.07, lapse=0.03)
            if need is not None and (ended is None or rec.recent(ended)):  # rated while open
                rating = self.rating(j, rec.child_id, done, ["GREEN"] * 6 + ["AMBER"] * 3 + ["RED"])
                rec.visits(PlanType.CHILD_IN_NEED, done, ended, rating)
            if exploited(factors) and rec.rng.random() < 0.6:
                rec.missing(done, rec.rng.randint(1, 3))
            age = (self.end - rec.date_of_birth).days // 365
            if ended is None and age in SCHOOL_AGES and rec.rng.random() < 0.2:
                self.pupil(j, rec, age)  # the attendance of children in need with a plan
            yield j

    def assessed(
        self, rec: Record, referred: date, accepted: str, *, settled: bool
    ) -> tuple[date, str | None, list[AssessmentFactor]]:
        """The child in need's assessment authorised: the day, the need it found (the one the
        referral was accepted for; None: no factors, so no further action, never after an
        enquiry, `settled`) and its factors."""
        done = self.day(referred, 60)
        factors = rec.factors(accepted, done, settled=settled)
        need = None if factors == [AssessmentFactor.NO_FACTORS] else accepted
        rec.complete(f"A{self.n}", done, factors, need or "N9")
        return done, need, factors

    def child_in_need_plan(self, rec: Record, done: date, need: str | None) -> date | None:
        """The plan the assessment led to, ended months later for some (its end closes the
        episode of need); the day the case closed, if it has. An assessment that found no
        factors closes the case instead (most with no further action, some to early help)."""
        ended = None
        if need is not None:
            rec.add(
                "/child-in-need-plans", plan_id=f"CIN{self.n}", start_date=done, primary_need=need
            )
        if self.rng.random() < 0.4 and (self.end - done).days > 100:
            ended = self.day(done, 300)
            if need is not None:
                rec.add(
                    "/child-in-need-plan-endings",
                    plan_id=f"CIN{self.n}",
                    end_date=ended,
                    reason=ChildInNeedClosureReason.SERVICES_CEASED_OTHER,
                )
        if need is None:
            early_help = rec.rng.random() < 0.4
            ended = rec.close(f"R{self.n}", done, NO_FURTHER_ACTION[early_help])
        return ended

    def child_protection(self) -> Iterator[Journey]:
        for _ in range(self.count(650)):
            j = Journey(f"cp-{self.n}")
            rec = self.child(j, 0, 16)
            c = f"/children/{rec.child_id}"
            # Before the last working day, so its conference can be held by the end (the end
            # itself may be a weekend: the county is loaded as it stands on a Saturday too).
            last = self.working_day(self.end, self.start)
            discussed = min(
                self.day(max(self.start, rec.date_of_birth), 650), last - timedelta(days=1)
            )
            referred = rec.before(discussed, 2)
            source = rec.rng.choice(CP_SOURCES)
            rec.referral(f"R{self.n}", referred, source, ReferralOutcome.SECTION_47)
            j.add(
                "case_events",
                f"{c}/strategy-discussions",
                discussion_id=f"SD{self.n}",
                discussion_date=discussed,
                section_47_enquiry=True,
            )
            conference = self.working_day(self.day(discussed, 20), discussed)
            enquiry = rec.before(conference, min(3, (conference - discussed).days))
            rec.concluded(f"SD{self.n}", enquiry, Section47Outcome.CONFERENCE)
            j.add(
                "case_events",
                f"{c}/initial-child-protection-conferences",
                conference_date=conference,
                plan_required=True,
            )
            ended = self.protection_plan(j, rec, conference)
            # The assessment beside the section 47 enquiry (CIN census rule 2991Q).
            rec.assessment(f"A{self.n}", discussed, "N1", after=conference)
            closed = self.after_protection(rec, ended)
            rec.characteristics(referred, disabled=rec.rng.random() < 0.06)
            rec.allocate(self.council.team(rec.locality, "CP"), discussed, closed)
            rating = self.rating(
                j, rec.child_id, conference, ["RED"] * 4 + ["AMBER"] * 5 + ["GREEN"]
            )
            rec.visits(PlanType.CHILD_PROTECTION, conference, ended, rating)
            if ended is not None and closed is None:  # stepped down to a child in need plan
                rec.visits(PlanType.CHILD_IN_NEED, ended, None, None)
            if closed is not None:
                self.repeat_plan(rec, closed, rating)
            age = (self.end - rec.date_of_birth).days // 365
            if age in SCHOOL_AGES:
                self.pupil(j, rec, age)
            yield j

    def working_day(self, day: date, after: date) -> date:
        """The first working day from `day` (a conference is never held on a weekend or a bank
        holiday, CIN census rule 8875); the last one before it, after `after`, if that would
        be after the end."""
        found = day
        while not is_working_day(found):
            found += timedelta(days=1)
        if found <= self.end:
            return found
        found = day
        while not is_working_day(found) and found > after + timedelta(days=1):
            found -= timedelta(days=1)
        return found

    def protection_plan(self, j: Journey, rec: Record, conference: date) -> date | None:
        """The plan the conference made, its reviews, and its end for half (the day: the rest
        drift on, a few into pre-proceedings)."""
        c = f"/children/{rec.child_id}"
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
        ended = None
        if self.rng.random() < 0.5 and (self.end - conference).days > 200:
            ended = self.day(last, 120)
            j.add(
                "case_events",
                f"{c}/child-protection-plan-endings",
                plan_id=plan,
                end_date=ended,
            )
        elif self.rng.random() < 0.2:
            entered = self.day(last, 60)
            j.add("case_events", f"{c}/pre-proceedings", entered_on=entered)
            rec.pre_proceedings(entered, f"CPR{self.n}")
        return ended

    def after_protection(self, rec: Record, ended: date | None) -> date | None:
        """After a child protection plan ends: for most a step down to a child in need plan
        (its end, months later for some, closes the episode of need); for the rest the
        episode closes with the plan. The day the case closed, if it has."""
        if ended is None:
            return None
        if rec.rng.random() < 0.6:
            plan = f"CIN{self.n}"
            rec.add("/child-in-need-plans", plan_id=plan, start_date=ended, primary_need="N1")
            if rec.rng.random() > 0.5 or (self.end - ended).days < 150:
                return None
            closed = rec.day(ended + timedelta(days=90), 200)
            rec.add(
                "/child-in-need-plan-endings",
                plan_id=plan,
                end_date=closed,
                reason=ChildInNeedClosureReason.SERVICES_CEASED_OTHER,
            )
            return closed
        return rec.close(f"R{self.n}", ended, ChildInNeedClosureReason.SERVICES_CEASED_OTHER)

    def repeat_plan(self, rec: Record, closed: date, rating: str) -> None:
        """For a few children, a second plan within months of the case closing (a repeat
        plan): a new referral, another section 47 enquiry and its assessment, a conference and
        plan, and a social worker again."""
        if rec.rng.random() > 0.12 or (self.end - closed).days < 60:
            return
        referred = rec.day(closed, min(300, (self.end - closed).days - 30))
        source = rec.rng.choice(CP_SOURCES)
        rec.referral(f"R{self.n}-2", referred, source, ReferralOutcome.SECTION_47)
        concluded = rec.section_47(f"SD{self.n}-2", referred, Section47Outcome.CONFERENCE)
        conference = self.working_day(rec.day(concluded, 3), concluded)
        rec.add(
            "/initial-child-protection-conferences", conference_date=conference, plan_required=True
        )
        rec.add(
            "/child-protection-plans",
            plan_id=f"CP{self.n}-2",
            category=rec.rng.choice(["NEG", "EMO", "MUL"]),
            start_date=conference,
        )
        rec.assessment(f"A{self.n}-2", referred, "N1", after=conference)
        rec.allocate(self.council.team(rec.locality, "CP"), concluded)
        rec.visits(PlanType.CHILD_PROTECTION, conference, None, rating)

    def pupil(self, j: Journey, rec: Record, age: int) -> None:
        """On the demo school's roll from before the register feeds' ten weeks."""
        j.add(
            "education",
            f"/children/{rec.child_id}/enrolments",
            enrolment_id=f"EN{self.n}",
            school_urn=DEMO_SCHOOL,
            school_in_council_area=True,
            start_date=self.end - timedelta(days=300),
            year_group=age - 5,
        )
        rec.summer_school(age - 5)

    def in_care(self) -> Iterator[Journey]:
        for _ in range(self.count(850)):
            j = Journey(f"cic-{self.n}")
            rec = self.child(j, 1, 17)
            c = f"/children/{rec.child_id}"
            start = self.day(max(self.start, rec.date_of_birth), 500)
            # An interim care order, a care order or section 20; a placement order (E1) only
            # after the decision that the child should be placed for adoption (Record.adoption).
            legal_status = self.rng.choice(["C2", "C2", "C1", "V2", "C2"])
            # Some older children arrive alone, seeking asylum: accommodated under section 20.
            uasc = rec.age_on(start) >= 14 and rec.rng.random() < 0.2
            need = "N8" if uasc else rec.rng.choice(NEEDS)
            self.into_care(rec, start, need, uasc)
            j.add(
                "case_events",
                f"{c}/periods-of-care",
                start_date=start,
                legal_status="V2" if uasc else legal_status,
                # Where the child was found, for a child who arrived alone.
                home_postcode=rec.home_district(),
                category_of_need=need,
            )
            rec.characteristics(
                start, disabled=rec.rng.random() < 0.1, uasc=uasc, looked_after=True
            )
            rec.previous_permanence(start)
            if legal_status == "C1" and not uasc and rec.rng.random() < 0.5:
                rec.proceedings_into_care(start, f"CPR{self.n}")
            rec.allocate(self.council.team(rec.locality, "CIC"), start)
            self.placements(j, rec, start)
            review = start + timedelta(days=25)
            if review < self.end:
                j.add(
                    "case_events",
                    f"{c}/looked-after-reviews",
                    review_date=review,
                    participation=rec.participation(review),
                )
            self.permanence(j, rec, start)
            self.schooling(j, rec, start)
            self.in_care_beyond(rec, start)
            rating = self.rating(
                j, rec.child_id, start, ["AMBER"] * 5 + ["GREEN"] * 3 + ["RED"] * 2
            )
            rec.visits(PlanType.CHILD_IN_CARE, start, None, rating)
            yield j

    def into_care(self, rec: Record, start: date, need: str, uasc: bool) -> None:
        """What came before care: the referral (weeks before, or days for a child who arrived
        alone), and for some in the last year the assessment."""
        referred = rec.before(start, 3 if uasc else 45)
        source = "8" if uasc else rec.rng.choice(IN_CARE_SOURCES)
        rec.referral(f"R{self.n}", referred, source, ReferralOutcome.ASSESSMENT, need=need)
        if rec.recent(start) and rec.rng.random() < 0.4:  # the assessment before care
            factors = [AssessmentFactor.UNACCOMPANIED_ASYLUM_SEEKING] if uasc else []
            assessed = max(referred, rec.before(start, 40))
            rec.assessment(f"A{self.n}", assessed, need, also=factors)

    def permanence(self, j: Journey, rec: Record, start: date) -> None:
        """The permanence plan for most, and for young children whose plan is adoption the
        decision, the placement order and the match."""
        if self.rng.random() < 0.8:
            recorded = self.day(start, 120)
            plan = self.rng.choice(
                [
                    "long_term_fostering",
                    "adoption",
                    "sgo_or_cao",
                    "return_to_family",
                    "long_term_residential",
                ]
            )
            j.add(
                "case_events",
                f"/children/{rec.child_id}/permanence-plans",
                recorded_on=recorded,
                plan=plan,
            )
            if plan == "adoption" and rec.age_on(start) <= 5:
                rec.adoption(rec.day(recorded, 90))

    def placements(self, j: Journey, rec: Record, start: date) -> None:
        """The first placement and the moves, each with its postcode district and its
        provider's Ofsted URN. A 16 or 17 year old may live in registered supported
        accommodation (K3: unregistered H5 and independent living P2 are no longer placements
        from April 2025, SSDA903 rule 146). The council's own provision is in its area."""
        c = f"/children/{rec.child_id}"
        kinds = ["U4", "U6", "U6", "U1", "U3", "K2", "K2"]
        if (start - rec.date_of_birth).days > 16 * 365:
            kinds += ["K3", "K3", "K2"]
        placement_type = self.rng.choice(kinds)
        provider = self.rng.choice(["PR1", "PR1", "PR4", "PR5"])
        in_area = self.rng.random() < 0.7 or provider == "PR1"
        j.add(
            "accommodation",
            f"{c}/placements",
            placement_id=f"PL{self.n}-0",
            start_date=start,
            placement_type=placement_type,
            provider=provider,
            in_council_area=in_area,
            postcode=rec.placement_district(in_area),
            urn=rec.urn(placement_type, provider),
        )
        moved = start
        for move in range(1, self.rng.choice([1, 1, 1, 2, 2, 3])):
            moved = self.day(moved, 200)
            if moved >= self.end:
                break
            placement_type = self.rng.choice(kinds)
            j.add(
                "accommodation",
                f"{c}/placement-changes",
                placement_id=f"PL{self.n}-{move}",
                start_date=moved,
                placement_type=placement_type,
                provider="PR1",
                in_council_area=True,
                reason=self.rng.choice(["CARPL", "CHILD", "PLACE"]),
                postcode=rec.placement_district(),
                urn=rec.urn(placement_type, "PR1"),
            )
        if rec.rng.random() < 0.08:  # unstable: three more moves within the last year
            self.unstable(j, rec, moved, kinds)

    def unstable(self, j: Journey, rec: Record, moved: date, kinds: list[str]) -> None:
        """Three more moves within the last year (drawn from the child's own generator)."""
        moved = max(moved, self.end - timedelta(days=330))
        for move in range(10, 13):
            moved = rec.day(moved, 90)
            if moved >= self.end:
                break
            placement_type = rec.rng.choice(kinds)
            provider = rec.rng.choice(["PR1", "PR4", "PR5"])
            in_area = rec.rng.random() < 0.6 or provider == "PR1"
            j.add(
                "accommodation",
                f"/children/{rec.child_id}/placement-changes",
                placement_id=f"PL{self.n}-{move}",
                start_date=moved,
                placement_type=placement_type,
                provider=provider,
                in_council_area=in_area,
                reason=rec.rng.choice(["CARPL", "CHILD", "PLACE"]),
                postcode=rec.placement_district(in_area),
                urn=rec.urn(placement_type, provider),
            )

    def schooling(self, j: Journey, rec: Record, start: date) -> None:
        """A school-age child in care's school (the demo school's roll, or another), EHCP and
        year 11 destination."""
        c = f"/children/{rec.child_id}"
        age = (self.end - rec.date_of_birth).days // 365
        if not 5 <= age <= 16:
            return
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
        rec.summer_school(age - 5)
        if self.rng.random() < 0.25:
            j.add("education", f"{c}/ehcps", started_on=self.day(start, 200))
        if age == 16 and self.rng.random() < 0.74:
            j.add(
                "education",
                f"{c}/year-11-confirmed-destinations",
                recorded_on=self.day(self.end - timedelta(days=120), 100),
                destination=self.rng.choice(["F2", "F2", "F4", "F5"]),
            )

    def in_care_beyond(self, rec: Record, start: date) -> None:
        """The health outcomes of every year in care; for a few girls, a first child;
        adolescents' missing episodes; and for one or two (a few in a large county), a
        deprivation of liberty."""
        rec.annual_health(start)
        rec.motherhood(start, None)
        age = rec.age_on(self.end)
        if age >= 11 and rec.rng.random() < 0.3:
            rec.missing(start, rec.rng.randint(1, 4))
        if (
            age >= 13
            and self.liberty < self.count(6)
            and rec.rng.random() < 0.1
            and rec.deprivation_of_liberty(start)
        ):
            self.liberty += 1

    def care_leavers(self) -> Iterator[Journey]:
        for _ in range(self.count(700)):
            j = Journey(f"cl-{self.n}")
            rec = self.child(j, 17, 24)
            c = f"/children/{rec.child_id}"
            sixteen = rec.date_of_birth + timedelta(days=16 * 365 + 5)
            # Left care before 18 (a relevant child until then) or at 18 (former relevant).
            left_at_18 = self.rng.choice(["relevant", "former_relevant", "former_relevant"])
            left, reason = self.care_history(rec, left_at_18 == "former_relevant")
            status_on = max(left, self.start - timedelta(days=400))
            status = self.care_leaver_status(rec, status_on)
            adviser = f"PA-{self.rng.randint(1, 60)}"
            j.add(
                "case_events", f"{c}/personal-advisers", allocated_on=status_on, adviser_id=adviser
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
            self.keeping_in_touch(rec, left, status_on)
            self.leaving_care_accommodation(j, rec, sixteen, left, reason)
            rated = max(status_on, self.start)
            self.rating(j, rec.child_id, rated, ["GREEN"] * 5 + ["AMBER"] * 3 + ["RED"])
            if status == "relevant":  # visited as a child still is (16 and 17)
                rec.visits(PlanType.CARE_LEAVER, status_on, None, None, visitor=adviser)
            yield j

    def care_history(self, rec: Record, at_18: bool) -> tuple[date, ReasonCeased]:
        """The care a care leaver left (SSDA903 rules 1001, 1002: looked after for 13 weeks
        from 14, and at 16 or over): the referral, a period of care from 11 to 17 in one
        placement, its health outcomes, and its end at 18 or (a relevant child) from 16, with
        the reason; the episode of need closed when the young person is 18. The day care
        ended, and why."""
        born = rec.date_of_birth
        eighteen = add_months(born, 18 * 12)
        if at_18 and eighteen <= self.end:
            left = eighteen
        else:
            sixteen = add_months(born, 16 * 12) + timedelta(days=30)
            last = min(eighteen, self.end) - timedelta(days=7)
            left = sixteen + timedelta(days=rec.rng.randint(0, max(0, (last - sixteen).days)))
        entered = max(add_months(born, 11 * 12), left - timedelta(days=rec.rng.randint(200, 1800)))
        need = rec.rng.choice([*NEEDS, "N6"])
        source = rec.rng.choice(IN_CARE_SOURCES)
        referred = rec.before(entered, 30)
        rec.referral(f"R{self.n}", referred, source, ReferralOutcome.ASSESSMENT, need=need)
        rec.add(
            "/periods-of-care",
            start_date=entered,
            legal_status=rec.rng.choice(["C2", "C2", "V2", "V2", "C1"]),
            home_postcode=rec.home_district(),
            category_of_need=need,
        )
        rec.characteristics(entered, disabled=rec.rng.random() < 0.08, looked_after=True)
        if entered >= self.start:  # an earlier one is known as migrated, without it
            rec.previous_permanence(entered)
        fostered = self.placed(rec, entered)
        rec.annual_health(entered, left)
        rec.motherhood(entered, left)
        # The social worker while in care, kept to 18 by a relevant child; recorded for any
        # child looked after in the returns' years (SSDA903 social worker episodes).
        until = left if left == eighteen else (eighteen if eighteen <= self.end else None)
        seen = left >= self.returns_from
        rec.allocate(self.council.team(rec.locality, "CIC"), entered, until, keep=seen)
        reason = rec.rng.choice(LEFT_AT_18 if left == eighteen else LEFT_BEFORE_18)
        if reason is ReasonCeased.STAYING_PUT and not fostered:
            reason = ReasonCeased.INDEPENDENT_LIVING_SUPPORTED
        rec.add("/period-of-care-endings", end_date=left, reason=reason)
        rec.send("accommodation", "/placement-endings", end_date=left)
        if eighteen <= self.end:
            rec.close(f"R{self.n}", eighteen, ChildInNeedClosureReason.SERVICES_CEASED_OTHER)
        return left, reason

    def placed(self, rec: Record, entered: date) -> bool:
        """A care leaver's placement while in care (fostered, in a children's home, or from 16
        in supported accommodation); whether it was foster care."""
        kinds = ["U4", "U4", "U6", "U6", "U3", "K2"]
        if rec.age_on(entered) >= 16:
            kinds += ["K3", "K3"]
        placement_type = rec.rng.choice(kinds)
        provider = rec.rng.choice(["PR1", "PR1", "PR4", "PR5"])
        in_area = rec.rng.random() < 0.7 or provider == "PR1"
        rec.send(
            "accommodation",
            "/placements",
            placement_id=f"PL{self.n}-0",
            start_date=entered,
            placement_type=placement_type,
            provider=provider,
            in_council_area=in_area,
            postcode=rec.placement_district(in_area),
            urn=rec.urn(placement_type, provider),
        )
        return placement_type.startswith("U")

    def care_leaver_status(self, rec: Record, status_on: date) -> str:
        """Relevant before 18, former relevant from 18 (recorded again on the 18th birthday
        for a relevant child who has turned 18 since). The status now."""
        eighteen = add_months(rec.date_of_birth, 18 * 12)
        status = "relevant" if status_on < eighteen else "former_relevant"
        rec.add("/care-leaver-status", recorded_on=status_on, status=status)
        if status == "relevant" and eighteen <= self.end:
            rec.add("/care-leaver-status", recorded_on=eighteen, status="former_relevant")
            status = "former_relevant"
        return status

    def keeping_in_touch(self, rec: Record, left: date, status_on: date) -> None:
        """The personal adviser's contacts: around each 17th to 21st birthday in this year's
        and last year's returns (from three months before to a month after, within the
        birthday's collection year: the SSDA903 OC3's window), and every few weeks lately."""
        born = rec.date_of_birth
        for age in range(17, 22):
            birthday = add_months(born, age * 12)
            year_end = date(birthday.year + (birthday.month >= 4), 3, 31)
            opens = max(add_months(birthday, -3), left + timedelta(days=1))
            closes = min(add_months(birthday, 1), year_end, self.end)
            if birthday < self.returns_from or birthday <= left or opens > closes:
                continue
            on = opens + timedelta(days=rec.rng.randint(0, (closes - opens).days))
            rec.add("/contacts", contact_date=on, in_touch=rec.rng.choice(IN_TOUCH))
        contact = max(status_on, self.end - timedelta(days=120))
        while (contact := contact + timedelta(days=self.rng.randint(21, 75))) < self.end:
            rec.add(
                "/contacts",
                contact_date=contact,
                in_touch="YES" if self.rng.random() < 0.85 else "NO",
            )

    def leaving_care_accommodation(
        self,
        j: Journey,
        rec: Record,
        sixteen: date,
        left: date,
        reason: ReasonCeased,
    ) -> None:
        """Where a care leaver lives, from leaving care or last year's return (with the former
        foster carers for one staying put; turning unsuitable for some: the priority cohort;
        a tenancy, or homelessness prevention, for others), and their education, employment
        or training, which comes and goes (NEET spells reviewed at the panel)."""
        c = f"/children/{rec.child_id}"
        # As known from leaving care, or from before the window of last year's return.
        moved_in = max(left, self.returns_from - timedelta(days=92))
        letter = self.rng.choice(["U", "U", "E", "D", "B", "T", "D"])
        if moved_in == left:
            letter = rec.rng.choice(FIRST_HOMES)
        if reason is ReasonCeased.STAYING_PUT:
            letter = "Z"  # with the former foster carers, from 18
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
        rec.housing(sixteen + timedelta(days=2 * 365))
        self.education_and_training(j, rec, moved_in)

    def education_and_training(self, j: Journey, rec: Record, since: date) -> None:
        """Activities that come and go (NEET spells reviewed at the panel)."""
        activity_on = since
        for _spell in range(self.rng.choice([1, 2, 3])):
            activity = self.rng.choice(["F2", "F4", "F5", "P5", "G5", "G5", "G6", "F1"])
            j.add(
                "education",
                f"/children/{rec.child_id}/eet-activities",
                recorded_on=activity_on,
                activity=activity,
            )
            if activity in NEET:
                rec.neet_panel(activity_on)
            activity_on = self.day(activity_on, 150)
            if activity_on >= self.end:
                break

    def unborn_children(self) -> Iterator[Journey]:
        """Unborn children referred before birth (a pre-birth assessment), each with a social
        worker; most born since, then on a child in need plan or in care. Drawn from each
        child's own generator: the county's other journeys stay as they were."""
        for _ in range(self.count(40)):
            j = Journey(f"unborn-{self.n}")
            self.n += 1
            child_id = f"DC{self.seed}{self.n:06d}"
            rng = random.Random(f"unborn-{child_id}")
            expected = self.end + timedelta(days=rng.randint(-300, 60))
            locality = rng.choice(LOCALITIES)
            j.add(
                "case_events",
                "/unborn-children",
                child_id=child_id,
                expected_date_of_birth=expected,
                locality=locality,
                personal={"family_name": rng.choice(FAMILY_NAMES)},
            )
            rec = Record(j, child_id, None, locality, self.end)
            known = max(self.start, expected - timedelta(days=rng.randint(70, 150)))
            rec.referral(
                f"R{self.n}", known, rng.choice(UNBORN_SOURCES), ReferralOutcome.ASSESSMENT
            )
            rec.characteristics(known, unborn=True)
            c = f"/children/{child_id}"
            j.add("case_events", f"{c}/assessments", assessment_id=f"A{self.n}", start_date=known)
            born = expected + timedelta(days=rng.randint(-21, 10))
            done = rec.day(known, 60)
            if born < done:  # the assessment is authorised after the birth
                rec.birth(born)
            factors = rec.factors(None, done)
            nfa = factors == [AssessmentFactor.NO_FACTORS]
            rec.complete(f"A{self.n}", done, factors, "N9" if nfa else "N1")
            if rec.born is None and born < self.end:
                rec.birth(born)
            closed = rec.close(f"R{self.n}", done, NO_FURTHER_ACTION[False]) if nfa else None
            rec.allocate(self.council.team(locality, "CIN"), known, closed, lapse=0.05)
            if rec.born is not None and not nfa:
                self.after_birth(rec, done, expected)
            yield j

    def after_birth(self, rec: Record, assessed: date, expected: date) -> None:
        """A baby known before birth: into care within days for some (an interim care order,
        or accommodated; placed with foster carers the day care began), on a child in need
        plan for the rest. Care begins after the expected day too: the other services know
        the baby's age from it until they hear of the birth."""
        born = rec.date_of_birth
        if rec.rng.random() < 0.3:
            care = rec.day(max(born, expected), 7)
            if care < self.end:
                self.baby_into_care(rec, care)
            return
        plan_on = rec.day(max(assessed, born), 14)
        if plan_on < self.end:
            rec.add(
                "/child-in-need-plans",
                plan_id=f"CIN{self.n}",
                start_date=plan_on,
                primary_need="N1",
            )
            rec.visits(PlanType.CHILD_IN_NEED, plan_on, None, None)

    def baby_into_care(self, rec: Record, care: date) -> None:
        """A baby's period of care: its start, characteristics (a girl is not a mother),
        previous permanence (none), the foster placement, the first review, the health
        outcomes, the visits."""
        rec.add(
            "/periods-of-care",
            start_date=care,
            legal_status=rec.rng.choice(["C1", "C1", "V2"]),
            home_postcode=rec.home_district(),
            category_of_need="N1",
        )
        rec.characteristics(care, looked_after=True)
        rec.previous_permanence(care)
        placement_type = rec.rng.choice(["U4", "U6", "U6", "U3"])
        rec.send(
            "accommodation",
            "/placements",
            placement_id=f"PL{self.n}-0",
            start_date=care,
            placement_type=placement_type,
            provider="PR1",
            in_council_area=True,
            postcode=rec.placement_district(),
            urn=rec.urn(placement_type, "PR1"),
        )
        review = care + timedelta(days=20)
        if review < self.end:
            rec.add(
                "/looked-after-reviews",
                review_date=review,
                participation=rec.participation(review),
            )
        rec.annual_health(care)
        rec.visits(PlanType.CHILD_IN_CARE, care, None, None)

    def rating(self, j: Journey, cid: str, on: date, choices: list[str]) -> str:
        """The child's risk rating, and for some a manager's dip sample: the rating that
        stands (the moderated one where the manager disagreed)."""
        rated = max(on, self.start)
        rating = self.rng.choice(choices)
        j.add("escalations", f"/children/{cid}/risk-ratings", rated_on=rated, rating=rating)
        if self.rng.random() < 0.3:  # a manager's dip sample; 87% agree
            agreed = self.rng.random() < 0.87
            moderated = "AMBER" if rating != "AMBER" else "RED"
            j.add(
                "escalations",
                f"/children/{cid}/dip-samples",
                sampled_on=self.day(rated, 60),
                manager_id=f"TM-{self.rng.randint(1, 30)}",
                agreed=agreed,
                **({} if agreed else {"moderated_to": moderated}),
            )
            return rating if agreed else moderated
        return rating

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
            formal = self.day(raised, 20) if self.rng.random() < 0.4 else None
            resolved: tuple[date, str] | None = None  # the day and the resolution
            if self.rng.random() < 0.75 and raised < self.end - timedelta(days=30):
                resolved = (
                    self.day(raised + timedelta(days=20), 40),
                    self.rng.choice(["plan_changed", "agreed"]),
                )
            self.escalation_steps(j, eid, raised, formal, resolved[0] if resolved else None)
            if resolved is not None:
                j.add(
                    "escalations",
                    f"/escalations/{eid}/resolutions",
                    resolved_on=resolved[0],
                    resolution=resolved[1],
                )
            yield j

    def escalation_steps(
        self, j: Journey, eid: str, raised: date, formal: date | None, resolved: date | None
    ) -> None:
        """Between raising and resolution: the formal stage for some, the response (most
        within days, some after weeks), and for a few formal ones the senior manager and then
        the director. Drawn from the escalation's own generator."""
        rng = random.Random(f"escalation-{eid}")
        path = f"/escalations/{eid}"
        if formal is not None:
            j.add("escalations", f"{path}/advancements", advanced_on=formal, stage="formal")
        closes, last = resolved or self.end, formal or raised
        if rng.random() > 0.85:
            return  # no response yet
        last = min(last + timedelta(days=rng.choice([1, 2, 3, 5, 7, 9, 12, 18])), closes)
        j.add("escalations", f"{path}/responses", responded_on=last)
        for stage in ("senior_manager", "director"):
            if formal is None or rng.random() > 0.3:
                return
            last += timedelta(days=rng.randint(3, 20))
            if last >= closes:
                return
            j.add("escalations", f"{path}/advancements", advanced_on=last, stage=stage)


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
) -> int:
    """Send one command until it is recorded (its status: 201 recorded, 200 recorded before
    with this key, 409 known already and `exists_ok`); what `waited_out` says is transient is
    waited out (the idempotency key makes resending safe); any other refusal stops the load."""
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
            return r.status_code
        wait = waited_out(step, r)
        if wait is None and r.status_code == 409 and step.exists_ok:
            return r.status_code  # known already: what the command wanted
        if wait is None or time.monotonic() > deadline:
            raise RuntimeError(f"{step.path}: {r.status_code} {r.text[:300]}")
        await asyncio.sleep(wait or pause)
        pause = min(pause * 2, 5.0)


def waited_out(step: Step, r: httpx.Response) -> float | None:
    """How long to wait before sending a refused command again (0: back off), or None if it
    was refused for good. Transient: the rate limit; a concurrency conflict (another writer,
    e.g. a worker's policy, appended to the stream first: the command is decided again); and
    at a service other than case events, a child or an item of reference data recorded a
    moment ago that its copy does not have yet."""
    if r.status_code == 429:
        return float(r.headers.get("Retry-After", "1"))
    try:
        problem = r.json()
    except ValueError:
        return None
    if r.status_code == 409 and isinstance(problem, dict) and "expected_version" in problem:
        return 0
    if step.service == "case_events":
        return None
    if r.status_code == 404:
        return 0
    errors = problem.get("detail") if isinstance(problem, dict) else None
    if r.status_code == 422 and isinstance(errors, list) and errors:
        unknown = all(e.get("type") == "unknown_reference" for e in errors if isinstance(e, dict))
        return 0 if unknown else None
    return None


@dataclass
class Plan:
    """Everything a load sends, in the order it sends it."""

    reference: list[list[Step]]  # the council's reference data, level by level
    journeys: list[Journey]  # concurrently, each journey's steps in order
    later: list[Journey]  # then these, which name children the journeys registered
    feeds: list[Step]  # then the register feeds, one by one
    children: int
    unborn: int
    # The year's quality assurance (its own service: deploy/demo/quality.py), alongside the
    # later journeys: it names children the journeys registered.
    quality: list[Journey] = field(default_factory=list)

    @property
    def total(self) -> int:
        return (
            sum(len(level) for level in self.reference)
            + sum(len(j.steps) for j in self.journeys + self.later + self.quality)
            + len(self.feeds)
        )


def plan(seed: int, scale: float, end: date) -> Plan:
    """The county's commands (no I/O: the same for the same seed, scale and end)."""
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
    # Its own generator: the rest of the county stays as it was for the same seed.
    quality = QualityAssurance(seed, scale, end, children_of(journeys), county.council)
    county.rng.shuffle(journeys)
    # Escalations name children registered above: they run after every child is loaded, or
    # they could hold every slot waiting for children whose journeys cannot start.
    later = [*county.triage(), *county.escalations(children)]
    unborn = list(county.unborn_children())  # their own generators: the rest stay as they were
    # The demo school's roll: its register feeds mark these children only.
    pupils = [
        s.path.split("/")[2]
        for j in journeys
        for s in j.steps
        if s.path.endswith("/enrolments") and s.body["school_urn"] == DEMO_SCHOOL
    ]
    schools = {
        DEMO_SCHOOL,
        *(
            s.body["school_urn"]
            for j in journeys
            for s in j.steps
            if s.path.endswith("/enrolments")
        ),
    }
    return Plan(
        reference=county.council.reference_data(schools),
        journeys=journeys + unborn,
        later=later,
        feeds=list(register_feeds(county, pupils)),
        children=len(children) + len(unborn),
        unborn=len(unborn),
        quality=quality.journeys(),
    )


async def load(
    base_port: int,
    seed: int,
    scale: float,
    end: date,
    auth: dict[str, str],
    concurrency: int = 24,
    urls: dict[str, str] | None = None,
    manager: dict[str, str] | None = None,
    progress_file: Path | None = None,
    reference_only: bool = False,
    reference_recorded: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Load the county through the APIs at `urls` (service -> base URL), by default the local
    stack's ports from `base_port`, as the user `auth` (its Authorization header) names, the
    reference data as `manager` (a manager keeps it; default `auth`); return what was
    loaded. How far it has got is written to `progress_file` every second, if given (the
    dashboard shows it: services/projections/dashboard/demo.py). `reference_recorded` is
    called once the council's reference data is recorded, before any child; with
    `reference_only`, nothing more is sent."""
    work = plan(seed, scale, end)
    if reference_only:
        work = Plan(reference=work.reference, journeys=[], later=[], feeds=[], children=0, unborn=0)
    total = work.total
    progress = Progress(total, progress_file)
    semaphore = asyncio.Semaphore(concurrency)
    urls = urls or {s: f"http://127.0.0.1:{base_port + p}" for s, p in PORTS.items()}

    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=64)) as client:

        async def post(step: Step, key: str, user: dict[str, str] = auth) -> None:
            await send(client, f"{urls[step.service]}{step.path}", step, key, user)
            progress.done += 1

        async def run(journey: Journey) -> None:
            async with semaphore:
                for i, step in enumerate(journey.steps):
                    await post(step, f"demo-{seed}-{journey.key}-{i}")

        async with progress:
            for level in work.reference:  # one by one: each kind is one list
                for step in level:
                    await post(step, _reference_key(seed, step), manager or auth)
            if reference_recorded is not None:
                reference_recorded()
            await asyncio.gather(*(run(j) for j in work.journeys))
            await asyncio.gather(*(run(j) for j in work.later + work.quality))
            for i, step in enumerate(work.feeds):
                await post(step, f"demo-{seed}-feed-{i}")
    seconds = time.monotonic() - progress.started
    marks = sum(len(s.body["marks"]) for s in work.feeds)
    summary = {
        "children": work.children,
        "commands": total,
        "register_feed_marks": marks,
        "seconds": round(seconds, 1),
    }
    loaded = (
        f"{work.children:,} children ({work.unborn} known before birth), {total:,} commands "
        f"(including {len(work.feeds)} register feeds with {marks:,} marks)"
        if not reference_only
        else f"its reference data only, {total} items"
    )
    print(f"demo county loaded: {loaded} in {seconds:.0f}s", flush=True)
    return summary


class Progress:
    """How far a load has got: printed every 5 s, and written every second to `file` (if
    given) as JSON replaced whole, so a reader never sees half of it. While the load runs
    its state is "loading"; then "loaded", or "failed" when it stops on an error."""

    def __init__(self, total: int, file: Path | None) -> None:
        self.done, self.total, self.file = 0, total, file
        self.started = time.monotonic()
        self._reporter: asyncio.Task[None] | None = None

    def rate(self) -> float:
        return self.done / max(0.001, time.monotonic() - self.started)

    def write(self, state: str) -> None:
        if self.file is None:
            return
        written = self.file.with_name(f".{self.file.name}.new")
        written.write_text(
            json.dumps(
                {"state": state, "done": self.done, "total": self.total, "rate": self.rate()}
            )
        )
        written.replace(self.file)

    async def _report(self) -> None:
        for tick in itertools.count(1):
            await asyncio.sleep(1)
            self.write("loading")
            if tick % 5 == 0:
                print(
                    f"demo county: {self.done:,} of {self.total:,} commands "
                    f"({100 * self.done / self.total:.0f}%), {self.rate():,.0f}/s",
                    flush=True,
                )

    async def __aenter__(self) -> Progress:
        self.write("loading")
        self._reporter = asyncio.create_task(self._report())
        return self

    async def __aexit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if self._reporter:
            self._reporter.cancel()
        self.write("loaded" if kind is None else "failed")


def _reference_key(seed: int, step: Step) -> str:
    """A reference item's idempotency key: its kind and its key (the body's first field)."""
    return f"demo-{seed}-reference-{step.path.rsplit('/', 1)[-1]}-{next(iter(step.body.values()))}"


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
    end = args.end or clock_from(Settings()).today()
    try:
        issuer = LocalIssuer(args.auth_dir)
        auth = issuer.headers("demo-loader", "council", "practitioner")
        manager = issuer.headers("demo-loader", "council", "manager")
        asyncio.run(load(args.base_port, args.seed, args.scale, end, auth, manager=manager))
    except (RuntimeError, httpx.HTTPError) as error:
        sys.exit(f"demo county: {error!r}")


if __name__ == "__main__":
    main()
