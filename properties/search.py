"""Hypothesis stateful search over the model.

:class:`Run` is a model run that checks the chosen claims after every model step; a
driver for a real registry can subclass it and mirror each action in ``apply``.
:func:`recover` is the liveness probe; :func:`isolation_replay` the non-interference
check. :func:`machine_for` builds the ``RuleBasedStateMachine`` whose rules are the
environment actions, in bursts so that the production limit of 20 is reached.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, note, seed, settings, target
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)
from wsmodel.model import (
    ALIVE,
    Action,
    ClientClose,
    CloseHangs,
    Config,
    Connect,
    Outcome,
    Policy,
    PolicyError,
    ServerSend,
    Stall,
    State,
    Tick,
    Traffic,
    UserState,
    not_deterministic,
    plan_connect,
    start,
    step,
    urgent,
    user_of,
)
from wsmodel.model import (
    Phase as Lifecycle,
)
from wsmodel.model.step import may_connect
from wsmodel.properties.catalogue import (
    AFTER,
    BY_NAME,
    LIVENESS_NAMES,
    Property,
    doer,
    effect,
    first_difference,
    holding,
    holds_limit_in_use,
    shown,
)
from wsmodel.properties.results import (
    LOST_INTERRUPT,
    Counterexample,
    Result,
    Status,
    gc_tuned,
)

T = TypeVar("T")
R = TypeVar("R")


class Violation(AssertionError):
    """A claim failed; carries the claim's name and a replayable counterexample."""

    def __init__(self, prop: str, counterexample: Counterexample, cut_short: str = "") -> None:
        super().__init__(f"{prop}: {counterexample.message}")
        self.prop = prop
        self.counterexample = counterexample
        self.cut_short = cut_short  # what ran out before minimizing was done, if anything


class OutOfMemory(BaseException):
    """The machine's memory ran out during a search: it stops at once. A BaseException
    (like KeyboardInterrupt) so that Hypothesis neither records it as a failure nor
    replays it: a MemoryError is the machine's, not the policy's or a claim's."""


class OutOfTime(BaseException):
    """The search's time budget ran out: it stops at once, as for OutOfMemory."""


# When the running search must stop (time.monotonic()); set by check_hypothesis. The
# search's cost grows with the timings (a wait is that many Tick steps), so a run with
# large ones needs a bound as much as the exhaustive engine does.
_DEADLINE = [float("inf")]


def _in_time() -> None:
    now = time.monotonic()
    if now > _DEADLINE[0]:
        raise OutOfTime
    if (heart := _HEARTBEAT[0]) is not None:
        heart.beat(now)


class _StepGuard:
    """``with _STEP_GUARD:`` around every step of a search: a MemoryError becomes
    OutOfMemory, a lost Ctrl-C (``LOST_INTERRUPT``) is raised again, and so is
    OutOfTime once the budget has run out; a violation lifts the deadline. A class, not
    a generator context manager: it is entered on every step."""

    def __enter__(self) -> None:
        if (lost := LOST_INTERRUPT[0]) is not None:
            LOST_INTERRUPT[0] = None  # one Ctrl-C, one interrupt
            raise lost
        _in_time()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        if isinstance(exc, MemoryError):
            raise OutOfMemory from exc
        if isinstance(exc, Violation):
            # Hypothesis replays a failing run to report it: the deadline must not cut
            # that replay short, which would read as a failure that did not recur
            # (Flaky) and lose the violation. find_violation puts it back.
            _DEADLINE[0] = float("inf")


_STEP_GUARD = _StepGuard()


class Run:
    """A model run from the initial state that checks ``claims`` on every step."""

    def __init__(self, config: Config, policy: Policy, claims: Iterable[str]) -> None:
        self.config = config
        self.policy = policy
        self.claims: list[Property] = [BY_NAME[c] for c in claims if BY_NAME[c].check]
        self.state: State = start(config, policy)
        self.trace: list[Action] = []
        self.states: list[State] = []  # the state after each action of the trace
        self.witnessed: set[str] = set()
        self.ended = False  # a step raised (a violation, the policy's error, Ctrl-C)

    def apply(self, action: Action) -> bool:
        """Take ``action`` if it is enabled; check every claim on the step."""
        with _STEP_GUARD:  # in the model, a policy or a claim
            return self._apply(action)

    def _apply(self, action: Action) -> bool:
        after = step(self.config, self.policy, self.state, action)
        if after is None:
            return False
        for prop in self.claims:
            assert prop.check is not None
            problem = prop.check(self.config, self.policy, self.state, action, after)
            if problem is not None:
                user = user_of(action)
                raise Violation(
                    prop.name, Counterexample(problem, (*self.trace, action), user=user)
                )
            if (
                prop.witness is not None
                and prop.name not in self.witnessed  # once seen, no need to look again
                and prop.witness(self.config, self.policy, self.state, action, after)
            ):
                self.witnessed.add(prop.name)
        self.trace.append(action)
        self.states.append(after)
        self.state = after
        return True

    def settle(self) -> None:
        """Let every due system reaction happen, in the model's fixed order."""
        while due := urgent(self.config, self.policy, self.state):
            self.apply(due[0])

    def connect(self, user: int) -> None:
        """Connect, letting a tick pass first if the user used up this tick's attempts."""
        if not self.apply(Connect(user)):
            self.advance(1)
            self.apply(Connect(user))

    def advance(self, ticks: int) -> None:
        for _ in range(ticks):
            self.settle()
            self.apply(Tick())


# --- liveness: the recovery probe ---------------------------------------------------


@dataclass(frozen=True)
class Recovery:
    admitted_after: int | None  # ticks from the clock's start to admission; None if never
    steps: tuple[Action, ...]  # the probe's schedule, from the probe's start state
    cycle_from: int | None  # index into steps where a repeated state was first seen
    cycle_state: State | None = None  # that state


@lru_cache(maxsize=2048)
def recover(config: Config, policy: Policy, state: State, user: int) -> Recovery:
    """Faults stop; the application keeps sending; the user retries every tick.

    The schedule is fair and deterministic, and the state space is finite (ages
    saturate), so either the user is admitted or the run comes back to a state it has
    seen: then the block is permanent. The clock restarts while the user holds
    ``limit`` managers in use (they are exempt from the claim). Cached: searches end
    in the same states again and again, and a probe can take hundreds of ticks."""
    steps: list[Action] = []
    seen: dict[State, int] = {}
    clock = 0

    def take(action: Action) -> None:
        nonlocal state
        state = _must_step(config, policy, state, action)
        steps.append(action)

    def settle() -> None:
        while due := urgent(config, policy, state):
            take(due[0])

    while True:
        settle()
        if state in seen:
            return Recovery(None, tuple(steps), seen[state], state)
        seen[state] = len(steps)
        if holds_limit_in_use(config, state.users[user]):
            clock = 0
        if state.users[user].managers:
            take(ServerSend(user))
        if may_connect(config, state.users[user]):  # else retry next tick
            admitted = plan_connect(config, policy, state, user).outcome is Outcome.ADMITTED
            take(Connect(user))
            if admitted:
                return Recovery(clock, tuple(steps), None)
        settle()
        take(Tick())
        clock += 1


def check_recovery(run: Run, user: int, claims: set[str]) -> None:
    """Raise a Violation if the user is never admitted, or admitted too late."""
    config, policy = run.config, run.policy
    rec = recover(config, policy, run.state, user)
    if rec.admitted_after is None and "no_permanent_block" in claims:
        assert rec.cycle_from is not None and rec.cycle_state is not None
        held = holding(config, rec.cycle_state.users[user])
        raise Violation(
            "no_permanent_block",
            Counterexample(
                f"faults stopped; retrying every tick while the application keeps "
                f"sending, user {user} is never admitted: the run returns to a state it "
                f"has already visited, where user {user} holds {held}",
                (*run.trace, *rec.steps[: rec.cycle_from]),
                rec.steps[rec.cycle_from :],
                user=user,
                probe_from=len(run.trace),
            ),
        )
    bound = config.recovery_bound
    if "bounded_recovery" in claims and (rec.admitted_after is None or rec.admitted_after > bound):
        took = (
            "never admitted"
            if rec.admitted_after is None
            else f"admitted after {rec.admitted_after} ticks"
        )
        raise Violation(
            "bounded_recovery",
            Counterexample(
                f"after faults stopped, user {user} was {took}; bound H + T + C + R = {bound}",
                (*run.trace, *rec.steps),
                user=user,
                probe_from=len(run.trace),
            ),
        )


# --- isolation: the same user-B history without the other users ------------------


def isolation_replay(run: Run, user: int) -> None:
    """Replay only ``user``'s actions (and time) in the one-user system, the user alone:
    the user's state must come out the same, and its Connects must do the same
    (``catalogue.effect``: admitted or not, how long the cleanup takes, what it awaits,
    the advice, the state after): each one the run takes, and one taken at the end of
    every instant in which another user acted, and at the end of the run, where the user
    may still connect. Alone, not beside idle users: their sweeps could still write the
    shared state, and the per-user claims are proven on the one-user system."""
    config, policy = run.config, run.policy
    one = config.with_(users=1)

    def compare(whole: State, lone: State, upto: int) -> None:
        with_others = effect(config, policy, whole, user, Connect)
        without = effect(one, policy, lone, 0, Connect)
        differs = first_difference(with_others, without)
        if differs is None:
            return
        label, x, y = differs
        was = plan_connect(config, policy, whole, user).outcome
        alone = plan_connect(one, policy, lone, 0).outcome
        if was is not alone:
            what = f"is {was.value}, but would be {alone.value}"
        elif label == AFTER:
            what = f"leaves the user in another state ({_unlike(x, y)}) than it would"
        else:
            what = f"differs in {label}: {shown(x)} in this run, but {shown(y)}"
        shared = (
            f" (the shared policy state: {whole.shared} in this run, {lone.shared} alone)"
            if whole.shared != lone.shared
            else ""
        )
        raise Violation(
            "isolation",
            Counterexample(
                f"user {user}'s last connect {what} with the same history for user {user} "
                "alone (the other users and their actions left out)" + shared,
                (*run.trace[:upto], Connect(user)),
                user=user,
            ),
        )

    alone, before = start(one, policy), start(config, policy)
    others_acted = False  # since the last comparison at the end of an instant
    for i, (action, full) in enumerate(zip(run.trace, run.states, strict=True)):
        owner = user_of(action)
        others_acted |= owner not in (None, user)
        if action == Connect(user):
            compare(before, alone, i)  # the run's own Connect
        if owner in (None, user):
            mine = action if isinstance(action, Tick) else replace(action, user=0)
            _in_time()
            nxt = step(one, policy, alone, mine)
            if nxt is None or nxt.users[0] != full.users[user]:
                how = (
                    "it cannot be taken" if nxt is None else _unlike(full.users[user], nxt.users[0])
                )
                raise Violation(
                    "isolation",
                    Counterexample(
                        f"user {user}'s own state after {doer(action)} differs once the other "
                        f"users and their actions are left out ({how})",
                        tuple(run.trace[: i + 1]),
                        user=user,
                    ),
                )
            alone = nxt
        before = full
        last = i + 1 == len(run.trace)
        if not last and not (others_acted and isinstance(run.trace[i + 1], Tick)):
            continue  # compare once per instant in which another user acted, and at the end
        if not may_connect(config, full.users[user]):
            continue  # no Connect to decide until the next tick: compare then
        others_acted = False
        compare(full, alone, i + 1)


def _unlike(here: UserState, alone: UserState) -> str:
    """How a user's state in a run differs from the same user's alone."""
    return ", ".join(
        "its managers"
        if f == "managers"
        else f"{f} {shown(getattr(here, f))} in this run, {shown(getattr(alone, f))} alone"
        for f in here._fields
        if getattr(here, f) != getattr(alone, f)
    )


def _must_step(config: Config, policy: Policy, state: State, action: Action) -> State:
    _in_time()  # a recovery probe can take as many ticks as the timings are long
    after = step(config, policy, state, action)
    assert after is not None, f"replay took disabled {action}"
    return after


# --- the state machine -----------------------------------------------------------

RULES = (
    "connect",
    "traffic",
    "server_send",
    "stall",
    "reconnect",
    "client_close",
    "close_hangs",
    "wait",
)


def machine_for(
    config: Config,
    policy: Policy,
    claims: Sequence[str],
    witnessed: set[str] | None = None,
    run_class: type[Run] = Run,
    on_run: Callable[[], None] | None = None,
) -> type[Any]:
    """A RuleBasedStateMachine over the model that checks ``claims`` (and adds the
    claims whose witnesses it reached to ``witnessed``). ``run_class`` is the driver:
    a subclass of :class:`Run` can mirror every action on a real registry.
    ``on_run`` is called as each run starts (progress reports)."""
    claim_set = set(claims)
    users = st.integers(0, config.users - 1)
    # Bursts reach the corners: a whole limit's worth of connects or stalls at once.
    burst = st.one_of(st.just(1), st.just(config.limit), st.integers(1, config.limit))
    waits = sorted(
        {
            1,
            config.close_timeout,
            config.reaper_period,
            config.verdict_after,
            config.recovery_bound + 1,
            config.idle_after + 1,
            config.horizon,
        }
    )

    class Search(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            if on_run is not None:
                on_run()
            self.run = run_class(config, policy, claims)
            self.swarm: frozenset[str] = frozenset(RULES)

        # Swarm testing: each run leaves some kinds of action out entirely, so that
        # runs differ in character (only connects and stalls, only closes, ...).
        @initialize(off=st.sets(st.sampled_from(RULES[1:-1]), max_size=3))
        def choose_swarm(self, off: set[str]) -> None:
            self.swarm = frozenset(RULES) - off
            note(f"swarm: {sorted(self.swarm)}")

        def _do(self, step: Callable[[T], R], arg: T) -> R:
            """Every rule's step on the run (``apply`` and all, perhaps a subclass's,
            such as a lockstep driver's): if it raises, the run has ended."""
            try:
                return step(arg)
            except BaseException:
                self.run.ended = True
                raise

        def _act(self, action: Action) -> None:
            if self._do(self.run.apply, action):
                note(str(action))

        def _pick(self, user: int, phases: Iterable[Lifecycle]) -> list[int]:
            wanted = set(phases)
            return [m.id for m in self.run.state.users[user].managers if m.phase in wanted]

        @rule(user=users, n=burst)
        def connect(self, user: int, n: int) -> None:
            for _ in range(n):
                self._do(self.run.connect, user)
                note(f"Connect(user={user})")

        @precondition(lambda self: "traffic" in self.swarm)
        @rule(user=users, data=st.data())
        def traffic(self, user: int, data: st.DataObject) -> None:
            ids = self._pick(user, ALIVE)
            if ids:
                self._act(Traffic(user, data.draw(st.sampled_from(ids))))

        @precondition(lambda self: "server_send" in self.swarm)
        @rule(user=users)
        def server_send(self, user: int) -> None:
            self._act(ServerSend(user))

        def _burst(self, action: type[Stall | ClientClose], user: int, n: int, data: Any) -> None:
            """``action`` on up to ``n`` of the user's live managers, chosen by the data."""
            ids = self._pick(user, ALIVE)
            if ids:
                chosen = data.draw(
                    st.lists(st.sampled_from(ids), min_size=1, max_size=n, unique=True)
                )
                for mid in chosen:
                    self._act(action(user, mid))

        @precondition(lambda self: "stall" in self.swarm)
        @rule(user=users, n=burst, data=st.data())
        def stall(self, user: int, n: int, data: st.DataObject) -> None:
            self._burst(Stall, user, n, data)

        @precondition(lambda self: "reconnect" in self.swarm)
        @rule(user=users, n=burst)
        def reconnect(self, user: int, n: int) -> None:
            """The incident's pattern: a connection dies silently (its oldest live
            manager is stuck) and the client reconnects; ``n`` times over."""
            for _ in range(n):
                ids = self._pick(user, ALIVE)
                if ids:
                    self._act(Stall(user, ids[0]))
                self._do(self.run.connect, user)
                note(f"Connect(user={user})")

        @precondition(lambda self: "client_close" in self.swarm)
        @rule(user=users, n=burst, data=st.data())
        def client_close(self, user: int, n: int, data: st.DataObject) -> None:
            self._burst(ClientClose, user, n, data)

        @precondition(lambda self: "close_hangs" in self.swarm)
        @rule(user=users, data=st.data())
        def close_hangs(self, user: int, data: st.DataObject) -> None:
            ids = self._pick(user, (Lifecycle.CLOSING,))
            if ids:
                self._act(CloseHangs(user, data.draw(st.sampled_from(ids))))

        @rule(ticks=st.sampled_from(waits))
        def wait(self, ticks: int) -> None:
            before = len(self.run.trace)
            self._do(self.run.advance, ticks)
            if len(self.run.trace) > before:
                note(f"time passes {ticks} ticks")

        def teardown(self) -> None:
            if witnessed is not None:
                witnessed.update(self.run.witnessed)
            if self.run.ended:
                # Hypothesis tears down after a failed step too. Judging the liveness
                # claims from here would call the policy again (a second hang, or
                # error) and could replace the step's exception with one of its own.
                return
            with _STEP_GUARD:
                # Targeted search: steer towards every user's registry full at once, and
                # towards runs that keep changing state shared across users (the hazard
                # the isolation claim is about).
                target(
                    float(min(u.live_count for u in self.run.state.users)), label="emptiest user"
                )
                shared = [s.shared for s in self.run.states]
                changes = sum(1 for a, b in itertools.pairwise(shared) if a != b)
                target(float(changes), label="shared-state changes")
                for user in range(config.users):
                    if claim_set & LIVENESS_NAMES:
                        check_recovery(self.run, user, claim_set)
                    if "isolation" in claim_set:
                        isolation_replay(self.run, user)

    Search.__name__ = Search.__qualname__ = f"Search_{policy.name}"
    return Search


# --- running a search ---------------------------------------------------------------


# Replays per counterexample (Hypothesis's own shrinker is off). A count, not seconds,
# so that a counterexample does not depend on the machine's speed or load: the most a
# built-in's needed at production was 713 (graduated's isolation, about 11 s).
MINIMIZE_ATTEMPTS = 1000


def search_settings(examples: int, steps: int = 30) -> settings:
    """The settings of a verification search (on top of the loaded profile)."""
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        database=None,
        report_multiple_bugs=False,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
    )


def find_violation(
    config: Config,
    policy: Policy,
    claims: Sequence[str],
    *,
    examples: int,
    seed_value: int | None = None,
    witnessed: set[str] | None = None,
    on_run: Callable[[], None] | None = None,
) -> Violation | None:
    """Search for a violation of any of ``claims``; the shrunk one, or None.
    The names of the claims whose witnesses were reached are added to ``witnessed``."""
    machine = machine_for(config, policy, claims, witnessed, on_run=on_run)
    if seed_value is not None:
        machine = seed(seed_value)(machine)
        chosen = search_settings(examples)
    else:
        chosen = settings(search_settings(examples), derandomize=True)
    deadline = _DEADLINE[0]  # lifted once a run fails (_StepGuard), until the end here
    try:
        run_state_machine_as_test(machine, settings=chosen)
    except Violation as v:
        return minimize(config, policy, v, deadline - time.monotonic())
    except Flaky as exc:  # the model is deterministic, and a MemoryError stops at once
        # Hypothesis can report a run the budget cut short as one that did not recur.
        if (stop := _stopped(exc)) is not None:
            raise stop from exc
        if time.monotonic() > deadline:
            raise OutOfTime from exc
        # What the failing run raised, if the policy's fault already (a call made twice
        # that differed), says more than that it did not recur.
        said = [e for e in getattr(exc, "exceptions", ()) if isinstance(e, PolicyError)]
        if said:
            raise said[0] from exc
        raise not_deterministic(policy, "a failing run passed when Hypothesis replayed it") from exc
    finally:
        _DEADLINE[0] = deadline
    return None


def _stopped(exc: BaseException) -> OutOfTime | OutOfMemory | None:
    """The OutOfTime or OutOfMemory behind a Hypothesis error, if any."""
    todo, seen = [exc], set()
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OutOfTime | OutOfMemory):
            return e
        todo += [x for x in (e.__cause__, e.__context__) if x is not None]
        todo += getattr(e, "exceptions", ())
    return None


# --- minimizing a counterexample --------------------------------------------------


MANAGER_ACTIONS = (Traffic, Stall, ClientClose, CloseHangs)


def reproduce(
    config: Config, policy: Policy, prop: str, user: int | None, env: Sequence[Action]
) -> Violation | None:
    """Replay environment actions the way a search run takes them (system reactions
    happen when time is about to pass) and check ``prop``; its violation, if any."""
    run = Run(config, policy, [prop])
    try:
        for action in env:
            if isinstance(action, Tick):
                run.settle()
            if not run.apply(action) and isinstance(action, MANAGER_ACTIONS):
                # Deleting earlier steps renumbers managers: act on the newest one that
                # can take the action instead (the trace records what really ran).
                for m in reversed(run.state.users[action.user].managers):
                    if run.apply(type(action)(action.user, m.id)):
                        break
        if prop in LIVENESS_NAMES and user is not None:
            check_recovery(run, user, {prop})
        if prop == "isolation":
            for u in range(config.users):
                isolation_replay(run, u)
    except Violation as v:
        return v if v.prop == prop else None
    return None


def minimize(config: Config, policy: Policy, found: Violation, seconds: float) -> Violation:
    """Shorten a counterexample by deleting environment actions and shortening runs of
    ticks, keeping only candidates that still violate the same claim (each a real run
    of the model). Stops when nothing more can go, or after MINIMIZE_ATTEMPTS candidates
    or ``seconds`` (what is left of the time budget): then the violation says so
    (``cut_short``), as its counterexample may be longer than needed."""
    cx = found.counterexample
    chosen = cx.steps if cx.probe_from is None else cx.steps[: cx.probe_from]
    units: list[tuple[Action, int]] = []  # an action, or Tick with a repeat count
    for a in chosen:
        if a.system:
            continue
        if isinstance(a, Tick) and units and isinstance(units[-1][0], Tick):
            units[-1] = (a, units[-1][1] + 1)
        else:
            units.append((a, 1))
    deadline = time.monotonic() + seconds
    best, tries, stopped = found, 0, False

    def more() -> bool:
        """Whether to try a candidate; asked only when one is left to try."""
        nonlocal stopped
        stopped = stopped or tries >= MINIMIZE_ATTEMPTS or time.monotonic() >= deadline
        return not stopped

    def attempt(candidate: list[tuple[Action, int]]) -> bool:
        nonlocal best, tries
        tries += 1
        env = [a for a, n in candidate for _ in range(n)]
        with _STEP_GUARD:  # the replays of liveness and isolation too
            v = reproduce(config, policy, found.prop, cx.user, env)
        if v is not None and v.counterexample.length() <= best.counterexample.length():
            best = v
            return True
        return False

    cut_short = ""
    try:
        while True:
            before = best.counterexample.length()
            chunk = max(1, len(units) // 2)
            while chunk >= 1 and more():
                i = 0
                while i < len(units) and more():
                    candidate = units[:i] + units[i + chunk :]
                    if candidate and attempt(candidate):
                        units = candidate
                    else:
                        i += chunk
                chunk //= 2
            for i in range(len(units)):  # the fewest ticks each run of ticks can do with
                low, high = 1, units[i][1]
                while low < high and more():
                    mid = (low + high) // 2
                    candidate = [*units[:i], (units[i][0], mid), *units[i + 1 :]]
                    if attempt(candidate):
                        units, high = candidate, mid
                    else:
                        low = mid + 1
            if stopped:  # with candidates left untried
                cut_short = (
                    "the time budget" if tries < MINIMIZE_ATTEMPTS else f"its {tries:,} attempts"
                )
                break
            if best.counterexample.length() >= before:
                break  # nothing more can go
    except OutOfMemory:  # the violation stands: the shortest found so far
        cut_short = "the machine's memory"
    except OutOfTime:
        cut_short = "the time budget"
    return Violation(best.prop, best.counterexample, cut_short) if cut_short else best


# A counterexample in which something never ends breaks a bound on it as well: never
# admitted is not admitted in time; a cleanup that never returns exceeds any budget.
IMPLIES = {"no_permanent_block": "bounded_recovery", "cleanup_terminates": "cleanup_within_budget"}


PROGRESS_SECONDS = 10.0  # a long search reports how far it got this often


class _Heartbeat:
    """Counts a search's runs and reports the count once ``seconds`` have passed since
    the last report: as a run starts, and at its steps (``_in_time``), since one run
    with long timings can take minutes (a trial's sat silent for two)."""

    def __init__(self, seconds: float, report: Callable[[int], None]) -> None:
        self.seconds, self.report = seconds, report
        self.runs = 0
        self.last = time.monotonic()

    def on_run(self) -> None:
        self.runs += 1
        self.beat(time.monotonic())

    def beat(self, now: float) -> None:
        if now - self.last >= self.seconds:
            self.last = now
            self.report(self.runs)


_HEARTBEAT: list[_Heartbeat | None] = [None]  # the running search's, if it reports


# Why the search leaves isolation not-checked with one user.
ONE_USER_ISOLATION = (
    "not checked with one user: the search compares a user's run with the same run "
    "without the other users, and there are none, so the check could not fail; use "
    "--users 2, or --engine exhaustive, which also judges a user's admission against "
    "the shared policy state"
)


OUT_OF_MEMORY = "the machine's memory ran out during the search, before this claim was decided"


def out_of_time(timeout: float) -> str:
    return (
        f"the search's time budget ({timeout:g} s) ran out before this claim was decided; "
        "the runs made found no violation of it, which proves nothing"
    )


@contextmanager
def _deadline(timeout: float | None) -> Iterator[None]:
    """The search's time budget in force while it runs; after it, none (replays are not
    cut short) and no heartbeat."""
    _DEADLINE[0] = time.monotonic() + (float("inf") if timeout is None else timeout)
    try:
        yield
    finally:
        _DEADLINE[0] = float("inf")
        _HEARTBEAT[0] = None


@gc_tuned(50_000)  # measured: reference's verify 39.5 s -> 31.6 s, peak 66 -> 132 MB
def check_hypothesis(
    config: Config,
    policy: Policy,
    properties: Sequence[str],
    *,
    examples: int = 200,
    seed_value: int | None = None,
    timeout: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Result]:
    """One result per property. A search stops at its first violation, so the claims
    not yet broken are searched again until a search passes. (Searching the costly
    claims, isolation and liveness, apart was measured slower: every example is then
    generated once per group.) After ``timeout`` seconds, minimizing included, the
    claims not yet decided are left not-checked."""
    with _deadline(timeout):
        results: dict[str, Result] = {}

        def result(name: str, status: Status, **fields: Any) -> Result:
            return Result(policy.name, name, status, "hypothesis", **fields)

        witnessed: set[str] = set()
        coverage: dict[str, int | float | bool | str] = {"examples": examples}
        remaining = list(properties)
        if config.users == 1 and "isolation" in remaining:
            # A check that cannot fail is not a "holds" (the CLI names the reason).
            results["isolation"] = result(
                "isolation",
                Status.NOT_CHECKED,
                coverage={**coverage, "one_user": True},
                detail=ONE_USER_ISOLATION,
            )
            remaining.remove("isolation")

        def report(runs: int) -> None:
            if progress:
                # Runs, not examples: Hypothesis makes more runs than it counts as examples,
                # so the count is not a fraction of --examples and is not shown as one.
                progress(f"{policy.name}: still searching ({runs} runs so far)")

        # Counts the runs of every round; reports them only with progress.
        heart = _HEARTBEAT[0] = _Heartbeat(PROGRESS_SECONDS if progress else float("inf"), report)
        while remaining:
            if progress:
                progress(f"{policy.name}: searching {', '.join(remaining)}")
            try:
                found = find_violation(
                    config,
                    policy,
                    remaining,
                    examples=examples,
                    seed_value=seed_value,
                    witnessed=witnessed,
                    on_run=heart.on_run,
                )
            except (OutOfMemory, OutOfTime) as stop:
                # Not a verdict: the claims not yet decided are left unproven, as a budget
                # leaves them in the exhaustive engine.
                if isinstance(stop, OutOfMemory):
                    stopped_by, detail, what = "memory", OUT_OF_MEMORY, "the machine's memory"
                else:
                    assert timeout is not None  # OutOfTime needs a deadline
                    stopped_by, detail = "timeout", out_of_time(timeout)
                    what = f"the time budget ({timeout:g} s)"
                if progress:
                    progress(f"{policy.name}: {what} ran out while searching")
                for name in remaining:
                    results[name] = result(
                        name,
                        Status.NOT_CHECKED,
                        coverage={**coverage, "stopped_by": stopped_by, "runs": heart.runs},
                        detail=detail,
                    )
                break
            if found is None:
                if progress:
                    progress(f"{policy.name}: no violation of {', '.join(remaining)} found")
                for name in remaining:
                    has_witness = BY_NAME[name].witness is not None
                    results[name] = result(
                        name,
                        Status.HOLDS,
                        witnessed=(name in witnessed) if has_witness else None,
                        coverage=coverage,
                    )
                break
            broken = [found.prop]
            implied = IMPLIES.get(found.prop)
            if implied in remaining:
                broken.append(implied)
            cut = (
                f"shortening this counterexample stopped when {found.cut_short} ran out: "
                "it may be longer than needed"
                if found.cut_short
                else ""
            )
            for name in broken:
                implied_by = "" if name == found.prop else f"implied by {found.prop}"
                results[name] = result(
                    name,
                    Status.VIOLATED,
                    counterexample=found.counterexample,
                    coverage={**coverage, "not_shortest": True} if cut else coverage,
                    detail="; ".join(d for d in (implied_by, cut) if d),
                )
                remaining.remove(name)
                if progress:
                    progress(f"{policy.name}: {name} VIOLATED")
        return [results[name] for name in properties]
