"""The built-in policies at the production limit, in hand-built scenarios: each shows
one behaviour docs/domain.md section 2 describes (or the reference design's answer to it)."""

from __future__ import annotations

import pytest
from wsmodel.model import (
    BUILTIN,
    Action,
    Admit,
    Breaker,
    ClientClose,
    CloseHangs,
    Config,
    Connect,
    Decision,
    FinishClose,
    HeartbeatVerdict,
    Manager,
    Outcome,
    Phase,
    Policy,
    Registry,
    Reject,
    ServerSend,
    Stall,
    State,
    Tick,
    Transport,
    UserState,
    new_manager,
    plan_connect,
    preset,
    start,
    step,
    urgent,
)
from wsmodel.model.policy import view_of
from wsmodel.properties.catalogue import BY_NAME

PROD = preset("production")
ONE = PROD.with_(users=1)
LIMIT = PROD.limit
CONSERVATIVE, GRADUATED, REFERENCE = (
    BUILTIN[n] for n in ("conservative", "graduated", "reference")
)


def manager(mid: int, phase: Phase = Phase.ACTIVE, **fields: object) -> Manager:
    ghost: dict[str, object] = {"stuck_age": 0 if phase is Phase.STUCK else None}
    return new_manager(mid)._replace(phase=phase, **{**ghost, **fields})


def registry_of(policy: Policy, *users: tuple[Manager, ...], shared: object = None) -> State:
    s = start(PROD.with_(users=len(users)), policy)
    return State(
        users=tuple(
            UserState(ms, 1 + max((m.id for m in ms), default=-1), 0, 0, policy.initial_memory())
            for ms in users
        ),
        shared=s.shared if shared is None else shared,
    )


def do(config: Config, policy: Policy, state: State, action: Action) -> State:
    after = step(config, policy, state, action)
    assert after is not None, f"{action} not enabled"
    return after


def settle(config: Config, policy: Policy, state: State) -> State:
    while due := urgent(config, policy, state):
        state = do(config, policy, state, due[0])
    return state


def tick(config: Config, policy: Policy, state: State, n: int = 1) -> State:
    for _ in range(n):
        state = do(config, policy, settle(config, policy, state), Tick())
    return state


def connect(config: Config, policy: Policy, state: State, user: int) -> State:
    """A connect that is admitted, then a tick (one connect per user per tick)."""
    assert plan_connect(config, policy, state, user).outcome is Outcome.ADMITTED
    return tick(config, policy, do(config, policy, state, Connect(user)))


def filled(config: Config, policy: Policy, state: State, user: int, n: int = LIMIT) -> State:
    for _ in range(n):
        state = connect(config, policy, state, user)
    return state


def ids(state: State, user: int = 0) -> list[int]:
    return [m.id for m in state.users[user].managers]


# --- conservative ------------------------------------------------------------------------


def test_conservative_leaves_a_finished_close_registered_and_counted() -> None:
    s = filled(ONE, CONSERVATIVE, start(ONE, CONSERVATIVE), 0)
    s = do(ONE, CONSERVATIVE, s, ClientClose(0, 5))
    s = do(ONE, CONSERVATIVE, s, FinishClose(0, 5))
    m5 = s.users[0].find(5)
    assert m5 is not None and m5.phase is Phase.CLOSED  # still registered
    view = view_of(m5, ONE)
    assert view.is_active and view.connections == 0  # flag still active, 0 connections
    assert s.users[0].live_count == LIMIT - 1
    plan = plan_connect(ONE, CONSERVATIVE, s, 0)
    assert plan.outcome is Outcome.REJECTED  # the leftover counts against the limit
    assert BY_NAME["no_leak"].check is not None
    assert BY_NAME["no_leak"].check(ONE, CONSERVATIVE, s, Connect(0), s) is not None


class RejectsAll(Policy):
    name = "rejects-all"

    def on_connect(self, registry: Registry) -> Decision:
        return Reject()


class AwaitsEveryClose(Policy):
    """Closes every entry and awaits it without a deadline: hangs on a hanging close."""

    name = "awaits-every-close"

    def on_connect(self, registry: Registry) -> Decision:
        for e in registry.entries:
            registry.close(e.id, None)
        return Admit()


def test_no_leak_says_what_was_counted_and_leaves_a_hung_connect_alone() -> None:
    # A connect that hangs is not refused (cleanup_terminates judges it); a refusal
    # below the limit is a leak whether or not closed entries are registered, but the
    # message names closed entries only when there are some. (Both were once "closed
    # entries counted against the limit".)
    check = BY_NAME["no_leak"].check
    assert check is not None
    ms = (manager(0, Phase.CLOSED), manager(1, Phase.CLOSING, close_hangs=True))
    hangs = registry_of(AwaitsEveryClose(), ms)
    assert plan_connect(ONE, AwaitsEveryClose(), hangs, 0).outcome is Outcome.HUNG
    assert check(ONE, AwaitsEveryClose(), hangs, Connect(0), hangs) is None
    leftover = registry_of(RejectsAll(), ms)
    assert check(ONE, RejectsAll(), leftover, Connect(0), leftover) == (
        "user 0's connect was refused while holding only 1 unclosed manager (limit 20): "
        "closed entries counted against the limit (1 registered)"
    )
    empty = registry_of(RejectsAll(), ())
    assert check(ONE, RejectsAll(), empty, Connect(0), empty) == (
        "user 0's connect was refused while holding no unclosed manager (limit 20): with no "
        "closed entry registered, something else (a count the policy keeps, a breaker) was "
        "counted against the limit"
    )


def test_conservative_server_sends_keep_zombies_fresh() -> None:
    """Twenty zombies of a user the application keeps pushing to: never stale, never
    removable; every retry is refused, for longer than any cutoff."""
    s = registry_of(CONSERVATIVE, tuple(manager(i, Phase.STUCK) for i in range(LIMIT)))
    for _ in range(PROD.horizon + 10):
        s = do(ONE, CONSERVATIVE, s, ServerSend(0))
        assert all(m.activity_age == 0 for m in s.users[0].managers)
        plan = plan_connect(ONE, CONSERVATIVE, s, 0)
        assert plan.outcome is Outcome.REJECTED and plan.elapsed == 0
        s = tick(ONE, CONSERVATIVE, s)
    assert ids(s) == list(range(LIMIT))


def test_conservative_cleanup_hangs_on_a_stuck_stale_entry() -> None:
    stale = manager(0, Phase.STUCK, activity_age=PROD.activity_cutoff + 1)
    s = registry_of(CONSERVATIVE, (stale, *(manager(i) for i in range(1, LIMIT))))
    plan = plan_connect(ONE, CONSERVATIVE, s, 0)
    assert plan.outcome is Outcome.HUNG and plan.elapsed is None
    # the entry stays registered: a permanent "closing" that never finishes on its own
    after = do(ONE, CONSERVATIVE, s, Connect(0))
    m0 = after.users[0].find(0)
    assert m0 is not None and m0.phase is Phase.CLOSING and m0.close_hangs
    assert len(after.users[0].managers) == LIMIT
    assert BY_NAME["cleanup_terminates"].check is not None
    assert BY_NAME["cleanup_terminates"].check(ONE, CONSERVATIVE, s, Connect(0), after)


def test_conservative_stale_entries_that_are_not_stuck_are_removed() -> None:
    """The contrast to the hang: the same cleanup frees stale *live* entries at once."""
    stale = tuple(manager(i, Phase.IDLE, activity_age=PROD.activity_cutoff + 1) for i in range(2))
    s = registry_of(CONSERVATIVE, (*stale, *(manager(i) for i in range(2, LIMIT))))
    plan = plan_connect(ONE, CONSERVATIVE, s, 0)
    assert plan.outcome is Outcome.ADMITTED and plan.elapsed == 0
    assert [m.id for m in plan.user.managers] == [*range(2, LIMIT), LIMIT]


# --- graduated ---------------------------------------------------------------------------


def test_graduated_probe_of_three_hung_sockets_costs_36_seconds() -> None:
    hung = tuple(manager(i, Phase.STUCK) for i in range(3))
    s = registry_of(GRADUATED, (*hung, *(manager(i) for i in range(3, LIMIT))))
    plan = plan_connect(ONE, GRADUATED, s, 0)
    assert plan.outcome is Outcome.ADMITTED
    # each hung socket: a 2 s Moderate ping, then a close that waits its 10 s timeout
    per_socket = PROD.probe_timeout_moderate + PROD.close_timeout
    assert plan.elapsed is not None
    assert plan.elapsed * PROD.tick_ms == 3 * per_socket * 1000 == 36_000
    assert plan.elapsed * PROD.tick_ms > PROD.cleanup_budget_ms
    assert [m.id for m in plan.user.managers] == [*range(3, LIMIT), LIMIT]


def test_graduated_force_evicts_healthy_active_managers() -> None:
    healthy = tuple(manager(i, age=LIMIT - i) for i in range(LIMIT))  # young, all answering
    s = registry_of(GRADUATED, healthy)
    plan = plan_connect(ONE, GRADUATED, s, 0)
    assert plan.outcome is Outcome.ADMITTED and plan.elapsed == 0
    assert [m.id for m in plan.user.managers] == [*range(LIMIT // 2, LIMIT), LIMIT]
    after = do(ONE, GRADUATED, s, Connect(0))
    check = BY_NAME["no_healthy_eviction"].check
    assert check is not None
    assert check(ONE, GRADUATED, s, Connect(0), after) == (
        "user 0's connect (its emergency cleanup) closed user 0's manager m0, which was active"
    )


def test_graduated_age_rule_evicts_healthy_old_connections() -> None:
    old = PROD.age_rule + 1
    managers = (manager(0, age=old), *(manager(i, age=1) for i in range(1, LIMIT)))
    plan = plan_connect(ONE, GRADUATED, registry_of(GRADUATED, managers), 0)
    assert plan.outcome is Outcome.ADMITTED
    assert [m.id for m in plan.user.managers] == [*range(1, LIMIT), LIMIT]


def fail_one_cleanup(config: Config, state: State, user: int) -> State:
    """The user (at the limit) has one of its managers go stuck, then reconnects: the
    cleanup probes it (a timeout) and evicts it; the breaker counts a failure."""
    state = tick(config, GRADUATED, state)  # one connect per user per tick
    oldest_alive = next(m.id for m in state.users[user].managers if m.phase is Phase.ACTIVE)
    state = do(config, GRADUATED, state, Stall(user, oldest_alive))
    plan = plan_connect(config, GRADUATED, state, user)
    assert plan.outcome is Outcome.ADMITTED and plan.elapsed
    return do(config, GRADUATED, state, Connect(user))


def test_graduated_shared_breaker_lets_one_user_block_another() -> None:
    two = PROD.with_(users=2)
    s = start(two, GRADUATED)
    s = filled(two, GRADUATED, filled(two, GRADUATED, s, 1), 0)
    alone = s._replace(shared=Breaker())  # user 1's view if user 0 never existed
    for failures in range(1, two.breaker_threshold):
        s = fail_one_cleanup(two, s, 0)
        assert s.shared == Breaker(failures, 0)
    s = fail_one_cleanup(two, s, 0)
    assert s.shared == Breaker(0, two.breaker_window)  # opened by user 0's failures

    # user 1 is healthy and at the limit: its own cleanup would admit it ...
    assert plan_connect(two, GRADUATED, alone, 1).outcome is Outcome.ADMITTED
    # ... but the breaker refuses it, for the whole window
    s = tick(two, GRADUATED, s, 10)
    assert s.shared == Breaker(0, two.breaker_window - 10)
    plan = plan_connect(two, GRADUATED, s, 1)
    assert plan.outcome is Outcome.REJECTED
    # the same user-1 registry without user 0's history is admitted: interference
    assert plan_connect(two, GRADUATED, s._replace(shared=Breaker()), 1).outcome is (
        Outcome.ADMITTED
    )
    assert plan.retry_after == two.breaker_window and plan.elapsed == 0
    # and the refusal extends the window
    s = do(two, GRADUATED, s, Connect(1))
    assert s.shared == Breaker(0, two.breaker_window)


def test_graduated_breaker_closes_after_its_window_without_refusals() -> None:
    s = registry_of(GRADUATED, (), shared=Breaker(0, 3))
    s = tick(ONE, GRADUATED, s, 2)
    assert s.shared == Breaker(0, 1)
    s = tick(ONE, GRADUATED, s)
    assert s.shared == Breaker()


# --- reference ---------------------------------------------------------------------------


def test_reference_never_evicts_an_active_manager_and_rejects_with_retry_after() -> None:
    healthy = tuple(manager(i, age=i, activity_age=i, quiet_age=i) for i in range(LIMIT))
    s = registry_of(REFERENCE, healthy)
    plan = plan_connect(ONE, REFERENCE, s, 0)
    assert plan.outcome is Outcome.REJECTED and plan.elapsed == 0
    assert plan.user.managers == healthy  # nothing touched
    # the advice: when the first entry could go idle (or its heartbeat could lapse: a
    # live peer's last answer looks H old, so T from now at the soonest)
    views = [view_of(m, ONE) for m in healthy]
    assert plan.retry_after == min(
        min(PROD.verdict_after - v.pong_age, PROD.idle_after + 1 - v.activity_age) for v in views
    )
    assert plan.retry_after == PROD.heartbeat_timeout
    assert plan.retry_after is not None and plan.retry_after >= 1


@pytest.mark.parametrize(
    "shape",
    ["stuck-overdue", "stuck-fresh", "idle", "closed-leftover", "hanging-close", "healthy"],
)
def test_reference_decides_admission_at_once(shape: str) -> None:
    h = PROD.horizon
    odd = {
        "stuck-overdue": manager(0, Phase.STUCK, pong_age=PROD.verdict_after, stuck_age=40),
        "stuck-fresh": manager(0, Phase.STUCK, pong_age=5, stuck_age=5),
        "idle": manager(0, Phase.IDLE, activity_age=h, quiet_age=h),
        "closed-leftover": manager(0, Phase.CLOSED),
        "hanging-close": manager(0, Phase.CLOSING, close_hangs=True, phase_age=5),
        "healthy": manager(0),
    }[shape]
    s = registry_of(REFERENCE, (odd, *(manager(i) for i in range(1, LIMIT))))
    plan = plan_connect(ONE, REFERENCE, s, 0)
    assert plan.elapsed == 0
    admitted = shape in ("stuck-overdue", "idle", "closed-leftover", "hanging-close")
    assert plan.outcome is (Outcome.ADMITTED if admitted else Outcome.REJECTED)
    for m in plan.user.managers:  # the nineteen active managers are untouched
        if m.id != 0:
            assert m.phase is Phase.ACTIVE
    if shape == "idle":  # closed gracefully, not awaited; the close timeout bounds it
        m0 = plan.user.find(0)
        assert m0 is not None and m0.phase is Phase.CLOSING and view_of(m0, ONE).closing_for == 0
    if shape == "stuck-overdue":  # aborted and removed
        assert plan.user.find(0) is None


def test_reference_aborts_a_heartbeat_overdue_manager_after_h_plus_t() -> None:
    s = filled(ONE, REFERENCE, start(ONE, REFERENCE), 0, n=2)
    s = do(ONE, REFERENCE, s, Stall(0, 0))
    s = tick(ONE, REFERENCE, s, PROD.verdict_after - 1)
    assert HeartbeatVerdict(0, 0) not in urgent(ONE, REFERENCE, s)
    s = tick(ONE, REFERENCE, s)
    assert HeartbeatVerdict(0, 0) in urgent(ONE, REFERENCE, s)
    assert step(ONE, REFERENCE, s, Tick()) is None  # the verdict is urgent
    s = do(ONE, REFERENCE, s, HeartbeatVerdict(0, 0))
    m0 = s.users[0].find(0)
    assert m0 is not None and m0.phase is Phase.CLOSING and not m0.is_active
    assert view_of(m0, ONE).transport is Transport.CLOSING
    s = settle(ONE, REFERENCE, s)
    assert ids(s) == [1]  # aborted and removed exactly once, the same tick


def test_reference_bounds_a_hanging_client_close_by_the_close_timeout() -> None:
    s = filled(ONE, REFERENCE, start(ONE, REFERENCE), 0, n=1)
    s = do(ONE, REFERENCE, s, ClientClose(0, 0))
    s = do(ONE, REFERENCE, s, CloseHangs(0, 0))
    s = tick(ONE, REFERENCE, s, PROD.close_timeout - 1)
    assert ids(s) == [0]
    s = settle(ONE, REFERENCE, tick(ONE, REFERENCE, s))
    assert ids(s) == []


def test_reference_shares_nothing_across_users() -> None:
    assert REFERENCE.initial_shared() is None
    assert REFERENCE.tick_shared(None) is None
    two = PROD.with_(users=2)
    s = filled(two, REFERENCE, start(two, REFERENCE), 0)
    s = do(two, REFERENCE, s, Connect(0))  # a rejected cleanup of user 0
    assert s.shared is None
