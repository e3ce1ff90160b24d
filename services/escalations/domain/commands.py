"""Commands of the escalations service."""

from __future__ import annotations

from contracts.escalations import events as e
from shared.commands import example


class AssignRiskRating(e.RatingFacts):
    model_config = example(rated_on="2024-04-02", rating="AMBER")


class RecordDipSample(e.DipSampleFacts):
    model_config = example(
        sampled_on="2024-04-09", manager_id="TM-4", agreed=False, moderated_to="RED"
    )


class RaiseEscalation(e.RaiseFacts):
    model_config = example(
        escalation_id="IRO-2024-070",
        child_id="C-000123",
        raised_on="2024-04-15",
        raised_by="IRO",
        reason="permanence_planning",
    )


class AdvanceEscalation(e.AdvanceFacts):
    model_config = example(advanced_on="2024-05-01", stage="formal")


class RecordEscalationResponse(e.RespondFacts):
    model_config = example(responded_on="2024-05-08")


class ResolveEscalation(e.ResolveFacts):
    model_config = example(resolved_on="2024-06-10", resolution="plan_changed")


class CloseEWOEscalation(e.EWOCloseFacts):
    model_config = example(closed_on="2024-07-01", outcome="attendance_improved")


class AcknowledgeAttention(e.AcknowledgeFacts):
    model_config = example(child_id="C-000123", assigned_to="SW-17")
