"""The rest of a demo child's record: what the county records about a child beside its
statutory journey (deploy/demo/county.py): characteristics and UPN, the front door (contacts,
referral outcomes, earlier referrals, section 47 outcomes, episodes of need closed),
assessments with their factors and the need found, social worker allocations (a first contact,
then changes), statutory visits, review participation, placement postcodes and providers' URNs,
motherhood, health outcomes every year in care, missing episodes and return home interviews,
adoption and placement orders, previous permanence, deprivation of liberty, the steps of
pre-proceedings and care proceedings, and a care leaver's housing, NEET panels and summer
school.

Each child's facts here are drawn from a generator of its own, seeded by the child's id, never
from the county's: the county's journeys stay as they were for the same seed, and a fact added
here changes no other child. The shares are a shire's (the CIN census and SSDA903 national
tables), the codes the contracts' (contracts/case_events/codes.py).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from contracts.accommodation.codes import HomelessnessOutcome, PlacementType, Provider, Tenure
from contracts.case_events.codes import (
    EXPLOITATION_FACTORS,
    AdoptersLegalStatus,
    AdoptersSex,
    AdoptionDecisionReversalReason,
    AssessmentFactor,
    ChildInNeedClosureReason,
    ContactOutcome,
    CourtOrder,
    DeprivationOfLibertyBasis,
    Disability,
    Ethnicity,
    LegalStatus,
    MissingKind,
    PlanType,
    PreProceedingsOutcome,
    PreviousPermanence,
    ReferralOutcome,
    ReviewParticipation,
    SdqReason,
    Section47Outcome,
    Sex,
    SocialWorkerChangeReason,
)
from contracts.education.codes import NEETPanelAction
from contracts.ids import upn_check_letter
from deploy.demo.council import DISTRICTS, LOCALITIES, OUT_OF_AREA, Team
from deploy.demo.journey import Journey
from shared.calendar import add_months, age_on

DEVON = "878"  # the council's DfE local authority code

# How often a child is visited: the seed's frequency for each risk rating, and at most the
# statutory (or local) timescale of the child's plan, in days.
RAG_DAYS = {"RED": 7, "AMBER": 14, "GREEN": 28}
PLAN_DAYS = {
    PlanType.CHILD_IN_NEED: 28,
    PlanType.CHILD_PROTECTION: 14,
    PlanType.CHILD_IN_CARE: 42,
    PlanType.CARE_LEAVER: 56,
}
# Statutory visits are recorded for the last four weeks (or a child's last visiting interval,
# if longer); the front door's detail (contacts, referral outcomes, section 47 outcomes), and
# social workers for the cases open, for the last year, the period of Ofsted's Annex A and of
# the CIN census: every board as at today has its data, for a fraction of the commands the
# county's two years of them would take to load.
VISIT_WINDOW = timedelta(days=28)
LAST_YEAR = timedelta(days=365)

A = AssessmentFactor
ETHNICITIES = {  # a shire's shares (%), Devon's 2021 census children, roughly
    Ethnicity.WHITE_BRITISH: 82.0,
    Ethnicity.WHITE_OTHER: 4.0,
    Ethnicity.WHITE_IRISH: 0.4,
    Ethnicity.WHITE_IRISH_TRAVELLER: 0.4,
    Ethnicity.WHITE_ROMA: 0.3,
    Ethnicity.MIXED_WHITE_BLACK_CARIBBEAN: 1.2,
    Ethnicity.MIXED_WHITE_BLACK_AFRICAN: 0.8,
    Ethnicity.MIXED_WHITE_ASIAN: 1.4,
    Ethnicity.MIXED_OTHER: 1.8,
    Ethnicity.ASIAN_INDIAN: 0.5,
    Ethnicity.ASIAN_PAKISTANI: 0.2,
    Ethnicity.ASIAN_BANGLADESHI: 0.2,
    Ethnicity.ASIAN_OTHER: 0.6,
    Ethnicity.BLACK_CARIBBEAN: 0.3,
    Ethnicity.BLACK_AFRICAN: 0.9,
    Ethnicity.BLACK_OTHER: 0.2,
    Ethnicity.CHINESE: 0.3,
    Ethnicity.OTHER: 0.6,
    Ethnicity.REFUSED: 0.4,
    Ethnicity.NOT_OBTAINED: 1.5,
}
# Unaccompanied asylum-seeking children: mostly Afghan, Eritrean, Sudanese, Kurdish, Albanian.
UASC_ETHNICITIES = [
    Ethnicity.ASIAN_OTHER,
    Ethnicity.ASIAN_OTHER,
    Ethnicity.BLACK_AFRICAN,
    Ethnicity.BLACK_AFRICAN,
    Ethnicity.OTHER,
    Ethnicity.WHITE_OTHER,
]
DISABILITIES = {
    Disability.AUTISM_ASPERGERS: 25,
    Disability.LEARNING: 20,
    Disability.COMMUNICATION: 15,
    Disability.BEHAVIOUR: 12,
    Disability.MOBILITY: 8,
    Disability.OTHER_DDA: 6,
    Disability.PERSONAL_CARE: 4,
    Disability.HEARING: 3,
    Disability.VISION: 3,
    Disability.HAND_FUNCTION: 2,
    Disability.INCONTINENCE: 1,
    Disability.CONSCIOUSNESS: 1,
}
# The factors an assessment identifies, by the category of need the plan then records.
NEED_FACTORS = {
    "N1": [
        A.NEGLECT,
        A.NEGLECT,
        A.EMOTIONAL_ABUSE,
        A.PHYSICAL_ABUSE_BY_ADULT,
        A.SEXUAL_ABUSE_BY_ADULT,
        A.DOMESTIC_ABUSE_PARENT,
        A.MENTAL_HEALTH_PARENT,
        A.DRUG_MISUSE_PARENT,
        A.ALCOHOL_MISUSE_PARENT,
    ],
    "N2": [
        A.LEARNING_DISABILITY_CHILD,
        A.PHYSICAL_DISABILITY_CHILD,
        A.MENTAL_HEALTH_CHILD,
    ],
    "N3": [
        A.MENTAL_HEALTH_PARENT,
        A.PHYSICAL_DISABILITY_PARENT,
        A.LEARNING_DISABILITY_PARENT,
        A.YOUNG_CARER,
        A.ALCOHOL_MISUSE_PARENT,
    ],
    "N4": [
        A.DOMESTIC_ABUSE_PARENT,
        A.DOMESTIC_ABUSE_OTHER,
        A.MENTAL_HEALTH_PARENT,
        A.ALCOHOL_MISUSE_PARENT,
        A.DRUG_MISUSE_PARENT,
    ],
    "N5": [
        A.DOMESTIC_ABUSE_PARENT,
        A.EMOTIONAL_ABUSE,
        A.DRUG_MISUSE_PARENT,
        A.ALCOHOL_MISUSE_PARENT,
        A.MENTAL_HEALTH_PARENT,
    ],
}
NEED_FACTORS["N8"] = [A.UNACCOMPANIED_ASYLUM_SEEKING]
PRE_BIRTH_FACTORS = [
    A.DOMESTIC_ABUSE_PARENT,
    A.MENTAL_HEALTH_PARENT,
    A.DRUG_MISUSE_PARENT,
    A.ALCOHOL_MISUSE_PARENT,
    A.LEARNING_DISABILITY_PARENT,
]
ADOLESCENT_FACTORS = [
    A.SELF_HARM,
    A.MENTAL_HEALTH_CHILD,
    A.DRUG_MISUSE_CHILD,
    A.ALCOHOL_MISUSE_CHILD,
    A.SOCIALLY_UNACCEPTABLE_BEHAVIOUR,
]
EXPLOITATION = [  # criminal exploitation the commonest, then sexual, then going missing
    A.CHILD_CRIMINAL_EXPLOITATION,
    A.CHILD_CRIMINAL_EXPLOITATION,
    A.CHILD_SEXUAL_EXPLOITATION,
    A.GOING_MISSING,
    A.GANGS,
    A.TRAFFICKING,
]
CHANGE_REASONS = {
    SocialWorkerChangeReason.LEFT_ROLE: 30,
    SocialWorkerChangeReason.MANAGEMENT_DECISION: 20,
    SocialWorkerChangeReason.TRANSFER_BETWEEN_TEAMS_PROCESS: 12,
    SocialWorkerChangeReason.ABSENCE: 10,
    SocialWorkerChangeReason.ORGANISATIONAL_RESTRUCTURE: 8,
    SocialWorkerChangeReason.CHILD_REQUESTED_CHANGE: 4,
    SocialWorkerChangeReason.PARENT_OR_CARER_REQUESTED_CHANGE: 4,
    SocialWorkerChangeReason.OTHER: 2,
}
PARTICIPATION = {  # for a child of 4 or more (PN0: under 4)
    ReviewParticipation.ATTENDED_SPOKE_FOR_SELF: 40,
    ReviewParticipation.ATTENDED_ADVOCATE_SPOKE: 8,
    ReviewParticipation.ATTENDED_VIEWS_NON_VERBALLY: 7,
    ReviewParticipation.ATTENDED_NO_VIEWS: 6,
    ReviewParticipation.ABSENT_ADVOCATE_BRIEFED: 10,
    ReviewParticipation.ABSENT_VIEWS_BY_OTHER_MEANS: 19,
    ReviewParticipation.ABSENT_NO_VIEWS: 10,
}
EARLY_OUTCOMES = [
    ContactOutcome.NO_FURTHER_ACTION,
    ContactOutcome.INFORMATION_AND_ADVICE,
    ContactOutcome.INFORMATION_AND_ADVICE,
    ContactOutcome.EARLY_HELP,
    ContactOutcome.EARLY_HELP,
]
ORDERS = {  # how care proceedings concluded
    CourtOrder.CARE_ORDER: 40,
    CourtOrder.SPECIAL_GUARDIANSHIP_ORDER: 20,
    CourtOrder.SUPERVISION_ORDER: 15,
    CourtOrder.PLACEMENT_ORDER: 10,
    CourtOrder.CHILD_ARRANGEMENTS_ORDER: 10,
    CourtOrder.NO_ORDER: 5,
}
TENURES = {Tenure.SOCIAL: 50, Tenure.SUPPORTED: 25, Tenure.PRIVATE: 20, Tenure.OTHER: 5}
HOUSED = {
    HomelessnessOutcome.PREVENTED: 50,
    HomelessnessOutcome.RELIEVED: 25,
    HomelessnessOutcome.HOMELESS: 15,
    HomelessnessOutcome.WITHDRAWN: 10,
}
PANEL_ACTIONS = {
    NEETPanelAction.CAREERS_REFERRAL: 35,
    NEETPanelAction.TRAINING_OFFER: 25,
    NEETPanelAction.EMPLOYMENT_SUPPORT: 20,
    NEETPanelAction.HEALTH_SUPPORT: 12,
    NEETPanelAction.NO_FURTHER_ACTION: 8,
}
# The authorities that made the permanence orders children had before coming into care:
# Devon, then its neighbours (Plymouth, Torbay, Cornwall, Somerset).
ORDER_AUTHORITIES = [DEVON, DEVON, DEVON, "879", "880", "908", "933"]
ADOPTERS = {
    AdoptersSex.MALE_FEMALE_COUPLE: 68,
    AdoptersSex.SINGLE_FEMALE: 14,
    AdoptersSex.MALE_COUPLE: 8,
    AdoptersSex.FEMALE_COUPLE: 7,
    AdoptersSex.SINGLE_MALE: 3,
}
# Ofsted's unique reference numbers of the providers the county places with (invented, each
# the same for every child placed there): the council's own fostering service and children's
# homes, independent fostering agencies and homes ("SC" and six digits), and supported
# accommodation registered since 2023 (seven digits). SSDA903 rule 218: a URN for every
# placement but with parents, in residential employment, in a hospital or care home, in
# custody, or a temporary one.
DEVON_FOSTERING = "SC056734"
DEVON_HOMES = ["SC040512", "SC040519", "SC372263", "SC480921"]
AGENCIES = [f"SC{412000 + 977 * i:06d}" for i in range(12)]
HOMES = [f"SC{450000 + 4253 * i:06d}" for i in range(20)]
SUPPORTED = [f"{2700000 + 3911 * i:07d}" for i in range(8)]
NO_URN = {"P1", "P3", "R1", "R2", "R5", "T0", "T1", "T2", "T3", "T4"}
# A placement order is granted (legal status E1) weeks to months after the decision that the
# child should be placed for adoption, never before (SSDA903 rules 553, 554).
PLACEMENT_ORDER_DAYS = (30, 150)
# A girl looked after from 15 has her first child while in care, by this chance (SSDA903
# MOTHER and MC_DOB; the rest are recorded as not mothers).
MOTHERS = 0.06


def upn(rng: random.Random, born: date) -> str:
    """A UPN as the DfE allocates them: the LA's code, the school's establishment number, the
    year it was allocated (the reception year), a serial; its check letter first."""
    school = rng.choice([2, 3, 4]) * 1000 + rng.randint(0, 999)
    body = f"{DEVON}{school:04d}{(born.year + 4) % 100:02d}{rng.randint(1, 999):03d}"
    return upn_check_letter(f"?{body}") + body


@dataclass
class Allocation:
    since: date
    worker: str | None  # None: the allocation ended


class Record:
    """Adds one child's facts to its journey (to case events; `send` to another service)."""

    def __init__(
        self, journey: Journey, child_id: str, born: date | None, locality: str, end: date
    ) -> None:
        """`born`: None for a child not born yet (set it at the birth)."""
        self.journey, self.child_id, self.born, self.locality = journey, child_id, born, locality
        self.end = end
        self.rng = random.Random(f"record-{child_id}")
        self.team: Team | None = None
        self.allocations: list[Allocation] = []
        self.contacts = 0
        # Who the child is, the same at every recording once known (drawn at the first).
        self.sex: Sex | None = None
        self.ethnicity: Ethnicity | None = None
        self.disabilities: list[Disability] | None = None
        self.uasc = False
        # A girl looked after: whether she is a mother (None: not recorded), her first child's
        # birth.
        self.mother: bool | None = None
        self.first_child: date | None = None
        self.home: str | None = None  # the home's postcode district when care began
        self.placed_in: str | None = None  # the current placement's
        # The last day anything of the child's current episode of need was open: its closure
        # comes no earlier.
        self.settled: date | None = None

    def add(self, path: str, **body: Any) -> None:
        self.journey.add("case_events", f"/children/{self.child_id}{path}", **body)

    def day(self, after: date, within: int) -> date:
        """A day after `after`, at most `within` days later, never after the end."""
        return min(after + timedelta(days=self.rng.randint(1, max(1, within))), self.end)

    def before(self, on: date, within: int) -> date:
        """A day up to `within` days before `on`, never before the child was born."""
        day = on - timedelta(days=self.rng.randint(0, within))
        return day if self.born is None else max(self.born, day)

    @property
    def date_of_birth(self) -> date:
        if self.born is None:
            raise LookupError(f"{self.child_id} is not born yet")
        return self.born

    def age_on(self, day: date) -> int:
        return 0 if self.born is None else max(0, age_on(self.born, day))

    # -- the child --------------------------------------------------------------------------

    def characteristics(
        self,
        on: date,
        *,
        disabled: bool = False,
        uasc: bool = False,
        unborn: bool = False,
        looked_after: bool = False,
    ) -> None:
        """Sex, ethnicity and disabilities (NONE, or 1-2 of them: always for a disabled child,
        for a few others), each drawn at the first recording and the same at every later one;
        asylum status. An unborn child's sex is not known yet. A girl looked after has whether
        she is a mother recorded (not, unless `motherhood` made her one)."""
        rng = self.rng
        self.uasc = self.uasc or uasc
        if unborn:
            sex = Sex.NOT_KNOWN
        else:
            if self.sex is None:
                self.sex = Sex.MALE if rng.random() < (0.92 if uasc else 0.52) else Sex.FEMALE
            sex = self.sex
        if self.ethnicity is None:
            self.ethnicity = (
                rng.choice(UASC_ETHNICITIES)
                if uasc
                else rng.choices(list(ETHNICITIES), list(ETHNICITIES.values()))[0]
            )
        disabilities = [Disability.NONE]
        if not unborn:
            if self.disabilities is None:
                self.disabilities = disabilities
                if disabled or rng.random() < 0.04:
                    chosen = rng.choices(
                        list(DISABILITIES), list(DISABILITIES.values()), k=rng.randint(1, 2)
                    )
                    self.disabilities = sorted(set(chosen))
            disabilities = self.disabilities
        if looked_after and sex is Sex.FEMALE and self.mother is None:
            self.mother = False
        motherhood: dict[str, Any] = {}
        if self.mother is not None:
            motherhood["mother"] = self.mother
        if self.first_child is not None:
            motherhood["first_child_born_on"] = self.first_child
        self.add(
            "/characteristics",
            recorded_on=on,
            sex=sex,
            ethnicity=self.ethnicity,
            disabilities=disabilities,
            unaccompanied_asylum_seeking=self.uasc,
            **motherhood,
        )

    def motherhood(self, since: date, until: date | None) -> None:
        """For a few girls looked after from 15: their first child born while in care (between
        `since` and `until`), and the characteristics recorded again that day (MOTHER 1, with
        MC_DOB)."""
        if self.sex is not Sex.FEMALE or self.born is None:
            return
        first = max(since + timedelta(days=60), add_months(self.born, 15 * 12))
        last = min(until or self.end, self.end)
        if first >= last or self.rng.random() > MOTHERS:
            return
        self.mother = True
        self.first_child = first + timedelta(days=self.rng.randint(0, (last - first).days))
        self.characteristics(self.first_child, looked_after=True)

    def birth(self, on: date) -> None:
        """An unborn child is born: its sex is known from then on."""
        self.add("/births", date_of_birth=on)
        self.born = on
        self.characteristics(on)

    def district(self, in_area: bool = True) -> str:
        """A postcode district: mostly the child's locality's, else elsewhere in the county, or
        beyond it for a placement out of the council's area."""
        if not in_area:
            return self.rng.choice(OUT_OF_AREA)
        own = self.rng.random() < 0.65
        return self.rng.choice(DISTRICTS[self.locality if own else self.rng.choice(LOCALITIES)])

    def home_district(self) -> str:
        """The district of the home the child came into care from (kept: a placement is
        elsewhere)."""
        self.home = self.district()
        return self.home

    def placement_district(self, in_area: bool = True) -> str:
        """A placement's district: never the home's (only a placement with parents is there,
        SSDA903 rule 392d), nor the last placement's (a move is to another place: rule 435)."""
        avoid = {self.home, self.placed_in}
        district = self.district(in_area)
        for _ in range(5):
            if district not in avoid:
                break
            district = self.district(in_area)
        else:
            district = self.rng.choice([d for d in OUT_OF_AREA if d not in avoid])
        self.placed_in = district
        return district

    def urn(self, placement_type: str, provider: str) -> str | None:
        """The Ofsted URN of the placement's provider: the council's own fostering service or
        homes for its own provision, else an agency's or a home's; None where the placement
        type needs none."""
        if placement_type in NO_URN:
            return None
        own = provider == Provider.OWN_PROVISION
        if placement_type == PlacementType.REGISTERED_SUPPORTED_ACCOMMODATION:
            return self.rng.choice(SUPPORTED)
        if placement_type in (PlacementType.CHILDRENS_HOME, PlacementType.SECURE_UNIT):
            return self.rng.choice(DEVON_HOMES if own else HOMES)
        if placement_type.startswith("A"):  # placed for adoption by the regional agency
            return "XXXXXXX"
        return DEVON_FOSTERING if own else self.rng.choice(AGENCIES)

    # -- the front door ---------------------------------------------------------------------

    def contact(self, on: date, source: str, outcome: ContactOutcome) -> None:
        self.contacts += 1
        self.add(
            "/front-door-contacts",
            contact_id=f"CT-{self.child_id}-{self.contacts}",
            contact_date=on,
            source=source,
            outcome=outcome,
        )

    def recent(self, on: date) -> bool:
        """Within the last year: the front door's detail is recorded."""
        return on > self.end - LAST_YEAR

    def referral(
        self,
        referral_id: str,
        on: date,
        source: str,
        outcome: ReferralOutcome,
        decided: int = 0,
        *,
        need: str = "N1",
    ) -> None:
        """The referral; in the last year also the contact it came from (that day or a day or
        two before) and what it led to (decided `decided` days later at most), with the need
        it was accepted for if it led further (CIN census PrimaryNeedCode until an assessment
        finds one)."""
        recent = self.recent(on)
        if recent:
            contact_on = self.before(on, 2)
            self.contact(contact_on, source, ContactOutcome.REFERRAL_TO_CHILDRENS_SOCIAL_CARE)
        self.journey.add(
            "case_events",
            f"/children/{self.child_id}/referrals",
            referral_id=referral_id,
            referral_date=on,
            source=source,
        )
        if not recent:
            return
        decided_on = min(on + timedelta(days=self.rng.randint(0, decided)), self.end)
        accepted = {} if outcome is ReferralOutcome.NO_FURTHER_ACTION else {"primary_need": need}
        self.add(
            "/referral-outcomes",
            referral_id=referral_id,
            decided_on=decided_on,
            outcome=outcome,
            **accepted,
        )

    def close(self, referral_id: str, on: date, reason: ChildInNeedClosureReason) -> date:
        """The episode of need the referral began is closed, where no child in need plan's end
        closes it (after an assessment or an enquiry with no further action, at a child
        protection plan's end with no step-down, when care ends): no earlier than anything of
        the episode was open. The day it closed."""
        closed = max(on, self.settled or on)
        self.add(
            "/episode-of-need-closures", referral_id=referral_id, closed_on=closed, reason=reason
        )
        self.settled = None
        return closed

    def settle(self, on: date) -> date:
        """Something of the current episode of need was open until `on`."""
        self.settled = max(on, self.settled or on)
        return on

    def history(self, n: int, referred: date, since: date, source: str) -> None:
        """What came to the front door about the child in the year before this referral: for
        some a contact that went no further, for others a referral closed with no further
        action, after a section 47 enquiry and its assessment for a few (the episode closed
        before this referral, which makes it a re-referral within 12 months)."""
        # In the last year (its detail recorded: a referral's outcome says it was closed).
        earliest = max(
            since, self.end - LAST_YEAR + timedelta(days=1), (self.born or since) + timedelta(1)
        )
        span = (referred - earliest).days
        chance = self.rng.random()
        if span < 45 or chance > 0.22:
            return
        on = referred - timedelta(days=self.rng.randint(30, min(span, 330)))
        if chance < 0.03:
            self.referral(f"R{n}-0", on, source, ReferralOutcome.SECTION_47)
            concluded = self.section_47(f"SD{n}-0", on, Section47Outcome.NO_FURTHER_ACTION)
            # Closed as services ceased: after an enquiry, never "after assessment" (CIN
            # census rule 2990), so the assessment found factors (rule 8873Q).
            self.assessment(f"A{n}-0", on, "N9", after=concluded, by=referred - timedelta(days=1))
            self.close(f"R{n}-0", on, ChildInNeedClosureReason.SERVICES_CEASED_OTHER)
        elif chance < 0.1:
            self.referral(f"R{n}-0", on, source, ReferralOutcome.NO_FURTHER_ACTION, 3)
        else:
            source = self.rng.choice(["1A", "2A", "3A", "3B", "6"])
            self.contact(on, source, self.rng.choice(EARLY_OUTCOMES))

    def section_47(self, discussion_id: str, after: date, outcome: Section47Outcome) -> date:
        """A strategy discussion that starts a section 47 enquiry, and how (and the day) the
        enquiry ended."""
        held = min(after + timedelta(days=self.rng.randint(0, 2)), self.end)
        self.add(
            "/strategy-discussions",
            discussion_id=discussion_id,
            discussion_date=held,
            section_47_enquiry=True,
        )
        concluded = self.day(held, 12)
        self.concluded(discussion_id, concluded, outcome)
        return concluded

    def concluded(self, discussion_id: str, on: date, outcome: Section47Outcome) -> None:
        self.settle(on)
        self.add(
            "/section-47-outcomes", discussion_id=discussion_id, concluded_on=on, outcome=outcome
        )

    def assessment(
        self,
        assessment_id: str,
        on: date,
        need: str,
        *,
        also: list[AssessmentFactor] | None = None,
        after: date | None = None,
        by: date | None = None,
    ) -> date:
        """A child and family assessment started `on`, authorised weeks later (a few beyond 45
        working days; beside a section 47 enquiry, within weeks `after` the enquiry ended, so
        that the enquiry is never in a census year without it, rule 2991Q; by `by` at the
        latest) with the factors it identified (`also` if any, else the need's: never none,
        for an assessment beside an enquiry or before a plan or care) and the child's primary
        need (N9: not a child in need, after an enquiry with no further action). The day it
        was completed."""
        self.add("/assessments", assessment_id=assessment_id, start_date=on)
        done = self.day(on, 70) if after is None else self.day(after, 20)
        done = min(done, by or self.end)
        factors = also or self.factors("N4" if need == "N9" else need, done, settled=True)
        self.complete(assessment_id, done, factors, need)
        return done

    def complete(
        self, assessment_id: str, on: date, factors: list[AssessmentFactor], need: str
    ) -> None:
        """An assessment authorised, with what it found: its factors and the primary need."""
        self.settle(on)
        self.add(
            "/assessment-completions",
            assessment_id=assessment_id,
            completion_date=on,
            factors=factors,
            primary_need=need,
        )

    def factors(
        self, need: str | None, on: date, *, settled: bool = False
    ) -> list[AssessmentFactor]:
        """The factors identified at the end of an assessment: those of the need, and for some
        adolescents their own (self-harm, substance misuse) and exploitation outside the home.
        For a few none at all ("21"), unless the assessment is `settled` to lead to more (a
        plan, care): "no factors" closes the case (CIN census rule 8873Q)."""
        rng = self.rng
        if rng.random() < 0.04 and not settled:
            return [A.NO_FACTORS]
        pool = NEED_FACTORS[need] if need else PRE_BIRTH_FACTORS
        chosen = set(rng.sample(pool, k=rng.randint(1, min(3, len(pool)))))
        if need and self.age_on(on) >= 11:
            if rng.random() < 0.35:
                chosen.add(rng.choice(ADOLESCENT_FACTORS))
            if rng.random() < 0.2:
                chosen.update(rng.sample(EXPLOITATION, k=rng.randint(1, 2)))
        return sorted(chosen)

    # -- workforce --------------------------------------------------------------------------

    def allocate(
        self,
        team: Team,
        since: date,
        until: date | None = None,
        *,
        unallocated: float = 0.0,
        lapse: float = 0.0,
        keep: bool = False,
    ) -> None:
        """A social worker of the team from `since`, changed for some (with the reason), ended
        `until` the case closed (none for a case closed before the last year). By chance
        `unallocated`, none at all (the child waits for one); by chance `lapse`, the allocation
        ends while the case stays open. `keep`: recorded whenever the case closed. The child's
        first allocation, or the first after a gap, is a first contact (FCONTA: never a
        change's reason)."""
        self.team = team
        if self.rng.random() < unallocated or (until and not keep and not self.recent(until)):
            return
        before = self.allocations[-1] if self.allocations else None
        first = before is None or (before.worker is None and before.since != since)
        reason = SocialWorkerChangeReason.FIRST_CONTACT if first else None
        worker = self._allocated(team, since, self.rng.choice(team.workers), reason)
        last = until or self.end
        on = since
        for _ in range(2):
            span = (last - on).days
            if len(team.workers) < 2 or span < 60 or self.rng.random() > 0.15:
                break
            on += timedelta(days=self.rng.randint(30, span - 1))
            reason = self.rng.choices(list(CHANGE_REASONS), list(CHANGE_REASONS.values()))[0]
            others = [w for w in team.workers if w != worker]
            worker = self._allocated(team, on, self.rng.choice(others), reason)
        if until is not None:
            self._ended(until, worker)
        elif self.rng.random() < lapse and (self.end - on).days > 20:
            self._ended(on + timedelta(days=self.rng.randint(10, (self.end - on).days - 1)), worker)

    def _allocated(
        self, team: Team, on: date, worker: str, reason: SocialWorkerChangeReason | None = None
    ) -> str:
        self.add(
            "/social-worker-allocations",
            allocated_on=on,
            worker_id=worker,
            team_id=team.team_id,
            **({"reason": reason} if reason else {}),
        )
        self.allocations.append(Allocation(on, worker))
        return worker

    def _ended(self, on: date, worker: str) -> None:
        self.add("/social-worker-allocation-endings", ended_on=on, worker_id=worker)
        self.allocations.append(Allocation(on, None))

    def visitor(self, on: date) -> str:
        """The social worker allocated on the day, or the team's duty worker if none is."""
        allocated = [a.worker for a in self.allocations if a.since <= on]
        if allocated and allocated[-1]:
            return allocated[-1]
        if self.team is None:
            raise LookupError(f"{self.child_id} has no team to visit it")
        return self.rng.choice(self.team.workers)

    # -- statutory visits -------------------------------------------------------------------

    def visits(
        self,
        plan: PlanType,
        since: date,
        until: date | None,
        rating: str | None,
        visitor: str | None = None,
    ) -> None:
        """Visits under a plan open from `since` (to `until`), over the last four weeks or the
        child's last visiting interval if longer: as often as the plan asks, and as the risk
        rating asks at half its frequency (the shortfall the seed's RAG board shows); some
        late, some where the child was not seen, and a few children not visited lately."""
        every = PLAN_DAYS[plan] if rating is None else min(PLAN_DAYS[plan], 2 * RAG_DAYS[rating])
        first = max(since + timedelta(days=1), self.end - max(VISIT_WINDOW, timedelta(every)))
        last = until - timedelta(days=1) if until else self.end
        if self.rng.random() < 0.04:
            return
        on = first + timedelta(days=self.rng.randint(0, every - 1))
        while on <= last:
            seen = self.rng.random() < 0.9
            self.add(
                "/statutory-visits",
                visit_date=on,
                plan_type=plan,
                seen=seen,
                seen_alone=(self.age_on(on) >= 4 and self.rng.random() < 0.7) if seen else None,
                visitor_id=visitor or self.visitor(on),
            )
            if self.rng.random() < 0.15:  # late
                on += timedelta(days=every + self.rng.randint(1, every))
            else:  # on time, most near the timescale
                on += timedelta(days=self.rng.randint(every - every // 4, every))

    # -- children in care -------------------------------------------------------------------

    def participation(self, on: date) -> ReviewParticipation:
        """How the child took part in a looked after review."""
        if self.age_on(on) < 4:
            return ReviewParticipation.UNDER_FOUR
        return self.rng.choices(list(PARTICIPATION), list(PARTICIPATION.values()))[0]

    def previous_permanence(self, on: date) -> None:
        """For every child coming into care: the order they had before (adoption, an SGO, a
        child arrangements order) for a few, else none (Z1), as the SSDA903 asks (rule 630)."""
        chance = self.rng.random()
        born = self.born or on
        before = (on - born).days
        if chance > 0.06 or before < 400:
            self.add(
                "/previous-permanence",
                recorded_on=on,
                arrangement=PreviousPermanence.NONE_OR_NOT_KNOWN,
            )
            return
        self.add(
            "/previous-permanence",
            recorded_on=on,
            arrangement=self.rng.choice(
                [
                    PreviousPermanence.ADOPTION,
                    PreviousPermanence.SPECIAL_GUARDIANSHIP_ORDER,
                    PreviousPermanence.SPECIAL_GUARDIANSHIP_ORDER,
                    PreviousPermanence.RESIDENCE_ORDER,
                    PreviousPermanence.CHILD_ARRANGEMENTS_ORDER,
                ]
            ),
            order_date=born + timedelta(days=self.rng.randint(200, before - 120)),
            local_authority=self.rng.choice(ORDER_AUTHORITIES),
        )

    def annual_health(self, since: date, until: date | None = None) -> None:
        """The health outcomes (SSDA903 OC2) of a child looked after from `since` (to `until`):
        recorded in every collection year (1 April to 31 March) the child was in care at its
        start, by its end: at the anniversary of coming into care where that falls in the year
        and in care, else some day of it. Only this year's and last year's: the returns the
        county is checked by."""
        year = _collection_year_start(self.end - LAST_YEAR)
        while year <= self.end:
            following = date(year.year + 1, 4, 1)
            last = min(following - timedelta(days=1), self.end)
            if until is not None:
                last = min(last, until - timedelta(days=1))
            if since <= year <= last:
                anniversary = _anniversary(since, year)
                on = (
                    anniversary
                    if anniversary <= last
                    else year + timedelta(days=self.rng.randint(0, (last - year).days))
                )
                self.health_outcomes(on)
            year = following

    def health_outcomes(self, on: date) -> None:
        """The SSDA903 OC2 outcomes of a child in care, as recorded on the day: checks and
        immunisations mostly up to date, an SDQ score (or why not), substance misuse and
        convictions for a few older children."""
        rng, age = self.rng, self.age_on(on)
        misuse = age >= 11 and rng.random() < 0.06
        sdq: dict[str, Any]
        if not 4 <= age <= 17:
            sdq = {"sdq_reason": SdqReason.AGE_OUTSIDE_4_TO_17}
        elif rng.random() < 0.82:
            sdq = {"sdq_score": min(40, max(0, round(rng.gauss(14, 6.5))))}
        else:
            sdq = {
                "sdq_reason": rng.choice(
                    [SdqReason.CARER_REFUSED, SdqReason.CHILD_REFUSED, SdqReason.OTHER]
                )
            }
        received = rng.random() < 0.6 if misuse else None
        self.add(
            "/health-outcomes",
            recorded_on=on,
            convicted=age >= 10 and rng.random() < 0.03,
            health_check=rng.random() < 0.9,
            immunisations=rng.random() < 0.86,
            teeth_check=rng.random() < 0.8,
            health_assessment=rng.random() < 0.9,
            substance_misuse=misuse,
            intervention_received=received,
            intervention_offered=(received or rng.random() < 0.7) if misuse else None,
            **sdq,
        )

    def missing(self, since: date, episodes: int) -> None:
        """Episodes missing (or away without authorisation) in the last year, each back within
        a few days; after each missing episode a return home interview offered, within 72 hours
        for most, late for some, declined by some, and not offered after a few."""
        on = max(since, self.end - timedelta(days=365))
        for _ in range(episodes):
            started = on + timedelta(days=self.rng.randint(1, 120))
            if started >= self.end:
                return
            back = min(started + timedelta(days=self.rng.choice([0, 0, 1, 1, 2, 3])), self.end)
            # Back by the 31 March of its year: an episode still open at a year's end (its
            # MIS_END blank in that year's SSDA903, as the DfE asks) is flagged by rules 575
            # and 577 of the DfE's validator when every rule runs, though either alone passes
            # it (one of its rules changes the episodes the others read). A real council's
            # would be flagged too; the demo county, which the tests hold to every rule, has
            # none.
            back = min(back, _collection_year_end(started))
            kind = (
                MissingKind.MISSING
                if self.rng.random() < 0.75
                else MissingKind.AWAY_WITHOUT_AUTHORISATION
            )
            self.add("/missing-episodes", started_on=started, ended_on=back, kind=kind)
            if kind is MissingKind.MISSING:
                self._return_interview(started, back)
            on = back

    def _return_interview(self, started: date, back: date) -> None:
        chance = self.rng.random()
        late = self.rng.randint(0, 2) if chance < 0.72 else self.rng.randint(4, 10)
        offered = back + timedelta(days=late)
        if chance > 0.92 or offered > self.end:
            return
        self.add(
            "/return-home-interviews",
            missing_started_on=started,
            offered_on=offered,
            accepted=self.rng.random() < 0.8,
        )

    def adoption(self, decided: date) -> None:
        """The decision that the child should be placed for adoption; then, for most, the
        placement order (legal status E1, weeks after the decision) and a match with adopters
        months later, and for a few the decision reversed (with no placement order)."""
        self.add("/adoption-decisions", decided_on=decided)
        chance = self.rng.random()
        if chance < 0.12 and (self.end - decided).days > 60:
            self.add(
                "/adoption-decision-reversals",
                reversed_on=self.day(decided, 200),
                reason=self.rng.choice(
                    [
                        AdoptionDecisionReversalReason.CHILDS_NEEDS_CHANGED,
                        AdoptionDecisionReversalReason.NO_PLACEMENT_ORDER,
                        AdoptionDecisionReversalReason.NO_ADOPTERS_FOUND,
                    ]
                ),
            )
            return
        matched = decided + timedelta(days=self.rng.randint(60, 270))
        ordered = decided + timedelta(days=self.rng.randint(*PLACEMENT_ORDER_DAYS))
        if chance < 0.8:
            ordered = min(ordered, matched - timedelta(days=1))
        if ordered <= self.end:  # the placement order: legal status E1 from then
            self.add(
                "/legal-status-changes",
                change_date=ordered,
                legal_status=LegalStatus.PLACEMENT_ORDER,
            )
        if chance < 0.8 and matched <= self.end:
            self.add("/adoption-matches", matched_on=matched, **self._adopters())

    def _adopters(self) -> dict[str, Any]:
        """Who adopts, as the SSDA903 pairs their sex and legal status (a single adopter L0;
        a different-sex couple married L11 or not L3; a same-sex couple married L12, in a civil
        partnership L2, or neither L3)."""
        rng = self.rng
        sex = rng.choices(list(ADOPTERS), list(ADOPTERS.values()))[0]
        if sex in (AdoptersSex.SINGLE_FEMALE, AdoptersSex.SINGLE_MALE):
            status = AdoptersLegalStatus.SINGLE
        elif sex is AdoptersSex.MALE_FEMALE_COUPLE:
            status = rng.choice(
                [AdoptersLegalStatus.MARRIED_DIFFERENT_SEX_COUPLE] * 3
                + [AdoptersLegalStatus.UNMARRIED_COUPLE]
            )
        else:
            status = rng.choice(
                [
                    AdoptersLegalStatus.MARRIED_SAME_SEX_COUPLE,
                    AdoptersLegalStatus.CIVIL_PARTNERS,
                    AdoptersLegalStatus.UNMARRIED_COUPLE,
                ]
            )
        return {
            "adopted_by_foster_carer": rng.random() < 0.15,
            "number_of_adopters": 1 if status is AdoptersLegalStatus.SINGLE else 2,
            "adopters_sex": sex,
            "adopters_legal_status": status,
        }

    def deprivation_of_liberty(self, since: date) -> bool:
        """A deprivation of liberty authorised by the High Court (an adolescent in a children's
        home) for six months; ended early for some. False if there was no time for one."""
        authorised = self.day(since, 200)
        if (self.end - authorised).days < 30:
            return False
        self.add(
            "/deprivation-of-liberty",
            authorised_on=authorised,
            basis=DeprivationOfLibertyBasis.INHERENT_JURISDICTION,
            expires_on=authorised + timedelta(days=182),
        )
        if self.rng.random() < 0.5 and (self.end - authorised).days > 120:
            self.add("/deprivation-of-liberty-endings", ended_on=self.day(authorised, 100))
        return True

    # -- pre-proceedings and care proceedings -----------------------------------------------

    def pre_proceedings(self, entered: date, proceedings_id: str) -> None:
        """The Public Law Outline's steps after entry: the letter before proceedings, the
        meeting, then for most the outcome weeks later (a few beyond 16): stepped down, or care
        proceedings issued. The rest drift on, open."""
        concluded = entered + timedelta(weeks=self.rng.choice([4, 6, 8, 10, 12, 14, 17, 20, 26]))
        self._letter_and_meeting(entered, min(concluded, self.end))
        if concluded > self.end or self.rng.random() < 0.25:
            return
        issue = self.rng.random() < 0.45
        outcome = (
            PreProceedingsOutcome.ISSUE_PROCEEDINGS if issue else PreProceedingsOutcome.STEP_DOWN
        )
        self.add("/pre-proceedings-outcomes", concluded_on=concluded, outcome=outcome)
        if issue:
            self.proceedings(proceedings_id, self.day(concluded, 14))

    def proceedings_into_care(self, start: date, proceedings_id: str) -> None:
        """For a child who came into care on an interim care order: the pre-proceedings before
        (6 to 20 weeks), ended by issuing care proceedings the day the child came into care."""
        entered = max(self.date_of_birth, start - timedelta(weeks=self.rng.randint(6, 20)))
        if (start - entered).days < 14:
            return
        self.add("/pre-proceedings", entered_on=entered)
        self._letter_and_meeting(entered, start)
        outcome = PreProceedingsOutcome.ISSUE_PROCEEDINGS
        self.add("/pre-proceedings-outcomes", concluded_on=start, outcome=outcome)
        self.proceedings(proceedings_id, start)

    def _letter_and_meeting(self, entered: date, by: date) -> None:
        letter = min(self.day(entered, 5), by)
        self.add("/letters-before-proceedings", sent_on=letter)
        self.add("/pre-proceedings-meetings", meeting_date=min(self.day(letter, 14), by))

    def proceedings(self, proceedings_id: str, issued: date) -> None:
        """Care proceedings issued, their hearings, and for those concluded the order: most
        within 26 weeks, some beyond."""
        self.add("/care-proceedings", proceedings_id=proceedings_id, issued_on=issued)
        concluded = issued + timedelta(weeks=self.rng.choice([16, 20, 23, 25, 26, 30, 38]))
        hearing = issued
        for _ in range(self.rng.randint(1, 3)):
            hearing += timedelta(days=self.rng.randint(20, 50))
            if hearing >= min(concluded, self.end):
                break
            self.add(
                "/care-proceedings-hearings", proceedings_id=proceedings_id, hearing_date=hearing
            )
        if concluded <= self.end:
            self.add(
                "/care-proceedings-conclusions",
                proceedings_id=proceedings_id,
                concluded_on=concluded,
                order=self.rng.choices(list(ORDERS), list(ORDERS.values()))[0],
            )

    # -- beyond care: housing, education and training ---------------------------------------

    def send(self, service: str, path: str, **body: Any) -> None:
        """A command to another service about the child."""
        self.journey.add(service, f"/children/{self.child_id}{path}", **body)

    def housing(self, eighteen: date) -> None:
        """A care leaver's housing: a tenancy for some (ended for a few, with floating support
        for some), and a homelessness prevention referral for a few in the last year, most
        with an outcome."""
        rng = self.rng
        if eighteen < self.end and rng.random() < 0.3:
            started = self.day(max(eighteen, self.end - timedelta(days=500)), 400)
            tenure = rng.choices(list(TENURES), list(TENURES.values()))[0]
            self.send("accommodation", "/tenancies", started_on=started, tenure=tenure)
            if rng.random() < 0.4:
                self.send(
                    "accommodation",
                    "/floating-support",
                    started_on=started,
                    hours_per_week=rng.randint(2, 10),
                )
            if rng.random() < 0.2 and (self.end - started).days > 30:
                self.send(
                    "accommodation",
                    "/tenancy-endings",
                    ended_on=self.day(started, 300),
                    planned=rng.random() < 0.5,
                )
        if rng.random() < 0.12:
            referred = self.day(max(self.born or self.end, self.end - LAST_YEAR), 330)
            self.send("accommodation", "/homelessness-prevention-referrals", referred_on=referred)
            if rng.random() < 0.8 and (self.end - referred).days > 7:
                self.send(
                    "accommodation",
                    "/homelessness-prevention-outcomes",
                    outcome_on=self.day(referred, 56),
                    outcome=rng.choices(list(HOUSED), list(HOUSED.values()))[0],
                )

    def neet_panel(self, since: date) -> None:
        """A NEET spell reviewed at the panel within a month (for most)."""
        if self.rng.random() < 0.6:
            self.send(
                "education",
                "/neet-panel-reviews",
                review_date=self.day(since, 30),
                action=self.rng.choices(list(PANEL_ACTIONS), list(PANEL_ACTIONS.values()))[0],
            )

    def summer_school(self, year_group: int) -> None:
        """Half the pupils in years 5 and 10 sign up for the summer school (before years 6
        and 11), in the last two months."""
        if year_group in (5, 10) and self.rng.random() < 0.5:
            self.send(
                "education",
                "/summer-school-sign-ups",
                signed_up_on=self.day(self.end - timedelta(days=60), 59),
                year_group=year_group,
            )


def _collection_year_start(day: date) -> date:
    """1 April of the collection year the day falls in."""
    return date(day.year if day.month >= 4 else day.year - 1, 4, 1)


def _collection_year_end(day: date) -> date:
    """31 March of the collection year the day falls in."""
    return date(_collection_year_start(day).year + 1, 3, 31)


def _anniversary(since: date, year: date) -> date:
    """The anniversary of `since` falling in the collection year starting `year`."""
    anniversary = add_months(since, 12 * (year.year - since.year))
    return anniversary if anniversary >= year else add_months(anniversary, 12)


def exploited(factors: list[AssessmentFactor]) -> bool:
    """Whether an assessment found the child at risk of exploitation outside the home."""
    return any(f in EXPLOITATION_FACTORS for f in factors)
