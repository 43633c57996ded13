"""An example user policy for ``wsmodel verify --policy my_policy:MyPolicy``.

Run from the checkout with this folder on the import path::

    PYTHONPATH=docs/examples wsmodel verify --policy my_policy:MyPolicy

``MyPolicy`` is a stricter cousin of the built-in ``reference``: at the limit it
*aborts* (rather than gracefully closes) the heartbeat-overdue managers and the
longest-idle one, so a freed slot never waits on a close handshake. ``NoIdleClose``
is the same policy without the idle rule; the model shows why that rule is needed
(see docs/own-policy.md).
"""

from __future__ import annotations

from typing import ClassVar

from wsmodel.model import Admit, Config, Decision, Policy, Registry, Reject, Transport


class MyPolicy(Policy):
    name: ClassVar[str] = "my-policy"
    remove_on_close: ClassVar[bool] = True  # a finished close removes its own entry
    heartbeat: ClassVar[bool] = True  # no heartbeat answer for H + T: abort
    close_deadline: ClassVar[bool] = True  # a close still running after C: abort

    def sweep_period(self, config: Config) -> int | None:
        return config.reaper_period  # backstop for leaked entries

    def on_connect(self, registry: Registry) -> Decision:
        cfg = registry.config
        if registry.open_count < cfg.limit:
            return Admit()
        for e in registry.entries:
            if e.transport is Transport.OPEN and e.pong_age >= cfg.verdict_after:
                registry.abort(e.id)  # overdue: the peer is gone
        if registry.open_count >= cfg.limit:
            self.free_idle(registry)
        if registry.open_count < cfg.limit:
            return Admit()
        return Reject(retry_after=1)

    def free_idle(self, registry: Registry) -> None:
        # Strictly past idle_after: at exactly idle_after the manager may not have
        # gone idle yet (the model lets a Connect happen before GoIdle).
        idle = [
            e
            for e in registry.entries
            if e.transport is Transport.OPEN and e.activity_age > registry.config.idle_after
        ]
        if idle:
            registry.abort(max(idle, key=lambda e: e.activity_age).id)

    def sweep(self, registry: Registry) -> None:
        for e in registry.entries:
            if e.transport is Transport.CLOSED:
                registry.remove(e.id)


class NoIdleClose(MyPolicy):
    """MyPolicy without the idle rule: a user holding `limit` idle managers is
    rejected for ever."""

    name: ClassVar[str] = "no-idle-close"

    def free_idle(self, registry: Registry) -> None:
        return None
