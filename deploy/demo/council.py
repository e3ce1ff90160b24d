"""The demo council's reference data: its localities (with the postcode districts they cover),
its schools, and a team of each kind per locality with its social workers, sized to the county's
caseloads. Recorded first, through /reference/... (each change an event), because every command
that names a locality, school, team or social worker is checked against them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from deploy.demo.journey import Step

LOCALITIES = ["Exeter", "North", "East", "South", "Mid and West"]
CODES = {"Exeter": "EX", "North": "NO", "East": "EA", "South": "SO", "Mid and West": "MW"}
# The school whose register feeds the demo sends (deploy/local/stack.py's schools partner).
DEMO_SCHOOL = "113254"

# The postcode districts (outward codes) of each locality, and of the places beyond the county
# where its children are placed (Torbay, Plymouth, Cornwall, Somerset, Dorset, Bristol).
DISTRICTS = {
    "Exeter": ["EX1", "EX2", "EX2", "EX3", "EX4", "EX4"],
    "North": ["EX31", "EX32", "EX33", "EX34", "EX36", "EX38", "EX39", "EX39"],
    "East": ["EX5", "EX8", "EX8", "EX10", "EX11", "EX12", "EX14", "EX24"],
    "South": ["EX7", "PL21", "TQ7", "TQ9", "TQ12", "TQ12", "TQ13", "TQ14"],
    "Mid and West": ["EX15", "EX16", "EX16", "EX17", "EX20", "EX22", "PL19"],
}
OUT_OF_AREA = ["TQ1", "TQ2", "TQ4", "PL1", "PL4", "PL6", "PL15", "TR1", "TA1", "TA6", "DT1", "BS3"]

# The kinds of team in each locality, with the social workers each has in a large shire
# (scale 1): about 15 children each at the demo's caseloads.
TEAM_KINDS = {
    "CIN": ("assessment and children in need", 40),
    "CP": ("child protection", 8),
    "CIC": ("children in care", 14),
}
SCHOOL_PLACES = [
    "Barnstaple",
    "Bideford",
    "Crediton",
    "Cullompton",
    "Dawlish",
    "Exmouth",
    "Honiton",
    "Ivybridge",
    "Kingsbridge",
    "Newton Abbot",
    "Okehampton",
    "Sidmouth",
    "Tavistock",
    "Tiverton",
    "Totnes",
]
SCHOOL_KINDS = ["Primary School", "Community College", "Academy", "School"]


@dataclass(frozen=True)
class Team:
    team_id: str
    name: str
    locality: str
    workers: tuple[str, ...]


class Council:
    """The council's teams and social workers at a county's scale (ids are pseudonymous: a
    worker is `SW-EX-CIN-01`, the first of the Exeter team's, never a name)."""

    def __init__(self, scale: float) -> None:
        self.teams: dict[tuple[str, str], Team] = {}
        for locality in LOCALITIES:
            for kind, (what, size) in TEAM_KINDS.items():
                team_id = f"T-{CODES[locality]}-{kind}"
                workers = tuple(
                    f"SW-{team_id[2:]}-{i:02d}" for i in range(1, max(1, round(size * scale)) + 1)
                )
                self.teams[locality, kind] = Team(team_id, f"{locality} {what}", locality, workers)

    def team(self, locality: str, kind: str) -> Team:
        return self.teams[locality, kind]

    def reference_data(self, schools: Iterable[str]) -> list[list[Step]]:
        """The commands that record it, in the order they depend on each other: localities and
        schools, then teams (in a locality), then social workers (in a team). Each kind is
        one list (one stream): its items are added one at a time."""
        places = [
            *(_reference("localities", name=locality) for locality in LOCALITIES),
            *(_reference("schools", urn=urn, name=school_name(urn)) for urn in sorted(schools)),
        ]
        teams = [
            _reference("teams", team_id=t.team_id, name=t.name, locality=t.locality)
            for t in self.teams.values()
        ]
        workers = [
            _reference("social-workers", worker_id=worker, team_id=t.team_id)
            for t in self.teams.values()
            for worker in t.workers
        ]
        return [places, teams, workers]


def _reference(kind: str, **body: str) -> Step:
    return Step("case_events", f"/reference/{kind}", body, exists_ok=True)


def school_name(urn: str) -> str:
    """An invented name, the same for the same URN."""
    number = int(urn)
    place = SCHOOL_PLACES[number % len(SCHOOL_PLACES)]
    return f"{place} {SCHOOL_KINDS[number // len(SCHOOL_PLACES) % len(SCHOOL_KINDS)]}"
