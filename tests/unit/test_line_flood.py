"""FloodGate: the per-conversation token bucket in front of LINE turns."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.line.flood import FloodGate, Verdict


def _gate(t: list[float], **kw: Any) -> FloodGate:
    return FloodGate(clock=lambda: t[0], **kw)


def test_a_burst_runs_then_one_notice_then_quiet() -> None:
    t = [0.0]
    gate = _gate(t, burst=3)
    verdicts = [gate.admit("a") for _ in range(6)]
    assert verdicts == [Verdict.RUN] * 3 + [Verdict.NOTICE, Verdict.DROP, Verdict.DROP]


def test_time_earns_turns_back_and_a_new_flood_is_told_again() -> None:
    t = [0.0]
    gate = _gate(t, burst=2, per_second=1.0)
    assert [gate.admit("a") for _ in range(3)] == [Verdict.RUN, Verdict.RUN, Verdict.NOTICE]
    t[0] = 1.0  # one turn earned back
    assert [gate.admit("a") for _ in range(2)] == [Verdict.RUN, Verdict.NOTICE]


def test_one_conversation_flooding_never_slows_another() -> None:
    t = [0.0]
    gate = _gate(t, burst=2)
    for _ in range(50):
        gate.admit("flooder")
    assert gate.admit("someone else") is Verdict.RUN


def test_memory_is_bounded_by_dropping_the_least_recently_seen() -> None:
    t = [0.0]
    gate = _gate(t, burst=1, max_conversations=2)
    assert gate.admit("a") is Verdict.RUN
    assert gate.admit("b") is Verdict.RUN
    assert gate.admit("c") is Verdict.RUN  # "a" is forgotten: a full bucket again
    assert gate.admit("a") is Verdict.RUN
    assert gate.admit("c") is Verdict.NOTICE  # "c" is still remembered


@pytest.mark.parametrize("kw", [{"burst": 0}, {"per_second": 0.0}, {"max_conversations": 0}])
def test_nonsense_limits_are_refused(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        FloodGate(**kw)
