"""The explorer: canonical forms are sound, budgets stop cleanly, the graph view."""

from __future__ import annotations

import importlib
import re
import resource
from collections.abc import Callable, Hashable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from wsmodel.model import (
    BUILTIN,
    Config,
    Connect,
    Decision,
    Policy,
    Reference,
    Registry,
    State,
    Transport,
    UserState,
    enabled,
    preset,
    start,
    step,
)
from wsmodel.properties import exhaustive, memory
from wsmodel.properties.catalogue import NAMES
from wsmodel.properties.exhaustive import check_exhaustive, run_exhaustive
from wsmodel.properties.explore import (
    FLAG_ADMITTED,
    Forget,
    StateGraph,
    canonical,
    explore,
    real_trace,
    summary,
    to_networkx,
)
from wsmodel.properties.results import Result, Status, replay

LEFT_MB = memory.left_mb  # before tests/conftest.py patches it for every test
# the module (the package exports the function of the same name)
model_step = importlib.import_module("wsmodel.model.step")
SMALL2 = preset("small").with_(users=2, limit=1)
DEPTH = 7  # complete two-user graphs are too large for the suite; compare to a depth


def _maps_onto(unreduced: StateGraph, reduced: StateGraph) -> bool:
    """The reduction's images of the unreduced states are exactly the reduced states,
    each at the depth of its shallowest preimage (so shortest traces stay shortest)."""
    shallowest: dict[State, int] = {}
    for s, d in zip(unreduced.states, unreduced.depth, strict=True):
        image = canonical(s, reduced.user_rank, reduced.symmetry, reduced.forget)[0]
        shallowest[image] = min(d, shallowest.get(image, d))
    return set(shallowest) == set(reduced.states) and all(  # onto, and nothing else
        reduced.depth[reduced.id_of(image)] == d for image, d in shallowest.items()
    )


def _same_edges(unreduced: StateGraph, reduced: StateGraph) -> bool:
    """Complete one-user graphs: every action leads to the image of where it led
    unreduced, and nowhere else. (A reduction can keep the set of states and still
    change where an action leads from one of them.)"""

    def edges(g: StateGraph, image: Callable[[State], State]) -> set[tuple[State, str, State]]:
        return {
            (image(g.states[s]), str(g.actions[g.act[e]]), image(g.states[g.dst[e]]))
            for s in range(g.expanded)
            for e in g.out_edges(s)
        }

    assert unreduced.complete and reduced.complete and unreduced.config.users == 1
    forget = reduced.forget
    return edges(unreduced, lambda st: canonical(st, {}, False, forget)[0]) == edges(
        reduced, lambda st: st
    )


@pytest.mark.parametrize("policy", sorted(BUILTIN))
def test_reduction_maps_unreduced_onto_reduced(policy: str) -> None:
    pol = BUILTIN[policy]
    reduced = explore(SMALL2, pol, symmetry=True, forget=True, max_depth=DEPTH)
    unreduced = explore(SMALL2, pol, symmetry=False, max_depth=DEPTH)
    assert len(unreduced.states) > len(reduced.states)
    assert _maps_onto(unreduced, reduced)


def _figures(r: Result) -> str:
    # the detail without the counts that a reduction is meant to change
    counts = r"[\d,]+ (reachable|distinct user projections)"
    return re.sub(counts, "N", r.detail)


@pytest.mark.parametrize("policy", sorted(BUILTIN))
def test_forgetting_ages_agrees_with_the_complete_unreduced_graph(policy: str) -> None:
    # Complete one-user graphs: the forgetting reduction alone (one user has no symmetry)
    # maps onto the reduced graph and changes no verdict, figure or counterexample length.
    pol = BUILTIN[policy]
    cfg = preset("small").with_(users=1, limit=1)
    plain = run_exhaustive(cfg, pol, NAMES, reduction=False)
    forgot = run_exhaustive(cfg, pol, NAMES, reduction=True)
    assert plain.graph.complete and forgot.graph.complete
    assert forgot.graph.forget.live_phase_age and forgot.graph.forget.age == (not pol.reads_age)
    assert len(forgot.graph.states) < len(plain.graph.states)
    assert _maps_onto(plain.graph, forgot.graph)
    assert _same_edges(plain.graph, forgot.graph)
    for a, b in zip(plain.results, forgot.results, strict=True):
        assert (a.property, a.status, a.witnessed) == (b.property, b.status, b.witnessed)
        assert _figures(a) == _figures(b)
        if a.counterexample or b.counterexample:
            assert a.counterexample and b.counterexample
            assert a.counterexample.length() == b.counterexample.length(), a.property


class OldestGoes(Reference):
    """At the limit, first aborts every open entry older than 2 ticks: reads age."""

    name = "oldest-goes"
    reads_age = True

    def on_connect(self, registry: Registry) -> Decision:
        if registry.open_count >= registry.config.limit:
            for e in registry.entries:
                if e.transport is Transport.OPEN and e.age > 2:
                    registry.abort(e.id)
        return super().on_connect(registry)


def test_the_comparison_catches_forgetting_an_age_that_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Negative control for the two checks above: an engine that forgot `age` although
    # the policy reads it must be told apart from the unreduced graph.
    pol = OldestGoes()
    cfg = preset("small").with_(users=1, limit=1)
    plain = explore(cfg, pol, symmetry=False)
    assert _same_edges(plain, explore(cfg, pol, forget=True))  # live phase_age only
    monkeypatch.setattr(Forget, "unobserved", classmethod(lambda cls, p: cls(True, True)))
    wrong = explore(cfg, pol, forget=True)
    assert wrong.complete and wrong.forget.age
    assert not (_maps_onto(plain, wrong) and _same_edges(plain, wrong))


def _whole_state_bfs(config: Config, policy: Policy, max_depth: int) -> dict[State, list]:
    """A plain BFS straight from the model's enabled() and step() on whole states (keys
    renumbered, nothing else): each state's (action, successor, admitted) list, in
    enabled order. The model's plan cache is bypassed, so its key is checked too."""
    s0 = canonical(start(config, policy), {}, False)[0]
    depth = {s0: 0}
    out: dict[State, list] = {}
    queue = [s0]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(model_step, "_plan", model_step._plan.__wrapped__)
        for s in queue:
            if depth[s] >= max_depth:
                continue
            out[s] = []
            for a in enabled(config, policy, s):
                t = step(config, policy, s, a)
                assert t is not None
                c = canonical(t, {}, False)[0]
                grew = isinstance(a, Connect) and t.users[a.user].next_id > s.users[a.user].next_id
                out[s].append((str(a), c, grew))
                if c not in depth:
                    depth[c] = depth[s] + 1
                    queue.append(c)
    return out


class SweepTogglesShared(Reference):
    """Each sweep flips the shared value between None and "A", and time must never pass
    with "A": its tick_shared raises. Both users' sweeps fall due together, so no
    reachable state with "A" lets time pass; only an engine that ticks where Tick is
    not enabled would ever call it."""

    name: ClassVar[str] = "test-sweep-toggles-shared"

    def on_connect(self, registry: Registry) -> Decision:
        # Reference's cleanup runs its sweep; keep the toggle to the periodic one.
        shared = registry.shared
        decision = super().on_connect(registry)
        registry.shared = shared
        return decision

    def sweep(self, registry: Registry) -> None:
        super().sweep(registry)
        registry.shared = "A" if registry.shared is None else None

    def tick_shared(self, shared: Hashable) -> Hashable:
        if shared == "A":
            raise RuntimeError("time passed while a sweep was half done")
        return shared


@pytest.mark.parametrize(
    ("policy", "users", "depth"),
    [(BUILTIN[p], 2, 8) for p in sorted(BUILTIN)]
    + [(BUILTIN["graduated"], 3, 6), (BUILTIN["conservative"], 3, 6)]
    + [(SweepTogglesShared(), 2, 8)],
    ids=lambda x: getattr(x, "name", str(x)),
)
def test_assembling_users_moves_agrees_with_whole_state_steps(
    policy: Policy, users: int, depth: int
) -> None:
    # The engine steps each user alone and assembles whole states (decision 0013); the
    # model's locality is what makes that sound. Every expanded state must have exactly
    # the model's actions, in the model's order, leading to the model's successors.
    cfg = preset("small").with_(users=users, limit=1)
    plain = _whole_state_bfs(cfg, policy, depth)
    g = explore(cfg, policy, symmetry=False, max_depth=depth)
    assembled = {
        g.states[s]: [
            (str(g.actions[g.act[e]]), g.states[g.dst[e]], bool(g.flags[e] & FLAG_ADMITTED))
            for e in g.out_edges(s)
        ]
        for s in range(g.expanded)
    }
    assert assembled == plain


@pytest.mark.parametrize(
    ("policy", "users"), [(p, 3) for p in sorted(BUILTIN)] + [("graduated", 2), ("reference", 6)]
)
def test_sorted_users_and_their_permutations_match_canonical(policy: str, users: int) -> None:
    # With user symmetry the engine places the moved user among the others' sorted ids
    # itself (decision 0013) instead of sorting. Every edge must lead to the canonical
    # form of the model's successor, with the permutation canonical() gives (raw user
    # -> canonical position; the liveness claims follow a user by it), ties included.
    pol = BUILTIN[policy]
    cfg = preset("small").with_(users=users, limit=1)
    # 6 users: 720 permutations, more codes than a byte holds (once an internal error)
    g = explore(cfg, pol, forget=True, max_depth={2: 9, 3: 6, 6: 4}[users])
    moved = 0
    for s in range(g.expanded):
        for e in g.out_edges(s):
            t = step(cfg, pol, g.states[s], g.actions[g.act[e]])
            assert t is not None
            image, relabel = canonical(t, g.user_rank, True, g.forget)
            assert image == g.states[g.dst[e]]
            inverse = tuple(relabel.users.index(raw) for raw in range(users))
            assert g.perms[g.perm[e]] == inverse
            moved += inverse != tuple(range(users))
    assert moved  # the comparison saw users change places
    assert max(g.perm) > 255 or users < 6


@pytest.mark.parametrize("policy", sorted(BUILTIN))
def test_renumbering_manager_keys_loses_nothing(policy: str) -> None:
    pol = BUILTIN[policy]
    cfg = preset("small").with_(users=1, limit=1)
    raw = explore(cfg, pol, symmetry=False, renumber=False, max_depth=8)
    canon = explore(cfg, pol, symmetry=False, max_depth=8)
    images = {canonical(s, canon.user_rank, False)[0] for s in raw.states}
    assert images == set(canon.states)


def test_traces_replay_through_the_model() -> None:
    g = explore(SMALL2, BUILTIN["graduated"], max_depth=6)
    for s in range(0, len(g.states), 97):
        actions, real = real_trace(g, g.path_to(s))
        states = replay(SMALL2, BUILTIN["graduated"], actions)
        assert states[-1] == real
        assert canonical(real, g.user_rank, True)[0] == g.states[s]


def test_budgets_stop_cleanly_and_leave_claims_unproven() -> None:
    # reference holds everything here (2,620 states), so a budget below that must leave
    # every claim unproven rather than report "holds"
    cfg = preset("small").with_(users=1, limit=1)
    results = check_exhaustive(cfg, BUILTIN["reference"], NAMES, max_states=1000)
    assert {r.status for r in results} == {Status.NOT_CHECKED}
    for r in results:
        assert r.coverage["complete"] is False
        assert r.coverage["states"] == 1000
        assert r.scope.startswith("stopped by max_states")
    timed = check_exhaustive(cfg, BUILTIN["reference"], ["per_user_limit"], timeout=0.0)
    assert timed[0].status is Status.NOT_CHECKED


def test_violations_found_within_a_budget_are_reported() -> None:
    cfg = preset("small").with_(users=1, limit=1)
    (r,) = check_exhaustive(cfg, BUILTIN["graduated"], ["no_healthy_eviction"], max_states=200)
    assert r.status is Status.VIOLATED and r.coverage["complete"] is False


def test_progress_is_reported() -> None:
    seen: list[str] = []
    cfg = preset("small").with_(users=1, limit=1)
    check_exhaustive(cfg, BUILTIN["reference"], ["per_user_limit"], progress=seen.append)
    assert any("states" in line for line in seen)
    assert all(line.startswith("reference exhaustive: ") for line in seen)
    assert seen[-1] == "reference exhaustive: judging per_user_limit"
    assert "stopped by" not in " ".join(seen)
    cut: list[str] = []
    check_exhaustive(
        cfg, BUILTIN["reference"], ["per_user_limit"], max_states=100, progress=cut.append
    )
    (explored,) = [line for line in cut if "explored" in line]
    # with how large a registry got: entries piling up past the limit are why some
    # spaces never end (at limit 1, reference holds a closing entry beside a new one)
    assert explored.endswith(
        "; stopped by max_states, not every state expanded; "
        "the largest registry held 2 managers (closing and closed ones included; limit 1)"
    )


def test_networkx_view() -> None:
    cfg = preset("small").with_(users=1, limit=1)
    from wsmodel.properties.exhaustive import run_exhaustive

    report = run_exhaustive(cfg, BUILTIN["conservative"], ["no_leak"])
    view = to_networkx(report.graph)
    assert view.number_of_nodes() == len(report.graph.states)
    assert all("summary" in d and "violates" in d for _, d in view.nodes(data=True))
    assert any("no_leak" in d["violates"] for _, d in view.nodes(data=True))
    assert all(isinstance(d["action"], str) for _, _, d in view.edges(data=True))
    # Which step broke a claim is on the edge (a node can be reached by an innocent
    # step too: a trial read depth 1's state as the bad one); and parallel steps all show.
    bad = [(s, t, d) for s, t, d in view.edges(data=True) if "no_leak" in d["violates"]]
    assert bad and all("no_leak" in view.nodes[t]["violates"] for _, t, _ in bad)
    assert {t for _, t, _ in bad} == {n for n, d in view.nodes(data=True) if d["violates"]}
    graph = report.graph
    assert sum(len(d["actions"]) for _, _, d in view.edges(data=True)) == graph.edges
    assert len(graph.bad_edges["no_leak"]) >= len(bad)
    # a policy's own state is in the summary too, as on the state lines
    state = State((UserState((), 0, 0, 0, 3),), "open")
    assert summary(state) == "u0[] memory=3 shared=open"


def test_judging_stops_when_the_budget_runs_out_mid_claim(monkeypatch: pytest.MonkeyPatch) -> None:
    # the budget is left when no_permanent_block's judging starts and gone while it
    # builds its graph: that claim stops there, not-checked, and the run goes no further
    now = [0.0]
    monkeypatch.setattr(exhaustive, "time", SimpleNamespace(perf_counter=lambda: now[0]))
    build = exhaustive._Judge._build_followed

    def late(judge: exhaustive._Judge) -> object:
        now[0] = 100.0
        return build(judge)

    monkeypatch.setattr(exhaustive._Judge, "_build_followed", late)
    cfg = preset("small").with_(users=1, limit=1)
    claims = ["no_permanent_block", "bounded_recovery"]
    seen: list[str] = []
    got = check_exhaustive(cfg, BUILTIN["reference"], claims, timeout=10, progress=seen.append)
    assert [r.status for r in got] == [Status.NOT_CHECKED, Status.NOT_CHECKED]
    assert "the 10 s budget ran out while this claim was judged" in got[0].detail
    assert seen[-1] == (
        "reference exhaustive: the 10 s budget ran out while judging no_permanent_block"
    )
    assert "ran out before this claim was judged" in got[1].detail


def test_the_time_budget_covers_judging(monkeypatch: pytest.MonkeyPatch) -> None:
    # exploration finishes well within the budget, but judging finds it spent: a claim
    # not yet judged is not-checked, unless it was already seen broken (violated, with
    # the exploration's path to it)
    cfg = preset("small").with_(users=1, limit=1)
    names = ["no_healthy_eviction", "per_user_limit"]  # not the judging order: put back
    ticks = iter([0.0])  # the run starts at 0; every later reading says 1 s later
    clock = SimpleNamespace(perf_counter=lambda: next(ticks, 1.0))
    monkeypatch.setattr(exhaustive, "time", clock)
    got = check_exhaustive(cfg, BUILTIN["graduated"], names, timeout=0.5)
    assert [r.property for r in got] == names
    assert [r.status for r in got] == [Status.VIOLATED, Status.NOT_CHECKED]
    assert all("budget ran out before this claim was judged" in r.detail for r in got)
    assert got[0].counterexample is not None and "not sought shortest" in got[0].detail


def _consistent(g: StateGraph) -> None:
    """What every later stage assumes of a graph, complete or cut short."""
    n = len(g.states)
    assert len(g.user_ids) == len(g.depth) == len(g.parent) == len(g.parent_act) == n
    assert sorted(g.index.values()) == list(range(n))
    assert all(
        g.index[(*ids, s.shared)] == i
        for i, (ids, s) in enumerate(zip(g.user_ids, g.states, strict=True))
    )
    assert len(g.user_rank) == len(g.user_states)
    assert len(g.action_code) == len(g.actions)
    assert g.edge_start[-1] == len(g.dst) == len(g.act) == len(g.perm) == len(g.flags)
    assert all(j < n for j in g.dst) and all(e < len(g.dst) for e, _ in g.move_violations)


@pytest.mark.parametrize("where", ["a new state", "an edge", "a new user state", "a new action"])
def test_running_out_of_memory_while_exploring_stops_cleanly(
    monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    # The machine's memory can run out before the budget does (another process, a
    # ulimit): the run then stops as a budget stop would, with a graph every later stage
    # can read, wherever in the hot loop the MemoryError came.
    explore_module = importlib.import_module("wsmodel.properties.explore")
    full = explore(SMALL2, BUILTIN["graduated"], forget=True, max_states=5000)
    made = [0]
    # the first 5,000 states have 19 actions and 482 user states
    at = {"a new action": 10, "a new user state": 100}.get(where, 500)

    def short_of_memory(*args: object) -> None:
        made[0] += 1
        if made[0] == at:
            raise MemoryError

    class FailingList(list[Any]):
        def append(self, item: Any) -> None:
            short_of_memory()
            super().append(item)

    hook = None
    if where in ("a new user state", "a new action"):  # after its id is given, not stored
        field = "user_states" if where == "a new user state" else "actions"

        class Graph(StateGraph):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                setattr(self, field, FailingList())

        monkeypatch.setattr(explore_module, "StateGraph", Graph)
    elif where == "a new state":  # between indexing the new state and storing it
        state = explore_module.State

        def new_state(users: tuple[Any, ...], shared: object) -> State:
            if len(users) == 2:  # a whole state, not one user's alone
                short_of_memory()
            return state(users, shared)

        monkeypatch.setattr(explore_module, "State", new_state)
    else:
        hook = lambda *args: short_of_memory()  # noqa: E731 - after an edge is stored
    g = explore(SMALL2, BUILTIN["graduated"], forget=True, on_edge=hook, max_states=5000)
    assert g.stopped_by == "memory" and g.stop_detail == "a MemoryError" and not g.complete
    _consistent(g)
    # it is a prefix of the same breadth-first exploration
    assert 0 < g.expanded < len(g.states) <= len(full.states)
    assert g.states == full.states[: len(g.states)]
    assert list(g.dst) == list(full.dst[: g.edges])


class ShortOfMemory(Reference):
    """Memory runs out in the middle of its 30th connect: the machine's fault, not the
    policy's."""

    name = "short-of-memory"
    calls: ClassVar[list[int]] = [0]

    def on_connect(self, registry: Registry) -> Decision:
        self.calls[0] += 1
        if self.calls[0] == 30:
            raise MemoryError
        return super().on_connect(registry)


def test_running_out_of_memory_inside_a_policy_is_not_the_policys_fault() -> None:
    ShortOfMemory.calls[0] = 0
    g = explore(SMALL2, ShortOfMemory(), forget=True)
    assert g.stopped_by == "memory" and g.expanded > 0
    _consistent(g)


def test_running_out_of_memory_while_judging_leaves_the_claim_unchecked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def short_of_memory(judge: exhaustive._Judge) -> object:
        raise MemoryError

    monkeypatch.setattr(exhaustive._Judge, "_build_followed", short_of_memory)
    cfg = preset("small").with_(users=1, limit=1)
    seen: list[str] = []
    got = check_exhaustive(
        cfg, BUILTIN["reference"], ["no_permanent_block", "no_leak"], progress=seen.append
    )
    assert [r.status for r in got] == [Status.NOT_CHECKED, Status.HOLDS]
    assert got[0].detail == "the machine's memory ran out while this claim was judged"
    assert (
        "reference exhaustive: the machine's memory ran out while judging no_permanent_block"
        in seen
    )


def test_the_memory_budget_covers_judging(monkeypatch: pytest.MonkeyPatch) -> None:
    # exploration ends within its share; judging finds the budget spent
    readings = iter([(10.0, 10.0)])  # exploration's one check: 10 MB; every later: 100
    monkeypatch.setattr(memory, "_statm", lambda: next(readings, (100.0, 100.0)))
    cfg = preset("small").with_(users=1, limit=1)
    (r,) = check_exhaustive(cfg, BUILTIN["reference"], ["no_leak"], max_memory_mb=50)
    assert r.status is Status.NOT_CHECKED
    assert r.detail == "the 50 MB memory budget ran out before this claim was judged"


def test_a_run_stops_before_the_machine_runs_short(monkeypatch: pytest.MonkeyPatch) -> None:
    # Policies checked in parallel, or other processes, may take the memory a budget
    # counted on: a run stops while the machine still has its reserve.
    monkeypatch.setattr(memory, "_statm", lambda: (1200.0, 1000.0))  # virtual, resident
    monkeypatch.setattr(memory, "limit_mb", lambda: 10_000.0)  # reserve: 500 MB
    monkeypatch.setattr(memory, "left_mb", lambda: 600.0)  # room: 1000 + 600 - 500
    assert memory.over(8000.0) == ""
    assert memory.over(8000.0, share=0.75) == "the machine's free memory"
    assert memory.over(900.0) == "the 900 MB memory budget"
    cfg = preset("small").with_(users=1, limit=1)
    g = explore(cfg, BUILTIN["reference"], max_memory_mb=8000.0, memory_share=0.75)
    assert g.stopped_by == "memory" and g.expanded == 0
    assert g.stop_detail == "exploring's 75% of the machine's free memory"
    # under ulimit -v, the virtual size is what runs out
    monkeypatch.setattr(memory, "left_mb", lambda: None)
    monkeypatch.setattr(memory, "_address_space_mb", lambda: 1800.0)  # room: 1800 - 500
    assert memory.over(8000.0) == ""
    assert memory.over(8000.0, share=0.75) == ("the 1,800 MB address-space limit set by ulimit -v")


def test_the_memory_limit_reads_the_process_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    memory.limit_mb.cache_clear()
    unlimited = memory.limit_mb()
    assert unlimited > 0
    soft = {"RLIMIT_AS": 2**30}  # a ulimit -v of 1 GB

    def getrlimit(which: int) -> tuple[int, int]:
        name = next((k for k in soft if getattr(resource, k) == which), None)
        return (soft[name], -1) if name else (resource.RLIM_INFINITY, resource.RLIM_INFINITY)

    monkeypatch.setattr(memory.resource, "getrlimit", getrlimit)
    memory.limit_mb.cache_clear()
    try:
        assert memory.limit_mb() == min(unlimited, 1024)
    finally:
        memory.limit_mb.cache_clear()


def _cgroup_tree(root: Path, proc: Path, own: str, groups: dict[str, tuple[str, int, int]]) -> None:
    """A cgroup v2 tree: for each path, (memory.max, memory.current, inactive_file)."""
    proc.write_text(f"0::{own}\n")
    for path, (limit, current, inactive) in groups.items():
        d = root / path.lstrip("/")
        d.mkdir(parents=True, exist_ok=True)
        (d / "memory.max").write_text(f"{limit}\n")
        (d / "memory.current").write_text(f"{current}\n")
        (d / "memory.stat").write_text(f"anon 1\ninactive_file {inactive}\nactive_file 2\n")


@pytest.mark.parametrize(
    ("own", "groups", "limit", "left"),
    [
        # the own cgroup binds the limit, but the parent has less room left
        (
            "/user.slice/app.scope",
            {"/user.slice": ("8192", 7680, 0), "/user.slice/app.scope": ("4096", 1024, 0)},
            4096,
            512,
        ),
        # inactive page cache is not counted as used
        ("/app", {"/app": ("4096", 3072, 1024)}, 4096, 2048),
        # "max": no limit there, the parent's applies
        ("/a/b", {"/a": ("2048", 1024, 0), "/a/b": ("max", 100, 0)}, 2048, 1024),
        # the own path is not mounted (no cgroup namespace): the root's
        ("/docker/x", {"/": ("1024", 512, 0)}, 1024, 512),
        # no limit anywhere
        ("/a", {"/a": ("max", 100, 0)}, None, None),
    ],
)
def test_the_memory_limit_reads_the_cgroups(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    own: str,
    groups: dict[str, tuple[str, int, int]],
    limit: int | None,
    left: int | None,
) -> None:
    mib = 2**20
    tree = {
        p: (v if v == "max" else str(int(v) * mib), u * mib, i * mib)
        for p, (v, u, i) in groups.items()
    }
    _cgroup_tree(tmp_path / "cgroup", tmp_path / "self-cgroup", own, tree)
    # the machine has 64 GB available, more than any cgroup here has room for
    (tmp_path / "meminfo").write_text("MemTotal: 99999999 kB\nMemAvailable: 67108864 kB\n")
    monkeypatch.setattr(memory, "MEMINFO", tmp_path / "meminfo")
    monkeypatch.setattr(memory, "CGROUP_ROOT", tmp_path / "cgroup")
    monkeypatch.setattr(memory, "PROC_CGROUP", tmp_path / "self-cgroup")
    monkeypatch.setattr(memory.os, "sysconf", lambda name: 2**40)  # RAM: not the limit
    memory._cgroups.cache_clear()
    memory.limit_mb.cache_clear()
    try:
        cgroups = memory._cgroups()
        assert min((c.limit // mib for c in cgroups), default=None) == limit
        if limit is not None:
            assert memory.limit_mb() == limit
        # the real left_mb (tests see a patched one): the least room, the machine's
        # MemAvailable where no cgroup limits it
        assert LEFT_MB() == (65536 if left is None else left)
    finally:
        memory._cgroups.cache_clear()
        memory.limit_mb.cache_clear()
