"""The chaos checker's arithmetic, on hand-made evidence (no I/O)."""

from __future__ import annotations

from uuid import UUID, uuid4

from chaos.invariants import Evidence, check


def evidence(events: int = 3) -> tuple[Evidence, list[UUID]]:
    ids = [uuid4() for _ in range(events)]
    stored = {e: ("C-1", n + 1) for n, e in enumerate(ids)}
    acked = [(f"k{n}", "C-1", n + 1) for n in range(events)]
    commands = {f"k{n}": ("C-1", n + 1) for n in range(events)}
    return Evidence(acked, commands, stored, list(ids), list(ids)), ids


def test_a_clean_run_holds() -> None:
    found, _ = evidence()
    figures = check("clean", 3, found)
    assert (figures.stored, figures.published, figures.applied, figures.lost) == (3, 3, 3, 0)
    assert figures.holds


def test_an_acknowledged_command_missing_from_the_store_is_lost() -> None:
    found, _ = evidence()
    found.acknowledged.append(("k9", "C-1", 9))
    figures = check("ack lost", 4, found)
    assert figures.lost == 1 and not figures.holds
    assert "k9" in figures.notes[0]


def test_an_event_never_published_or_never_applied_is_lost_once() -> None:
    found, ids = evidence()
    found.published.remove(ids[0])
    found.applied.remove(ids[0])
    found.applied.remove(ids[1])
    figures = check("gaps", 3, found)
    assert figures.lost == 2  # ids[0] missing on the topic, ids[1] never applied
    assert figures.published == 2 and figures.applied == 1


def test_duplicates_published_are_tolerated_but_duplicates_applied_are_not() -> None:
    found, ids = evidence()
    found.published.append(ids[2])
    figures = check("republished", 3, found)
    assert figures.duplicates_published == 1 and figures.holds
    found.applied.append(ids[2])
    figures = check("applied twice", 3, found)
    assert figures.duplicates_applied == 1 and not figures.holds


def test_poison_not_dead_lettered_is_lost() -> None:
    found, _ = evidence()
    found.poison_offered, found.dead_lettered = 4, 3
    assert check("poison", 3, found).lost == 1
