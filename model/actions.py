"""The closed vocabulary of actions, each a small value named verb-first.

Environment actions happen whenever they are enabled; two of them are faults.
System actions are the server's own reactions; they are *urgent*: time does not pass
(``Tick`` is disabled) while one of them is due.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class _Action:
    system: ClassVar[bool] = False  # a server reaction rather than something the world does
    fault: ClassVar[bool] = False  # stops when "faults stop" in the liveness claims

    @property
    def name(self) -> str:
        return type(self).__name__

    def args(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __str__(self) -> str:
        inner = ", ".join(f"{k}={v}" for k, v in self.args().items())
        return f"{self.name}({inner})"


@dataclass(frozen=True, slots=True)
class _UserAction(_Action):
    user: int


@dataclass(frozen=True, slots=True)
class _ManagerAction(_Action):
    user: int
    manager: int


# --- environment -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connect(_UserAction):
    """The user opens a connection; at the limit the policy's emergency cleanup runs first."""


@dataclass(frozen=True, slots=True)
class Traffic(_ManagerAction):
    """The peer sends an application message on this manager."""


@dataclass(frozen=True, slots=True)
class ServerSend(_UserAction):
    """The application pushes an event to every one of the user's managers."""


@dataclass(frozen=True, slots=True)
class Stall(_ManagerAction):
    """The peer vanishes silently or the handler hangs: the manager is stuck."""

    fault: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class ClientClose(_ManagerAction):
    """The client starts a close of this manager."""


@dataclass(frozen=True, slots=True)
class CloseHangs(_ManagerAction):
    """The running close will never finish on its own (peer stopped reading)."""

    fault: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Tick(_Action):
    """One tick of time passes for everyone."""


# --- system ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GoIdle(_ManagerAction):
    """idle_after ticks passed without inbound traffic: the manager is idle."""

    system: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class HeartbeatVerdict(_ManagerAction):
    """No heartbeat answer for H + T ticks: the server starts an abort (the entry is
    closing, no longer active; the next AbortClose ends it)."""

    system: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class FinishClose(_ManagerAction):
    """A close that does not hang completes (and, per policy, the entry is removed)."""

    system: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class AbortClose(_ManagerAction):
    """An abort, or a close past the close timeout, ends the close unconditionally."""

    system: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class Sweep(_UserAction):
    """The policy's periodic reaper/sweep runs over this user's entries."""

    system: ClassVar[bool] = True


Action = (
    Connect
    | Traffic
    | ServerSend
    | Stall
    | ClientClose
    | CloseHangs
    | Tick
    | GoIdle
    | HeartbeatVerdict
    | FinishClose
    | AbortClose
    | Sweep
)

ACTION_TYPES: tuple[type[Action], ...] = (
    Connect,
    Traffic,
    ServerSend,
    Stall,
    ClientClose,
    CloseHangs,
    Tick,
    GoIdle,
    HeartbeatVerdict,
    FinishClose,
    AbortClose,
    Sweep,
)


def user_of(action: Action) -> int | None:
    """The user an action belongs to; None for Tick, which belongs to everyone."""
    return None if isinstance(action, Tick) else action.user


def action_from_json(data: dict[str, object]) -> Action:
    """Rebuild an action from ``{"action": name, "args": {...}}`` (the JSON trace form)."""
    by_name = {t.__name__: t for t in ACTION_TYPES}
    name = data.get("action")
    if not isinstance(name, str) or name not in by_name:
        raise ValueError(f"unknown action {name!r}")
    args = data.get("args", {})
    if not isinstance(args, dict):
        raise ValueError(f"args of {name} must be an object")
    return by_name[name](**args)
