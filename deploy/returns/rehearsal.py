"""Commands decided in memory by the services' own aggregates, as each service would decide them,
and the facts the returns would read of what was decided: no I/O.

The import rehearses each child's commands before sending any (`rehearse`): a history a
service would refuse half-way (a placement before the period of care, a review of a plan never
started) is reported against the row it came from and nothing of that child is sent. The same
in-memory platform gives the returns' round trip its pure half (`records_from_steps`): a
county's commands, decided, read as the export reads them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import uuid4

from pydantic import BaseModel, ValidationError

from deploy.demo.journey import Step
from services.accommodation.domain.accommodation import Accommodation
from services.accommodation.routes.children import COMMANDS as ACCOMMODATION
from services.case_events.domain import commands as c
from services.case_events.domain.child import Child, Family
from services.case_events.routes.commands import CHILD_COMMANDS, FAMILY_COMMANDS
from services.education.domain.learner import Learner
from services.education.routes.children import COMMANDS as EDUCATION
from services.escalations.domain.commands import RaiseEscalation
from services.escalations.domain.escalation import Escalation
from services.escalations.domain.risk import ChildRisk
from services.escalations.routes.children import COMMANDS as ESCALATIONS_OF_CHILDREN
from services.escalations.routes.escalations import COMMANDS as ESCALATIONS
from services.projections.chronology.entries import entry, registered_locality
from services.projections.returns.facts import ChildRecord, Fact
from shared.aggregate import (
    Aggregate,
    AlreadyRecorded,
    Decision,
    DomainRuleViolation,
    KnownChild,
    UnknownStream,
)
from shared.envelope import Actor, Agency, DomainEvent, Envelope
from shared.eventstore import CommandContext, make_envelopes
from shared.routes import CommandRoute

# Each service's command routes by their path under /children/{id} (or /families/{id}, ...).
ROUTES: dict[str, dict[str, CommandRoute]] = {
    "case_events": {r.path: r for r in CHILD_COMMANDS + FAMILY_COMMANDS},
    "accommodation": {r.path: r for r in ACCOMMODATION},
    "education": {r.path: r for r in EDUCATION},
    "escalations": {r.path: r for r in ESCALATIONS_OF_CHILDREN + ESCALATIONS},
}
# The aggregate a child's stream is in each service.
AGGREGATES: dict[str, type[Aggregate]] = {
    "case_events": Child,
    "accommodation": Accommodation,
    "education": Learner,
    "escalations": ChildRisk,
}
# The endpoints written by hand rather than declared as a CommandRoute.
REGISTRATIONS: dict[str, type[BaseModel]] = {
    "/children": c.RegisterChild,
    "/unborn-children": c.RegisterUnbornChild,
}
NOT_DECIDED_HERE = {"/attendance/register-feed"}
PERSONAL_DETAILS = "/personal-details"  # many children at once: no return reads it
ACTOR = Actor(user_id="rehearsal", agency=Agency.COUNCIL, role="practitioner")


class Refused(Exception):
    """A command a service would refuse, with the field at fault and the reason."""

    def __init__(self, step: Step, field: str, reason: str) -> None:
        super().__init__(f"{step.path}: {field}: {reason}")
        self.step = step
        self.field = field
        self.reason = reason


def route_of(step: Step) -> CommandRoute:
    """The command route a step is posted to: /children/{id}/referrals is /referrals."""
    parts = step.path.split("/")
    try:
        return ROUTES[step.service]["/" + "/".join(parts[3:])]
    except KeyError:
        raise Refused(step, "", f"no command {step.path} in {step.service}") from None


def model_of(step: Step) -> type[BaseModel]:
    """The body model of a step's endpoint (the service's own)."""
    if step.path in REGISTRATIONS:
        return REGISTRATIONS[step.path]
    if step.path == "/escalations":
        return RaiseEscalation
    return route_of(step).command


@dataclass
class Rehearsal:
    """The services' streams in memory, deciding commands as the services would (`today` is
    the day the decisions are made on) and keeping the envelopes of what they decided."""

    today: date
    streams: dict[tuple[str, str], Aggregate] = field(default_factory=dict)
    known: dict[str, KnownChild] = field(default_factory=dict)
    envelopes: list[tuple[Envelope, DomainEvent]] = field(default_factory=list)
    upns: dict[str, str] = field(default_factory=dict)

    def decide(self, step: Step) -> list[DomainEvent]:
        """Decide one command and fold what was decided into its aggregate; `Refused` if the
        service would refuse it (nothing folded then). Personal details are sealed by case
        events' route, never by an aggregate: here only the UPN is kept, in the clear."""
        if step.path.endswith(PERSONAL_DETAILS):
            return self._personal(step, step.body, aggregate_id(step))
        try:
            command: Any = model_of(step).model_validate(step.body)
            aggregate, events = self._decided(step, command)
        except ValidationError as error:
            first = error.errors()[0]
            raise Refused(step, ".".join(str(p) for p in first["loc"]), first["msg"]) from None
        except DomainRuleViolation as error:
            raise Refused(step, error.field, error.reason) from None
        except AlreadyRecorded as error:
            raise Refused(step, "", f"already recorded: {error}") from None
        except UnknownStream as error:
            raise Refused(step, "", str(error)) from None
        envelopes = make_envelopes(
            aggregate_id(step), aggregate.version, events, CommandContext(ACTOR, uuid4())
        )
        for envelope, event in zip(envelopes, events, strict=True):
            aggregate.when(event)
            aggregate.version += 1
            self.envelopes.append((envelope, event))
        personal = step.body.get("personal")
        if step.path in REGISTRATIONS and isinstance(personal, dict):
            self._personal(step, personal, aggregate_id(step))
        return list(events)

    def _personal(self, step: Step, body: Mapping[str, Any], child: str) -> list[DomainEvent]:
        try:
            details = c.PersonalDetails.model_validate(body)
        except ValidationError as error:
            first = error.errors()[0]
            raise Refused(step, ".".join(str(p) for p in first["loc"]), first["msg"]) from None
        if ("case_events", child) not in self.streams:
            raise Refused(step, "", f"no record of {child!r}")
        if details.upn:
            self.upns[child] = details.upn
        return []

    def _decided(self, step: Step, command: Any) -> tuple[Aggregate, Sequence[DomainEvent]]:
        decision = Decision(self.today)
        if step.path == "/children":
            child = self.streams["case_events", command.child_id] = Child(command.child_id)
            self.known[command.child_id] = KnownChild(
                command.child_id, command.date_of_birth, command.locality
            )
            return child, child.register(command, decision)
        if step.path == "/unborn-children":
            # The other services know an unborn child by its expected birth until they hear
            # of the birth.
            child = self.streams["case_events", command.child_id] = Child(command.child_id)
            self.known[command.child_id] = KnownChild(
                command.child_id, command.expected_date_of_birth, command.locality
            )
            return child, child.register_unborn(command, decision)
        if step.path == "/escalations":
            escalation = Escalation(command.escalation_id)
            self.streams["escalations", command.escalation_id] = escalation
            subject = self.known.get(command.child_id)
            return escalation, escalation.raise_(command, Decision(self.today, subject))
        _, kind, stream, _ = step.path.split("/", 3)
        made = {"families": Family, "escalations": Escalation}.get(kind, AGGREGATES[step.service])
        aggregate = self.streams.get((step.service, stream))
        if aggregate is None:
            if step.service == "case_events" and kind == "children":
                raise UnknownStream(stream)
            aggregate = self.streams[step.service, stream] = made(stream)
        route = route_of(step)
        return aggregate, route.decide(
            aggregate, command, Decision(self.today, self.known.get(stream))
        )


def aggregate_id(step: Step) -> str:
    """The stream a step appends to: the registered child's, or the path's subject."""
    if step.path in REGISTRATIONS:
        return str(step.body["child_id"])
    if step.path == "/escalations":
        return str(step.body["escalation_id"])
    return step.path.split("/")[2]


def records_from_steps(
    steps: Iterable[Step], today: date
) -> tuple[list[ChildRecord], dict[str, str]]:
    """Every child's record, as the returns would read it from the platform, after these
    commands (in order) were decided on `today`, and the children's UPNs (sealed in the
    platform, so never in a record: the export asks case events for them). Register feeds are
    skipped; a command refused raises `Refused`."""
    rehearsal = Rehearsal(today)
    for step in steps:
        if step.path not in NOT_DECIDED_HERE:
            rehearsal.decide(step)
    return read_back(rehearsal.envelopes, today), rehearsal.upns


def read_back(decided: Sequence[tuple[Envelope, DomainEvent]], today: date) -> list[ChildRecord]:
    """The records of what was decided: each event as its chronology row (what the
    projection would write), recorded one microsecond after the one before, on the day before
    `today`, so the export as at `today` reads them all in the order they were decided."""
    start = datetime.combine(today - timedelta(days=1), time(), UTC)
    facts: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    localities: dict[str, str] = {}
    for i, (envelope, event) in enumerate(decided):
        recorded = start + timedelta(microseconds=i)
        row = entry(envelope.model_copy(update={"recorded_at": recorded}), event)
        locality = registered_locality(envelope, event)
        if locality is not None:
            localities[row.child_id] = locality
        fact = Fact(row.event_id, row.event_type, row.occurred_on, recorded, row.details)
        facts[row.child_id].append(
            (row.occurred_on, recorded, row.stream_id, row.stream_version, fact)
        )
    records = [
        ChildRecord(
            child_id=child,
            locality=localities[child],
            facts=tuple(f[-1] for f in sorted(found, key=lambda f: f[:4])),
        )
        for child, found in sorted(facts.items())
        if child in localities
    ]
    return records


@dataclass
class Rehearsed:
    """An import's children decided: what the accepted children's commands decided and their
    UPNs, and for each refused child the first command refused (none of that child's kept)."""

    decided: list[tuple[Envelope, DomainEvent]] = field(default_factory=list)
    upns: dict[str, str] = field(default_factory=dict)
    refused: dict[str, Refused] = field(default_factory=dict)

    def records(self, today: date) -> list[ChildRecord]:
        return read_back(self.decided, today)


def rehearsed_children(children: Mapping[str, Sequence[Step]], today: date) -> Rehearsed:
    """Each child's commands decided on their own (an import's children are independent)."""
    out = Rehearsed()
    for child, steps in children.items():
        rehearsal = Rehearsal(today)
        try:
            for step in steps:
                if step.path not in NOT_DECIDED_HERE:
                    rehearsal.decide(step)
        except Refused as error:
            out.refused[child] = error
            continue
        out.decided += rehearsal.envelopes
        out.upns.update(rehearsal.upns)
    return out
