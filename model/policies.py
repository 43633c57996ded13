"""The three built-in policies, faithful to docs/domain.md section 2.

``conservative`` is what was deployed, ``graduated`` the later fix, ``reference``
the design this project recommends. Each decides from observables only.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import ClassVar, Final

from wsmodel.model.config import Config
from wsmodel.model.policy import Admit, Decision, Policy, Registry, Reject
from wsmodel.model.state import Transport


class Conservative(Policy):
    """As deployed: entries outlive their connections and server sends keep zombies
    looking fresh; at the limit only flag-false or stale entries go, and removal awaits
    shutdown with no deadline."""

    name: ClassVar[str] = "conservative"
    refresh_on_send: ClassVar[bool] = True
    reads_age: ClassVar[bool] = False

    def sweep_period(self, config: Config) -> int | None:
        return config.sweep_period

    def on_connect(self, registry: Registry) -> Decision:
        cfg = registry.config
        # Every registered entry counts, closed leftovers included.
        if len(registry.entries) < cfg.limit:
            return Admit()
        for e in registry.entries:
            if not e.is_active or e.activity_age > cfg.activity_cutoff:
                registry.close(e.id, deadline=None)  # await shutdown, no timeout
                registry.remove(e.id)
        return Admit() if len(registry.entries) < cfg.limit else Reject()

    def sweep(self, registry: Registry) -> None:
        # The slow background sweep drops long-stale entries without awaiting them.
        for e in registry.entries:
            if e.activity_age > registry.config.activity_cutoff:
                if e.transport is Transport.CLOSED:
                    registry.remove(e.id)
                else:
                    registry.close_nowait(e.id)


@dataclass(frozen=True, slots=True)
class Breaker:
    """The graduated policy's circuit breaker, one for all users."""

    failures: int = 0  # failed cleanups since the breaker last closed
    open_for: int = 0  # ticks until the breaker closes again; 0 means closed


class Graduated(Conservative):
    """The later fix: escalating levels with sequential probes, an age rule, a Force
    level that evicts the oldest half, and one circuit breaker shared by all users."""

    name: ClassVar[str] = "graduated"
    reads_age: ClassVar[bool] = True  # the age rule

    def initial_shared(self) -> Hashable:
        return Breaker()

    def tick_shared(self, shared: Hashable) -> Hashable:
        assert isinstance(shared, Breaker)
        if shared.open_for == 0:
            return shared
        return Breaker(failures=0) if shared.open_for == 1 else Breaker(0, shared.open_for - 1)

    def on_connect(self, registry: Registry) -> Decision:
        cfg = registry.config
        breaker = registry.shared
        assert isinstance(breaker, Breaker)
        if len(registry.entries) < cfg.limit:
            return Admit()
        if breaker.open_for:
            # Refused: and every refusal extends the window.
            registry.shared = Breaker(breaker.failures, cfg.breaker_window)
            return Reject(retry_after=cfg.breaker_window)
        for level in (self._conservative, self._moderate, self._aggressive, self._force):
            level(registry)
            if len(registry.entries) < cfg.limit:
                break
        if registry.timeouts:
            failures = breaker.failures + 1
            opened = failures >= cfg.breaker_threshold
            registry.shared = Breaker(0, cfg.breaker_window) if opened else Breaker(failures, 0)
        return Admit() if len(registry.entries) < cfg.limit else Reject()

    @staticmethod
    def _evict(registry: Registry, manager_id: int) -> None:
        registry.close(manager_id, deadline=registry.config.close_timeout)
        registry.remove(manager_id)

    def _conservative(self, registry: Registry) -> None:
        for e in registry.entries:
            if not e.is_active or e.activity_age > registry.config.activity_cutoff:
                self._evict(registry, e.id)

    def _moderate(self, registry: Registry) -> None:
        for e in registry.entries:
            if e.transport is Transport.OPEN and not registry.probe(
                e.id, registry.config.probe_timeout_moderate
            ):
                self._evict(registry, e.id)

    def _aggressive(self, registry: Registry) -> None:
        for e in registry.entries:
            if e.transport is not Transport.OPEN:
                continue
            responsive = registry.probe(e.id, registry.config.probe_timeout_aggressive)
            if not responsive or e.age > registry.config.age_rule:
                self._evict(registry, e.id)

    def _force(self, registry: Registry) -> None:
        entries = registry.entries
        for e in entries[: max(1, len(entries) // 2)]:  # oldest half, healthy or not
            self._evict(registry, e.id)


class Reference(Policy):
    """The recommended design: remove exactly once when a close finishes, abort on a
    heartbeat verdict, bound every close, and at the limit free only what is provably
    not a healthy active connection; otherwise reject with a retry-after."""

    name: ClassVar[str] = "reference"
    remove_on_close: ClassVar[bool] = True
    heartbeat: ClassVar[bool] = True
    close_deadline: ClassVar[bool] = True
    reads_age: ClassVar[bool] = False

    def sweep_period(self, config: Config) -> int | None:
        return config.reaper_period

    def on_connect(self, registry: Registry) -> Decision:
        cfg = registry.config
        # Only open sockets count; closing ones are bounded by the close timeout.
        if registry.open_count < cfg.limit:
            return Admit()
        self.sweep(registry)  # drop finished leftovers
        self.free_overdue(registry)
        if registry.open_count >= cfg.limit:
            self.free_one_idle(registry)
        if registry.open_count < cfg.limit:
            return Admit()
        return Reject(retry_after=self._retry_after(registry))

    def free_overdue(self, registry: Registry) -> None:
        """Abort every open entry whose peer missed its heartbeat verdict."""
        for e in registry.entries:
            if e.transport is Transport.OPEN and e.pong_age >= registry.config.verdict_after:
                registry.abort(e.id)

    def free_one_idle(self, registry: Registry) -> None:
        """Close the longest-idle open entry, if one is idle strictly past idle_after (at
        exactly idle_after the peer may still be active)."""
        idle = [
            e
            for e in registry.entries
            if e.transport is Transport.OPEN and e.activity_age > registry.config.idle_after
        ]
        if idle:
            longest = max(idle, key=lambda e: e.activity_age)  # first registered on ties
            registry.close_nowait(longest.id)  # graceful; the close timeout bounds it

    def sweep(self, registry: Registry) -> None:
        # Backstop for leaked entries; with removal on close there are normally none.
        for e in registry.entries:
            if e.transport is Transport.CLOSED:
                registry.remove(e.id)

    @staticmethod
    def _retry_after(registry: Registry) -> int:
        """Ticks until some open entry could become overdue or idle."""
        cfg = registry.config
        waits = [
            min(cfg.verdict_after - e.pong_age, cfg.idle_after + 1 - e.activity_age)
            for e in registry.entries
            if e.transport is Transport.OPEN
        ]
        return max(1, min(waits, default=1))


BUILTIN: Final[dict[str, Policy]] = {p.name: p for p in (Conservative(), Graduated(), Reference())}
