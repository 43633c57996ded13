"""The protocol a cleanup policy implements, and the registry handle it acts through.

A policy sees only what a real server can see: :class:`ManagerView` carries the
observables, never the phase. It acts on the registry through :class:`Registry`,
whose operations cost what they would cost in a real server: a ping of an
unresponsive peer costs its full timeout, and awaiting a close that hangs, with no
deadline, never returns. The model sums those costs into the cleanup's duration.

A policy is an object with the attributes and methods of :class:`Policy`; subclass
it and override what differs. It must be deterministic.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

from wsmodel.model.config import Config
from wsmodel.model.lifecycle import ALIVE, LIVE, Phase, Trigger, fire
from wsmodel.model.state import Manager, Transport


class PolicyError(Exception):
    """The policy under test broke the protocol: it raised, returned nonsense, or
    asked the registry for something impossible. The message says what."""


class CleanupHung(BaseException):
    """Unwinds a policy that awaited a close with no deadline on a close that hangs.

    A BaseException so that a policy's ``except Exception`` cannot swallow it.
    """

    def __init__(self, manager: int | None = None) -> None:
        super().__init__(manager)
        self.manager = manager  # the entry whose close never ends (None: raised by a policy)


@dataclass(frozen=True, slots=True)
class ManagerView:
    """One registry entry as the server sees it."""

    id: int  # registry key, in registration order
    is_active: bool  # the server's own flag
    transport: Transport  # what the WebSocket library reports
    known_age: int | None  # ticks since creation; None for a policy that does not read it
    activity_age: int  # ticks since last_activity (what refreshes it depends on the policy)
    pong_age: int  # ticks the server may have waited for a heartbeat answer (see view_of)
    closing_for: int | None  # ticks since the close began, while one is running

    @property
    def age(self) -> int:
        """Ticks since creation. Hidden from a policy whose ``reads_age`` is False: the
        exhaustive engine then forgets ages, so the policy must not depend on them."""
        if self.known_age is None:
            raise AttributeError(
                "ManagerView.age is hidden from a policy that declares reads_age = False; "
                "set reads_age = True to read it"
            )
        return self.known_age

    @property
    def connections(self) -> int:
        """1 while the socket is open or closing, 0 once the library says closed."""
        return 0 if self.transport is Transport.CLOSED else 1


def view_of(m: Manager, config: Config, reads_age: bool = True) -> ManagerView:
    """What the server sees of ``m``. Its ``pong_age`` is never below H: a live peer's
    last answer is up to H ticks ago in a real schedule (pings go out every H), so the
    view takes that worst case, and a peer that stopped answering t <= H ticks ago
    looks the same. Only past H does a growing ``pong_age`` tell of a silent peer (the
    state's own ``pong_age``, 0 while the peer lives, is ground truth)."""
    return ManagerView(
        id=m.id,
        is_active=m.is_active,
        transport=m.transport,
        known_age=m.age if reads_age else None,
        activity_age=m.activity_age,
        pong_age=max(m.pong_age, config.heartbeat_interval),
        closing_for=m.phase_age if m.phase is Phase.CLOSING else None,
    )


@dataclass(frozen=True, slots=True)
class Admit:
    """Create the new manager."""


@dataclass(frozen=True, slots=True)
class Reject:
    """Refuse the connection; ``retry_after`` (ticks) is advice to the client."""

    retry_after: int | None = None


Decision = Admit | Reject


class Policy:
    """Base class and protocol of a cleanup policy. The defaults are the plainest server."""

    name: ClassVar[str] = "policy"
    remove_on_close: ClassVar[bool] = False  # a finished close removes the entry at once
    heartbeat: ClassVar[bool] = False  # abort managers with no heartbeat answer for H + T
    close_deadline: ClassVar[bool] = False  # abort any close still running after C ticks
    refresh_on_send: ClassVar[bool] = False  # a server send refreshes last_activity
    # False hides ages from the policy and lets the exhaustive engine forget them: under a
    # third of the states at limit 2 (decision 0012).
    reads_age: ClassVar[bool] = True  # decisions read ManagerView.age

    def sweep_period(self, config: Config) -> int | None:
        """Ticks between runs of :meth:`sweep`; None for no periodic sweep."""
        return None

    def initial_shared(self) -> Hashable:
        """State shared by all users (None for a policy that shares nothing)."""
        return None

    def initial_memory(self) -> Hashable:
        """Per-user state the policy keeps between calls."""
        return None

    def tick_shared(self, shared: Hashable) -> Hashable:
        """Shared state one tick later."""
        return shared

    def on_connect(self, registry: Registry) -> Decision:
        """Decide a new connection of this user, cleaning up first if at the limit."""
        raise NotImplementedError

    def sweep(self, registry: Registry) -> None:
        """The periodic background pass over one user's entries."""


class Wait(NamedTuple):
    """An await that ran into its timeout: a probe of a peer that never answered, or a
    close cut off at its deadline (then aborted). What a cleanup's duration is made of."""

    what: str  # "probe" or "close"
    manager: int
    ticks: int


class Registry:
    """One user's registry, handed to a policy for the length of one call.

    Every operation follows the lifecycle table; every await is charged to
    :attr:`elapsed`. The model builds it, calls the policy, and reads the outcome back
    with :func:`settle_registry`. Nothing public on it exposes a phase: a policy sees
    :class:`ManagerView` values only.
    """

    def __init__(
        self,
        config: Config,
        policy: Policy,
        managers: tuple[Manager, ...],
        memory: Hashable,
        shared: Hashable,
    ) -> None:
        self.config = config
        self._policy = policy
        self._managers = {m.id: m for m in managers}
        self._entries: tuple[ManagerView, ...] | None = None  # views, rebuilt after a change
        self.memory = memory
        self.shared = shared
        self.waits: list[Wait] = []  # the awaits that ran into their timeout, in order
        self._hung_on: int | None = None  # the entry of an await that never returns

    # --- what the policy reads ----------------------------------------------------

    @property
    def entries(self) -> tuple[ManagerView, ...]:
        """The registry entries in registration order."""
        if self._entries is None:
            reads_age = self._policy.reads_age
            self._entries = tuple(
                view_of(m, self.config, reads_age) for m in self._managers.values()
            )
        return self._entries

    @property
    def open_count(self) -> int:
        """Entries whose socket is open: not closing, not closed."""
        return sum(1 for m in self._managers.values() if m.phase in LIVE)

    @property
    def elapsed(self) -> int:
        """Ticks spent awaiting in this call so far: the awaits that ran into their
        timeout (a live peer answers, a close that completes returns, at once)."""
        return sum(w.ticks for w in self.waits)

    @property
    def timeouts(self) -> int:
        """Awaits in this call that ran into their timeout so far: a probe of a peer
        that never answered, a close cut off at its deadline."""
        return len(self.waits)

    # --- what the policy does -----------------------------------------------------

    def probe(self, manager_id: int, timeout: int) -> bool:
        """Ping and wait up to ``timeout`` ticks. A live peer answers at once; a stuck
        one costs the whole timeout; a closing or closed socket refuses at once."""
        m = self._get(manager_id, "probe")
        _positive(timeout, "probe timeout")
        if m.phase in ALIVE:
            return True
        if m.phase is Phase.STUCK:
            self.waits.append(Wait("probe", m.id, timeout))
        return False

    def close(self, manager_id: int, deadline: int | None) -> None:
        """Close gracefully and await it. With a deadline a hanging close costs the
        deadline and is then aborted; without one it never returns."""
        if deadline is not None:  # checked on every call, not only when it is needed
            _positive(deadline, "close deadline")
        m = self._begin_close(self._get(manager_id, "close"))
        if m.phase is Phase.CLOSING:
            if m.aborting:
                self._end(m, Trigger.ABORT)
            elif not m.close_hangs:
                self._end(m, Trigger.FINISH_CLOSE)
            elif deadline is None:
                self._hung_on = m.id  # so that a policy catching CleanupHung is caught
                raise CleanupHung(m.id)
            else:
                self.waits.append(Wait("close", m.id, deadline))
                self._end(m, Trigger.ABORT)

    def close_nowait(self, manager_id: int) -> None:
        """Start a graceful close and go on; the model finishes or aborts it later."""
        self._begin_close(self._get(manager_id, "close_nowait"))

    def abort(self, manager_id: int) -> None:
        """Abort at once, without waiting for the peer."""
        m = self._begin_close(self._get(manager_id, "abort"))
        if m.phase is Phase.CLOSING:
            self._end(m, Trigger.ABORT)

    def remove(self, manager_id: int) -> None:
        """Drop a closed entry from the registry."""
        m = self._get(manager_id, "remove")
        if m.phase is not Phase.CLOSED:
            raise PolicyError(
                f"removed entry m{manager_id} whose socket is still {m.transport.value}; "
                "close or abort it first"
            )
        del self._managers[manager_id]
        self._entries = None

    # --- mechanics ----------------------------------------------------------------

    def _get(self, manager_id: object, operation: str) -> Manager:
        if self._hung_on is not None:  # the policy caught the hang and went on
            raise PolicyError(
                f"called {operation}({manager_id!r}) after the close of entry "
                f"{self._hung_on}, awaited with no deadline, never returned: CleanupHung "
                "must not be caught"
            )
        if isinstance(manager_id, bool):  # False == 0: it would find entry 0, or not
            raise PolicyError(
                f"called {operation}({manager_id!r}): a key is an entry's id, not a bool"
            )
        if not isinstance(manager_id, int) or manager_id not in self._managers:
            raise PolicyError(f"called {operation}({manager_id!r}): no such entry")
        return self._managers[manager_id]

    def _begin_close(self, m: Manager) -> Manager:
        if m.transport is not Transport.OPEN:
            return m
        # A stuck peer never answers the close handshake: the close hangs.
        closing = begin_close(m, hangs=m.phase is Phase.STUCK, aborting=False)
        self._managers[m.id] = closing = closing._replace(is_active=False)
        self._entries = None
        return closing

    def _end(self, m: Manager, trigger: Trigger) -> None:
        ended = end_close(m, trigger)
        self._entries = None
        if self._policy.remove_on_close:
            del self._managers[m.id]
        else:
            self._managers[m.id] = ended


def settle_registry(registry: Registry) -> tuple[tuple[Manager, ...], Hashable, Hashable]:
    """For the model, after a policy call: the entries, memory and shared state. Raises
    PolicyError if the policy left state that cannot be part of a model state."""
    require_hashable(registry._policy, "memory", registry.memory)
    require_hashable(registry._policy, "shared", registry.shared)
    return tuple(registry._managers.values()), registry.memory, registry.shared


def is_builtin(policy: Policy) -> bool:
    """One of wsmodel's own policies, whose code keeps the protocol by construction."""
    return type(policy).__module__ == "wsmodel.model.policies"


def broke_rule(policy: Policy, broke: str, what: str, rule: str) -> Exception:
    """The error for a policy seen breaking a rule the engines rely on (``what`` it was
    seen doing): the policy's fault, a PolicyError; unless it is a built-in, so that the
    bug is wsmodel's own (a RuntimeError: an internal error)."""
    if is_builtin(policy):
        return RuntimeError(f"built-in policy {policy.name!r}: {what}; a bug in wsmodel")
    return PolicyError(f"policy {policy.name!r} {broke}: {what}; {rule}")


def not_deterministic(policy: Policy, what: str) -> Exception:
    """The error for a policy seen giving two answers to one question (``what``)."""
    return broke_rule(
        policy,
        "is not deterministic",
        what,
        "a policy must decide from the registry alone (no randomness, clock or state kept "
        "on the policy object)",
    )


def require_hashable(policy: Policy, what: str, value: object) -> None:
    """Policy state becomes part of the model state, which the checkers hash. (An
    ``__eq__`` that raises shows only in their lookups: ``calls.outside_call``.)"""
    try:
        hash(value)
    except TypeError:
        raise PolicyError(
            f"policy {policy.name!r} left unhashable {what} state {value!r}; "
            "use tuples, frozensets or frozen dataclasses"
        ) from None
    except Exception as exc:
        # Its type, not its repr: a class whose __hash__ raises may well have a
        # __repr__ that does too.
        raise PolicyError(
            f"policy {policy.name!r} left {what} state (a {type(value).__name__}) whose "
            f"hashing raised {type(exc).__name__}: {exc}"
        ) from None


def _positive(value: object, what: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise PolicyError(f"gave a {what} of {value!r}; it must be a positive integer")


def begin_close(m: Manager, *, hangs: bool, aborting: bool) -> Manager:
    """A close starts: the manager enters ``closing``."""
    return m._replace(
        phase=fire(m.phase, Trigger.BEGIN_CLOSE),
        phase_age=0,
        close_hangs=hangs,
        aborting=aborting,
    )


def end_close(m: Manager, trigger: Trigger) -> Manager:
    """A close completes or is aborted: the manager is ``closed``. Removing a
    connection refreshes last_activity, as the deployed code did."""
    return m._replace(
        phase=fire(m.phase, trigger),
        phase_age=0,
        activity_age=0,
        close_hangs=False,
        aborting=False,
    )
