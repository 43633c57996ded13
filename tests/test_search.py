"""The Hypothesis search at the production preset (limit 20): pinned verdicts, short
counterexamples that replay through the model and still break their claim, witnesses,
the isolation replay, and the mutants."""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import settings
from hypothesis.errors import Flaky
from hypothesis.stateful import run_state_machine_as_test
from wsmodel.model import (
    BUILTIN,
    Action,
    Admit,
    Breaker,
    ClientClose,
    Connect,
    Decision,
    Phase,
    Policy,
    PolicyError,
    Registry,
    Reject,
    Stall,
    preset,
)
from wsmodel.properties import search
from wsmodel.properties.catalogue import BY_NAME, NAMES, Kind
from wsmodel.properties.exhaustive import check_exhaustive
from wsmodel.properties.expectations import MUST_BREAK, MUST_HOLD
from wsmodel.properties.results import LOST_INTERRUPT, Result, Status, replay
from wsmodel.properties.search import (
    Run,
    Violation,
    check_hypothesis,
    find_violation,
    isolation_replay,
)

PROD = preset("production")
LIMIT = PROD.limit
EXAMPLES = 200  # the budget: a violation must be found within 200 examples


def _load_mutants() -> ModuleType:
    path = Path(__file__).parent / "mutants.py"
    spec = importlib.util.spec_from_file_location("wsmodel_test_mutants", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MUTANTS: list[tuple[Policy, str, int]] = _load_mutants().MUTANTS

# The verdicts each built-in shows today at the production preset, 200 examples,
# derandomized. Update deliberately: a change here is a change in what the search finds.
V, H = Status.VIOLATED, Status.HOLDS
PINNED: dict[str, dict[str, Status]] = {
    "reference": dict.fromkeys(NAMES, H),
    "conservative": {
        "per_user_limit": H,
        "isolation": H,
        "no_healthy_eviction": H,
        "no_permanent_block": V,
        "bounded_recovery": V,
        "zombies_reaped": V,
        "no_leak": V,
        "cleanup_terminates": V,
        "cleanup_within_budget": V,
    },
    "graduated": {
        "per_user_limit": H,
        "isolation": V,
        "no_healthy_eviction": V,
        "no_permanent_block": V,
        "bounded_recovery": V,
        "zombies_reaped": V,
        "no_leak": V,
        "cleanup_terminates": H,
        "cleanup_within_budget": V,
    },
}


@pytest.fixture(scope="module")
def verdicts() -> dict[str, dict[str, Result]]:
    """One search per built-in policy, shared by every test here; the policies are
    searched in parallel processes (each search is deterministic, so this changes
    nothing but the wall time)."""
    names = ["graduated", "conservative", "reference"]  # longest first
    workers = min(len(names), os.cpu_count() or 1)
    if workers == 1:
        found = [check_hypothesis(PROD, BUILTIN[n], NAMES, examples=EXAMPLES) for n in names]
    else:
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = [
                pool.submit(check_hypothesis, PROD, BUILTIN[n], NAMES, examples=EXAMPLES)
                for n in names
            ]
            found = [f.result() for f in futures]
    return {n: {r.property: r for r in rs} for n, rs in zip(names, found, strict=True)}


# --- verdicts -----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("policy", sorted(BUILTIN))
def test_pinned_verdicts(policy: str, verdicts: dict[str, dict[str, Result]]) -> None:
    got = {name: r.status for name, r in verdicts[policy].items()}
    assert list(got) == list(NAMES)
    assert got == PINNED[policy]
    for r in verdicts[policy].values():
        assert r.engine == "hypothesis" and r.policy == policy


@pytest.mark.slow
@pytest.mark.parametrize("policy", sorted(BUILTIN))
def test_declared_verdicts(policy: str, verdicts: dict[str, dict[str, Result]]) -> None:
    got = verdicts[policy]
    for name in MUST_BREAK.get(policy, frozenset()):
        assert got[name].status is Status.VIOLATED, f"{policy} should break {name}"
    for name in MUST_HOLD.get(policy, frozenset()):
        assert got[name].status is Status.HOLDS, f"{policy} should hold {name}"


def _cell(r: Result, declared: bool) -> str:
    if r.status is Status.VIOLATED:
        return "**V**" if declared else "V"
    return "h*" if r.witnessed is False else "h" if r.status is Status.HOLDS else "?"


@pytest.mark.slow
def test_the_policies_page_shows_what_both_engines_find(
    verdicts: dict[str, dict[str, Result]],
) -> None:
    # docs/policies.md "What the model finds": this search (H) and the exhaustive
    # engine at small, one user, limit 1 (E), cell for cell, bold where declared.
    small = preset("small").with_(users=1, limit=1)
    order = ["conservative", "graduated", "reference"]
    exhaustive = {p: check_exhaustive(small, BUILTIN[p], NAMES) for p in order}

    def row(i: int, name: str) -> str:
        cells = []
        for p in order:
            d = name in MUST_BREAK.get(p, frozenset())
            cells.append(f"{_cell(verdicts[p][name], d)} / {_cell(exhaustive[p][i], d)}")
        return f"| `{name}` | " + " | ".join(cells) + " |"

    page = (Path(__file__).parents[1] / "docs" / "policies.md").read_text()
    section = page.split("## What the model finds", 1)[1]
    got = [line for line in section.splitlines() if line.startswith("| `")][: len(NAMES)]
    assert got == [row(i, name) for i, name in enumerate(NAMES)]


@pytest.mark.slow
def test_conservative_permanent_block_shrinks_short(
    verdicts: dict[str, dict[str, Result]],
) -> None:
    ce = verdicts["conservative"]["no_permanent_block"].counterexample
    assert ce is not None
    assert ce.length() <= 2 * LIMIT + 5
    assert ce.probe_from is not None and ce.cycle  # a fixed fair schedule that loops
    assert not any(a.fault for a in (*ce.steps[ce.probe_from :], *ce.cycle))


@pytest.mark.slow
def test_reference_safety_claims_are_witnessed(verdicts: dict[str, dict[str, Result]]) -> None:
    for name, r in verdicts["reference"].items():
        if BY_NAME[name].witness is not None:
            assert r.witnessed is True, f"{name} holds vacuously: its witness was never reached"
        else:
            assert BY_NAME[name].kind in (Kind.LIVENESS, Kind.BOUNDED)


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["conservative", "graduated"])
def test_counterexamples_replay_and_reproduce_the_violation(
    policy: str, verdicts: dict[str, dict[str, Result]], reproduces: Callable[..., None]
) -> None:
    pol = BUILTIN[policy]
    violated = [r for r in verdicts[policy].values() if r.status is Status.VIOLATED]
    assert violated
    for r in violated:
        ce = r.counterexample
        assert ce is not None, r.property
        states = replay(PROD, pol, (*ce.steps, *ce.cycle))  # raises if a step is disabled
        reproduces(PROD, pol, r, states)


# --- isolation ---------------------------------------------------------------------------


def breaker_scenario(policy: Policy) -> Run:
    """User 1 fills its registry; user 0 fills its own, then five times has a manager
    go stuck and reconnects (each cleanup probes a dead peer: a failed cleanup)."""
    run = Run(PROD, policy, ())
    for user in (1, 0):
        for _ in range(LIMIT):
            run.connect(user)
    for _ in range(PROD.breaker_threshold):
        alive = [m.id for m in run.state.users[0].managers if m.phase is Phase.ACTIVE]
        assert run.apply(Stall(0, alive[0]))
        run.connect(0)
    return run


def test_isolation_replay_catches_the_shared_breaker() -> None:
    run = breaker_scenario(BUILTIN["graduated"])
    assert run.state.shared == Breaker(0, PROD.breaker_window)
    isolation_replay(run, 0)  # user 0's own history explains user 0
    with pytest.raises(Violation) as caught:
        isolation_replay(run, 1)
    v = caught.value
    assert v.prop == "isolation" and v.counterexample.user == 1
    assert v.counterexample.steps[-1] == Connect(1)
    assert "rejected" in v.counterexample.message and "admitted" in v.counterexample.message


def test_isolation_replay_passes_for_reference() -> None:
    run = breaker_scenario(BUILTIN["reference"])
    for user in (0, 1):
        isolation_replay(run, user)


def test_one_user_isolation_is_not_checked_by_the_search() -> None:
    # graduated breaks isolation (the exhaustive engine finds it with one user), but
    # with one user the search's replay has nobody to leave out: its check could not
    # fail, so the result is not-checked with the reason, not "holds".
    one = PROD.with_(users=1, limit=1)
    got = check_hypothesis(one, BUILTIN["graduated"], ["isolation", "no_leak"], examples=20)
    assert [(r.property, r.status) for r in got] == [
        ("isolation", Status.NOT_CHECKED),
        ("no_leak", Status.VIOLATED),  # the other claims are searched as usual
    ]
    assert got[0].detail == search.ONE_USER_ISOLATION and got[0].coverage["one_user"] is True
    (two,) = check_hypothesis(PROD.with_(limit=1), BUILTIN["reference"], ["isolation"], examples=5)
    assert two.status is Status.HOLDS and "one_user" not in two.coverage


class ShortOfMemoryLater(type(BUILTIN["graduated"])):  # type: ignore[misc]
    """graduated, with the machine's memory running out in every on_connect once armed."""

    name = "short-of-memory-later"
    armed = False

    def on_connect(self, registry: Registry) -> Decision:
        if self.armed:
            raise MemoryError
        return super().on_connect(registry)


class RaisesAtTheLimit(type(BUILTIN["reference"])):  # type: ignore[misc]
    """reference, raising in on_connect at the limit; notes where each such call came from."""

    name = "raises-at-the-limit"

    def __init__(self) -> None:
        self.callers: list[tuple[str, ...]] = []

    def on_connect(self, registry: Registry) -> Decision:
        if registry.open_count >= registry.config.limit:
            self.callers.append(tuple(f.name for f in traceback.extract_stack()))
            raise RuntimeError("no decision at the limit")
        return super().on_connect(registry)


def test_a_failed_step_is_not_judged_again_in_the_teardown() -> None:
    # Hypothesis tears a run down after a failed step too. The teardown used to judge the
    # liveness claims from there, calling the policy again: a policy that hangs was
    # waited on twice as long (twice the watchdog's limit) and its error raised twice.
    policy = RaisesAtTheLimit()
    one = PROD.with_(users=1, limit=1)
    with pytest.raises(PolicyError, match="no decision at the limit"):
        check_hypothesis(one, policy, ["no_permanent_block"], examples=20)
    assert policy.callers  # the search reached the limit
    assert not [c for c in policy.callers if "teardown" in c]


def test_a_lost_ctrl_c_is_raised_once_by_the_next_step() -> None:
    # One Ctrl-C, one interrupt: the step that raises it clears it, so what the process
    # runs next is not interrupted too.
    run = Run(PROD.with_(users=1, limit=1), BUILTIN["reference"], [])
    LOST_INTERRUPT[0] = KeyboardInterrupt()
    try:
        with pytest.raises(KeyboardInterrupt):
            run.apply(Connect(0))
        assert LOST_INTERRUPT == [None]
        assert run.apply(Connect(0))
    finally:
        LOST_INTERRUPT[0] = None


def test_a_driver_that_fails_its_own_check_is_not_judged_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A lockstep driver (own-policy.md) overrides apply and asserts after the model's
    # step: that failure ends the run too, so the teardown must not judge the liveness
    # claims on it (calling the policy again, and perhaps raising a violation of its own).
    failed: list[Run] = []
    judged: list[Run] = []

    class Mismatch(Run):
        def apply(self, action: Action) -> bool:
            taken = super().apply(action)
            if isinstance(action, Connect):
                failed.append(self)
                raise AssertionError("the real registry disagreed")
            return taken

    real = search.check_recovery

    def noted(run: Run, *args: Any) -> None:
        judged.append(run)
        real(run, *args)

    monkeypatch.setattr(search, "check_recovery", noted)
    one = PROD.with_(users=1, limit=1)
    machine = search.machine_for(
        one, BUILTIN["reference"], ["no_permanent_block"], run_class=Mismatch
    )
    with pytest.raises(AssertionError, match="the real registry disagreed"):
        run_state_machine_as_test(machine, settings=settings(max_examples=5, database=None))
    assert failed and judged  # runs failed, and runs without a connect were judged
    assert not [r for r in judged if any(r is f for f in failed)]


def test_memory_running_out_mid_search_keeps_what_was_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The first search finds no_leak broken; the memory runs out in the second (armed
    # as it starts), which searches the rest: those are not-checked, no_leak keeps its
    # counterexample.
    policy = ShortOfMemoryLater()
    calls = []
    real = search.find_violation

    def second_runs_short(*args: object, **kwargs: object) -> Violation | None:
        calls.append(1)
        policy.armed = len(calls) > 1
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(search, "find_violation", second_runs_short)
    one = PROD.with_(users=1, limit=1)
    got = check_hypothesis(
        one, policy, ["no_leak", "per_user_limit", "zombies_reaped"], examples=20
    )
    assert len(calls) == 2
    _kept_then_stopped(got, search.OUT_OF_MEMORY, "memory")


def _kept_then_stopped(got: list[Result], detail: str, stopped_by: str) -> None:
    """no_leak broken by the first search; the second stopped, leaving the rest."""
    assert [(r.property, r.status) for r in got] == [
        ("no_leak", Status.VIOLATED),
        ("per_user_limit", Status.NOT_CHECKED),
        ("zombies_reaped", Status.NOT_CHECKED),
    ]
    assert got[0].counterexample is not None and "stopped_by" not in got[0].coverage
    assert [r.detail for r in got[1:]] == [detail] * 2
    assert [r.coverage["stopped_by"] for r in got[1:]] == [stopped_by] * 2


@pytest.mark.parametrize("short_of", ["memory", "time"])
def test_running_out_while_minimizing_keeps_the_violation(
    monkeypatch: pytest.MonkeyPatch, short_of: str
) -> None:
    # The violation was found: minimizing is only shortening it, and a MemoryError or
    # the deadline there leaves the shortest found so far (once it turned the claim
    # into not-checked).
    one = PROD.with_(users=1, limit=1)
    found = find_violation(one, BUILTIN["graduated"], ["no_leak"], examples=20)
    assert found is not None
    raw = Violation("no_leak", found.counterexample)

    def short_of_memory(*args: object) -> None:
        raise MemoryError

    if short_of == "memory":
        monkeypatch.setattr(search, "reproduce", short_of_memory)
    else:
        monkeypatch.setattr(search, "_DEADLINE", [0.0])  # long past
    kept = search.minimize(one, BUILTIN["graduated"], raw, 10.0)
    assert kept.counterexample is raw.counterexample
    # and it says what ran out: the counterexample may be longer than needed
    assert kept.cut_short == ("the machine's memory" if short_of == "memory" else "the time budget")


def test_a_counterexample_left_long_by_its_attempts_says_so_and_only_then(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    one = PROD.with_(users=1, limit=1)
    # Given time, minimizing runs until nothing more can go, and says nothing.
    (done,) = check_hypothesis(one, BUILTIN["graduated"], ["no_leak"], examples=20)
    assert done.status is Status.VIOLATED and "not_shortest" not in done.coverage, done
    monkeypatch.setattr(search, "MINIMIZE_ATTEMPTS", 3)
    (cut,) = check_hypothesis(one, BUILTIN["graduated"], ["no_leak"], examples=20)
    assert cut.status is Status.VIOLATED and cut.coverage["not_shortest"] is True
    assert cut.counterexample is not None and done.counterexample is not None
    assert cut.counterexample.length() > done.counterexample.length()
    assert cut.detail == (
        "shortening this counterexample stopped when its 3 attempts ran out: it may be "
        "longer than needed"
    )
    # Exactly the attempts a full shortening takes: it reached its end, and says nothing
    # (a review's: the last attempt of a pass that changed nothing was taken as cut).
    used = [0]
    real = search.reproduce

    def counted(*args: Any) -> Any:
        used[0] += 1
        return real(*args)

    monkeypatch.setattr(search, "MINIMIZE_ATTEMPTS", 10**6)
    monkeypatch.setattr(search, "reproduce", counted)
    check_hypothesis(one, BUILTIN["graduated"], ["no_leak"], examples=20)
    monkeypatch.setattr(search, "MINIMIZE_ATTEMPTS", used[0])
    (exact,) = check_hypothesis(one, BUILTIN["graduated"], ["no_leak"], examples=20)
    assert exact.counterexample == done.counterexample and "not_shortest" not in exact.coverage


def test_time_running_out_mid_search_keeps_what_was_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The first search finds no_leak broken; the time budget has run out when the
    # second starts: the rest are not-checked, no_leak keeps its counterexample.
    calls = []
    real = search.find_violation

    def second_runs_late(*args: object, **kwargs: object) -> Violation | None:
        calls.append(1)
        if len(calls) > 1:
            search._DEADLINE[0] = 0.0  # long past
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(search, "find_violation", second_runs_late)
    one = PROD.with_(users=1, limit=1)
    props = ["no_leak", "per_user_limit", "zombies_reaped"]
    got = check_hypothesis(one, BUILTIN["graduated"], props, examples=20, timeout=600)
    assert len(calls) == 2
    _kept_then_stopped(got, search.out_of_time(600), "timeout")
    assert search._DEADLINE[0] == float("inf")  # replays after the search are not cut


@pytest.mark.parametrize("behind", ["context", "deadline"])
def test_a_run_the_budget_cut_short_is_not_read_as_flaky(
    monkeypatch: pytest.MonkeyPatch, behind: str
) -> None:
    # Hypothesis reported a run that OutOfTime stopped midway as Flaky ("the second run
    # stopped drawing earlier"): exit 4 for a built-in, exit 3 for a user's policy (a
    # review's, at some timeouts only). Either the OutOfTime is behind the error, or the
    # deadline has passed: the search stopped for time, not for a policy's fault.
    def flaky(machine: object, settings: object) -> None:
        if behind == "deadline":  # passed a second ago
            raise Flaky("The second run stopped drawing earlier")
        try:
            raise search.OutOfTime
        except search.OutOfTime as stop:
            raise Flaky("The second run stopped drawing earlier") from stop

    monkeypatch.setattr(search, "run_state_machine_as_test", flaky)
    deadline = time.monotonic() - 1 if behind == "deadline" else 1e18
    monkeypatch.setattr(search, "_DEADLINE", [deadline])
    with pytest.raises(search.OutOfTime):
        find_violation(PROD.with_(users=1, limit=1), BUILTIN["reference"], ["no_leak"], examples=1)


def test_a_failing_run_is_replayed_whatever_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    # Hypothesis replays a failing run to report it; the deadline passing during the
    # replay lost the violation (a review's). Once a run fails the deadline is lifted,
    # and put back when the search is over.
    one = PROD.with_(users=1, limit=1)
    lifted = []
    real = search.run_state_machine_as_test

    def reporting(machine: Any, settings: Any) -> None:
        try:
            real(machine, settings=settings)
        except Violation:  # after Hypothesis's replay of the failing run
            lifted.append(search._DEADLINE[0])
            raise

    monkeypatch.setattr(search, "run_state_machine_as_test", reporting)
    monkeypatch.setattr(search, "_DEADLINE", [1e18])
    got = find_violation(one, BUILTIN["graduated"], ["no_leak"], examples=20)
    assert got is not None and got.prop == "no_leak"
    assert lifted == [float("inf")]
    assert search._DEADLINE[0] == 1e18


# --- mutants -----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mutant", "prop", "max_length"), MUTANTS, ids=[m[0].name for m in MUTANTS]
)
def test_mutant_is_caught_by_the_search(mutant: Policy, prop: str, max_length: int) -> None:
    found = find_violation(PROD, mutant, [prop], examples=EXAMPLES)
    assert found is not None, f"{mutant.name}: {prop} not found in {EXAMPLES} examples"
    assert found.prop == prop and not found.cut_short  # shortened as far as it goes
    ce = found.counterexample
    assert ce.length() <= max_length, (mutant.name, ce.length())
    states = replay(PROD, mutant, ce.steps)
    check = BY_NAME[prop].check
    assert check is not None
    assert check(PROD, mutant, states[-2], ce.steps[-1], states[-1]) == ce.message


def shortest_known(mutant: Policy, prop: str) -> Run:
    """A short run, by hand, through the search's own driver, that breaks ``prop``:
    the bound in MUTANTS is achievable, so the search has no excuse to exceed it."""
    run = Run(PROD, mutant, [prop])
    if prop == "no_leak":  # connect, close, wait past R
        run.connect(0)
        run.apply(ClientClose(0, 0))
        run.advance(PROD.reaper_period + 5)
        return run
    for _ in range(LIMIT):  # fill the registry
        run.connect(0)
    if prop == "cleanup_terminates":  # one zombie, overdue but not yet aborted
        run.apply(Stall(0, 0))
        run.advance(PROD.verdict_after)
    if mutant.name == "mutant-counts-answering":  # one zombie, silent past H
        run.apply(Stall(0, 0))
        run.advance(PROD.heartbeat_interval + 1)
    run.connect(0)
    return run


@pytest.mark.parametrize(
    ("mutant", "prop", "max_length"), MUTANTS, ids=[m[0].name for m in MUTANTS]
)
def test_mutant_bound_is_achievable(mutant: Policy, prop: str, max_length: int) -> None:
    with pytest.raises(Violation) as caught:
        shortest_known(mutant, prop)
    assert caught.value.prop == prop
    assert caught.value.counterexample.length() <= max_length


def test_mutants_each_change_one_builtin() -> None:
    names = [m.name for m, _, _ in MUTANTS]
    assert len(set(names)) == len(names) >= 4
    for mutant, prop, _ in MUTANTS:
        assert prop in NAMES
        assert any(isinstance(mutant, type(b)) for b in BUILTIN.values()), mutant.name
        assert mutant.name not in BUILTIN


# --- profiles ------------------------------------------------------------------------------


def test_ci_profile_is_derandomized() -> None:
    ci = settings.get_profile("ci")
    assert ci.derandomize and ci.database is None
    if os.environ.get("CI"):
        assert settings.default.derandomize


def test_gc_tuning_applies_inside_and_is_undone_after() -> None:
    import gc

    from wsmodel.properties.results import gc_tuned

    before = (gc.isenabled(), gc.get_threshold())
    seen = []

    @gc_tuned(None)
    def paused() -> None:
        seen.append((gc.isenabled(), gc.get_threshold()[0]))

    @gc_tuned(12_345)
    def relaxed() -> None:
        seen.append((gc.isenabled(), gc.get_threshold()[0]))
        raise ValueError("undone even when the checker raises")

    paused()
    with pytest.raises(ValueError):
        relaxed()
    assert seen == [(False, before[1][0]), (before[0], 12_345)]
    assert (gc.isenabled(), gc.get_threshold()) == before


def test_a_long_search_reports_how_far_it_got(monkeypatch: pytest.MonkeyPatch) -> None:
    # With the interval at 0 every run is reported; a search that finds nothing says so.
    monkeypatch.setattr(search, "PROGRESS_SECONDS", 0.0)
    seen: list[str] = []
    cfg = preset("small").with_(users=1, limit=1)
    check_hypothesis(
        cfg, BUILTIN["reference"], ["per_user_limit"], examples=5, progress=seen.append
    )
    assert seen[0] == "reference: searching per_user_limit"
    runs = [line for line in seen if line.endswith(" runs so far)")]
    counts = [int(line.split("(")[1].split()[0]) for line in runs]
    # every run's start, and its steps in between
    assert counts and counts == sorted(counts) and set(counts) == set(range(1, max(counts) + 1))
    assert len(counts) > max(counts)  # reported from the steps too, not only the starts
    assert seen[-1] == "reference: no violation of per_user_limit found"
    assert search._HEARTBEAT[0] is None  # nothing reports once the search is over


class Alternating(Policy):
    """Admits every other connect, counted over all users: a shared state hazard."""

    name = "alternating"

    def initial_shared(self) -> int:
        return 0

    def on_connect(self, registry: Registry) -> Decision:
        count = registry.shared
        assert isinstance(count, int)
        registry.shared = count + 1
        return Admit() if registry.shared % 2 else Reject()


def test_isolation_replay_compares_the_users_own_connects() -> None:
    # User 1's connect makes user 0's connect in the same instant a rejection: the
    # counterexample ends with that connect, decided as its message says.
    run = Run(PROD, Alternating(), ())
    assert run.apply(Connect(1)) and run.apply(Connect(0))
    with pytest.raises(Violation) as caught:
        isolation_replay(run, 0)
    cx = caught.value.counterexample
    assert cx.steps == (Connect(1), Connect(0))
    assert cx.message.startswith("user 0's last connect is rejected, but would be admitted")
    assert "(the shared policy state: 1 in this run, 0 alone)" in cx.message
