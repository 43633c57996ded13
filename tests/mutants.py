"""Deliberately broken policies: each subclasses a built-in and changes one thing.

``MUTANTS`` is the one table both checkers use: ``(policy, property it must break,
max counterexample length)``. The bound is for the production preset (limit 20), as
``Counterexample.length()`` counts it (environment steps; a run of ticks is one step;
system reactions are free). A mutant that needs a full registry needs ``limit``
connects with a tick between each, so its bound is ``2 * limit + 5``. At smaller
limits the counterexamples are shorter, so the same bound holds a fortiori.

This file is loaded by path (``tests/`` is not a package), so it imports only the
installed ``wsmodel``.
"""

from __future__ import annotations

from typing import ClassVar, Final

from wsmodel.model import Admit, Config, Decision, Policy, Reference, Registry, preset
from wsmodel.model.state import Transport

LIMIT: Final = preset("production").limit
FULL_REGISTRY: Final = 2 * LIMIT + 5


class OffByOneLimit(Reference):
    """Admits when the user holds exactly ``limit`` open managers (``<=`` for ``<``)."""

    name: ClassVar[str] = "mutant-off-by-one-limit"

    def on_connect(self, registry: Registry) -> Decision:
        if registry.open_count == registry.config.limit:
            return Admit()
        return super().on_connect(registry)


class EvictsNewest(Reference):
    """At the limit, closes the newest open entry first, healthy or not."""

    name: ClassVar[str] = "mutant-evicts-newest"

    def on_connect(self, registry: Registry) -> Decision:
        if registry.open_count >= registry.config.limit:
            newest = [e for e in registry.entries if e.transport is Transport.OPEN][-1]
            registry.close_nowait(newest.id)
        return super().on_connect(registry)


class ForgetsRemoval(Reference):
    """A finished close leaves its entry registered, and no reaper runs."""

    name: ClassVar[str] = "mutant-forgets-removal"
    remove_on_close: ClassVar[bool] = False

    def sweep_period(self, config: Config) -> int | None:
        return None


class UnboundedAwait(Reference):
    """Reference, except that the emergency cleanup closes gracefully and awaits each
    close with no deadline (instead of aborting / closing without waiting)."""

    name: ClassVar[str] = "mutant-unbounded-await"

    def free_overdue(self, registry: Registry) -> None:
        for e in registry.entries:
            if e.transport is Transport.OPEN and e.pong_age >= registry.config.verdict_after:
                registry.close(e.id, deadline=None)  # was: registry.abort(e.id)

    def free_one_idle(self, registry: Registry) -> None:
        idle = [
            e
            for e in registry.entries
            if e.transport is Transport.OPEN and e.activity_age > registry.config.idle_after
        ]
        if idle:
            longest = max(idle, key=lambda e: e.activity_age)
            registry.close(longest.id, deadline=None)  # was: registry.close_nowait(...)


class CountsAnswering(Reference):
    """Without heartbeat verdicts, admits while fewer than ``limit`` entries answer
    heartbeats: the silent ones (zombies) are neither counted nor freed, so they pile up
    past the limit, the incident's bug class (a review's: a checker that counted only
    active and idle managers passed every other test)."""

    name: ClassVar[str] = "mutant-counts-answering"
    heartbeat: ClassVar[bool] = False

    def on_connect(self, registry: Registry) -> Decision:
        h = registry.config.heartbeat_interval
        answering = [
            e for e in registry.entries if e.transport is Transport.OPEN and e.pong_age <= h
        ]
        if len(answering) < registry.config.limit:
            return Admit()
        return super().on_connect(registry)


MUTANTS: Final[list[tuple[Policy, str, int]]] = [
    (OffByOneLimit(), "per_user_limit", FULL_REGISTRY),
    # a full registry, a stall, a wait past H, a connect
    (CountsAnswering(), "per_user_limit", FULL_REGISTRY),
    (EvictsNewest(), "no_healthy_eviction", FULL_REGISTRY),
    # one connect, one client close, a wait longer than R
    (ForgetsRemoval(), "no_leak", 5),
    # a full registry, a wait past idle_after, a stall, a connect
    (UnboundedAwait(), "cleanup_terminates", FULL_REGISTRY),
]


class KeepsIdle(Reference):
    """At the limit, never closes an idle entry: a user whose peers went quiet is locked
    out although nothing is wrong with them. Only the liveness claims can see it."""

    name: ClassVar[str] = "mutant-keeps-idle"

    def free_one_idle(self, registry: Registry) -> None:
        pass
