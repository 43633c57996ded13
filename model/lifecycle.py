"""The manager lifecycle: one declarative table, read by everything else.

A manager is created ``active``. It goes ``idle`` after a quiet spell and back to
``active`` on inbound traffic; it becomes ``stuck`` when its peer vanishes silently
or its handler hangs; any live manager can start ``closing``; a close ends in
``closed`` either because it completed or because it was aborted.

The table is declared once with ``transitions`` (auto transitions off). The model
never calls the machine's dynamic trigger methods; it goes through :func:`fire`,
which looks the edge up in this table, so a phase can only change along an edge
declared here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from transitions import Machine


class Phase(StrEnum):
    """The ground truth of a manager: what is really going on with its connection."""

    ACTIVE = "active"  # peer alive, inbound traffic within the last idle_after ticks
    IDLE = "idle"  # peer alive and answering heartbeats, but quiet for idle_after ticks
    STUCK = "stuck"  # peer vanished silently or handler hung: answers nothing
    CLOSING = "closing"  # a close began (client, heartbeat verdict or eviction)
    CLOSED = "closed"  # the close completed or was aborted; may still be registered


class Trigger(StrEnum):
    """The events that move a manager between phases."""

    GO_IDLE = "go_idle"
    TRAFFIC = "traffic"
    STALL = "stall"
    BEGIN_CLOSE = "begin_close"
    FINISH_CLOSE = "finish_close"
    ABORT = "abort"


INITIAL: Final = Phase.ACTIVE  # a manager's first phase (closed is the last: no edge out)

# The one table: (trigger, sources, destination).
TABLE: Final[tuple[tuple[Trigger, tuple[Phase, ...], Phase], ...]] = (
    (Trigger.GO_IDLE, (Phase.ACTIVE,), Phase.IDLE),
    (Trigger.TRAFFIC, (Phase.IDLE,), Phase.ACTIVE),
    (Trigger.STALL, (Phase.ACTIVE, Phase.IDLE), Phase.STUCK),
    (Trigger.BEGIN_CLOSE, (Phase.ACTIVE, Phase.IDLE, Phase.STUCK), Phase.CLOSING),
    (Trigger.FINISH_CLOSE, (Phase.CLOSING,), Phase.CLOSED),
    (Trigger.ABORT, (Phase.CLOSING,), Phase.CLOSED),
)

MACHINE: Final = Machine(
    model=None,
    states=[p.value for p in Phase],
    transitions=[
        {"trigger": t.value, "source": [s.value for s in sources], "dest": dest.value}
        for t, sources, dest in TABLE
    ],
    initial=INITIAL.value,
    auto_transitions=False,
)


def _edges_from_machine() -> dict[tuple[Phase, Trigger], Phase]:
    """Read the edges back out of the ``transitions`` machine (not out of TABLE)."""
    edges: dict[tuple[Phase, Trigger], Phase] = {}
    for trigger_name, event in MACHINE.events.items():
        for source_name, transitions in event.transitions.items():
            for transition in transitions:
                assert transition.dest is not None  # the table has no internal transitions
                edges[(Phase(source_name), Trigger(trigger_name))] = Phase(transition.dest)
    return edges


EDGES: Final[dict[tuple[Phase, Trigger], Phase]] = _edges_from_machine()


def fire(phase: Phase, trigger: Trigger) -> Phase:
    """The phase after ``trigger``; raises if the table has no such edge."""
    try:
        return EDGES[(phase, trigger)]
    except KeyError:
        raise ValueError(f"lifecycle has no edge {phase.value} --{trigger.value}-->") from None


def can_fire(phase: Phase, trigger: Trigger) -> bool:
    return (phase, trigger) in EDGES


LIVE: Final = frozenset({Phase.ACTIVE, Phase.IDLE, Phase.STUCK})
"""Phases that count against the per-user limit in the claims (no_leak bounds the
others in time)."""

ALIVE: Final = frozenset({Phase.ACTIVE, Phase.IDLE})
"""Phases whose peer answers heartbeats and probes."""
