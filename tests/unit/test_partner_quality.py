"""What partner agencies receive of quality assurance (issue 16), as pure functions: of a
partnership audit, each agency taking part its own part (the opening, that a finding was
recorded for it, its actions and their completion), minimised like the rest; of everything
else on the quality topic (practice evaluations, feedback, serious incidents, the improvement
plan), nothing. The free text, sealed on the topic, never reaches a partner, sealed or not,
nor does an audit's theme (free text, not sealed); and an audit's messages are audited under
its own namespace, never as a child's id."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from uuid import uuid4

import pytest

from contracts.case_events.codes import ChildProtectionCategory
from contracts.case_events.events import ChildProtectionPlanStarted
from contracts.quality.codes import (
    ActionOf,
    Answer,
    AuditAgency,
    Direction,
    EvaluatedPlan,
    Grade,
    Respondent,
    ReviewDecision,
    ServiceArea,
    Strand,
)
from contracts.quality.events import (
    Answered,
    BoardPackCommentaryRecorded,
    BoardPackDrafted,
    FeedbackResponseRecorded,
    FeedbackSurveyLaunched,
    FigureRef,
    ImprovementMeasureSet,
    ImprovementPriorityAdded,
    LearningPointRecorded,
    PartnershipAuditConcluded,
    PartnershipAuditFindingRecorded,
    PartnershipAuditOpened,
    PerformanceSurgeryHeld,
    PracticeEvaluationModerated,
    PracticeEvaluationRecorded,
    PracticeReviewCommissioned,
    PracticeReviewPublished,
    QualityActionAgreed,
    QualityActionCompleted,
    Question,
    RapidReviewCompleted,
    SeriousIncidentNotified,
    StrandGrade,
    quality_event_types,
)
from services.partner_feeds.sharing import (
    ADDRESSED,
    AUDIT_SUBJECTS,
    DATES,
    ENTITLEMENTS,
    NEVER_SHARED,
    NOT_SHARED,
    PARTNERS,
    PSEUDONYMISED,
    SUBJECT_MAX,
    addressed_to,
    pseudonym,
    shares_of,
)
from shared.envelope import Actor, Agency, DomainEvent, Envelope
from shared.eventstore import CommandContext, make_envelopes

KEY = b"unit-test-key"
CTX = CommandContext(
    actor=Actor(user_id="qa", agency=Agency.COUNCIL, role="manager"), correlation_id=uuid4()
)
# Distinctive values in every field no partner may be sent: a leak would show in a body.
CHILD, SAMPLED, AUDIT, ACTION = "C-leak-child", "C-leak-sampled", "PA-leak-audit", "ACT-leak-1"
STAFF = ("SW-leak-auditor", "SW-leak-practitioner", "SW-leak-moderator", "SW-leak-owner")
SEALED = {
    name: f"sealed:v1:leak-{name}"
    for name in ("findings", "summary", "finding", "comment", "learning", "decisions", "commentary")
}
# A theme is free text and not sealed: it could name a family (a planted marker shows it).
THEME = "Neglect - the leak-theme Smith twins"
DAY = date(2026, 3, 2)
LATER = date(2026, 4, 30)
NOW = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
AUDIT_AGENCIES = [AuditAgency.SOCIAL_CARE, AuditAgency.POLICE, AuditAgency.HEALTH]


def envelope(event: DomainEvent, stream: str) -> Envelope:
    [found] = make_envelopes(stream, 0, [event], CTX)
    return found


def action(of: ActionOf, agency: AuditAgency | None = None, **more: str) -> QualityActionAgreed:
    return QualityActionAgreed(
        action_id=ACTION,
        agreed_on=DAY,
        owner_id=STAFF[3],
        due_on=LATER,
        agency=agency,
        of=of,
        summary=SEALED["summary"],
        **more,
    )


def completed(of: ActionOf, agency: AuditAgency | None = None) -> QualityActionCompleted:
    return QualityActionCompleted(completed_on=LATER, action_id=ACTION, of=of, agency=agency)


# Each quality event, its stream, and exactly what each partner receives of it.
POLICE, HEALTH, SCHOOLS = Agency.POLICE, Agency.HEALTH, Agency.SCHOOLS
EVERY_EVENT: list[tuple[DomainEvent, str, dict[Agency, dict[str, object]]]] = [
    (
        PartnershipAuditOpened(
            audit_id=AUDIT,
            opened_on=DAY,
            theme=THEME,
            cases=[CHILD, SAMPLED],
            agencies=AUDIT_AGENCIES,
        ),
        AUDIT,
        {  # those taking part (social care is the council's own), the month only, no theme
            POLICE: {"opened_on": "2026-03"},
            HEALTH: {"opened_on": "2026-03"},
        },
    ),
    (
        PartnershipAuditFindingRecorded(
            finding_id="F-leak-1",
            recorded_on=DAY,
            agency=AuditAgency.HEALTH,
            finding=SEALED["finding"],
        ),
        AUDIT,
        {HEALTH: {"recorded_on": "2026-03-02"}},  # that there is one: never what it says
    ),
    (
        action(ActionOf.PARTNERSHIP_AUDIT, AuditAgency.POLICE),
        AUDIT,
        {
            POLICE: {
                "action_id": "(pseudonym)",
                "of": "partnership_audit",
                "agreed_on": "2026-03-02",
                "due_on": "2026-04-30",
            }
        },
    ),
    (
        completed(ActionOf.PARTNERSHIP_AUDIT, AuditAgency.POLICE),
        AUDIT,
        {
            POLICE: {
                "action_id": "(pseudonym)",
                "of": "partnership_audit",
                "completed_on": "2026-04-30",
            }
        },
    ),
    # The council's own part of an audit: no partner's.
    (action(ActionOf.PARTNERSHIP_AUDIT, AuditAgency.SOCIAL_CARE), AUDIT, {}),
    (completed(ActionOf.PARTNERSHIP_AUDIT, AuditAgency.SOCIAL_CARE), AUDIT, {}),
    (PartnershipAuditConcluded(concluded_on=LATER), AUDIT, {}),
    # Every other record's actions: none, even one naming an agency.
    (action(ActionOf.PRACTICE_EVALUATION), "EV-leak-1", {}),
    (action(ActionOf.SERIOUS_INCIDENT, AuditAgency.POLICE), "SI-leak-1", {}),
    (action(ActionOf.IMPROVEMENT_PLAN, priority_id="PR-leak-1"), "PLAN-leak", {}),
    (completed(ActionOf.PRACTICE_EVALUATION), "EV-leak-1", {}),
    (completed(ActionOf.SERIOUS_INCIDENT, AuditAgency.POLICE), "SI-leak-1", {}),
    (
        PracticeEvaluationRecorded(
            evaluation_id="EV-leak-1",
            child_id=CHILD,
            evaluated_on=DAY,
            plan_type=EvaluatedPlan.CHILD_PROTECTION,
            auditor_id=STAFF[0],
            practitioner_id=STAFF[1],
            grade=Grade.REQUIRES_IMPROVEMENT,
            strands=[StrandGrade(strand=Strand.RISK, grade=Grade.GOOD)],
            locality="Exeter",
            findings=SEALED["findings"],
        ),
        "EV-leak-1",
        {},
    ),
    (
        PracticeEvaluationModerated(
            moderated_on=DAY,
            moderator_id=STAFF[2],
            grade=Grade.GOOD,
            child_id=CHILD,
            original_grade=Grade.REQUIRES_IMPROVEMENT,
            agreed=False,
        ),
        "EV-leak-1",
        {},
    ),
    (
        FeedbackSurveyLaunched(
            survey_id="SV-leak",
            title="Parents' survey",
            opens_on=DAY,
            closes_on=LATER,
            questions=[Question(question_id="Q1", text="Were you kept informed?")],
        ),
        "SV-leak",
        {},
    ),
    (
        FeedbackResponseRecorded(
            response_id="RS-leak",
            responded_on=DAY,
            respondent=Respondent.PARENT,
            answers=[Answered(question_id="Q1", answer=Answer.YES)],
            child_id=CHILD,
            service=ServiceArea.CHILD_PROTECTION,
            locality="Exeter",
            comment=SEALED["comment"],
        ),
        "SV-leak",
        {},
    ),
    (
        SeriousIncidentNotified(
            incident_id="SI-leak-1",
            child_id=CHILD,
            aware_on=DAY,
            notified_on=DAY,
            locality="Exeter",
            notification_due=LATER,
            working_days_to_notify=0,
        ),
        "SI-leak-1",
        {},
    ),
    (
        RapidReviewCompleted(
            completed_on=DAY, decision=ReviewDecision.LOCAL_REVIEW, due=LATER, working_days=0
        ),
        "SI-leak-1",
        {},
    ),
    (
        PracticeReviewCommissioned(commissioned_on=DAY, decision=ReviewDecision.LOCAL_REVIEW),
        "SI-leak-1",
        {},
    ),
    (PracticeReviewPublished(published_on=LATER), "SI-leak-1", {}),
    (
        LearningPointRecorded(learning_id="LP-leak", recorded_on=DAY, learning=SEALED["learning"]),
        "SI-leak-1",
        {},
    ),
    (
        ImprovementPriorityAdded(priority_id="PR-leak-1", added_on=DAY, title="Care leavers"),
        "PLAN-leak",
        {},
    ),
    (
        ImprovementMeasureSet(
            measure_id="M-leak",
            priority_id="PR-leak-1",
            set_on=DAY,
            measure=FigureRef(board="care-leavers", figure="all.in_touch"),
            target=90.0,
            direction=Direction.HIGHER_IS_BETTER,
        ),
        "PLAN-leak",
        {},
    ),
    (
        PerformanceSurgeryHeld(
            surgery_id="S-leak",
            held_on=DAY,
            figures=[FigureRef(board="care-leavers", figure="all.in_touch")],
            decisions=SEALED["decisions"],
        ),
        "PLAN-leak",
        {},
    ),
    (
        BoardPackDrafted(
            pack_id="BP-leak",
            title="Safeguarding partnership executive",
            as_at=DAY,
            boards=["attendance", "early-help-triage"],
        ),
        "BP-leak",
        {},
    ),
    (
        BoardPackCommentaryRecorded(
            commentary_id="BPC-leak",
            section="attendance",
            commentary=SEALED["commentary"],
        ),
        "BP-leak",
        {},
    ),
]
NEVER_IN_A_BODY = (
    CHILD,
    SAMPLED,
    AUDIT,
    ACTION,
    *STAFF,
    *SEALED.values(),
    THEME,
    "leak-theme",
    "Smith",
    "leak-",  # every record id, sealed value and the theme above carry it
)


@pytest.mark.parametrize(
    ("event", "stream", "expected"),
    EVERY_EVENT,
    ids=[f"{e.event_type}-{i}" for i, (e, _, _) in enumerate(EVERY_EVENT)],
)
def test_each_quality_event_reaches_only_the_agencies_it_names_with_the_listed_fields(
    event: DomainEvent, stream: str, expected: dict[Agency, dict[str, object]]
) -> None:
    shares = shares_of(envelope(event, stream), event, KEY)
    received = {
        m.agency: {k: "(pseudonym)" if k in PSEUDONYMISED else v for k, v in m.facts.items()}
        for m in shares
    }
    assert received == expected
    for message in shares:
        body = json.dumps(message.body())
        for never in NEVER_IN_A_BODY:
            assert never not in body, (message.agency, never)


def test_every_quality_event_is_covered_above() -> None:
    assert {e.event_type for e, _, _ in EVERY_EVENT} == set(quality_event_types.types())


def test_an_audit_is_known_to_each_agency_by_a_pseudonym_of_its_own_never_a_childs() -> None:
    opened, _, _ = EVERY_EVENT[0]
    shares = {m.agency: m for m in shares_of(envelope(opened, AUDIT), opened, KEY)}
    assert shares[POLICE].subject != shares[HEALTH].subject  # unlinkable across agencies
    # Not the pseudonym a child with the audit's id would have: a namespace of its own.
    assert shares[POLICE].subject != pseudonym(KEY, POLICE, AUDIT)
    again = shares_of(envelope(opened, AUDIT), opened, KEY)
    assert {m.agency: m.subject for m in again} == {a: m.subject for a, m in shares.items()}
    # Every message of the audit is under the same subject for the agency.
    agreed, _, _ = EVERY_EVENT[2]
    [police] = shares_of(envelope(agreed, AUDIT), agreed, KEY)
    assert police.subject == shares[POLICE].subject


def test_an_audits_theme_reaches_no_partner_in_any_message_of_the_audit() -> None:
    """The theme is free text, not sealed ("Neglect - the Smith twins" is a theme): whichever
    agencies take part, no message of the audit carries it, in its value or its headers. The
    council tells the agencies the theme at the audit's meeting."""
    every = [AuditAgency(p.value) for p in PARTNERS]
    opened = PartnershipAuditOpened(
        audit_id=AUDIT, opened_on=DAY, theme=THEME, cases=[CHILD], agencies=every
    )
    shares = shares_of(envelope(opened, AUDIT), opened, KEY)
    assert sorted(m.agency for m in shares) == sorted(PARTNERS)
    for stream_event, _, _ in EVERY_EVENT[:7]:  # and the rest of the audit's messages
        shares += shares_of(envelope(stream_event, AUDIT), stream_event, KEY)
    for m in shares:
        assert "theme" not in m.facts, m.agency
        sent = json.dumps(m.body()) + "".join(v.decode() for _, v in m.headers(NOW))
        for planted in (THEME, "leak-theme", "Smith"):
            assert planted not in sent, (m.agency, m.event_type)


def test_an_audits_messages_are_audited_under_its_namespace_never_as_a_childs_id() -> None:
    """The share audit and the access log record an audit's messages as
    `partnership-audit:<audit id>`: an audit id may be a child's too ("C-000123" is valid for
    both), and the child's subject access export and share history would list the audit."""
    both = "C-000123"
    recorded = [m for e, _, _ in EVERY_EVENT[:4] for m in shares_of(envelope(e, both), e, KEY)]
    assert len(recorded) == 5  # the opening to police and health, the finding, two actions
    for m in recorded:
        assert m.child_id == f"{AUDIT_SUBJECTS}:{both}" != both, m.event_type
        assert m.subject == pseudonym(KEY, m.agency, m.child_id)
    # The child of the same id is still recorded as itself.
    plan = ChildProtectionPlanStarted(
        child_id=both,
        plan_id="CP-1",
        category=ChildProtectionCategory.NEGLECT,
        start_date=DAY,
        previous_plans=0,
    )
    child = shares_of(envelope(plan, both), plan, KEY)
    assert child and {m.child_id for m in child} == {both}
    # The longest audit id, namespaced, can be asked of GET /shares and GET /audit.
    assert len(f"{AUDIT_SUBJECTS}:{'A' * 64}") <= SUBJECT_MAX


def test_an_action_and_its_completion_carry_the_same_pseudonym_of_the_action() -> None:
    agreed, done = EVERY_EVENT[2][0], EVERY_EVENT[3][0]
    [a] = shares_of(envelope(agreed, AUDIT), agreed, KEY)
    [c] = shares_of(envelope(done, AUDIT), done, KEY)
    assert a.facts["action_id"] == c.facts["action_id"] != ACTION
    # Another agency's action of the same id in the same audit is another pseudonym.
    health = action(ActionOf.PARTNERSHIP_AUDIT, AuditAgency.HEALTH)
    [h] = shares_of(envelope(health, AUDIT), health, KEY)
    assert h.agency is HEALTH and h.facts["action_id"] != a.facts["action_id"]
    # And the same action id in another audit is another action.
    [other] = shares_of(envelope(agreed, "PA-other"), agreed, KEY)
    assert other.facts["action_id"] != a.facts["action_id"]


def test_every_partner_can_take_part_in_an_audit_and_social_care_is_none() -> None:
    for partner in PARTNERS:
        opened = PartnershipAuditOpened(
            audit_id=AUDIT,
            opened_on=DAY,
            theme="Exploitation",
            cases=[CHILD],
            agencies=[AuditAgency.SOCIAL_CARE, AuditAgency(partner.value)],
        )
        assert [m.agency for m in shares_of(envelope(opened, AUDIT), opened, KEY)] == [partner]
    alone = PartnershipAuditOpened(
        audit_id=AUDIT,
        opened_on=DAY,
        theme="Exploitation",
        cases=[CHILD],
        agencies=[AuditAgency.SOCIAL_CARE],
    )
    assert shares_of(envelope(alone, AUDIT), alone, KEY) == []
    assert {a.value for a in AuditAgency} == {p.value for p in PARTNERS} | {"social_care"}


def test_addressed_events_name_their_agencies_and_others_are_for_every_entitled_one() -> None:
    opened = EVERY_EVENT[0][0]
    assert addressed_to("PartnershipAuditOpened", opened) == {POLICE, HEALTH}
    assert addressed_to("ChildProtectionPlanStarted", opened) is None
    assert set(ADDRESSED) <= {t for entitled in ENTITLEMENTS.values() for t in entitled}
    assert all(ADDRESSED.values())


def test_nothing_of_quality_assurance_but_the_audits_is_entitled_and_no_sealed_field() -> None:
    quality = set(quality_event_types.types())
    for agency, entitled in ENTITLEMENTS.items():
        assert set(entitled) & quality == set(ADDRESSED), agency
    assert quality - set(ADDRESSED) <= set(NOT_SHARED)
    assert set(SEALED) | {
        "cases",
        "theme",
        "auditor_id",
        "practitioner_id",
        "moderator_id",
        "owner_id",
    } <= set(NEVER_SHARED)
    # A pseudonymised id is never one sent as it is.
    assert not set(PSEUDONYMISED) & set(NEVER_SHARED)
    for agency in PARTNERS:
        assert "QualityActionAgreed.due_on" in DATES[agency], agency
