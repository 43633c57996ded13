"""The property catalogue: every claim wsmodel checks, named, with its kind and meaning.

The claims read the ground truth (phases, ghost ages); the policies never can. One
catalogue feeds the Hypothesis search, the CLI and the docs.

- ``invariant``: a predicate of every reachable state;
- ``step``: a predicate of every step (state, action, next state);
- ``liveness`` / ``bounded``: about runs after faults stop; checked by the engines'
  recovery probe (Hypothesis) or over the state graph (exhaustive);
- ``noninterference``: about pairs of runs; its per-step half is a step predicate.

Each safety claim names a witness: a step showing that the situation it guards is
reachable, so that a claim cannot hold vacuously.

Every step check is a condition on each user's own step (some user's state after it,
the users it changed, the connecting user's plan): the exhaustive engine runs it once
per distinct move of one user, on that user's state alone (decision 0013). A claim
about several users together would need judging on whole states.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from wsmodel.model import (
    ALIVE,
    LIVE,
    AbortClose,
    Action,
    ClientClose,
    Config,
    Connect,
    FinishClose,
    Manager,
    Outcome,
    Phase,
    Policy,
    State,
    Sweep,
    Tick,
    UserState,
    plan_connect,
    plan_sweep,
    user_of,
)


class Kind(StrEnum):
    INVARIANT = "invariant"
    STEP = "step"
    LIVENESS = "liveness"
    BOUNDED = "bounded"
    NONINTERFERENCE = "noninterference"


# A step check returns None when the claim holds on that step, else what went wrong.
StepCheck = Callable[[Config, Policy, State, Action, State], str | None]
Witness = Callable[[Config, Policy, State, Action, State], bool]


@dataclass(frozen=True)
class Property:
    name: str
    kind: Kind
    meaning: str  # one sentence, in the domain's words
    check: StepCheck | None  # per-step half; None for claims only the engines can judge
    witness: Witness | None  # a step that shows the guarded situation is reachable
    witness_meaning: str = ""

    @property
    def plain(self) -> str:
        """The meaning for a terminal: without Markdown's code marks."""
        return self.meaning.replace("`", "")


# --- helpers over one step --------------------------------------------------------


def plural(n: int, noun: str) -> str:
    """ "1 manager", "2 managers", "1,016 states": for messages."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def policy_state(value: object, width: int = 80) -> str:
    """A policy's own state (its memory of a user, its shared state) as text for a state
    line: its str, cut to ``width``; its type alone if printing it raises (a policy's
    ``__str__`` is its code, and may be as broken as the rest)."""
    try:
        text = str(value)
    except Exception:
        return f"<a {type(value).__name__} that cannot be printed>"
    return text if len(text) <= width else text[: width - 1] + "…"


def saturated(age: int, horizon: int) -> str:
    """An age as the model knows it: "4", or "5+" at the horizon 5, where ages saturate
    and the model keeps no more (decision 0002)."""
    return f"{age}+" if age >= horizon else str(age)


def ticks(n: int, horizon: int) -> str:
    """A saturating age in ticks: "1 tick", "4 ticks", "5+ ticks"."""
    return f"{saturated(n, horizon)} tick{'' if n == 1 else 's'}"


def never_ends(manager: int | None) -> str:
    """The close a cleanup awaited in vain: "the close of m3, which never ends"."""
    return (
        "a close that never ends"
        if manager is None
        else f"the close of m{manager}, which never ends"
    )


def in_use(config: Config, m: Manager) -> bool:
    """A connection in use: its peer answers heartbeats and sent an application message
    within `idle_after` ticks (so active, or gone idle this very tick). A user holding
    `limit` of them is at the limit legitimately: the liveness claims exempt that user
    (decision 0010). Not "all active at one instant": peers that each send now and then
    are rarely all active at once."""
    return m.phase in ALIVE and m.quiet_age <= config.idle_after


def holds_limit_in_use(config: Config, user: UserState) -> bool:
    return sum(1 for m in user.managers if in_use(config, m)) >= config.limit


def holding(config: Config, user: UserState) -> str:
    """What a blocked user holds, by phase, against the limit and in use: "20 registered
    managers (20 idle), 20 against the limit of 20, none in use". A lasso's message says
    it where its cycle starts, so that a reader sees why the block is not the limit's."""
    counts: dict[str, int] = {}
    for m in user.managers:
        hangs = m.phase is Phase.CLOSING and m.close_hangs
        label = f"{m.phase.value}{' whose close hangs' if hangs else ''}"
        counts[label] = counts.get(label, 0) + 1
    used = sum(1 for m in user.managers if in_use(config, m))
    memory = "" if user.memory is None else f"; the policy's memory: {policy_state(user.memory)}"
    phases = "; ".join(f"{n} {label}" for label, n in counts.items())
    return (
        f"{plural(len(user.managers), 'registered manager')}"
        f"{f' ({phases})' if phases else ''}, "
        f"{user.live_count} against the limit of {config.limit}, "
        f"{'none' if used == 0 else used} in use{memory}"
    )


def _at_limit(config: Config, state: State, user: int) -> bool:
    return state.users[user].live_count >= config.limit


# --- the claims --------------------------------------------------------------------


def _per_user_limit(
    config: Config, policy: Policy, b: State, a: Action, after: State
) -> str | None:
    for u, user in enumerate(after.users):
        if user.live_count > config.limit:
            return (
                f"user {u} has {user.live_count} managers in active/idle/stuck; "
                f"limit {config.limit}"
            )
    return None


def _limit_reached(config: Config, policy: Policy, b: State, a: Action, after: State) -> bool:
    return any(user.live_count == config.limit for user in after.users)


def doer(a: Action) -> str:
    """The action as the subject of a message, in words where a policy acts in it."""
    if isinstance(a, Connect):
        return f"user {a.user}'s connect (its emergency cleanup)"
    if isinstance(a, Sweep):
        return f"the periodic sweep over user {a.user}'s entries"
    if isinstance(a, Tick):
        return "a tick"
    return str(a)  # the model's own actions: no policy code runs in them


def _isolation_step(
    config: Config, policy: Policy, b: State, a: Action, after: State
) -> str | None:
    owner = user_of(a)
    if owner is None:
        return None
    for u in range(len(b.users)):
        if u != owner and b.users[u] != after.users[u]:
            return f"{doer(a)} changed user {u}'s state"
    return None


def _other_user_busy(config: Config, policy: Policy, b: State, a: Action, after: State) -> bool:
    # Another user holds managers while this user's connect runs a cleanup.
    return (
        isinstance(a, Connect)
        and _at_limit(config, b, a.user)
        and any(user.managers for u, user in enumerate(b.users) if u != a.user)
    )


def _no_healthy_eviction(
    config: Config, policy: Policy, b: State, a: Action, after: State
) -> str | None:
    if isinstance(a, ClientClose):
        return None  # the client closing its own healthy socket is not an eviction
    for u, (before, now) in enumerate(zip(b.users, after.users, strict=True)):
        if before == now:
            continue  # nothing of this user's changed, so nothing was closed
        phases = {m.id: m.phase for m in now.managers}
        for m in before.managers:
            if m.phase is Phase.ACTIVE and phases.get(m.id) not in LIVE:
                return f"{doer(a)} closed user {u}'s manager m{m.id}, which was active"
    return None


def _cleanup_frees_slot(config: Config, policy: Policy, b: State, a: Action, after: State) -> bool:
    # Slots are live managers: a cleanup that starts a close without awaiting it (the
    # entry stays, closing) frees one too.
    return (
        isinstance(a, Connect)
        and _at_limit(config, b, a.user)
        and after.users[a.user].live_count <= b.users[a.user].live_count
        and after.users[a.user].next_id > b.users[a.user].next_id
    )


def _cleanup_terminates(
    config: Config, policy: Policy, b: State, a: Action, after: State
) -> str | None:
    if isinstance(a, Connect):
        plan = plan_connect(config, policy, b, a.user)
        if plan.outcome is Outcome.HUNG:
            return f"user {a.user}'s emergency cleanup awaits {never_ends(plan.hung_on)}"
    return None


def _hung_close_aborted(config: Config, policy: Policy, b: State, a: Action, after: State) -> bool:
    # A hanging close is aborted by the model's close timeout, or cut off at its
    # deadline inside a cleanup that then returns. Not an abort begun as one (a
    # heartbeat verdict's, a policy's), nor a probe that timed out.
    if isinstance(a, Connect):
        plan = plan_connect(config, policy, b, a.user)
        return plan.elapsed is not None and any(w.what == "close" for w in plan.waits)
    if not isinstance(a, AbortClose):
        return False
    m = b.users[a.user].find(a.manager)
    return m is not None and m.close_hangs and not m.aborting


def _cleanup_within_budget(
    config: Config, policy: Policy, b: State, a: Action, after: State
) -> str | None:
    if isinstance(a, Connect):
        plan = plan_connect(config, policy, b, a.user)
        if plan.elapsed is None:
            return (
                f"user {a.user}'s emergency cleanup never finishes; "
                f"budget {config.cleanup_budget_ms} ms"
            )
        took = plan.elapsed * config.tick_ms
        if took > config.cleanup_budget_ms:
            return (
                f"user {a.user}'s emergency cleanup took {took} ms; "
                f"budget {config.cleanup_budget_ms} ms"
            )
    return None


def _zombies_reaped(
    config: Config, policy: Policy, b: State, a: Action, after: State
) -> str | None:
    bound = config.recovery_bound
    for u, user in enumerate(after.users):
        for m in user.managers:
            if m.stuck_age is not None and m.stuck_age > bound:
                return (
                    f"user {u}'s manager {m.name} went stuck {m.stuck_age} ticks ago and is "
                    f"still registered ({m.phase.value}); bound H + T + C + R = {bound}"
                )
    return None


def _zombie_detected(config: Config, policy: Policy, b: State, a: Action, after: State) -> bool:
    # A stuck manager leaves the registry.
    gone = {(u, m.id) for u, user in enumerate(after.users) for m in user.managers}
    return any(
        m.stuck_age is not None and (u, m.id) not in gone
        for u, user in enumerate(b.users)
        for m in user.managers
    )


def _no_leak(config: Config, policy: Policy, b: State, a: Action, after: State) -> str | None:
    for u, user in enumerate(after.users):
        for m in user.managers:
            if m.phase is Phase.CLOSED and m.phase_age > config.reaper_period:
                return (
                    f"user {u}'s manager {m.name} closed {m.phase_age} ticks ago and is still "
                    f"registered; reaper period R = {config.reaper_period}"
                )
            # A close that never ends is a leak too (a stuck close: CLOSING for ever). The
            # bound is domain.md's C + R: an abort at the close timeout, or by a reaper.
            bound = config.close_timeout + config.reaper_period
            if m.phase is Phase.CLOSING and m.phase_age > bound:
                return (
                    f"user {u}'s manager {m.name} has been closing for {m.phase_age} ticks "
                    f"and is still registered; close timeout + reaper period C + R = {bound}"
                )
    # A refusal below the limit: something other than the user's unclosed entries was
    # counted against it. (A hung connect is not a refusal: cleanup_terminates judges it.)
    if (
        isinstance(a, Connect)
        and plan_connect(config, policy, b, a.user).outcome is Outcome.REJECTED
    ):
        managers = b.users[a.user].managers
        closed = sum(1 for m in managers if m.phase is Phase.CLOSED)
        held = len(managers) - closed
        if held < config.limit:
            holding = (
                "no unclosed manager" if held == 0 else f"only {plural(held, 'unclosed manager')}"
            )
            why = (
                f"closed entries counted against the limit ({closed} registered)"
                if closed
                else "with no closed entry registered, something else (a count the policy "
                "keeps, a breaker) was counted against the limit"
            )
            return (
                f"user {a.user}'s connect was refused while holding {holding} "
                f"(limit {config.limit}): {why}"
            )
    return None


def _closed_removed(config: Config, policy: Policy, b: State, a: Action, after: State) -> bool:
    return isinstance(a, (FinishClose, AbortClose)) or (
        any(m.phase is Phase.CLOSED for user in b.users for m in user.managers)
        and not any(m.phase is Phase.CLOSED for user in after.users for m in user.managers)
    )


AFTER = "the user's own state after it"  # an effect's last part


def effect(
    config: Config,
    policy: Policy,
    state: State,
    u: int,
    kind: type[Connect | Sweep],
    canon: Callable[[UserState], UserState] = lambda user: user,
) -> tuple[tuple[str, Any], ...]:
    """What user u's Connect or Sweep does in ``state``, as the user can tell (the
    isolation claim compares it): each part labelled, manager keys as positions in the
    user's registry, the user's state after it through ``canon`` (the exhaustive
    engine's canonical form). Not the shared state it leaves: that is not the user's.
    All of it counts: a cleanup that takes longer because of another user breaks the
    budget claim for many users while it holds for one."""
    order = {m.id: i for i, m in enumerate(state.users[u].managers)}

    def key(mid: int | None) -> int | None:
        return None if mid is None else order.get(mid, mid)

    parts: tuple[tuple[str, Any], ...]
    if kind is Connect:
        p = plan_connect(config, policy, state, u)
        parts = (
            ("the time its cleanup took (ticks)", p.elapsed),
            (
                "the awaits that ran into their deadline",
                tuple(w._replace(manager=order.get(w.manager, w.manager)) for w in p.waits),
            ),
            ("the retry advice (ticks)", p.retry_after),
            ("the entry whose close it hung on", key(p.hung_on)),
        )
        after = p.user
    else:
        sp = plan_sweep(config, policy, state, u)
        parts = (("the entry whose close it hung on", key(sp.hung_on)),)
        after = sp.user
    return (*parts, (AFTER, canon(after)))


def first_difference(
    one: tuple[tuple[str, Any], ...], two: tuple[tuple[str, Any], ...]
) -> tuple[str, Any, Any] | None:
    """The first part in which two effects differ: (label, one's, two's), or None."""
    return next(
        ((label, x, y) for (label, x), (_, y) in zip(one, two, strict=True) if x != y), None
    )


def shown(value: Any) -> str:
    """A part of an effect, as a message shows it."""
    return "none" if value is None else str(value)


CATALOGUE: Final[tuple[Property, ...]] = (
    Property(
        "per_user_limit",
        Kind.INVARIANT,
        "No user ever has more than `limit` managers in active, idle or stuck.",
        _per_user_limit,
        _limit_reached,
        "a user reaches the limit",
    ),
    Property(
        "isolation",
        Kind.NONINTERFERENCE,
        "An action of one user never changes another user's state, and what a user's own "
        "Connect or sweep does (whether it admits, how long it takes and what it awaits, its "
        "advice, the state it leaves) depends on nothing "
        "outside that user's own state.",
        _isolation_step,
        _other_user_busy,
        "a user runs an emergency cleanup while another user holds managers",
    ),
    Property(
        "no_healthy_eviction",
        Kind.STEP,
        "No cleanup ever closes an active manager.",
        _no_healthy_eviction,
        _cleanup_frees_slot,
        "an emergency cleanup frees a slot and the newcomer is admitted",
    ),
    Property(
        "no_permanent_block",
        Kind.LIVENESS,
        "Once faults stop, a user who keeps retrying is admitted, even if the application "
        "keeps sending to them, unless they hold `limit` managers in use (active, or gone "
        "idle this very tick).",
        None,
        None,
    ),
    Property(
        "bounded_recovery",
        Kind.BOUNDED,
        "A user who keeps retrying once faults stop is admitted within H + T + C + R ticks "
        "of faults stopping (or of last holding `limit` managers in use, if later).",
        None,
        None,
    ),
    Property(
        "zombies_reaped",
        Kind.INVARIANT,
        "Every stuck manager leaves the registry within H + T + C + R ticks of going stuck.",
        _zombies_reaped,
        _zombie_detected,
        "a stuck manager is detected and leaves the registry",
    ),
    Property(
        "no_leak",
        Kind.INVARIANT,
        "Every close ends within C + R (the close timeout, then a reaper's period), every "
        "closed manager leaves the registry within the reaper period R, and a closed "
        "manager never counts against the limit.",
        _no_leak,
        _closed_removed,
        "a close completes",
    ),
    Property(
        "cleanup_terminates",
        Kind.STEP,
        "An emergency cleanup never waits on anything without a deadline.",
        _cleanup_terminates,
        _hung_close_aborted,
        "a hung close is aborted (by the close timeout, or at a cleanup's deadline)",
    ),
    Property(
        "cleanup_within_budget",
        Kind.STEP,
        "An emergency cleanup's duration stays within the budget (default 500 ms).",
        _cleanup_within_budget,
        _cleanup_frees_slot,
        "an emergency cleanup frees a slot and the newcomer is admitted",
    ),
)

BY_NAME: Final[dict[str, Property]] = {p.name: p for p in CATALOGUE}
NAMES: Final[tuple[str, ...]] = tuple(BY_NAME)
LIVENESS_NAMES: Final = frozenset({"no_permanent_block", "bounded_recovery"})
