"""The semantics: which actions are enabled, and the state each one leads to.

``step(config, policy, state, action)`` returns the next state, or None when the
action is not enabled. ``enabled(config, policy, state)`` lists every enabled action
in a fixed order. Each action below is written guard first, then effect.

Timing model. System actions are urgent: ``Tick`` is disabled while one is due, so a
deadline is met on the tick it falls due. An emergency cleanup runs atomically inside
``Connect``; its duration is the sum of what it awaited (``Registry.elapsed``) and is
checked against the budget by the claims rather than advancing the clock. A cleanup
that awaits a hanging close with no deadline never returns: the attempt hangs and the
close stays registered as a permanent ``closing``. A user makes at most
``connects_per_tick`` attempts per tick: without a bound, Connect and ClientClose could
alternate forever within one tick (a Zeno run) and the state space would be infinite.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

from wsmodel.model.actions import (
    AbortClose,
    Action,
    ClientClose,
    CloseHangs,
    Connect,
    FinishClose,
    GoIdle,
    HeartbeatVerdict,
    ServerSend,
    Stall,
    Sweep,
    Tick,
    Traffic,
)
from wsmodel.model.calls import call_policy
from wsmodel.model.config import Config
from wsmodel.model.lifecycle import ALIVE, Phase, Trigger, fire
from wsmodel.model.policy import (
    Admit,
    CleanupHung,
    Policy,
    PolicyError,
    Registry,
    Reject,
    Wait,
    begin_close,
    end_close,
    not_deterministic,
    require_hashable,
    settle_registry,
)
from wsmodel.model.state import Manager, State, UserState, initial_state, new_manager


class Outcome(StrEnum):
    ADMITTED = "admitted"
    REJECTED = "rejected"
    HUNG = "hung"  # the cleanup awaited something that never ends


@dataclass(frozen=True, slots=True)
class ConnectPlan:
    """What a ``Connect`` of one user does from a given state."""

    outcome: Outcome
    elapsed: int | None  # ticks the admission decision awaited; None if it never returns
    retry_after: int | None  # the policy's advice on a rejection
    waits: tuple[Wait, ...]  # what elapsed is made of: each await that hit its deadline
    user: UserState  # the user's state afterwards
    shared: object  # the shared policy state afterwards
    hung_on: int | None = None  # if HUNG: the entry whose close never ends

    @property
    def timeouts(self) -> int:
        return len(self.waits)


def start(config: Config, policy: Policy) -> State:
    """The initial state: every registry empty."""
    memory = call_policy(policy, "initial_memory", policy.initial_memory)
    shared = call_policy(policy, "initial_shared", policy.initial_shared)
    return initial_state(config.users, memory, shared)


# --- the actions -------------------------------------------------------------------


def step(config: Config, policy: Policy, state: State, action: Action) -> State | None:
    """The state after ``action``, or None if it is not enabled in ``state``."""
    if isinstance(action, Tick):
        return None if urgent(config, policy, state) else _tick(config, policy, state)
    if not 0 <= action.user < len(state.users):
        return None
    user = state.users[action.user]
    if isinstance(action, Connect):
        # A client cannot open unboundedly many connections within one tick.
        if not may_connect(config, user):
            return None
        plan = plan_connect(config, policy, state, action.user)
        after = plan.user._replace(attempts=user.attempts + 1)
        return _with_user(state._replace(shared=plan.shared), action.user, after)
    if isinstance(action, ServerSend):
        if not user.managers:
            return None
        if not policy.refresh_on_send:
            return state  # the send happens, but nothing the model tracks changes
        # Every send refreshes last_activity, even a send that failed.
        sent = tuple(m._replace(activity_age=0) for m in user.managers)
        return _with_user(state, action.user, user._replace(managers=sent))
    if isinstance(action, Sweep):
        period = policy.sweep_period(config)
        if not sweep_due(period, user):
            return None
        sweep = plan_sweep(config, policy, state, action.user)
        swept = sweep.user._replace(since_sweep=0)
        return _with_user(state._replace(shared=sweep.shared), action.user, swept)
    m = user.find(action.manager)
    if m is None:
        return None
    new = _manager_step(config, policy, m, action)
    if new is None:
        return None
    if new.phase is Phase.CLOSED and policy.remove_on_close:
        # Exactly-once removal: the close that finishes removes its own entry.
        managers = tuple(x for x in user.managers if x.id != m.id)
    else:
        managers = tuple(new if x.id == m.id else x for x in user.managers)
    return _with_user(state, action.user, user._replace(managers=managers))


def _manager_step(config: Config, policy: Policy, m: Manager, action: Action) -> Manager | None:
    """Actions on a single manager: guard, then effect."""
    if isinstance(action, Traffic):
        if m.phase not in ALIVE:
            return None
        if m.phase is Phase.IDLE:  # back to active: a new phase, counted from 0
            return m._replace(
                phase=fire(m.phase, Trigger.TRAFFIC), phase_age=0, quiet_age=0, activity_age=0
            )
        return m._replace(quiet_age=0, activity_age=0)
    if isinstance(action, Stall):
        if m.phase not in ALIVE:
            return None
        return m._replace(phase=fire(m.phase, Trigger.STALL), phase_age=0, stuck_age=0)
    if isinstance(action, ClientClose):
        if m.phase not in ALIVE:
            return None
        # The route only drops the connection; the server's flag is left as it was.
        return begin_close(m, hangs=False, aborting=False)
    if isinstance(action, CloseHangs):
        if m.phase is not Phase.CLOSING or m.close_hangs or m.aborting:
            return None
        return m._replace(close_hangs=True)
    if isinstance(action, GoIdle):
        if m.phase is not Phase.ACTIVE or m.quiet_age < config.idle_after:
            return None
        return m._replace(phase=fire(m.phase, Trigger.GO_IDLE), phase_age=0)
    if isinstance(action, HeartbeatVerdict):
        if not _verdict_due(config, policy, m):
            return None
        return begin_close(m, hangs=True, aborting=True)._replace(is_active=False)
    if isinstance(action, FinishClose):
        if m.phase is not Phase.CLOSING or m.close_hangs or m.aborting:
            return None
        return end_close(m, Trigger.FINISH_CLOSE)
    if isinstance(action, AbortClose):
        if not _abort_due(config, policy, m):
            return None
        return end_close(m, Trigger.ABORT)
    return None


def plan_connect(
    config: Config, policy: Policy, state: State, user_index: int, *, cached: bool = True
) -> ConnectPlan:
    """Run the policy's admission decision (and emergency cleanup) for one user. It
    reads only that user's state and the shared policy state: the registry offers the
    policy nothing else. ``cached=False`` asks the policy again even if it was asked
    before (to see whether it answers the same)."""
    plan = _plan if cached else _plan.__wrapped__
    return plan(config, policy, state.users[user_index], state.shared)


@lru_cache(maxsize=1 << 18)
def _plan(config: Config, policy: Policy, user: UserState, shared: Hashable) -> ConnectPlan:
    # Cached: the step and several claims ask for the same plan, and the exhaustive
    # engine's judging asks again for every user state. 2**18 entries hold all of a
    # one-user, limit-2 graph's (96k user states) from exploration to judging.
    run = _run(config, policy, "on_connect", user, shared)
    after = run.user
    if run.hung_on is not None:
        return ConnectPlan(Outcome.HUNG, None, None, run.waits, after, run.shared, run.hung_on)
    decision = run.result
    if isinstance(decision, Admit):
        new = new_manager(user.next_id)
        after = after._replace(managers=(*after.managers, new), next_id=user.next_id + 1)
        return ConnectPlan(Outcome.ADMITTED, run.elapsed, None, run.waits, after, run.shared)
    if isinstance(decision, Reject) and (
        decision.retry_after is None
        or (
            isinstance(decision.retry_after, int)
            and not isinstance(decision.retry_after, bool)  # True is not 1 tick
            and decision.retry_after >= 0
        )
    ):
        return ConnectPlan(
            Outcome.REJECTED, run.elapsed, decision.retry_after, run.waits, after, run.shared
        )
    raise PolicyError(
        f"policy {policy.name!r}: on_connect returned {decision!r}; "
        "expected Admit() or Reject(retry_after=None or a non-negative int)"
    )


@dataclass(frozen=True, slots=True)
class SweepPlan:
    """What a periodic ``Sweep`` of one user does from a given state."""

    hung: bool  # it awaited a close that never ends, and stopped there
    hung_on: int | None  # that close's entry
    user: UserState  # the user's state afterwards (the sweep's timer not yet reset)
    shared: object  # the shared policy state afterwards


def plan_sweep(config: Config, policy: Policy, state: State, user_index: int) -> SweepPlan:
    """Run the policy's periodic sweep over one user's entries. A sweep that awaits a
    close that never ends stops there; what it did so far stands, and the next
    period's sweep starts afresh (as a restarted background task would)."""
    run = _run(config, policy, "sweep", state.users[user_index], state.shared)
    return SweepPlan(run.hung_on is not None, run.hung_on, run.user, run.shared)


class _Run(NamedTuple):
    """A policy call on one user's registry, and what it left."""

    result: object  # what the call returned (None if it hung)
    hung_on: int | None  # the entry of a close without deadline that never ends, if any
    waits: tuple[Wait, ...]  # the awaits that ran into their timeout, in order
    elapsed: int  # ticks they took
    user: UserState  # the user's entries and memory afterwards
    shared: Hashable


# The first RECHECK_FIRST calls into each policy, then every RECHECK-th, are made
# twice: a policy whose answer is not a function of the registry (randomness, a clock,
# state kept on the policy object) would otherwise give verdicts and counterexamples
# that do not replay. It costs about 1 % of a check and finds a random policy at once.
# The count only decides when to look: no result of a deterministic policy depends on it.
RECHECK_FIRST, RECHECK = 64, 16
_calls: Counter[Policy] = Counter()


def _run(config: Config, policy: Policy, method: str, user: UserState, shared: Hashable) -> _Run:
    run = _run_once(config, policy, method, user, shared)
    n = _calls[policy] = _calls[policy] + 1
    if n <= RECHECK_FIRST or n % RECHECK == 0:
        again = _run_once(config, policy, method, user, shared)
        if again != run:
            what = (
                f"{run.result!r}, then {again.result!r}"
                if again.result != run.result
                else "the same answer, with different effects on the registry"
            )
            raise not_deterministic(
                policy, f"{method} gave different results for the same registry ({what})"
            )
    return run


def _run_once(
    config: Config, policy: Policy, method: str, user: UserState, shared: Hashable
) -> _Run:
    registry = Registry(config, policy, user.managers, user.memory, shared)
    call = getattr(policy, method)
    result: object = None
    try:
        result = call_policy(policy, method, lambda: call(registry), awaits=True)
    except CleanupHung as exc:
        if exc.manager != registry._hung_on:  # not the registry's: the policy raised it
            raise PolicyError(
                f"policy {policy.name!r}: {method} raised CleanupHung({exc.manager!r}) "
                "itself; only the registry's awaits may"
            ) from None
    else:
        if registry._hung_on is not None:
            # Its code went on after an await that never returns: what it did next never
            # happens on a real server, so its result cannot be judged.
            raise PolicyError(
                f"policy {policy.name!r}: {method} caught the CleanupHung that wsmodel "
                f"raised for the close of entry {registry._hung_on}, which never ends "
                "(awaited with no deadline), and went on; a bare `except:` or `except "
                "BaseException` must re-raise it: on a real server the call never returns"
            )
    managers, memory, shared = settle_registry(registry)
    after = user._replace(managers=managers, memory=memory)
    return _Run(result, registry._hung_on, tuple(registry.waits), registry.elapsed, after, shared)


# --- time ------------------------------------------------------------------------


def _tick(config: Config, policy: Policy, state: State) -> State:
    h = config.horizon
    shared = call_policy(policy, "tick_shared", lambda: policy.tick_shared(state.shared))
    require_hashable(policy, "shared", shared)
    # Not saturated at the horizon: a policy's sweep period may exceed it. The count
    # stays within the period anyway (the sweep is urgent: Tick waits while it is due),
    # and without a sweep nothing reads it.
    sweeps = policy.sweep_period(config) is not None
    return State(
        users=tuple(
            u._replace(
                managers=tuple(_age(m, h) for m in u.managers),
                since_sweep=u.since_sweep + 1 if sweeps else 0,
                attempts=0,
            )
            for u in state.users
        ),
        shared=shared,
    )


def _age(m: Manager, h: int) -> Manager:
    """One tick later. Live peers answer every heartbeat; nobody else does."""
    (mid, phase, is_active, age, activity, quiet, pong, in_phase, hangs, aborting, stuck) = m
    # Built with tuple.__new__ and without min(): this runs for every manager every tick.
    return _new_manager(
        Manager,
        (
            mid,
            phase,
            is_active,
            age + 1 if age < h else h,
            activity + 1 if activity < h else h,
            quiet + 1 if quiet < h else h,
            0 if phase in ALIVE else (pong + 1 if pong < h else h),
            in_phase + 1 if in_phase < h else h,
            hangs,
            aborting,
            None if stuck is None else (stuck + 1 if stuck < h else h),
        ),
    )


_new_manager = tuple.__new__


# --- enabledness -------------------------------------------------------------------


def may_connect(config: Config, user: UserState) -> bool:
    """Whether the user's Connect is enabled: this tick's attempts not used up."""
    return user.attempts < config.connects_per_tick


def sweep_due(period: int | None, user: UserState) -> bool:
    """Whether the user's periodic sweep is due (``period``: the policy's)."""
    return period is not None and user.since_sweep >= period


def _verdict_due(config: Config, policy: Policy, m: Manager) -> bool:
    return policy.heartbeat and m.pong_age >= config.verdict_after and m.live


def _abort_due(config: Config, policy: Policy, m: Manager) -> bool:
    return m.phase is Phase.CLOSING and (
        m.aborting or (policy.close_deadline and m.phase_age >= config.close_timeout)
    )


def urgent(config: Config, policy: Policy, state: State) -> list[Action]:
    """The system actions due now, in a fixed order; time cannot pass until they happened.
    (The same conditions as the guards in _manager_step, inlined: this runs every step.)"""
    due: list[Action] = []
    period = policy.sweep_period(config)
    idle_after, verdict_after = config.idle_after, config.verdict_after
    heartbeat = policy.heartbeat
    for u, user in enumerate(state.users):
        for m in user.managers:
            phase = m.phase
            if phase is Phase.CLOSING:
                if not m.close_hangs and not m.aborting:
                    due.append(FinishClose(u, m.id))
                if _abort_due(config, policy, m):
                    due.append(AbortClose(u, m.id))
            elif phase is not Phase.CLOSED:
                if phase is Phase.ACTIVE and m.quiet_age >= idle_after:
                    due.append(GoIdle(u, m.id))
                if heartbeat and m.pong_age >= verdict_after:  # phase is live here
                    due.append(HeartbeatVerdict(u, m.id))
        if sweep_due(period, user):
            due.append(Sweep(u))
    return due


def environment(config: Config, state: State) -> list[Action]:
    """The environment actions enabled in ``state`` (faults included), except Tick."""
    acts: list[Action] = []
    for u, user in enumerate(state.users):
        if may_connect(config, user):
            acts.append(Connect(u))
        if user.managers:
            acts.append(ServerSend(u))
        for m in user.managers:
            if m.phase in ALIVE:
                acts += [Traffic(u, m.id), Stall(u, m.id), ClientClose(u, m.id)]
            elif m.phase is Phase.CLOSING and not m.close_hangs and not m.aborting:
                acts.append(CloseHangs(u, m.id))
    return acts


def enabled(config: Config, policy: Policy, state: State) -> list[Action]:
    """Every enabled action: environment, due system actions, and Tick if nothing is due."""
    due = urgent(config, policy, state)
    return [*environment(config, state), *due, *([] if due else [Tick()])]


def _with_user(state: State, index: int, user: UserState) -> State:
    users = state.users
    return State((*users[:index], user, *users[index + 1 :]), state.shared)
