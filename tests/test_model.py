"""The model: the lifecycle table is the only way a phase changes, policies see only
observables, configurations are validated, and the step function is pure."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import importlib
import inspect
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import networkx as nx
import pytest
from wsmodel.model import (
    BUILTIN,
    EDGES,
    LIVE,
    MACHINE,
    PRESETS,
    TABLE,
    AbortClose,
    Action,
    Admit,
    ClientClose,
    Config,
    ConfigError,
    Connect,
    Decision,
    FinishClose,
    GoIdle,
    HeartbeatVerdict,
    Manager,
    ManagerView,
    Phase,
    Policy,
    PolicyError,
    Reference,
    Registry,
    Reject,
    Stall,
    State,
    Sweep,
    Tick,
    Traffic,
    Transport,
    Trigger,
    UserState,
    enabled,
    fire,
    new_manager,
    preset,
    start,
    step,
    urgent,
)
from wsmodel.model import lifecycle as lifecycle_module
from wsmodel.model.policy import CleanupHung, view_of

PRODUCTION = preset("production")
SMALL = preset("small")

# --- building states by hand ---------------------------------------------------------


def manager(mid: int, phase: Phase = Phase.ACTIVE, **fields: object) -> Manager:
    ghost: dict[str, object] = {"stuck_age": 0 if phase is Phase.STUCK else None}
    return new_manager(mid)._replace(phase=phase, **{**ghost, **fields})


def state_with(policy: Policy, *users: tuple[Manager, ...]) -> State:
    s = start(PRODUCTION.with_(users=max(1, len(users))), policy)
    return s._replace(
        users=tuple(
            UserState(ms, 1 + max((m.id for m in ms), default=-1), 0, 0, policy.initial_memory())
            for ms in users
        )
    )


# --- 1. the lifecycle table ------------------------------------------------------------


def test_table_is_the_transitions_machine_without_auto_transitions() -> None:
    assert MACHINE.auto_transitions is False
    assert not any(name.startswith("to_") for name in MACHINE.events)
    assert set(MACHINE.events) == {t.value for t in Trigger}
    assert set(MACHINE.states) == {p.value for p in Phase}
    assert MACHINE.initial == Phase.ACTIVE.value
    from_table = {(s, t): d for t, sources, d in TABLE for s in sources}
    assert from_table == EDGES  # EDGES is read back out of the machine
    # the machine itself agrees edge by edge
    for (source, trigger), dest in EDGES.items():
        (transition,) = MACHINE.events[trigger.value].transitions[source.value]
        assert transition.dest == dest.value


def test_table_structure() -> None:
    """python-statemachine's checks: no edge out of the final state, every phase
    reachable from the initial one, and the final one reachable from everywhere."""
    g = phase_graph()
    assert not any(source is Phase.CLOSED for source, _ in EDGES)
    assert nx.descendants(g, Phase.ACTIVE) | {Phase.ACTIVE} == set(Phase)
    for p in Phase:
        assert p is Phase.CLOSED or nx.has_path(g, p, Phase.CLOSED)


def phase_graph() -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(Phase)
    g.add_edges_from((s, d) for (s, _), d in EDGES.items())
    return g


ONE_EDGE = {(s, d) for (s, _), d in EDGES.items()}
# Registry.close/abort inside a policy call: begin_close then finish/abort, one step.
COMPOSITE = {
    (s, Phase.CLOSED)
    for (s, t), d in EDGES.items()
    if t is Trigger.BEGIN_CLOSE and d is Phase.CLOSING
}
POLICY_CALLS = (Connect, Sweep)  # the only actions that run policy code


def check_step(before: State, action: Action, after: State, seen: set[tuple[Phase, Phase]]) -> None:
    """Every phase change is an edge of the table (or the documented composite close
    inside a policy call); managers are born active and leave only once closed."""
    for u, (bu, au) in enumerate(zip(before.users, after.users, strict=True)):
        b = {m.id: m for m in bu.managers}
        a = {m.id: m for m in au.managers}
        for mid in a.keys() - b.keys():
            assert isinstance(action, Connect) and action.user == u, (action, mid)
            assert a[mid].phase is Phase.ACTIVE
            assert mid == bu.next_id
        for mid in b.keys() - a.keys():
            pb = b[mid].phase
            if isinstance(action, (FinishClose, AbortClose)):
                assert (action.user, action.manager) == (u, mid), action
                assert pb is Phase.CLOSING and (pb, Phase.CLOSED) in ONE_EDGE
                seen.add((pb, Phase.CLOSED))
            else:
                assert isinstance(action, POLICY_CALLS), (action, mid, pb)
                assert pb is Phase.CLOSED or (pb, Phase.CLOSED) in ONE_EDGE | COMPOSITE, (
                    action,
                    pb,
                )
        for mid in a.keys() & b.keys():
            pb, pa = b[mid].phase, a[mid].phase
            if pb is pa:
                continue
            if (pb, pa) in ONE_EDGE:
                seen.add((pb, pa))
                continue
            assert isinstance(action, POLICY_CALLS) and (pb, pa) in COMPOSITE, (action, pb, pa)
            assert nx.has_path(phase_graph(), pb, pa)


def random_run(
    config: Config, policy: Policy, seed: int, steps: int, tick_bias: float = 0.5
) -> Iterator[tuple[State, Action, State]]:
    """A random walk over enabled actions. With probability ``tick_bias`` it lets time
    move on (the first due system reaction, else a tick), otherwise it picks any enabled
    action, so that idle, heartbeat and sweep timings are reached at production
    timings too."""
    rng = random.Random(seed)
    state = start(config, policy)
    for _ in range(steps):
        acts = enabled(config, policy, state)
        due = urgent(config, policy, state)
        if rng.random() < tick_bias:
            action: Action = due[0] if due else Tick()  # let the server react, or time pass
        else:
            action = rng.choice(acts)
        after = step(config, policy, state, action)
        assert after is not None, action
        yield state, action, after
        state = after


# (preset, steps per walk, tick bias): production timings need long, time-heavy walks
WALKS = {"small": (400, 0.5), "production": (4000, 0.98)}


@pytest.mark.parametrize("preset_name", sorted(WALKS))
@pytest.mark.parametrize("policy", sorted(BUILTIN))
def test_random_runs_change_phases_only_along_the_table(policy: str, preset_name: str) -> None:
    config = preset(preset_name)
    if preset_name == "production":
        config = config.with_(limit=3)  # production timings; a limit a walk reaches
    steps, bias = WALKS[preset_name]
    seen: set[tuple[Phase, Phase]] = set()
    for seed in range(10):
        for before, action, after in random_run(config, BUILTIN[policy], seed, steps, bias):
            check_step(before, action, after, seen)
    # every edge of the table was taken, so the check above had something to check
    assert seen == ONE_EDGE, ONE_EDGE - seen


def limit_scenarios() -> list[tuple[Manager, ...]]:
    """Registries at the production limit of 20, in the shapes that trigger each
    level of each built-in cleanup."""
    h = PRODUCTION.horizon
    healthy = tuple(manager(i, age=i) for i in range(20))
    old = tuple(manager(i, age=h, activity_age=h, quiet_age=h) for i in range(20))
    mixed = (
        manager(0, Phase.CLOSED, is_active=True),
        manager(1, Phase.CLOSING, close_hangs=True, phase_age=3),
        manager(2, Phase.STUCK, pong_age=45, stuck_age=45),
        manager(3, Phase.STUCK, pong_age=5, stuck_age=5, activity_age=h),
        manager(4, Phase.IDLE, activity_age=h, quiet_age=h),
        manager(5, Phase.STUCK, is_active=False),
        *(manager(i) for i in range(6, 20)),
    )
    stuck_fresh = tuple(manager(i, Phase.STUCK) for i in range(3)) + tuple(
        manager(i) for i in range(3, 20)
    )
    return [healthy, old, mixed, stuck_fresh]


@pytest.mark.parametrize("policy", sorted(BUILTIN))
def test_emergency_cleanup_at_the_limit_changes_phases_only_along_the_table(policy: str) -> None:
    pol = BUILTIN[policy]
    seen: set[tuple[Phase, Phase]] = set()
    ran_cleanup = False
    for managers in limit_scenarios():
        before = state_with(pol, managers)
        after = step(PRODUCTION.with_(users=1), pol, before, Connect(0))
        assert after is not None
        check_step(before, Connect(0), after, seen)
        ran_cleanup |= after.users[0].managers != (*managers, *after.users[0].managers[20:])
        swept = before._replace(users=(before.users[0]._replace(since_sweep=PRODUCTION.horizon),))
        period = pol.sweep_period(PRODUCTION)
        if period is not None:
            after_sweep = step(PRODUCTION.with_(users=1), pol, swept, Sweep(0))
            assert after_sweep is not None
            check_step(swept, Sweep(0), after_sweep, seen)
    assert ran_cleanup  # some scenario made the cleanup change the registry


def test_composite_close_is_only_possible_inside_a_policy_call() -> None:
    before = state_with(BUILTIN["reference"], (manager(0),))
    after = state_with(BUILTIN["reference"], (manager(0, Phase.CLOSED),))
    for action in (Traffic(0, 0), ClientClose(0, 0), Tick()):
        with pytest.raises(AssertionError):
            check_step(before, action, after, set())
    check_step(before, Connect(0), after, set())  # the documented composite


@pytest.mark.parametrize("edge", sorted(EDGES, key=str), ids=lambda e: f"{e[0]}-{e[1]}")
def test_dropping_an_edge_from_the_table_breaks_the_model(
    edge: tuple[Phase, Trigger], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model has no other way to change a phase: without the edge, the step that
    needs it raises."""
    source, trigger = edge
    config, pol, state, action = edge_scenario(source, trigger)
    assert step(config, pol, state, action) is not None  # works with the whole table
    monkeypatch.delitem(lifecycle_module.EDGES, edge)
    with pytest.raises(ValueError, match="lifecycle has no edge"):
        fire(source, trigger)
    with pytest.raises(ValueError, match="lifecycle has no edge"):
        step(config, pol, state, action)


def edge_scenario(source: Phase, trigger: Trigger) -> tuple[Config, Policy, State, Action]:
    """A state and an action whose step takes exactly this edge."""
    cfg = PRODUCTION.with_(users=1)
    ref, cons = BUILTIN["reference"], BUILTIN["conservative"]
    if trigger is Trigger.GO_IDLE:
        return cfg, ref, state_with(ref, (manager(0, quiet_age=cfg.idle_after),)), GoIdle(0, 0)
    if trigger is Trigger.TRAFFIC:
        return cfg, ref, state_with(ref, (manager(0, Phase.IDLE),)), Traffic(0, 0)
    if trigger is Trigger.STALL:
        return cfg, ref, state_with(ref, (manager(0, source),)), Stall(0, 0)
    if trigger is Trigger.BEGIN_CLOSE and source is Phase.STUCK:
        stuck = manager(0, Phase.STUCK, pong_age=cfg.verdict_after)
        return cfg, ref, state_with(ref, (stuck,)), HeartbeatVerdict(0, 0)
    if trigger is Trigger.BEGIN_CLOSE:
        return cfg, ref, state_with(ref, (manager(0, source),)), ClientClose(0, 0)
    if trigger is Trigger.FINISH_CLOSE:
        return cfg, cons, state_with(cons, (manager(0, Phase.CLOSING),)), FinishClose(0, 0)
    assert trigger is Trigger.ABORT
    closing = manager(0, Phase.CLOSING, close_hangs=True, aborting=True)
    return cfg, ref, state_with(ref, (closing,)), AbortClose(0, 0)


def test_registry_refuses_to_remove_an_entry_that_is_not_closed() -> None:
    pol = BUILTIN["reference"]
    for phase in (Phase.ACTIVE, Phase.IDLE, Phase.STUCK, Phase.CLOSING):
        registry = Registry(PRODUCTION, pol, (manager(0, phase),), None, None)
        with pytest.raises(PolicyError, match="still"):
            registry.remove(0)


# --- 2. observables only -----------------------------------------------------------------


def test_manager_view_has_no_phase() -> None:
    names = {f.name for f in dataclasses.fields(ManagerView)}
    assert names == {
        "id",
        "is_active",
        "transport",
        "known_age",
        "activity_age",
        "pong_age",
        "closing_for",
    }
    assert not hasattr(view_of(manager(0), PRODUCTION), "phase")


def test_the_view_cannot_tell_phases_apart_that_a_server_cannot() -> None:
    """Active, idle and stuck managers with the same observables look the same, a
    stuck one until its peer has been silent for longer than a live peer can be (H); a
    closing manager shows no more than that a close is running and for how long."""
    h = PRODUCTION.heartbeat_interval

    def view(m: Manager) -> ManagerView:
        return view_of(m, PRODUCTION)

    views = {view(manager(0, p, stuck_age=None)) for p in (Phase.ACTIVE, Phase.IDLE)}
    views |= {view(manager(0, Phase.STUCK, stuck_age=t, pong_age=t)) for t in range(h + 1)}
    assert len(views) == 1
    (v,) = views
    assert v.transport is Transport.OPEN and v.closing_for is None and v.pong_age == h
    assert view(manager(0, Phase.STUCK, stuck_age=h + 1, pong_age=h + 1)).pong_age == h + 1
    closing = view(manager(0, Phase.CLOSING, phase_age=4, close_hangs=True))
    assert closing == view(manager(0, Phase.CLOSING, phase_age=4, aborting=True))
    assert closing.transport is Transport.CLOSING and closing.closing_for == 4


def test_age_is_hidden_from_a_policy_that_declares_it_does_not_read_it() -> None:
    # The exhaustive engine forgets ages for such a policy, so it must not see them
    # (decision 0012); a policy that reads age anyway is told what is wrong.
    class PeeksAtAge(Reference):
        name = "peeks"

        def on_connect(self, registry: Registry) -> Decision:
            return Admit() if all(e.age < 3 for e in registry.entries) else Reject()

    assert view_of(manager(0, age=4), PRODUCTION).age == 4
    assert not BUILTIN["reference"].reads_age and BUILTIN["graduated"].reads_age
    pol = PeeksAtAge()
    state = state_with(pol, (manager(0, age=4),))
    with pytest.raises(PolicyError, match="reads_age = False") as exc:
        step(PRODUCTION, pol, state, Connect(0))
    # named at the policy's own line (this file), not at the property that raised
    assert "'peeks' raised AttributeError in on_connect (test_model.py:" in str(exc.value)
    PeeksAtAge.reads_age = True  # declared: it reads the age and is refused by it
    after = step(PRODUCTION, pol, state, Connect(0))
    assert after is not None and len(after.users[0].managers) == 1


def test_a_policy_that_returns_nothing_broke_the_protocol_it_did_not_hang() -> None:
    # None is what a policy that forgot its `return` gives; a hung cleanup is
    # CleanupHung, raised by the registry. The two must not be confused.
    class Forgets(Reference):
        name = "forgets"

        def on_connect(self, registry: Registry) -> Decision:
            super().on_connect(registry)
            return None  # type: ignore[return-value]

    class TickHangs(Reference):
        name = "tick-hangs"

        def tick_shared(self, shared: object) -> object:
            raise CleanupHung

    pol = Forgets()
    with pytest.raises(PolicyError, match="'forgets': on_connect returned None"):
        step(PRODUCTION, pol, start(PRODUCTION, pol), Connect(0))
    pol2 = TickHangs()
    with pytest.raises(PolicyError, match="'tick-hangs': tick_shared raised CleanupHung"):
        step(PRODUCTION, pol2, start(PRODUCTION, pol2), Tick())
    # even naming an entry: tick_shared has no registry, so nothing to await

    class TickHangsOnAnEntry(TickHangs):
        def tick_shared(self, shared: object) -> object:
            raise CleanupHung(3)

    pol4 = TickHangsOnAnEntry()
    with pytest.raises(PolicyError, match="'tick-hangs': tick_shared raised CleanupHung"):
        step(PRODUCTION, pol4, start(PRODUCTION, pol4), Tick())

    class ConnectHangs(Reference):
        # Not a hang to check: only the registry's awaits may raise CleanupHung.
        name = "connect-hangs"

        def on_connect(self, registry: Registry) -> Decision:
            raise CleanupHung

    pol3 = ConnectHangs()
    with pytest.raises(PolicyError, match="'connect-hangs': on_connect raised CleanupHung"):
        step(PRODUCTION, pol3, start(PRODUCTION, pol3), Connect(0))


def test_a_policy_error_names_the_line_in_the_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Raised inside a library the policy calls: still the policy's own line, the one
    # its author can act on (not json's decoder.py).
    class Parses(Reference):
        name = "parses"

        def on_connect(self, registry: Registry) -> Decision:
            json.loads("{not json")  # the line the message names
            return Admit()

    pol = Parses()
    line = inspect.getsourcelines(Parses.on_connect)[1] + 1
    with pytest.raises(PolicyError) as exc:
        step(PRODUCTION, pol, start(PRODUCTION, pol), Connect(0))
    assert f"raised JSONDecodeError in on_connect (test_model.py:{line}): " in str(exc.value)

    # Raised in a helper module of the user's own: that module's line, not the call.
    helpers = tmp_path / "policy_helpers.py"
    helpers.write_text("import json\n\n\ndef parse():\n    return json.loads('{bad')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    parse = importlib.import_module("policy_helpers").parse

    class UsesHelper(Reference):
        name = "uses-helper"

        def on_connect(self, registry: Registry) -> Decision:
            parse()
            return Admit()

    helped = UsesHelper()
    with pytest.raises(PolicyError) as exc:
        step(PRODUCTION, helped, start(PRODUCTION, helped), Connect(0))
    assert "in on_connect (policy_helpers.py:5): " in str(exc.value)

    # A call the registry refuses: the policy and its line are named too.
    class ZeroProbe(Reference):
        name = "zero-probe"

        def on_connect(self, registry: Registry) -> Decision:
            registry.probe(registry.entries[0].id, 0)  # the line the message names
            return Admit()

    zero = ZeroProbe()
    state = state_with(zero, (manager(0),))
    line = inspect.getsourcelines(ZeroProbe.on_connect)[1] + 1
    with pytest.raises(PolicyError) as exc:
        step(PRODUCTION, zero, state, Connect(0))
    assert str(exc.value) == (
        f"policy 'zero-probe', in on_connect (test_model.py:{line}): "
        "gave a probe timeout of 0; it must be a positive integer"
    )


@pytest.mark.parametrize(
    ("decide", "wrong"),
    [
        # a close that completes at once: the deadline was once checked only on a hang
        (lambda r: r.close(r.entries[0].id, 0) or Admit(), "gave a close deadline of 0"),
        # True is an int to Python, not a number of ticks to a client
        (lambda r: Reject(retry_after=True), "on_connect returned Reject(retry_after=True)"),
    ],
)
def test_bad_values_are_refused_whether_or_not_they_matter_this_time(
    decide: Callable[[Registry], Decision], wrong: str
) -> None:
    class Careless(Reference):
        name = "careless"

        def on_connect(self, registry: Registry) -> Decision:
            return decide(registry)

    careless = Careless()
    state = state_with(careless, (manager(0),))
    with pytest.raises(PolicyError) as exc:
        step(PRODUCTION, careless, state, Connect(0))
    assert wrong in str(exc.value)


class _Sweeper(Reference):
    """Sweeps every tick: the tests below give it a sweep of their own."""

    def sweep_period(self, config: Config) -> int | None:
        return 1


def _sweep(policy: Policy, *managers: Manager) -> State | None:
    """One user holding ``managers``, due for a sweep: the state after its Sweep."""
    before = state_with(policy, managers)
    before = before._replace(users=(before.users[0]._replace(since_sweep=1),))
    return step(PRODUCTION.with_(users=1), policy, before, Sweep(0))


def test_a_sweep_that_hangs_keeps_what_it_did_before_the_hang() -> None:
    # A sweep awaiting a hanging close without a deadline never returns: the model
    # keeps what it did until then, as a restarted background task would find it.
    class SweepHangs(_Sweeper):
        name = "sweep-hangs"

        def sweep(self, registry: Registry) -> None:
            registry.remove(0)  # closed: removed
            registry.close(1, deadline=None)  # its close hangs: never returns

    closing = manager(1, Phase.CLOSING, close_hangs=True)
    after = _sweep(SweepHangs(), manager(0, Phase.CLOSED), closing)
    assert after is not None
    assert after.users[0].managers == (closing,) and after.users[0].since_sweep == 0


def test_a_policy_that_goes_on_after_a_hang_or_fakes_one_broke_the_protocol() -> None:
    # Caught the hang on entry 1, then did more, then hung on another close: the result
    # read as a hang on the last, with what came after the first kept (a review's). And
    # CleanupHung(0) raised by the policy itself read as a real hang.
    class GoesOn(_Sweeper):
        name = "goes-on"

        def sweep(self, registry: Registry) -> None:
            with contextlib.suppress(BaseException):
                registry.close(1, deadline=None)
            registry.abort(0)

    class Fakes(GoesOn):
        name = "fakes-hang"

        def sweep(self, registry: Registry) -> None:
            raise CleanupHung(0)

    for pol, said in (
        (GoesOn(), r"called abort\(0\) after the close of entry 1, awaited with no dead"),
        (Fakes(), r"'fakes-hang': sweep raised CleanupHung\(0\) itself"),
    ):
        hanging = manager(1, Phase.CLOSING, close_hangs=True)
        with pytest.raises(PolicyError, match=said):
            _sweep(pol, manager(0, Phase.ACTIVE), hanging)


@pytest.mark.parametrize("key", [False, True, "0", 7])
def test_a_key_that_names_no_entry_is_refused(key: object) -> None:
    # abort(False) found entry 0 (False == 0) where it existed and was refused where not:
    # the two engines gave different verdicts (a trial's).
    class ByKey(Reference):
        name = "by-key"

        def on_connect(self, registry: Registry) -> Decision:
            registry.abort(key)  # type: ignore[arg-type]
            return Admit()

    pol = ByKey()
    before = state_with(pol, (manager(0, Phase.ACTIVE), manager(1, Phase.ACTIVE)))
    with pytest.raises(PolicyError, match=r"called abort\(.*\): (no such entry|a key is an)"):
        step(PRODUCTION.with_(users=1), pol, before, Connect(0))


def test_a_policy_that_swallows_a_hang_broke_the_protocol() -> None:
    # It caught the BaseException and returned: cleanup_terminates held, in both
    # engines (a trial's). On a real server the call never returns.
    class Swallows(_Sweeper):
        name = "swallows-hang"

        def sweep(self, registry: Registry) -> None:
            with contextlib.suppress(BaseException):  # what the test is about
                registry.close(1, deadline=None)

    with pytest.raises(PolicyError, match=r"sweep caught the CleanupHung .* entry 1, which never"):
        _sweep(Swallows(), manager(1, Phase.CLOSING, close_hangs=True))


@pytest.mark.parametrize("period", [2, 10])  # below and above the small horizon (5)
def test_a_sweep_falls_due_every_period_even_past_the_horizon(period: int) -> None:
    class Reaper(Reference):
        name = "test-reaper"

        def sweep_period(self, config: Config) -> int | None:
            return period

    cfg, pol = preset("small").with_(users=1), Reaper()
    assert period != cfg.horizon
    state, sweeps = start(cfg, pol), []
    for t in range(1, 31):
        while due := urgent(cfg, pol, state):
            sweeps += [t - 1] if isinstance(due[0], Sweep) else []
            after = step(cfg, pol, state, due[0])
            assert after is not None
            state = after
        after = step(cfg, pol, state, Tick())
        assert after is not None
        state = after
        assert state.users[0].since_sweep <= period
    assert sweeps == list(range(period, 30, period))  # once ages saturated, never (before)


def test_traffic_on_an_idle_manager_starts_its_active_phase_afresh() -> None:
    # phase_age is "ticks in the current phase": GoIdle and Stall reset it, and the
    # way back to active kept the idle count (a review's).
    ref = BUILTIN["reference"]
    state = state_with(ref, (manager(0, Phase.IDLE, phase_age=2, quiet_age=5),))
    after = step(PRODUCTION.with_(users=1), ref, state, Traffic(0, 0))
    assert after is not None
    (m,) = after.users[0].managers
    assert m.phase is Phase.ACTIVE and m.phase_age == 0 and m.quiet_age == 0


def test_registry_public_surface_exposes_no_ground_truth() -> None:
    """Whatever a policy can reach without an underscore carries no phase and no
    Manager (only the views and plain numbers)."""
    managers = (manager(0), manager(1, Phase.STUCK), manager(2, Phase.CLOSED))
    registry = Registry(PRODUCTION, BUILTIN["reference"], managers, None, None)
    leaks = []
    for name in dir(registry):
        if name.startswith("_"):
            continue
        value = getattr(registry, name)
        if callable(value):
            continue
        items = value if isinstance(value, tuple) else (value,)
        if any(isinstance(x, (Manager, Phase)) or hasattr(x, "phase") for x in items):
            leaks.append(name)
    assert leaks == [], f"Registry exposes the ground truth through {leaks}"


# --- 3. configuration -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"users": 0}, "users"),
        ({"limit": 0}, "limit"),
        ({"heartbeat_interval": -1}, "heartbeat_interval"),
        ({"close_timeout": -5}, "close_timeout"),
        ({"reaper_period": 0}, "reaper_period"),
        ({"idle_after": 1.5}, "idle_after"),
        ({"heartbeat_timeout": "20"}, "heartbeat_timeout"),
        ({"limit": True}, "limit"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_impossible_configuration_names_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        PRODUCTION.with_(**changes)  # type: ignore[arg-type]


def test_unknown_preset_is_named() -> None:
    with pytest.raises(ConfigError, match="'nope'"):
        preset("nope")


def test_production_preset_is_the_domain_defaults() -> None:
    p = preset("production")
    assert (p.limit, p.tick_ms) == (20, 1000)
    assert (p.heartbeat_interval, p.heartbeat_timeout, p.close_timeout, p.reaper_period) == (
        20,
        20,
        10,
        5,
    )
    assert p.idle_after == 300
    assert p.cleanup_budget_ms == 500
    assert p.recovery_bound == 55  # H + T + C + R, docs/domain.md section 3
    assert p.verdict_after == 40
    assert p == Config()


def test_small_preset_exists_and_keeps_the_shape() -> None:
    s = preset("small")
    assert set(PRESETS) >= {"production", "small"}
    assert s.limit < PRODUCTION.limit and s.idle_after < PRODUCTION.idle_after
    assert s.recovery_bound == (
        s.heartbeat_interval + s.heartbeat_timeout + s.close_timeout + s.reaper_period
    )
    # every bound and threshold stays below the horizon at which ages saturate
    for c in PRESETS.values():
        assert c.horizon > max(c.recovery_bound, c.idle_after, c.activity_cutoff, c.age_rule)


# --- purity and determinism -------------------------------------------------------------


@pytest.mark.parametrize("policy", sorted(BUILTIN))
def test_step_is_pure_and_deterministic(policy: str) -> None:
    pol = BUILTIN[policy]
    config = SMALL
    runs = [list(random_run(config, pol, seed=7, steps=300)) for _ in range(2)]
    assert runs[0] == runs[1]
    for before, action, after in runs[0]:
        frozen = copy.deepcopy(before)
        again = step(config, pol, copy.deepcopy(before), action)
        assert again == after and hash(again) == hash(after)
        assert before == frozen  # the step did not touch its input
        assert step(config, pol, before, action) == after
        assert urgent(config, pol, before) == urgent(config, pol, frozen)


@pytest.mark.parametrize("policy", sorted(BUILTIN))
def test_cleanup_at_the_limit_is_pure(policy: str) -> None:
    pol = BUILTIN[policy]
    cfg = PRODUCTION.with_(users=1)
    for managers in limit_scenarios():
        before = state_with(pol, managers)
        frozen = copy.deepcopy(before)
        first = step(cfg, pol, before, Connect(0))
        assert before == frozen
        assert step(cfg, pol, copy.deepcopy(before), Connect(0)) == first


def test_live_phases_are_the_ones_that_count() -> None:
    assert frozenset({Phase.ACTIVE, Phase.IDLE, Phase.STUCK}) == LIVE
