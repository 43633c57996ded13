"""Check every catalogue claim over the whole explored state graph.

Safety claims reuse the catalogue's step predicates on every edge; each reports
whether its witness was reached and the shortest counterexample (fewest numbered
steps, as :meth:`Counterexample.length` counts them). ``no_permanent_block`` is
fair-cycle detection on strongly connected components, ``bounded_recovery`` a longest
path in ticks, and ``isolation``'s non-interference half compares what every user's
``Connect`` and ``Sweep`` do (the outcome, the cleanup's duration and awaits, the
advice, the user's state after) across states with the same projection of that user. The
definitions, the fairness assumed and the assumptions *not* made are in
docs/checking.md.
"""

from __future__ import annotations

import heapq
import time
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple, Protocol

from wsmodel.model import (
    Action,
    Config,
    Connect,
    Manager,
    Outcome,
    Phase,
    Policy,
    PolicyError,
    State,
    Sweep,
    Tick,
    UserState,
    plan_connect,
    step,
    user_of,
)
from wsmodel.model.calls import outside_call
from wsmodel.model.step import may_connect, sweep_due
from wsmodel.properties import memory
from wsmodel.properties.catalogue import (
    AFTER,
    BY_NAME,
    LIVENESS_NAMES,
    effect,
    first_difference,
    holding,
    holds_limit_in_use,
    plural,
    shown,
    ticks,
)
from wsmodel.properties.explore import (
    FLAG_ADMITTED,
    NOTHING,
    StateGraph,
    _renumber,
    explore,
    real_trace,
    relabel_of,
)
from wsmodel.properties.fairness import (
    Components,
    LabelledGraph,
    fair_components,
    find_cycle,
    longest_weighted,
    path_within,
    recovery_ticks,
    retry_product,
    strongly_connected,
)
from wsmodel.properties.results import Counterexample, Result, Status, gc_tuned

__all__ = ["ENGINE", "Report", "check_exhaustive", "run_exhaustive"]

ENGINE = "exhaustive"
# Of a time or memory budget, the share exploration may use; judging (the followed graph,
# SCCs, shortest paths) gets the rest: about a fifth of the exploration time with one
# user, about as much as exploration with two; and up to about as much memory again.
# Judging that runs out stops (_OutOfBudget).
EXPLORE_SHARE = 0.75
TICK = 1  # label: the edge is a Tick
RETRY = 2  # label: the tracked user's Connect, not admitted


@dataclass
class Report:
    results: list[Result]
    graph: StateGraph


def check_exhaustive(
    config: Config, policy: Policy, properties: Sequence[str], **options: Any
) -> list[Result]:
    """One Result per requested claim, in the order asked; ``options`` are
    :func:`run_exhaustive`'s budgets and switches."""
    return run_exhaustive(config, policy, properties, **options).results


@gc_tuned(None)  # measured: 62 s -> 55 s at limit 2
def run_exhaustive(
    config: Config,
    policy: Policy,
    properties: Sequence[str],
    *,
    max_states: int | None = None,
    timeout: float | None = None,
    reduction: bool = True,
    progress: Callable[[str], None] | None = None,
    max_memory_mb: float | None = None,
    max_depth: int | None = None,
) -> Report:
    """Explore the configuration and judge each claim; also return the graph.

    ``reduction`` turns the reductions on or off: user symmetry, forgetting ages nothing
    observes (manager keys are always renumbered), and checking the step claims once per
    distinct move of one user rather than on every whole-state step (decision 0013).
    Every reachable state is expanded. Budgets (``max_states``, ``timeout``,
    ``max_memory_mb``, resident memory, by default :func:`memory.budget_mb`,
    less if the machine runs short, :func:`memory.over`) stop the exploration cleanly;
    what was not proven is then ``not-checked``. ``timeout`` and ``max_memory_mb``
    cover judging too: exploration gets ``EXPLORE_SHARE`` of each, and a claim not yet
    judged, or still being judged, when one runs out (or the memory does) is
    ``not-checked`` (judging's long loops poll the budgets), unless an edge was already
    seen breaking it: it is then violated, traced along the BFS tree. A fault in the
    engine itself while judging one claim is reported as that claim ``not-checked`` with
    the error in its detail, never raised.
    """
    unknown = [p for p in properties if p not in BY_NAME]
    if unknown:
        raise ValueError(f"unknown propert{'y' if len(unknown) == 1 else 'ies'}: {unknown}")
    t0 = time.perf_counter()
    memory_mb = memory.budget_mb(max_memory_mb)
    wanted = list(dict.fromkeys(properties))
    checks = [(p, chk) for p in wanted if (chk := BY_NAME[p].check) is not None]
    witnesses = {p: BY_NAME[p].witness for p in wanted if BY_NAME[p].witness is not None}
    bad_edges: dict[str, array[int]] = {p: array("q") for p, _ in checks}
    witness_edge: dict[str, int] = {}

    def on_edge(i: int, s: State, a: Action, t: State, e: int) -> bool:
        # Unreduced: every claim on every whole-state step (the successors are still
        # assembled from users' moves; tests check those against whole-state step).
        if not reduction:
            for name, chk in checks:
                if chk(config, policy, s, a, t) is not None:
                    bad_edges[name].append(e)
        for name, wit in list(witnesses.items()):
            assert wit is not None
            if wit(config, policy, s, a, t):
                witness_edge[name] = e
                del witnesses[name]
        return bool(witnesses) or not reduction  # False: nothing left to see here

    def move_check(before: State, a: Action, after: State) -> tuple[str, ...]:
        # One user's move, on that user's own state (decision 0013).
        return tuple(n for n, chk in checks if chk(config, policy, before, a, after) is not None)

    g = explore(
        config,
        policy,
        symmetry=reduction,
        forget=reduction,
        max_states=max_states,
        timeout=None if timeout is None else timeout * EXPLORE_SHARE,
        max_memory_mb=memory_mb,
        memory_share=EXPLORE_SHARE,
        max_depth=max_depth,
        progress=progress,
        on_edge=on_edge,
        move_check=move_check if reduction and checks else None,
    )
    for e, broken in g.move_violations:
        for name in broken:
            bad_edges[name].append(e)
    # A budget can cut a state's expansion short; its edges are then dropped.
    for name, edges in bad_edges.items():
        kept = array("q", (e for e in edges if e < g.edges))
        if any(kept[i] > kept[i + 1] for i in range(len(kept) - 1)):
            kept = array("q", sorted(kept))  # judging bisects them
        bad_edges[name] = kept
    g.bad_edges = bad_edges
    witness_edge = {k: e for k, e in witness_edge.items() if e < g.edges}
    if progress is not None:
        cut = ""
        if not g.complete:
            cut = f"; stopped by {g.stopped_by}, not every state expanded; {_largest(g)}"
        progress(
            f"{policy.name} exhaustive: explored {len(g.states):,} states, {g.edges:,} edges{cut}"
        )

    judge = _Judge(g, _Budget(t0, timeout, memory_mb), progress)
    results: dict[str, Result] = {}
    # So that a budget decides as many claims as it can: the safety claims not seen
    # broken, then liveness, then those seen broken, which a budget cannot leave
    # undecided (out_of_budget traces them), only without the search for the shortest.
    ran_out = ""  # a budget that ran out while a claim was judged
    for name in sorted(wanted, key=lambda n: (bool(bad_edges.get(n)), n in LIVENESS_NAMES)):
        # Once one has, no more judging: what a claim had built is freed, so memory can
        # read as within the budget again, and the next claim's first allocations went
        # past it and the machine's (a trial's: killed by the kernel, every result lost).
        late = ran_out or judge.budget.spent()
        judge.cut_short = ""  # each claim's own
        if progress is not None and not late:
            progress(f"{policy.name} exhaustive: judging {name}")
        try:
            if late:
                result = judge.out_of_budget(name, late, bad_edges.get(name))
            elif name == "no_permanent_block":
                result = judge.no_permanent_block()
            elif name == "bounded_recovery":
                result = judge.bounded_recovery()
            else:
                result = judge.safety(name, bad_edges[name], witness_edge.get(name))
        except PolicyError:
            raise  # the policy's fault: the caller reports it
        except _Unproven as exc:
            result = Result(
                policy.name,
                name,
                Status.NOT_CHECKED,
                ENGINE,
                detail=str(exc),
                coverage=judge.coverage(),
                scope=judge.scope(),
            )
        except (_OutOfBudget, MemoryError) as exc:
            # MemoryError: the machine's memory ran out before the budget did. What the
            # claim's judging had built is freed as the exception unwinds.
            spent = _ran_out(exc)
            ran_out = spent
            if progress is not None:
                progress(f"{policy.name} exhaustive: {spent} ran out while judging {name}")
            result = judge.out_of_budget(name, spent, bad_edges.get(name), judging=True)
        except Exception as exc:  # an engine bug must not become a traceback or a verdict
            result = judge.engine_fault(name, exc)
        results[name] = result
    seconds = time.perf_counter() - t0
    for r in results.values():
        r.coverage["seconds"] = round(seconds, 3)
    return Report([results[name] for name in wanted], g)


# --- judging ------------------------------------------------------------------------


def _largest(g: StateGraph) -> str:
    """How large a registry the cut-short run reached: entries piling up past the limit
    (closed ones never removed, say) are why some spaces never end."""
    entries = max((len(u.managers) for u in g.user_states), default=0)
    return (
        f"the largest registry held {plural(entries, 'manager')} "
        f"(closing and closed ones included; limit {g.config.limit})"
    )


class _Judge:
    def __init__(
        self,
        g: StateGraph,
        budget: _Budget | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.g = g
        self.config = g.config
        self.policy = g.policy
        self.budget = budget or _Budget(time.perf_counter(), None, None)
        self.progress = progress
        self.cut_short = ""  # the budget that ran out while a violation's run was sought
        self._plans: dict[tuple[int, Hashable], tuple[Outcome, int | None]] = {}  # by user id
        acts = g.actions
        self.is_system = [a.system for a in acts]
        self.is_tick = [isinstance(a, Tick) for a in acts]

    # coverage and status ----------------------------------------------------------

    def coverage(self) -> dict[str, int | float | bool | str]:
        g = self.g
        cov: dict[str, int | float | bool | str] = {
            "states": len(g.states),
            "edges": g.edges,
            "depth": g.max_depth,
            "complete": g.complete,
            "stopped_by": g.stopped_by,  # which budget cut exploration short; "" if none
            "seconds": 0.0,
            "expanded": g.expanded,
            "symmetry": g.symmetry,
            "forget_age": g.forget.age,
            "forget_live_phase_age": g.forget.live_phase_age,
            "claims_per_move": g.claims_per_move,
        }
        return cov

    def scope(self) -> str:
        g = self.g
        if not g.complete:
            why = f" ({g.stop_detail})" if g.stop_detail else ""
            return (
                f"stopped by {g.stopped_by}{why} after {plural(len(g.states), 'state')} "
                f"({g.expanded:,} expanded; {_largest(g)})"
            )
        return f"all {len(g.states):,} reachable states"

    def poll(self) -> None:
        """Raise _OutOfBudget once a budget has run out (judging's long loops call it)."""
        spent = self.budget.spent()
        if spent:
            raise _OutOfBudget(spent)

    def engine_fault(self, name: str, exc: Exception) -> Result:
        if (error := outside_call(self.policy, exc)) is not None:
            raise error from exc  # the policy's code, not the engine, raised
        return Result(
            policy=self.policy.name,
            property=name,
            status=Status.NOT_CHECKED,
            engine=ENGINE,
            detail=(
                f"internal error in the exhaustive engine while judging this claim "
                f"({type(exc).__name__}: {exc}); please report it"
            ),
            coverage={**self.coverage(), "engine_fault": True},
            scope=self.scope(),
        )

    def out_of_budget(
        self, name: str, spent: str, bad: array[int] | None, judging: bool = False
    ) -> Result:
        """The result of a claim a budget (``spent``: "the 60 s budget", say) left
        unjudged."""
        when = "while" if judging else "before"
        if bad:
            # Seen broken: violated, whatever the budget. The BFS tree's path to the first
            # such edge is shortest in steps; only the search for the shortest in
            # numbered steps (as judging does) is skipped.
            e = min(bad)
            s = _source(self.g.edge_start, e)
            try:
                violation = self._violation(name, [*self.g.path_to(s), (s, self.g.act[e])])
            except Exception as exc:  # called outside the judging loop's guard
                return self.engine_fault(name, exc)
            result = self.result(
                name,
                violation,
                detail=f"{spent} ran out {when} this claim was judged: "
                "the counterexample is the exploration's first path to a violation, "
                "not sought shortest",
            )
            result.coverage["not_shortest"] = True  # the CLI says so under the message
            return result
        return Result(
            policy=self.policy.name,
            property=name,
            status=Status.NOT_CHECKED,
            engine=ENGINE,
            detail=f"{spent} ran out {when} this claim was judged",
            coverage=self.coverage(),
            scope=self.scope(),
        )

    def result(
        self,
        name: str,
        violation: Counterexample | None,
        *,
        witnessed: bool | None = None,
        detail: str = "",
    ) -> Result:
        cut = self.cut_short if violation is not None else ""
        if violation is not None:
            status = Status.VIOLATED
            if cut:
                detail = (
                    f"{cut} ran out while this claim was judged: the counterexample's run "
                    "is the exploration's first path, not sought shortest"
                    + (f"; {detail}" if detail else "")
                )
        elif self.g.complete:
            status = Status.HOLDS
        else:
            status = Status.NOT_CHECKED
        if detail and status is Status.NOT_CHECKED:
            detail = f"in the part explored, {detail}"  # not to be read as a verdict
        return Result(
            policy=self.policy.name,
            property=name,
            status=status,
            engine=ENGINE,
            counterexample=violation,
            witnessed=witnessed,
            detail=detail,
            coverage={**self.coverage(), **({"not_shortest": True} if cut else {})},
            scope=self.scope(),
        )

    # shortest paths in the Counterexample.length() metric --------------------------

    def run_to(
        self, targets: dict[int, list[tuple[str, int]]]
    ) -> tuple[list[tuple[int, int]], int]:
        """The one key's cheapest path to a state of ``targets`` (each ``(key, -1)``),
        for a violation already found: if a budget runs out while it is sought, the
        BFS tree's path to the nearest target instead (shortest in steps), and the
        violation is reported as not sought shortest, not dropped."""
        try:
            ((path, end),) = self.shortest(targets).values()
        except (_OutOfBudget, MemoryError) as exc:
            self.cut_short = _ran_out(exc)
            end = min(targets, key=lambda s: (self.g.depth[s], s))
            return self.g.path_to(end), end
        return path, end

    def shortest(self, targets: _Targets) -> dict[str, tuple[list[tuple[int, int]], int]]:
        """For each key, the cheapest path from the initial state to one of its
        targets: (state, edge) with edge -1 meaning "reach the state", else "then take
        that edge". Cost: numbered steps first, then steps. Returns key -> (path as
        (state, action code) pairs, end state)."""
        g = self.g
        big = 1 << 32
        keys = {k for lst in targets.values() for k, _ in lst}
        best: dict[str, tuple[int, int, int, int]] = {}  # key -> (cost, node, flag, edge)
        dist: dict[tuple[int, int], int] = {(0, 0): 0}
        prev: dict[tuple[int, int], tuple[int, int, int]] = {}
        heap = [(0, 0, 0)]
        is_system, is_tick = self.is_system, self.is_tick

        def cost_of(code: int, flag: int) -> tuple[int, int]:
            if is_system[code]:
                return 1, flag
            if is_tick[code]:
                return (1 if flag else big + 1), 1
            return big + 1, 0

        pops = 0
        while heap:
            pops += 1
            if pops & 4095 == 0:
                self.poll()  # a large graph's search must keep to the budget too
            d, s, flag = heapq.heappop(heap)
            if dist.get((s, flag), -1) != d:
                continue
            if len(best) == len(keys) and d >= max(b[0] for b in best.values()):
                break
            for key, e in targets.get(s, ()):
                cand = d if e < 0 else d + cost_of(g.act[e], flag)[0]
                if key not in best or cand < best[key][0]:
                    best[key] = (cand, s, flag, e)
            for e in g.out_edges(s):
                c, f2 = cost_of(g.act[e], flag)
                t = g.dst[e]
                nd = d + c
                if nd < dist.get((t, f2), 1 << 62):
                    dist[(t, f2)] = nd
                    prev[(t, f2)] = (s, flag, g.act[e])
                    heapq.heappush(heap, (nd, t, f2))
        out: dict[str, tuple[list[tuple[int, int]], int]] = {}
        for key, (_, s, flag, e) in best.items():
            path: list[tuple[int, int]] = []
            node = (s, flag)
            while node in prev:
                ps, pf, code = prev[node]
                path.append((ps, code))
                node = (ps, pf)
            path.reverse()
            end = s
            if e >= 0:
                path.append((s, g.act[e]))
                end = g.dst[e]
            out[key] = (path, end)
        return out

    def trace(self, path: list[tuple[int, int]]) -> tuple[tuple[Action, ...], State]:
        return real_trace(self.g, path)

    # safety -----------------------------------------------------------------------

    def safety(self, name: str, bad: array[int], witness: int | None) -> Result:
        violation: Counterexample | None = None
        detail = ""
        if len(bad):
            (path, _end) = self.shortest(_BadEdges(name, bad, self.g))[name]
            violation = self._violation(name, path)
        if name == "isolation":
            if violation is None:
                violation, detail = self.noninterference()
            else:
                detail = "an action of one user changed another user's state"
        detail = self._figure(name, detail, violation is not None)
        # as the search reports it: whether the witness was reached, only for a claim that held
        has_witness = BY_NAME[name].witness is not None and violation is None
        witnessed = (witness is not None) if has_witness else None
        return self.result(name, violation, witnessed=witnessed, detail=detail)

    def _violation(self, name: str, path: list[tuple[int, int]]) -> Counterexample:
        """The counterexample along ``path``, whose last edge breaks step claim ``name``,
        checked by replaying it through the model."""
        actions, final = self.trace(path)
        before = self._replay_state(actions[:-1])
        check = BY_NAME[name].check
        assert check is not None
        message = check(self.config, self.policy, before, actions[-1], final)
        if message is None:
            raise _EngineFault(f"the {name} counterexample does not reproduce")
        return Counterexample(message, actions, user=user_of(actions[-1]))

    def _replay_state(self, actions: Sequence[Action]) -> State:
        from wsmodel.properties.results import replay_found

        return replay_found(self.config, self.policy, tuple(actions))[-1]

    def plan(self, s: int, user: int) -> tuple[Outcome, int | None]:
        """plan_connect's outcome and duration for a user of state s; it reads only the
        user and the shared policy state, so it is cached on those (by the user's id)."""
        state = self.g.states[s]
        key = (self.g.user_ids[s][user], state.shared)
        got = self._plans.get(key)
        if got is None:
            p = plan_connect(self.config, self.policy, state, user)
            got = self._plans[key] = (p.outcome, p.elapsed)
        return got

    @cached_property
    def _pairs(self) -> tuple[dict[tuple[int, Hashable], int], dict[tuple[int, Hashable], int]]:
        """The distinct (user state id, shared state) pairs of the reached (state, user)
        pairs: each one's first position ``state * users + user`` (so in state order),
        and how often it occurs. What a user's Connect does is a function of such a pair
        (``plan``), so the claims about it ask once per pair."""
        g = self.g
        first: dict[tuple[int, Hashable], int] = {}
        count: dict[tuple[int, Hashable], int] = {}
        states, user_ids = g.states, g.user_ids
        pos = 0
        for s in range(g.expanded):
            if s & 4095 == 0:
                self.poll()
            shared = states[s].shared
            for r in user_ids[s]:
                key = (r, shared)
                n = count.get(key)
                if n is None:
                    first[key] = pos
                    count[key] = 1
                else:
                    count[key] = n + 1
                pos += 1
        return first, count

    @cached_property
    def _cleanup(self) -> tuple[int, int]:
        """The longest emergency cleanup in ms, and how many reachable (state, user)
        pairs have a cleanup that never returns: the figures of both cleanup claims.
        Only where the user's Connect is enabled: a cleanup it cannot run is not one the
        claims judge (the figure said 100000 ms beside "holds": a review's)."""
        first, count = self._pairs
        user_states = self.g.user_states
        worst_ms = hung = 0
        for key, pos in first.items():
            self.poll()  # a user policy's plans may be slow
            if not may_connect(self.config, user_states[key[0]]):
                continue
            _, elapsed = self.plan(*divmod(pos, self.config.users))
            if elapsed is None:
                hung += count[key]
            else:
                worst_ms = max(worst_ms, elapsed * self.config.tick_ms)
        return worst_ms, hung

    @cached_property
    def _users_reached(self) -> list[UserState]:
        """The distinct user states of the reached states."""
        by_id = self.g.user_states
        return [by_id[r] for r in {r for ids in self.g.user_ids for r in ids}]

    def _largest_age(self, age: Callable[[Manager], int | None]) -> int | None:
        """The largest ``age`` of any manager in any state, or None if none has one."""
        return max(
            (a for u in self._users_reached for m in u.managers if (a := age(m)) is not None),
            default=None,
        )

    def _worst_age(self, age: Callable[[Manager], int | None]) -> str | None:
        """:meth:`_largest_age` in ticks ("5+ ticks" at the horizon, where ages
        saturate)."""
        worst = self._largest_age(age)
        return None if worst is None else ticks(worst, self.config.horizon)

    def _figure(self, name: str, detail: str, violated: bool) -> str:
        cfg = self.config
        extra = ""
        if name == "zombies_reaped":
            worst = self._worst_age(lambda m: m.stuck_age)
            if worst is None:
                extra = "no stuck manager reached"
            else:
                extra = (
                    f"worst zombie: still registered {worst} after going stuck; "
                    f"bound H + T + C + R = {cfg.recovery_bound}"
                )
        elif name == "no_leak":
            closed = self._largest_age(lambda m: m.phase_age if m.phase is Phase.CLOSED else None)
            closing = self._largest_age(lambda m: m.phase_age if m.phase is Phase.CLOSING else None)
            h = cfg.horizon
            if closed is None:
                extra = "closed managers never stay registered"
            else:
                extra = (
                    f"worst leak: a closed manager still registered {ticks(closed, h)} after "
                    f"closing; R = {cfg.reaper_period}"
                )
            bound = cfg.close_timeout + cfg.reaper_period
            if closing is not None:
                extra += f"; longest close: {ticks(closing, h)}; C + R = {bound}"
            if violated and (closed or 0) <= cfg.reaper_period and (closing or 0) <= bound:
                extra += "; the leak is a refusal below the limit"  # nothing else is
        elif name in ("cleanup_within_budget", "cleanup_terminates"):
            worst_ms, hung = self._cleanup
            if name == "cleanup_terminates":
                extra = (
                    f"{plural(hung, 'reachable (state, user) pair')} whose cleanup never returns"
                    if hung
                    else "every emergency cleanup returns"
                )
            else:
                w = "never finishes" if hung else f"{worst_ms} ms"
                extra = f"worst emergency cleanup: {w}; budget {cfg.cleanup_budget_ms} ms"
        elif name == "no_healthy_eviction" and not violated:
            extra = "no cleanup closes an active manager"
        elif name == "per_user_limit":
            most = max((u.live_count for u in self._users_reached), default=0)
            extra = (
                f"most managers in active/idle/stuck held by one user: {most}; limit {cfg.limit}"
            )
        if extra and detail:
            return f"{detail}; {extra}"
        return extra or detail

    # isolation: non-interference ----------------------------------------------------

    def noninterference(self) -> tuple[Counterexample | None, str]:
        """What a user's own Connect or Sweep does must be a function of that user's own
        projection. Two reachable states with the same projection in which the user's
        Connect has different outcomes (admitted, rejected, hung), or its Connect or
        Sweep does anything else differently (its ``effect``: how long its cleanup takes,
        what it awaits, its advice, the user's state after it), are a violation.
        (Both are enabled by the projection alone: its attempts this tick, its ticks
        since a sweep. The user's other actions never call the policy, and a Tick ages
        each user on its own, so they cannot read anything else.) Outcomes first:
        admission is what the claim is most about."""
        seen: dict[int, tuple[int, int, Outcome]] = {}  # by the user state's id
        user_states = self.g.user_states
        # Pairs in state order, as a scan of the states meets them: the same conflict.
        for (proj, _), pos in self._pairs[0].items():
            if not may_connect(self.config, user_states[proj]):
                continue
            self.poll()  # at each pair that may call the policy: its calls may be slow
            s, b = divmod(pos, self.config.users)
            outcome, _ = self.plan(s, b)
            first = seen.get(proj)
            if first is None:
                seen[proj] = (s, b, outcome)
            elif first[2] is not outcome:
                return self._interference(Connect, first, (s, b, outcome)), ""
        conflict = self._effect_conflict()
        if conflict is not None:
            return self._interference(*conflict), ""
        alone = self._alone_conflict()
        if alone is not None:
            return alone, ""
        detail = (
            f"{len(seen):,} distinct user projections, each with one Connect outcome; "
            "a user's Connect and Sweep do the same from the same projection"
        )
        if self.config.users == 1:
            # The table shows "holds (no witness)": say why, and what would check more.
            detail += (
                "; no witness with one user (it needs another user holding managers): "
                "--users 2 checks users against each other"
            )
        return None, detail

    def _effect_conflict(
        self,
    ) -> tuple[type[Connect | Sweep], tuple[int, int, Any], tuple[int, int, Any]] | None:
        """The first pair of (state, user) positions with the same user projection whose
        Connect or Sweep has different effects. Only projections met with more than one
        shared policy state can differ: without shared state there is nothing to do."""
        g, config, policy = self.g, self.config, self.policy
        pairs = self._pairs[0]
        times = Counter(r for r, _ in pairs)
        period = policy.sweep_period(config)
        canon = self._canon
        seen: dict[tuple[int, type[Connect | Sweep]], tuple[int, int, tuple[Any, ...]]] = {}
        for (proj, _), pos in pairs.items():
            if times[proj] < 2:
                continue
            self.poll()  # at each pair that calls the policy
            s, b = divmod(pos, config.users)
            user, state = g.user_states[proj], g.states[s]
            for kind in _own_calls(config, period, user):
                done = effect(config, policy, state, b, kind, canon)
                first = seen.setdefault((proj, kind), (s, b, done))
                if first[2] != done:
                    return kind, first, (s, b, done)
        return None

    def _alone_conflict(self) -> Counterexample | None:
        """What a user's Connect or Sweep does must also be what it does alone, in the
        one-user system where the per-user claims are proven: other users' sweeps, even
        over empty registries, can keep the shared state where the user alone never has
        it. Compared for each projection reached in both graphs (the first divergence of
        a user's projection from its runs alone is at one). Nothing to compare when the
        shared state never changes: then the two systems give a user the same effects."""
        g, config, policy = self.g, self.config, self.policy
        pairs = self._pairs[0]
        if config.users == 1 or len({shared for _, shared in pairs}) < 2:
            return None
        one = config.with_(users=1)
        budget = self.budget
        g1 = explore(
            one,
            policy,
            symmetry=g.symmetry,
            forget=g.forget != NOTHING,
            max_states=max(1, len(g.states)),  # no larger than the many-user graph
            timeout=budget.left(),
            max_memory_mb=budget.memory_mb,  # the many-user graph's memory counts too
            progress=None if self.progress is None else self._alone_progress,
        )
        # A projection it lacks would go uncompared: not a proof.
        if g1.stopped_by == "timeout":
            raise _OutOfBudget(budget.spent() or f"the {budget.seconds:g} s budget")
        if g1.stopped_by == "memory":
            lost = g1.stop_detail == "a MemoryError"
            raise _OutOfBudget("the machine's memory" if lost else g1.stop_detail)
        if not g1.complete:
            raise _Unproven(
                f"the one-user graph, explored to compare each user with the user alone, "
                f"stopped at {len(g1.states):,} states (the many-user graph's size)"
            )
        first: dict[UserState, int] = {}
        for s1, state in enumerate(g1.states):
            first.setdefault(state.users[0], s1)
        period = policy.sweep_period(config)
        canon = self._canon
        alone: dict[tuple[UserState, type[Connect | Sweep]], tuple[tuple[str, Any], ...]] = {}
        for (proj, _), pos in pairs.items():
            user = g.user_states[proj]
            at = first.get(user)
            if at is None:
                continue
            self.poll()  # at each pair that calls the policy
            s, b = divmod(pos, config.users)
            for kind in _own_calls(config, period, user):
                here = effect(config, policy, g.states[s], b, kind, canon)
                there = alone.get((user, kind))
                if there is None:
                    there = effect(one, policy, g1.states[at], 0, kind, canon)
                    alone[user, kind] = there
                if here != there:
                    return self._unlike_alone(kind, (s, b, here), g1, (at, there))
        return None

    def _alone_progress(self, message: str) -> None:
        assert self.progress is not None
        self.progress(f"{message} (the one-user graph, for isolation)")

    def _unlike_alone(
        self,
        kind: type[Connect | Sweep],
        many: tuple[int, int, tuple[tuple[str, Any], ...]],
        g1: StateGraph,
        lone: tuple[int, tuple[tuple[str, Any], ...]],
    ) -> Counterexample:
        """The run to the many-user state, ending in the user's ``kind`` action, and what
        that action does alone, in the one-user system, after the one-user run named in
        the message (it replays only there); both checked again on the replayed runs."""
        g, config, policy = self.g, self.config, self.policy
        (s, b, here), (s1, there) = many, lone
        path, _ = self.run_to({s: [("x", -1)]})
        actions, real = self.trace(path)
        u = relabel_of(g, real).users[b]
        last = kind(u)
        one = config.with_(users=1)
        alone_actions, alone_real = real_trace(g1, g1.path_to(s1))
        if step(config, policy, real, last) is None:
            raise _EngineFault(f"{last} is not enabled at the end of the run")
        if effect(config, policy, real, u, kind, self._canon) != here:
            raise _EngineFault(f"the run's {last} does not reproduce its result")
        if effect(one, policy, alone_real, 0, kind, self._canon) != there:
            raise _EngineFault(f"the one-user run's {kind.__name__} does not reproduce its result")
        difference = first_difference(here, there)
        assert difference is not None  # the two were found to differ
        label, x, y = difference
        name = "connect" if kind is Connect else "sweep"
        values = (
            " (see the state after it)"
            if label == AFTER
            else f" ({shown(x)} in this run, {shown(y)} alone)"
        )
        by = ", ".join(map(str, alone_actions)) or "nothing"
        what = f"{label} differs{values}"
        if kind is Connect:
            was = plan_connect(config, policy, real, u).outcome
            alone = plan_connect(one, policy, alone_real, 0).outcome
            if was is not alone:
                what = f"it is {was.value} in this run, but {alone.value} alone"
        message = (
            f"user {u}'s last {name} does not do what it does alone, in the one-user system "
            f"from the same state of user {u} (reached there by: {by}): {what}, "
            f"so the {name} depends on something outside the user's own state (the shared "
            f"policy state: {real.shared} in this run, {alone_real.shared} alone)"
        )
        return Counterexample(message, (*actions, last), user=u)

    def _canon(self, user: UserState) -> UserState:
        """A user's state as the graph keeps it (keys renumbered, forgotten ages)."""
        return _renumber(user, self.g.forget)

    def _interference(
        self,
        kind: type[Connect | Sweep],
        one: tuple[int, int, Any],
        two: tuple[int, int, Any],
    ) -> Counterexample:
        """Two runs to the two states, each ending in the user's ``kind`` action; what
        the two differ in (the Connect's outcome, or an ``effect``) is checked again on
        the replayed runs."""
        g, config, policy = self.g, self.config, self.policy
        runs = []
        for s, b, _ in (one, two):
            path, _ = self.run_to({s: [("x", -1)]})
            actions, real = self.trace(path)
            user = relabel_of(g, real).users[b]
            runs.append((actions, real, user))
        (a1, r1, u1), (a2, _, u2) = runs
        if u1 != u2:  # users are interchangeable: rename run 2 so both are about u1
            swap = {u1: u2, u2: u1}
            a2 = tuple(_rename_user(a, swap) for a in a2)
        final2 = self._replay_state(a2)
        last = kind(u1)
        outcome = isinstance(one[2], Outcome)  # else: an effect

        def seen(before: State) -> Any:
            if outcome:
                return plan_connect(config, policy, before, u1).outcome
            return effect(config, policy, before, u1, kind, self._canon)

        for run, before, value in (("first", r1, one[2]), ("second", final2, two[2])):
            if step(config, policy, before, last) is None:
                raise _EngineFault(f"{last} is not enabled at the end of the {run} run")
            if seen(before) != value:
                raise _EngineFault(f"the {run} run's {last} does not reproduce its result")
        name = "connect" if kind is Connect else "sweep"
        same = (
            f"(the contrast, shown after it) that brings user {u1} to the same state before "
            "it (up to manager keys and ages nothing reads)"
        )
        if outcome:
            message = (
                f"user {u1}'s last connect is {one[2].value} in this run but {two[2].value} "
                f"in another {same}: the outcome depends on something outside the user's "
                "own state"
            )
        else:
            difference = first_difference(one[2], two[2])
            assert difference is not None  # the two were found to differ
            label, here, there = difference
            values = (
                " (see each run's last state)"
                if label == AFTER
                else f" ({shown(here)} in this run, {shown(there)} in the contrast)"
            )
            message = (
                f"user {u1}'s last {name} does not do what it does in another run {same}: "
                f"{label} differs{values}, so the {name} depends on something outside the "
                "user's own state"
            )
        if r1.shared != final2.shared:
            message += (
                f" (the shared policy state: {r1.shared} in this run, {final2.shared} in "
                "the contrast)"
            )
        if config.users == 1:  # a trial read this as no isolation failure at all
            message += (
                "; with one user, the user's own past reaches it through state that every "
                "user shares (decision 0015): with --users 2, other users' actions can "
                "change it too"
            )
        return Counterexample(message, (*a1, last), user=u1, contrast=(*a2, last))

    # liveness ---------------------------------------------------------------------

    @cached_property
    def _exempt(self) -> list[bool]:
        """Per user state id: holds `limit` managers in use (exempt from the liveness
        claims, decision 0010)."""
        return [holds_limit_in_use(self.config, u) for u in self.g.user_states]

    @cached_property
    def _followed(self) -> tuple[LabelledGraph, Components]:
        """The graph followed by one tracked user, and its components (both liveness
        claims judge it): nodes (state, position of the tracked user); only
        fault-free edges; not through states where the tracked user holds `limit`
        managers in use (exempt from the liveness claims; decision 0010); not along a
        Connect that admits the tracked user. Labels: TICK, and RETRY for the tracked
        user's Connect."""
        lg = self._build_followed()
        return lg, strongly_connected(lg, self.poll)

    def _build_followed(self) -> LabelledGraph:
        g = self.g
        k = self.config.users
        exempt = self._exempt  # looked up by the user's id in the state (g.user_ids)
        user_ids = g.user_ids
        perms = g.perms
        identity = perms.index(tuple(range(k)))
        # Per action code: -2 a fault (not followed), -1 a Tick, u >= 0 user u's
        # Connect, k anything else.
        kind = [
            -2 if a.fault else -1 if tick else a.user if isinstance(a, Connect) else k
            for a, tick in zip(g.actions, self.is_tick, strict=True)
        ]
        out = LabelledGraph(len(g.states) * k)
        add_dst, add_label, add_ref = out.dst.append, out.label.append, out.ref.append
        add_start = out.start.append
        act, flags, gdst, gperm, start = g.act, g.flags, g.dst, g.perm, g.edge_start
        for s in range(g.expanded):
            if s & 4095 == 0:
                self.poll()
            # The state's followed edges, decoded once for every tracked position.
            edges = []
            for e in range(start[s], start[s + 1]):
                c = kind[act[e]]
                if c == -2:
                    continue
                t, pc = gdst[e], gperm[e]
                if t == s and pc == identity and c == k:
                    # An unlabelled self-loop has no bearing on components, fair
                    # cycles or longest paths (about a third of the edges).
                    continue
                edges.append((e, c, t, perms[pc]))
            source_ids = user_ids[s]
            for p in range(k):
                if not exempt[source_ids[p]]:
                    for e, c, t, perm in edges:
                        q = perm[p]
                        if exempt[user_ids[t][q]]:
                            continue
                        if c == p:
                            if flags[e] & FLAG_ADMITTED:
                                continue
                            lab = RETRY
                        elif c < 0:
                            lab = TICK
                        elif t == s and q == p:
                            continue  # unlabelled for this position (see above)
                        else:
                            lab = 0
                        add_dst(t * k + q)
                        add_label(lab)
                        add_ref(e)
                add_start(len(out.dst))
        # Frontier states (a run cut short) have no edges.
        out.start.extend([len(out.dst)] * ((len(g.states) - g.expanded) * k))
        return out

    def _lasso(
        self,
        lg: LabelledGraph,
        comp: array[int],
        cs: Sequence[int],
        rbits: int,
        required: list[int],
    ) -> _Lasso:
        """A short lasso (in ``Counterexample.length``) into one of components ``cs``:
        the shorter of two, into the component nearest the initial state and into the
        first of ``cs``, each entered where it is nearest. The nearest alone can have a
        long cycle, the first alone a long stem (a detour through another user); the
        shortest of all would need a search over the whole graph for every component:
        ten times the cost, with two users."""
        g = self.g
        k = self.config.users
        index = {c: i for i, c in enumerate(cs)}
        entries: dict[tuple[int, int], int] = {}  # (component, state) -> its first node there
        for v in range(lg.n):
            i = index.get(comp[v])
            if i is not None and (i, s := v // rbits // k) not in entries:
                entries[i, s] = v

        def lasso(wanted: Callable[[int], bool]) -> tuple[int, int, _Lasso]:
            targets = {s: [("stem", -1)] for i, s in entries if wanted(i)}
            stem, end = self.run_to(targets)
            i = min(i for i, s in entries if s == end and wanted(i))
            entry = entries[i, end]
            cycle_path = []
            v = entry
            for e in find_cycle(lg, comp, cs[i], entry, required).cycle:
                cycle_path.append((v // rbits // k, g.act[lg.ref[e]]))
                v = lg.dst[e]
            actions, _ = self.trace(stem + cycle_path)
            stem_actions, cycle = actions[: len(stem)], actions[len(stem) :]
            at = self._replay_state(stem_actions)  # where the cycle starts
            user = relabel_of(g, at).users[(entry // rbits) % k]
            length = Counterexample("", stem_actions, cycle).length()
            return length, i, _Lasso(stem_actions, cycle, user, at)

        best = lasso(lambda i: True)
        if best[1] != 0:
            best = min(best, lasso(lambda i: i == 0), key=lambda x: x[:2])
        return best[2]

    def no_permanent_block(self) -> Result:
        lg, parts = self._followed
        comp = parts.comp
        fair = fair_components(lg, parts, [TICK, RETRY], self.poll)
        violation = None
        if fair:
            stem, cycle, user, at = self._lasso(lg, comp, fair, 1, [RETRY, TICK])
            # "keeps retrying" here is at least once per round of the cycle: say how often,
            # in the cycle's shortest repeating part (one retry per 2 ticks, not 2 per 4)
            one = _period([a for a in cycle if not a.system])  # as the steps fold rounds
            tries = sum(isinstance(a, Connect) and a.user == user for a in one)
            ticks = sum(isinstance(a, Tick) for a in one)
            held = holding(self.config, at.users[user])
            violation = Counterexample(
                f"faults have stopped, user {user} retries forever ({_rhythm(tries, ticks)}) "
                "and time passes, yet "
                f"user {user} is never admitted and never holds its limit of managers "
                f"in use; where the cycle starts, user {user} holds {held} "
                "(the cycle repeats forever)",
                stem,
                cycle,
                user=user,
            )
        detail = (
            f"{len(fair)} fair non-admitting cycle components"
            if fair
            else ("no fair cycle on which a retrying user is never admitted")
        )
        return self.result("no_permanent_block", violation, detail=detail)

    def bounded_recovery(self) -> Result:
        cfg = self.config
        bound = cfg.recovery_bound
        followed, followed_parts = self._followed
        # The figure is worked out on the followed graph; the product with the retry
        # bit is built only where that cannot decide, or for a counterexample.
        fast = recovery_ticks(followed, followed_parts, TICK, RETRY, self.poll)
        figure = None if fast is None else max(fast[0], default=0)
        if figure is not None and figure <= bound:
            return self.result(
                "bounded_recovery",
                None,
                detail=f"worst recovery: {plural(figure, 'tick')}; bound H + T + C + R = {bound}",
            )
        # Twice the nodes and edges: asked for before it is built, as it cannot be
        # stopped midway short of the memory it needs.
        per_edge = followed.dst.itemsize + 1 + followed.ref.itemsize  # with its label
        need = 2 * (len(followed.dst) * per_edge + followed.n * followed.start.itemsize) / 2**20
        if self.budget.memory_mb is not None and (
            spent := memory.over(self.budget.memory_mb, need_mb=need)
        ):
            raise _OutOfBudget(spent)
        lg = retry_product(followed, TICK, RETRY, self.poll)
        parts = strongly_connected(lg, self.poll)
        comp = parts.comp
        outcome = longest_weighted(lg, parts, TICK, self.poll)
        if isinstance(outcome, int):
            stem, cycle, user, _ = self._lasso(lg, comp, [outcome], 2, [TICK])
            violation = Counterexample(
                f"on the cycle, where no fault happens, user {user} retries before every "
                f"tick and is never admitted: recovery is unbounded; bound H + T + C + R = {bound}",
                stem,
                cycle,
                user=user,
            )
            return self.result(
                "bounded_recovery",
                violation,
                detail=f"worst recovery: unbounded; bound {bound}",
            )
        best, via = outcome
        k = cfg.users
        worst, worst_node = 0, -1
        for s in range(len(self.g.states)):
            for p in range(k):
                v = (s * k + p) * 2
                if best[comp[v]] > worst:
                    worst, worst_node = best[comp[v]], v
        slow: Counterexample | None = None
        if worst > bound:
            slow = self._slow_recovery(lg, comp, best, via, worst_node, worst)
        return self.result(
            "bounded_recovery",
            slow,
            detail=f"worst recovery: {plural(worst, 'tick')}; bound H + T + C + R = {bound}",
        )

    def _slow_recovery(
        self,
        lg: LabelledGraph,
        comp: array[int],
        best: list[int],
        via: list[int],
        start_node: int,
        worst: int,
    ) -> Counterexample:
        g = self.g
        k = self.config.users
        stem, _ = self.run_to({start_node // 2 // k: [("stem", -1)]})
        path: list[tuple[int, int]] = []
        v = start_node
        while via[comp[v]] != -1 and best[comp[v]] > 0:
            e = via[comp[v]]
            src = _source(lg.start, e)
            inner, _ = path_within(lg, comp, comp[v], v, src)
            for x in (*inner, e):
                path.append((_source(lg.start, x) // 2 // k, g.act[lg.ref[x]]))
            v = lg.dst[e]
        actions, _ = self.trace(stem + path)
        at_start = self._replay_state(actions[: len(stem)])
        user = relabel_of(g, at_start).users[(start_node // 2) % k]
        return Counterexample(
            f"after this run's last fault, user {user} retries before every tick and is "
            f"still not admitted {worst} ticks later; bound H + T + C + R = "
            f"{self.config.recovery_bound}",
            actions,
            user=user,
        )


def _own_calls(config: Config, period: int | None, user: UserState) -> list[type[Connect | Sweep]]:
    """The user's own actions that call the policy, enabled by its projection alone."""
    due = ((Connect, may_connect(config, user)), (Sweep, sweep_due(period, user)))
    return [kind for kind, on in due if on]


@dataclass
class _Budget:
    """A run's time and memory budgets (None: none given)."""

    t0: float
    seconds: float | None
    memory_mb: float | None
    next_memory: float = 0.0  # when memory is next asked (about 40 µs a time)

    def left(self) -> float | None:
        """Seconds left of the time budget (None: no budget)."""
        return None if self.seconds is None else self.seconds - (time.perf_counter() - self.t0)

    def spent(self) -> str:
        """Which budget has run out, in words; "" if none. Cheap enough to ask at every
        step of a loop that calls the policy: time is read each time, memory at most
        every ``memory.CHECK_SECONDS``."""
        now = time.perf_counter()
        if self.seconds is not None and now - self.t0 > self.seconds:
            return f"the {self.seconds:g} s budget"
        if self.memory_mb is None or now < self.next_memory:
            return ""
        self.next_memory = now + memory.CHECK_SECONDS
        return memory.over(self.memory_mb)


class _Targets(Protocol):
    """Where :meth:`_Judge.shortest` may end: state -> (key, edge) pairs."""

    def get(self, s: int, default: Sequence[tuple[str, int]], /) -> Sequence[tuple[str, int]]: ...

    def values(self) -> Iterable[Sequence[tuple[str, int]]]: ...


class _BadEdges:
    """A safety claim's targets, the edges breaking it, found by bisection in their
    sorted array: a dict held a tuple for every bad edge (+257 MB, unchecked, for
    graduated's cleanup_within_budget with two users; a review's)."""

    def __init__(self, name: str, bad: array[int], g: StateGraph) -> None:
        self.name, self.bad, self.start, self.expanded = name, bad, g.edge_start, g.expanded

    def get(self, s: int, default: Sequence[tuple[str, int]], /) -> Sequence[tuple[str, int]]:
        if s >= self.expanded:
            return default
        lo = bisect_left(self.bad, self.start[s])
        hi = bisect_left(self.bad, self.start[s + 1], lo)
        return [(self.name, e) for e in self.bad[lo:hi]] if hi > lo else default

    def values(self) -> Iterable[Sequence[tuple[str, int]]]:
        return [[(self.name, -1)]]  # the one key


class _Lasso(NamedTuple):
    """A lasso found in the graph: the stem, the cycle, the user it is about, and the
    (replayed, real) state where the cycle starts."""

    stem: tuple[Action, ...]
    cycle: tuple[Action, ...]
    user: int
    at: State


class _Unproven(Exception):
    """A claim that cannot be decided for a reason of its own (the message says it);
    unlike a budget, later claims are judged as usual."""


class _OutOfBudget(Exception):
    """A budget ran out in the middle of judging a claim (the message says which)."""


def _ran_out(exc: _OutOfBudget | MemoryError) -> str:
    """What ran out, in words: the budget named, or the machine's memory."""
    return str(exc) if isinstance(exc, _OutOfBudget) else "the machine's memory"


class _EngineFault(Exception):
    """The engine's own bookkeeping disagrees with the model: a bug here, not a verdict."""


def _period(cycle: list[Action]) -> list[Action]:
    """The shortest part of a cycle that, repeated, makes the whole of it."""
    n = len(cycle)
    return next(cycle[:p] for p in range(1, n + 1) if n % p == 0 and cycle[:p] * (n // p) == cycle)


def _rhythm(tries: int, ticks: int) -> str:
    """How often a lasso's user retries: "once every 4 ticks", "twice every 4 ticks"."""
    if tries == ticks == 1:
        return "every tick"
    times = {1: "once", 2: "twice"}.get(tries, f"{tries} times")
    return f"{times} every {plural(ticks, 'tick')}" if ticks > 1 else f"{times} every tick"


def _source(start: Sequence[int], e: int) -> int:
    """The node edge ``e`` leaves, in a graph whose edges are stored by source (node v's
    from ``start[v]`` on): the StateGraph's and a LabelledGraph's alike."""
    return bisect_right(start, e) - 1


def _rename_user(a: Action, swap: dict[int, int]) -> Action:
    from dataclasses import replace

    if isinstance(a, Tick) or a.user not in swap:
        return a
    return replace(a, user=swap[a.user])
