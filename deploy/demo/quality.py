"""A year of the county's quality assurance, through the quality service's API: so that every
quality board (practice evaluations, feedback, serious incidents, the improvement plan) has
data as at the county's last day.

- Practice evaluations every month (about 45 at full scale, as the seed's July: mostly good or
  requires improvement, a few inadequate and outstanding, better as the year goes on), graded
  by strand, some moderated by a second auditor, with actions for most that need improving:
  most completed, some overdue.
- Partnership audits (three): a theme, the children sampled, the agencies taking part, a
  finding and actions for each agency.
- A survey of parents each year with the seed's four questions: this year's and last year's
  responses, some questions skipped (`not_answered`).
- A few serious incidents: notified mostly within 5 working days, rapid reviews mostly within
  15; one local practice review commissioned and published, one national review still open;
  learning points and the actions that take them back to teams.
- The improvement plan: its priorities, measures on real board figures, a performance surgery
  a month and the actions it agrees.

Drawn from a generator of its own (seeded by the county's seed), never from the county's, so
the rest of the county stays as it was. Every command keeps the service's rules: nothing dated
after the county's last day, actions due after their record, a moderator other than the
auditor, responses within their survey's period and only to its questions. The free text is
invented, short, and names no one.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from contracts.quality.codes import (
    GRADE_ORDER,
    Answer,
    AuditAgency,
    EvaluatedPlan,
    Grade,
    Respondent,
    ReviewDecision,
    ServiceArea,
    Strand,
)
from deploy.demo.council import CODES, Council
from deploy.demo.journey import Journey, Step
from shared.calendar import add_months, add_working_days, is_working_day, month_end

SERVICE = "quality"
YEAR = timedelta(days=365)
# At full scale, as in the seed's July: 45 practice evaluations a month.
EVALUATIONS_A_MONTH = 45
# The quality assurance team's auditors (ids: never names); a moderator is another of them.
AUDITORS = tuple(f"QA-{n}" for n in range(1, 7))
# The plan type evaluated, by the kind of the child's journey in the county.
PLANS = {
    "cin": EvaluatedPlan.CHILD_IN_NEED,
    "cp": EvaluatedPlan.CHILD_PROTECTION,
    "cic": EvaluatedPlan.CHILD_IN_CARE,
    "cl": EvaluatedPlan.CARE_LEAVER,
}
TEAM_OF = {"CIN": "CIN", "CP": "CP", "CLA": "CIC", "CL": "CIC"}
SERVICE_OF = {
    EvaluatedPlan.CHILD_IN_NEED: ServiceArea.CHILD_IN_NEED,
    EvaluatedPlan.CHILD_PROTECTION: ServiceArea.CHILD_PROTECTION,
    EvaluatedPlan.CHILD_IN_CARE: ServiceArea.CHILD_IN_CARE,
    EvaluatedPlan.CARE_LEAVER: ServiceArea.CARE_LEAVER,
}
# The seed's July: 15 good, 27 requires improvement, 3 inadequate of 45; the share good or
# better rises over the year (FIRST_GOOD to LAST_GOOD), a few outstanding.
FIRST_GOOD, LAST_GOOD = 0.28, 0.45
OUTSTANDING, INADEQUATE = 0.03, 0.07
# The seed's questions to parents.
QUESTIONS = [
    ("Q1", "Were you kept informed and were your views acknowledged?"),
    ("Q2", "Did you feel supported by your worker?"),
    ("Q3", "Were you treated with respect and courtesy?"),
    ("Q4", "Are you in agreement with the outcome?"),
]
# Each question's chance of yes, partly (then no) last year; this year's are better.
ANSWERS = {"Q1": (0.55, 0.25), "Q2": (0.65, 0.2), "Q3": (0.75, 0.15), "Q4": (0.45, 0.25)}
BETTER = 0.08
SKIPPED = 0.06  # a question left unanswered
RESPONSES_A_YEAR = 150
RESPONDENTS = [Respondent.PARENT] * 14 + [Respondent.CARER] * 3 + [Respondent.YOUNG_PERSON] * 2
RESPONDENTS += [Respondent.CHILD]
PARTNERS = [
    AuditAgency.POLICE,
    AuditAgency.HEALTH,
    AuditAgency.SCHOOLS,
    AuditAgency.HOUSING,
    AuditAgency.PROBATION,
]
THEMES = [
    "Neglect: the voice of the child in multi-agency plans",
    "Children missing from home and at risk of exploitation",
    "Domestic abuse: information sharing at the front door",
]
FINDINGS = [
    "Information was shared promptly and used well in the plan.",
    "Attendance at core groups was inconsistent.",
    "The child's wishes were recorded but not reflected in the plan.",
    "Chronologies were not kept up to date.",
    "Risk was assessed well and reviewed after each incident.",
    "Referrals did not say what the agency was worried about.",
]
SUMMARIES = [
    "Review the plan with the child and record their views.",
    "Update the chronology and share it with the core group.",
    "Discuss the case in supervision and agree next steps.",
    "Complete the outstanding assessment.",
    "Record management oversight of the decision.",
    "Hold a core group within two weeks.",
]
EVALUATION_FINDINGS = [
    "Visits are regular and the child is seen alone.",
    "The plan is not specific about what needs to change.",
    "Management oversight is recorded but does not direct the work.",
    "Good direct work with the child; the plan reflects it.",
    "The assessment is thorough but the plan has drifted.",
]
COMMENTS = [
    "The worker explained everything clearly.",
    "It took a long time to hear back.",
    "I felt listened to.",
    "Meetings were changed at short notice.",
    "The worker was kind and respectful.",
]
LEARNING = [
    "Agencies did not share concerns about the family's mobility between areas.",
    "Bruising to a non-mobile baby was not referred promptly.",
    "The voice of the child was lost among adults' needs.",
    "Escalation between agencies was not used when a referral was declined.",
    "The impact of parental mental health was underestimated.",
]
DECISIONS = [
    "Team managers to dip sample plans before their first review.",
    "Locality leads to report visits out of timescale weekly.",
    "Personal advisers to contact care leavers not in touch this month.",
    "Continue: the figure is improving.",
]
# The improvement plan: its priorities and their measures on real board figures (board,
# figure, use, target as a percentage or a count at full scale, direction).
PLAN_ID = "IMPROVEMENT-PLAN"
PRIORITIES: list[tuple[str, str, list[tuple[str, str, str, float, str]]]] = [
    (
        "P1",
        "Good or better practice for every child",
        [("practice-evaluations", "good_or_better", "percentage", 50.0, "higher_is_better")],
    ),
    (
        "P2",
        "Care leavers in touch and in suitable homes",
        [
            ("care-leavers", "all.in_touch", "percentage", 90.0, "higher_is_better"),
            ("care-leavers", "all.suitable_accommodation", "percentage", 85.0, "higher_is_better"),
        ],
    ),
    (
        "P3",
        "Children seen within their plan's timescale",
        [
            ("visits", "statutory.CP.in_timescale", "percentage", 95.0, "higher_is_better"),
            ("visits", "statutory.CIN.in_timescale", "percentage", 90.0, "higher_is_better"),
        ],
    ),
    (
        "P4",
        "Plans that do not drift",
        [
            ("timeliness", "cp_plans.9_months_or_more", "count", 20.0, "lower_is_better"),
            ("timeliness", "cp_reviews_overdue", "count", 0.0, "lower_is_better"),
        ],
    ),
]


@dataclass(frozen=True)
class Child:
    """A child the county registered, as quality assurance picks it."""

    child_id: str
    date_of_birth: date
    locality: str
    plan: EvaluatedPlan


def children_of(journeys: Sequence[Journey]) -> list[Child]:
    """The children the county's journeys register, with the plan their journey is about."""
    found = []
    for journey in journeys:
        kind = journey.key.split("-", 1)[0]
        if kind not in PLANS:
            continue
        for step in journey.steps:
            if step.path == "/children":
                body = step.body
                found.append(
                    Child(
                        body["child_id"],
                        date.fromisoformat(body["date_of_birth"]),
                        body["locality"],
                        PLANS[kind],
                    )
                )
    return found


class QualityAssurance:
    """The year's quality assurance of a county: its journeys, one per record."""

    def __init__(
        self, seed: int, scale: float, end: date, children: Sequence[Child], council: Council
    ) -> None:
        self.rng = random.Random(f"quality-{seed}")
        self.seed, self.scale, self.end = seed, scale, end
        self.start = end - YEAR
        self.children = list(children)
        self.council = council

    def journeys(self) -> list[Journey]:
        return [
            *self.evaluations(),
            *self.audits(),
            *self.surveys(),
            *self.incidents(),
            self.improvement_plan(),
        ]

    # -- helpers ----------------------------------------------------------------------------

    def count(self, n: float) -> int:
        return max(1, round(n * self.scale))

    def within(self, after: date, days: int) -> date:
        """A day from `after` to `days` later, never after the end."""
        return min(after + timedelta(days=self.rng.randint(0, max(0, days))), self.end)

    def child_before(self, day: date) -> Child:
        """A child born well before `day`."""
        while True:
            child = self.rng.choice(self.children)
            if child.date_of_birth < day - timedelta(days=60):
                return child

    def owner(self, child: Child | None = None) -> str:
        """A team manager (never a name): of the child's team, or any."""
        if child is None:
            locality = self.rng.choice(list(CODES))
            kind = self.rng.choice(["CIN", "CP", "CIC"])
        else:
            locality, kind = child.locality, TEAM_OF[child.plan.value]
        return f"TM-{CODES[locality]}-{kind}"

    def action(
        self,
        j: Journey,
        path: str,
        action_id: str,
        agreed: date,
        done: float,
        owner: str,
        **more: Any,
    ) -> list[tuple[str, date]]:
        """An action agreed on `agreed`, due weeks later; completed (chance `done`) before
        or after its due day, never after the end. The completion to send, if any."""
        due = agreed + timedelta(days=self.rng.randint(21, 63))
        j.add(
            SERVICE,
            f"{path}/actions",
            action_id=action_id,
            agreed_on=agreed,
            owner_id=owner,
            due_on=due,
            summary=self.rng.choice(SUMMARIES),
            **more,
        )
        completed = agreed + timedelta(days=self.rng.randint(7, (due - agreed).days + 14))
        if completed <= self.end and self.rng.random() < done:
            return [(action_id, completed)]
        return []

    @staticmethod
    def complete(j: Journey, path: str, completions: list[tuple[str, date]]) -> None:
        for action_id, completed in sorted(completions, key=lambda c: c[1]):
            j.add(
                SERVICE,
                f"{path}/action-completions",
                action_id=action_id,
                completed_on=completed,
            )

    # -- practice evaluations -----------------------------------------------------------------

    def grade(self, progress: float) -> Grade:
        good = FIRST_GOOD + (LAST_GOOD - FIRST_GOOD) * progress
        draw = self.rng.random()
        if draw < OUTSTANDING:
            return Grade.OUTSTANDING
        if draw < OUTSTANDING + good:
            return Grade.GOOD
        if draw < 1 - INADEQUATE:
            return Grade.REQUIRES_IMPROVEMENT
        return Grade.INADEQUATE

    def near(self, grade: Grade) -> Grade:
        """A grade the same as `grade` or one step either side."""
        at = GRADE_ORDER.index(grade) + self.rng.choice([-1, 0, 0, 0, 1])
        return GRADE_ORDER[min(max(at, 0), len(GRADE_ORDER) - 1)]

    def evaluations(self) -> Iterator[Journey]:
        """The last twelve calendar months' evaluations (the boards count them by month), the
        month the county ends in as far as it has gone."""
        n = 0
        for back in range(11, -1, -1):
            first = add_months(self.end.replace(day=1), -back)
            last = min(month_end(first), self.end)
            share = ((last - first).days + 1) / month_end(first).day
            wanted = self.rng.randint(EVALUATIONS_A_MONTH - 4, EVALUATIONS_A_MONTH + 4) * share
            for _ in range(self.count(wanted)):
                n += 1
                on = first + timedelta(days=self.rng.randint(0, (last - first).days))
                yield self.evaluation(f"QE-{self.seed}-{n:05d}", on, (11 - back) / 11)

    def evaluation(self, evaluation_id: str, on: date, progress: float) -> Journey:
        j = Journey(f"qa-{evaluation_id}")
        child = self.child_before(on)
        team = self.council.team(child.locality, TEAM_OF[child.plan.value])
        auditor = self.rng.choice(AUDITORS)
        grade = self.grade(progress)
        strands = self.rng.sample(list(Strand), self.rng.randint(3, 5))
        j.add(
            SERVICE,
            "/practice-evaluations",
            evaluation_id=evaluation_id,
            child_id=child.child_id,
            evaluated_on=on,
            plan_type=child.plan.value,
            auditor_id=auditor,
            practitioner_id=self.rng.choice(team.workers),
            grade=grade.value,
            strands=[{"strand": s.value, "grade": self.near(grade).value} for s in strands],
            findings=self.rng.choice(EVALUATION_FINDINGS),
        )
        path = f"/practice-evaluations/{evaluation_id}"
        if self.rng.random() < 0.2 and on < self.end:  # a second auditor moderates the grade
            moderator = self.rng.choice([a for a in AUDITORS if a != auditor])
            j.add(
                SERVICE,
                f"{path}/moderations",
                moderated_on=self.within(on + timedelta(days=1), 14),
                moderator_id=moderator,
                grade=(grade if self.rng.random() < 0.8 else self.near(grade)).value,
            )
        needs = {Grade.REQUIRES_IMPROVEMENT: 0.45, Grade.INADEQUATE: 1.0}.get(grade, 0.0)
        if self.rng.random() < needs:
            completions = self.action(j, path, "A1", on, 0.8, self.owner(child))
            self.complete(j, path, completions)
        return j

    # -- partnership audits -------------------------------------------------------------------

    def audits(self) -> Iterator[Journey]:
        for n, (theme, back) in enumerate(zip(THEMES, (300, 180, 60), strict=True), start=1):
            audit_id = f"PA-{self.seed}-{n}"
            opened = self.end - timedelta(days=back)
            j = Journey(f"qa-{audit_id}")
            agencies = [AuditAgency.SOCIAL_CARE, *self.rng.sample(PARTNERS, self.rng.randint(2, 4))]
            cases = self.rng.sample(self.children, 6)
            j.add(
                SERVICE,
                "/partnership-audits",
                audit_id=audit_id,
                opened_on=opened,
                theme=theme,
                cases=[c.child_id for c in cases],
                agencies=[a.value for a in agencies],
            )
            path = f"/partnership-audits/{audit_id}"
            met = self.within(opened + timedelta(days=14), 14)  # the group's meeting
            completions: list[tuple[str, date]] = []
            for i, agency in enumerate(agencies, start=1):
                j.add(
                    SERVICE,
                    f"{path}/findings",
                    finding_id=f"F{i}",
                    recorded_on=met,
                    agency=agency.value,
                    finding=self.rng.choice(FINDINGS),
                )
            for i, agency in enumerate(agencies, start=1):
                for k in range(1 if self.rng.random() < 0.7 else 2):
                    completions += self.action(
                        j,
                        path,
                        f"A{i}-{k + 1}",
                        met,
                        0.75,
                        f"{agency.value.upper()}-LEAD-{i}",
                        agency=agency.value,
                    )
            if back > 90:  # the earlier audits have concluded; their actions are followed up
                j.add(SERVICE, f"{path}/conclusions", concluded_on=met + timedelta(days=21))
            self.complete(j, path, completions)
            yield j

    # -- feedback -------------------------------------------------------------------------------

    def surveys(self) -> Iterator[Journey]:
        """Last year's survey of parents and this year's (each 1 April to 31 March); the
        responses up to the county's last day."""
        this_year = date(self.end.year - (self.end.month < 4), 4, 1)
        for opens in (date(this_year.year - 1, 4, 1), this_year):
            closes = date(opens.year + 1, 3, 31)
            survey_id = f"FS-{self.seed}-{opens.year}"
            j = Journey(f"qa-{survey_id}")
            j.add(
                SERVICE,
                "/feedback-surveys",
                survey_id=survey_id,
                title=f"Parents' feedback {opens.year}-{(opens.year + 1) % 100:02d}",
                opens_on=opens,
                closes_on=closes,
                questions=[{"question_id": q, "text": t} for q, t in QUESTIONS],
            )
            last = min(closes, self.end)
            days = (last - opens).days
            better = BETTER if opens == this_year else 0.0
            share = max(0.05, days / 365)  # this year's so far
            for n in range(1, self.count(RESPONSES_A_YEAR * share) + 1):
                on = opens + timedelta(days=self.rng.randint(0, days))
                # Not Journey.add: a response's body has a field named `service`.
                responses = f"/feedback-surveys/{survey_id}/responses"
                j.steps.append(Step(SERVICE, responses, self.response(n, on, better)))
            j.steps[1:] = sorted(j.steps[1:], key=lambda s: s.body["responded_on"])
            yield j

    def response(self, n: int, on: date, better: float) -> dict[str, Any]:
        answers = []
        for question, _ in QUESTIONS:
            yes, partly = ANSWERS[question]
            draw = self.rng.random()
            if draw < SKIPPED:
                answer = Answer.NOT_ANSWERED
            elif draw < SKIPPED + (1 - SKIPPED) * (yes + better):
                answer = Answer.YES
            elif draw < SKIPPED + (1 - SKIPPED) * (yes + better + partly):
                answer = Answer.PARTLY
            else:
                answer = Answer.NO
            answers.append({"question_id": question, "answer": answer.value})
        body: dict[str, Any] = {
            "response_id": f"R{n:04d}",
            "responded_on": on.isoformat(),
            "respondent": self.rng.choice(RESPONDENTS).value,
            "answers": answers,
        }
        if self.rng.random() < 0.5:  # about a child the council knows: its locality
            child = self.child_before(on)
            body |= {"child_id": child.child_id, "service": SERVICE_OF[child.plan].value}
        else:
            body |= {
                "service": self.rng.choice(list(ServiceArea)).value,
                "locality": self.rng.choice(list(CODES)),
            }
        if self.rng.random() < 0.3:
            body["comment"] = self.rng.choice(COMMENTS)
        return body

    # -- serious incidents ----------------------------------------------------------------------

    def incidents(self) -> Iterator[Journey]:
        """Four: a local practice review commissioned and published, a national review still
        open, two with no review; one notified late, one rapid review late."""
        shapes = [
            (330, 3, 13, ReviewDecision.LOCAL_REVIEW),
            (240, 7, 15, ReviewDecision.NO_REVIEW),  # notified late
            (150, 2, 19, ReviewDecision.NATIONAL_REVIEW),  # the rapid review late
            (70, 4, 12, ReviewDecision.NO_REVIEW),
        ]
        for n, (back, to_notify, to_review, decision) in enumerate(shapes, start=1):
            incident_id = f"SI-{self.seed}-{n}"
            aware = self.end - timedelta(days=back)
            while not is_working_day(aware):
                aware -= timedelta(days=1)
            child = self.child_before(aware)
            j = Journey(f"qa-{incident_id}")
            path = f"/serious-incidents/{incident_id}"
            j.add(
                SERVICE,
                "/serious-incidents",
                incident_id=incident_id,
                child_id=child.child_id,
                aware_on=aware,
                notified_on=add_working_days(aware, to_notify),
            )
            reviewed = add_working_days(aware, to_review)
            j.add(SERVICE, f"{path}/rapid-reviews", completed_on=reviewed, decision=decision.value)
            if decision is not ReviewDecision.NO_REVIEW:
                commissioned = reviewed + timedelta(days=14)
                j.add(SERVICE, f"{path}/practice-reviews", commissioned_on=commissioned)
                if decision is ReviewDecision.LOCAL_REVIEW:
                    published = commissioned + timedelta(days=180)
                    j.add(SERVICE, f"{path}/practice-review-publications", published_on=published)
            completions: list[tuple[str, date]] = []
            for i in range(1, self.rng.randint(2, 3) + 1):
                j.add(
                    SERVICE,
                    f"{path}/learning-points",
                    learning_id=f"L{i}",
                    recorded_on=reviewed,
                    learning=self.rng.choice(LEARNING),
                )
                completions += self.action(j, path, f"A{i}", reviewed, 0.7, self.owner())
            self.complete(j, path, completions)
            yield j

    # -- the improvement plan -------------------------------------------------------------------

    def improvement_plan(self) -> Journey:
        """The priorities at the year's start with their measures (one target raised at
        midyear), a performance surgery a month looking at the measures' figures, and the
        actions the surgeries agree."""
        j = Journey(f"qa-{PLAN_ID}")
        path = f"/improvement-plans/{PLAN_ID}"
        added = self.start
        refs = []
        for priority_id, title, measures in PRIORITIES:
            j.add(
                SERVICE, f"{path}/priorities", priority_id=priority_id, added_on=added, title=title
            )
            for k, (board, figure, use, target, direction) in enumerate(measures, start=1):
                refs.append((priority_id, {"board": board, "figure": figure}))
                j.add(
                    SERVICE,
                    f"{path}/measures",
                    measure_id=f"{priority_id}-M{k}",
                    priority_id=priority_id,
                    set_on=added,
                    measure={"board": board, "figure": figure},
                    use=use,
                    target=target if use == "percentage" else round(target * self.scale),
                    direction=direction,
                )
        j.add(  # midyear, the first target raised
            SERVICE,
            f"{path}/measures",
            measure_id="P1-M1",
            priority_id="P1",
            set_on=self.start + timedelta(days=182),
            measure={"board": "practice-evaluations", "figure": "good_or_better"},
            use="percentage",
            target=60.0,
            direction="higher_is_better",
        )
        completions: list[tuple[str, date]] = []
        for month in range(12):
            held = self.start + timedelta(days=round(month * 365 / 12) + 7)
            while not is_working_day(held):
                held += timedelta(days=1)
            if held > self.end:
                break
            looked_at = self.rng.sample(refs, 3)
            j.add(
                SERVICE,
                f"{path}/surgeries",
                surgery_id=f"S{month + 1:02d}",
                held_on=held,
                figures=[ref for _, ref in looked_at],
                decisions=self.rng.choice(DECISIONS),
            )
            if month % 2 == 0:  # every other surgery agrees an action on a priority it saw
                completions += self.action(
                    j,
                    path,
                    f"S{month + 1:02d}-A1",
                    held,
                    0.7,
                    self.owner(),
                    priority_id=looked_at[0][0],
                )
        self.complete(j, path, completions)
        return j
