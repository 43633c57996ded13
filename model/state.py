"""The state of the whole system: immutable, hashable, without an absolute clock.

Time is kept as ages (ticks since something happened) that saturate at
``Config.horizon``. Every threshold and bound is below the horizon, so saturation
loses nothing that behaviour or a claim depends on, and it keeps the state space
finite: a run that stops making progress comes back to a state it has seen.

States are named tuples: immutable, hashable, and cheap to build and hash, which
matters because checking builds millions of them.

Abstracted away: message contents, buffers, the TCP layer, the event loop, and
anything shared across processes (the registry is per process, as in the incident).
"""

from __future__ import annotations

from collections.abc import Hashable
from enum import StrEnum
from typing import NamedTuple

from wsmodel.model.lifecycle import INITIAL, LIVE, Phase


class Transport(StrEnum):
    """What the WebSocket library reports for the socket: observable by the server."""

    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


TRANSPORT = {
    Phase.ACTIVE: Transport.OPEN,
    Phase.IDLE: Transport.OPEN,
    Phase.STUCK: Transport.OPEN,
    Phase.CLOSING: Transport.CLOSING,
    Phase.CLOSED: Transport.CLOSED,
}


class Manager(NamedTuple):
    id: int  # registry key; fresh for every connection, never reused
    phase: Phase  # ground truth; only the claims read it, never a policy
    is_active: bool  # the server's flag; turned false when the server starts a close
    age: int  # ticks since creation
    activity_age: int  # ticks since last_activity was refreshed (policy decides by what)
    quiet_age: int  # ticks since the last inbound application message (drives idle)
    pong_age: int  # ticks since the peer last answered a heartbeat
    phase_age: int  # ticks in the current phase (close running time while closing)
    close_hangs: bool  # the running close will never finish on its own
    aborting: bool  # the running close is an abort: it completes at once
    stuck_age: int | None  # ghost: ticks since the manager went stuck; for the claims only

    @property
    def transport(self) -> Transport:
        return TRANSPORT[self.phase]

    @property
    def live(self) -> bool:
        return self.phase in LIVE

    @property
    def name(self) -> str:
        return f"m{self.id}"


def new_manager(manager_id: int) -> Manager:
    """A manager as a Connect creates it: active, flagged active, every age zero."""
    return Manager(
        id=manager_id,
        phase=INITIAL,
        is_active=True,
        age=0,
        activity_age=0,
        quiet_age=0,
        pong_age=0,
        phase_age=0,
        close_hangs=False,
        aborting=False,
        stuck_age=None,
    )


class UserState(NamedTuple):
    managers: tuple[Manager, ...]  # the registry entries of this user, registration order
    next_id: int  # key of the next manager to be created
    since_sweep: int  # ticks since the user's entries were last swept (0: no sweep)
    attempts: int  # connection attempts by this user during the current tick
    memory: Hashable  # the policy's own per-user memory (None for the built-ins)

    def find(self, manager_id: int) -> Manager | None:
        for m in self.managers:
            if m.id == manager_id:
                return m
        return None

    def count(self, *phases: Phase) -> int:
        return sum(1 for m in self.managers if m.phase in phases)

    @property
    def live_count(self) -> int:
        return sum(1 for m in self.managers if m.live)


class State(NamedTuple):
    users: tuple[UserState, ...]  # one entry per user, indexed by user number
    shared: (
        Hashable  # policy state shared by all users (the graduated breaker); an isolation hazard
    )


def initial_state(users: int, memory: Hashable = None, shared: Hashable = None) -> State:
    """Every user starts with an empty registry."""
    return State(
        users=tuple(UserState((), 0, 0, 0, memory) for _ in range(users)),
        shared=shared,
    )
