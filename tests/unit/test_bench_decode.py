"""`python -m bench.harness --only decode` times like with like: its two ways read each of
its messages as the same event, and the one pass takes them all in one pass."""

from __future__ import annotations

from bench import decode
from contracts.topics import domain_events
from shared.envelope import Envelope


def test_both_ways_read_the_benchmarks_messages_as_the_same_events() -> None:
    registry = domain_events()
    values = decode.messages(40)
    plain, one = decode.the_plain_way(registry), decode.one_pass(registry)
    assert len(values) == 40
    assert [plain(v) for v in values] == [one(v) for v in values]
    assert all(type(registry.read(v)) is not Envelope for v in values)
    figures = decode.measure(40, 2)
    assert figures["messages"] == 40
    assert len(figures["the plain way"]) == len(figures["one pass"]) == 2
    assert all(f > 0 for f in figures["the plain way"] + figures["one pass"])
