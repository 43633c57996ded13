"""Breadth-first exploration of every reachable state, stored compactly.

The semantics come only from the model: each user's actions and successors are the
model's ``environment``, ``urgent`` and ``step`` on that user's own state (with the
shared policy state), computed once per distinct user state and assembled into
whole states in the order of :func:`wsmodel.model.enabled`. The model's locality
makes this exact (:func:`user_moves`, decision 0013). Everything else here is
bookkeeping: canonical forms, integer ids, edge arrays, budgets.

Canonical forms (see docs/decisions/0001-state-canonicalisation.md):

- manager keys of each user are renumbered in registration order to 0..n-1 and
  ``next_id`` becomes n (always on: without it no configuration is finite);
- with ``symmetry`` on, users are sorted, so states that differ only by a renaming of
  users are stored once. Edges remember the permutation so that a particular user can
  be followed through the reduced graph (the liveness claims need that);
- with ``forget`` on, ages nothing can observe are set to 0
  (docs/decisions/0012-forgetting-unobserved-ages.md): a live manager's ``phase_age``
  (only a closing or closed manager's is read), and ``age`` when the policy declares
  it does not read it (the model then hides it from the policy).

There is no state constraint: every reachable state is expanded. The model bounds
connects per user per tick, so the built-in policies' spaces are finite; a user policy
whose space is not (one that admits past the limit, say) is stopped by a budget and
its claims are then ``not-checked`` (docs/decisions/0001).
"""

from __future__ import annotations

import mmap
import time
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field, replace
from itertools import permutations
from typing import Any, NamedTuple, TypeVar

import networkx as nx  # type: ignore[import-untyped]
from wsmodel.model import (
    LIVE,
    Action,
    Config,
    Connect,
    Manager,
    Policy,
    PolicyError,
    State,
    Sweep,
    Tick,
    UserState,
    environment,
    plan_connect,
    plan_sweep,
    start,
    step,
    urgent,
)
from wsmodel.model.policy import broke_rule, is_builtin, not_deterministic
from wsmodel.properties import memory
from wsmodel.properties.catalogue import NAMES, policy_state

__all__ = [
    "NOTHING",
    "EdgeHook",
    "Forget",
    "Relabel",
    "StateGraph",
    "canonical",
    "explore",
    "real_trace",
    "summary",
    "to_networkx",
]

# Called for every edge as it is found: (source id, source state, action in the
# source's coordinates, successor as the model returned it, edge index). Returning
# False stops the calls (a hook that has seen all it needs).
EdgeHook = Callable[[int, State, Action, State, int], bool | None]
# Called once per distinct move of one user, on the one-user states before and after
# (the action is user 0's): the names of the claims that move breaks.
MoveCheck = Callable[[State, Action, State], tuple[str, ...]]

T = TypeVar("T")

BALLAST = 64 * 2**20  # address space held while exploring, freed if memory runs out
FLAG_ADMITTED = 1  # a Connect whose user was admitted (its next_id grew)
TICK = Tick()


@dataclass
class StateGraph:
    """The explored graph. States are canonical; edges are stored per source state in
    discovery order (edges of state i are ``edge_start[i]`` to ``edge_start[i + 1]``)."""

    config: Config
    policy: Policy
    symmetry: bool
    forget: Forget
    states: list[State] = field(default_factory=list)
    # state id by key: the ids (user_rank) of its users in order, then the shared state
    index: dict[tuple[Hashable, ...], int] = field(default_factory=dict)
    depth: array[int] = field(default_factory=lambda: array("i"))
    parent: array[int] = field(default_factory=lambda: array("i"))  # parent state, -1 for root
    parent_act: array[int] = field(default_factory=lambda: array("i"))
    edge_start: array[int] = field(default_factory=lambda: array("Q", [0]))
    dst: array[int] = field(default_factory=lambda: array("I"))
    act: array[int] = field(default_factory=lambda: array("I"))
    # 2 bytes: up to 8! = 40,320 permutations of the users (Config allows 8)
    perm: array[int] = field(default_factory=lambda: array("H"))
    flags: bytearray = field(default_factory=bytearray)
    actions: list[Action] = field(default_factory=list)  # action code -> action
    action_code: dict[Action, int] = field(default_factory=dict)
    perms: list[tuple[int, ...]] = field(default_factory=list)  # perm code -> raw -> canonical
    user_rank: dict[UserState, int] = field(default_factory=dict)  # ids of user states
    user_states: list[UserState] = field(default_factory=list)  # user states by id
    user_ids: list[tuple[int, ...]] = field(default_factory=list)  # per state, its users' ids
    complete: bool = False
    stopped_by: str = ""  # "", "max_states", "timeout", "memory", "max_depth"
    stop_detail: str = ""  # for "memory": which limit ("a MemoryError", say)
    seconds: float = 0.0
    # claim -> the edges that break it, in order (set by the exhaustive engine)
    bad_edges: dict[str, array[int]] = field(default_factory=dict)
    # (edge, claims) for edges whose moves a MoveCheck found breaking claims
    move_violations: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)
    claims_per_move: bool = False  # step claims were checked by a MoveCheck

    @property
    def expanded(self) -> int:
        """States whose successors were computed (the rest are frontier)."""
        return len(self.edge_start) - 1

    @property
    def edges(self) -> int:
        return len(self.dst)

    @property
    def max_depth(self) -> int:
        return max(self.depth, default=0)

    def out_edges(self, s: int) -> range:
        if s >= self.expanded:
            return range(0)
        return range(self.edge_start[s], self.edge_start[s + 1])

    def id_of(self, state: State) -> int | None:
        """The id of a canonical state, None if it was not reached."""
        ranks = tuple(self.user_rank.get(u, -1) for u in state.users)
        return self.index.get((*ranks, state.shared))

    def path_to(self, s: int) -> list[tuple[int, int]]:
        """(state, action code) pairs of the BFS tree path from the initial state to s."""
        path: list[tuple[int, int]] = []
        while self.parent[s] >= 0:
            path.append((self.parent[s], self.parent_act[s]))
            s = self.parent[s]
        path.reverse()
        return path


# --- canonical forms ------------------------------------------------------------------


@dataclass(frozen=True)
class Relabel:
    """How a state maps onto its canonical form: ``users[c]`` is the real user at
    canonical position c, ``ids[c][j]`` the real key of that user's canonical manager j."""

    users: tuple[int, ...]
    ids: tuple[tuple[int, ...], ...]

    def action(self, a: Action) -> Action:
        """An action in canonical coordinates, in the real state's coordinates."""
        if isinstance(a, Tick):
            return a
        args = a.args()
        c = args["user"]
        args["user"] = self.users[c]
        if "manager" in args:
            args["manager"] = self.ids[c][args["manager"]]
        return type(a)(**args)


class Forget(NamedTuple):
    """Which unobserved ages the canonical form sets to 0."""

    live_phase_age: bool  # nothing reads phase_age before a close begins
    age: bool  # only for a policy that declares reads_age = False

    @classmethod
    def unobserved(cls, policy: Policy) -> Forget:
        return cls(True, not policy.reads_age)


NOTHING = Forget(False, False)


def _local(m: Manager, i: int, forget: Forget) -> Manager:
    """Manager m as canonical manager i: key i, unobserved ages 0 (m itself if so)."""
    (mid, phase, is_active, age, activity, quiet, pong, phase_age, hangs, aborting, stuck) = m
    if forget.age:
        age = 0
    if forget.live_phase_age and phase in LIVE:
        phase_age = 0
    if mid == i and age == m.age and phase_age == m.phase_age:
        return m
    # Built with tuple.__new__ rather than _replace: this runs for every new manager.
    fields = (i, phase, is_active, age, activity, quiet, pong, phase_age, hangs, aborting, stuck)
    return _new_manager(Manager, fields)


_new_manager = tuple.__new__


def _renumber(u: UserState, forget: Forget) -> UserState:
    ms = u.managers
    local = tuple(_local(m, i, forget) for i, m in enumerate(ms))
    if u.next_id == len(ms) and all(x is y for x, y in zip(local, ms, strict=True)):
        return u
    return u._replace(managers=local, next_id=len(ms))


def canonical(
    state: State, rank: dict[UserState, int], symmetry: bool, forget: Forget = NOTHING
) -> tuple[State, Relabel]:
    """The canonical form of ``state`` and the mapping back to it. ``rank`` orders
    user states (ids are assigned on first sight, so the order is deterministic)."""
    users = [_renumber(u, forget) for u in state.users]
    ids = tuple(tuple(m.id for m in u.managers) for u in state.users)
    order = list(range(len(users)))
    if symmetry and len(users) > 1:
        for u in users:
            if u not in rank:
                rank[u] = len(rank)
        order.sort(key=lambda i: rank[users[i]])
    cstate = State(tuple(users[i] for i in order), state.shared)
    return cstate, Relabel(tuple(order), tuple(ids[i] for i in order))


# --- one user's moves -------------------------------------------------------------------


class Move(NamedTuple):
    """One user's move: the action (in the whole state's coordinates), that user's
    state afterwards as the model returned it and in canonical form (with its id in
    ``StateGraph.user_rank``), and the shared policy state afterwards."""

    action: Action
    code: int  # the action's code in the graph
    user: UserState
    canon: UserState
    rank: int
    shared: Hashable
    flags: int  # the edge's flags: FLAG_ADMITTED for a Connect whose user was admitted
    breaks: tuple[str, ...]  # claims this move breaks (by the MoveCheck, if any)


class UserMoves(NamedTuple):
    environment: list[Move]
    due: list[Move]  # the user's urgent system actions; Tick waits while any is due


def user_moves(
    config: Config,
    policy: Policy,
    user: UserState,
    shared: Hashable,
    move: Callable[[Action], Move],
) -> UserMoves:
    """A user's moves: the model's own ``environment`` and ``urgent`` on the one-user
    state (the user's state and the shared policy state), each stepped by ``move``
    (:func:`one_move` for that user). The user's part of a Tick is :func:`one_move`
    with ``Tick()``, asked only when nothing is due for any user (only then is Tick
    enabled).

    Sound because the model is local (decision 0013): an action of user k reads and
    writes only user k's state and the shared state (a policy's registry offers
    nothing else), whether it is enabled depends on those alone, and a Tick ages each
    user on its own. So a whole state's actions are every user's environment actions,
    then every user's due actions, then Tick if nothing is due for anyone; which is
    the order of :func:`wsmodel.model.enabled`. tests/test_explore.py holds the model
    to it against whole-state ``step``."""
    alone = State((user,), shared)
    return UserMoves(
        [move(a) for a in environment(config, alone)],
        [move(a) for a in urgent(config, policy, alone)],
    )


# Keys are renumbered 0..n-1 (canonical), which is sound only for a policy that
# compares and orders keys but does not compute with them or keep them (own-policy.md).
# So every call that shows the policy keys (a Connect or Sweep of a user with
# managers) is also made with the keys renamed in the same order but far from 0..n-1,
# odd and twice as far apart: a policy that evicted "key 0" passed every claim here and
# failed the search, where key 0 is gone once its manager is (a trial's). A net, not a
# proof: a policy that computes with keys only in a way this renaming keeps escapes it.
RENAMED_FROM = 1 << 40


def _renamed(user: UserState) -> tuple[UserState, dict[int, int]]:
    """The user with key k renamed RENAMED_FROM + 2k + 1, and the map back."""
    new = {m.id: RENAMED_FROM + 2 * m.id + 1 for m in user.managers}
    managers = tuple(m._replace(id=new[m.id]) for m in user.managers)
    next_id = RENAMED_FROM + 2 * user.next_id + 1
    return user._replace(managers=managers, next_id=next_id), {v: k for k, v in new.items()}


def _call(
    config: Config,
    policy: Policy,
    user: UserState,
    shared: Hashable,
    a: Action,
    back: dict[int, int],
    afresh: bool = False,
) -> tuple[Any, ...]:
    """All that user 0's Connect or Sweep does, with keys mapped through ``back`` (the
    new entry's key is the user's next one, mapped by renumbering): its outcome, what it
    awaited and for how long, its advice, where it hung, the state after. ``afresh``
    asks the policy again where a plan is cached."""
    state = State((user,), shared)
    if isinstance(a, Connect):
        p = plan_connect(config, policy, state, 0, cached=not afresh)
        waits = tuple(w._replace(manager=back.get(w.manager, w.manager)) for w in p.waits)
        hung_on = back.get(p.hung_on, p.hung_on) if p.hung_on is not None else None
        return (
            p.outcome,
            p.elapsed,
            p.retry_after,
            waits,
            hung_on,
            _renumber(p.user, NOTHING),
            p.shared,
        )
    s = plan_sweep(config, policy, state, 0)
    hung_on = back.get(s.hung_on, s.hung_on) if s.hung_on is not None else None
    return s.hung, hung_on, _renumber(s.user, NOTHING), s.shared


def same_when_renamed(
    config: Config, policy: Policy, user: UserState, shared: Hashable, a: Connect | Sweep
) -> None:
    """Raise unless user 0's Connect or Sweep ``a`` does all the same with the keys
    renamed (:func:`_call`)."""
    renamed, back = _renamed(user)
    what = f"{a} with the user's manager keys renamed in the same order (k as 2**40 + 2k + 1)"
    try:
        there = _call(config, policy, renamed, shared, a, back)
    except PolicyError as exc:
        raise PolicyError(f"{exc} (in {what})") from exc
    here = _call(config, policy, user, shared, a, {})
    if there != here:
        # A policy that is not deterministic differs from itself as well: say that, not
        # keys (a trial's random policy was blamed on keys it never used). Each side
        # three times in a row: one that flips on every call, asked the sides in turn,
        # would give each side the same answer every time.
        for side, mapped, first in [(user, {}, here)] * 3 + [(renamed, back, there)] * 3:
            if _call(config, policy, side, shared, a, mapped, afresh=True) != first:
                raise not_deterministic(
                    policy, f"{a} made again on the same registry did otherwise"
                )
        raise broke_rule(
            policy,
            "computes with manager keys or keeps them in memory or shared state",
            f"{what} did otherwise",
            "the exhaustive engine numbers each user's keys 0, 1, 2, ... in registration "
            "order, so its verdicts would not hold; a policy may compare and order keys, "
            "nothing more (docs/own-policy.md)",
        )


def one_move(
    config: Config,
    policy: Policy,
    k: int,
    user: UserState,
    shared: Hashable,
    a: Action,
    canon: Callable[[UserState], tuple[UserState, int]],
    code: Callable[[Action], int],
    check: MoveCheck | None = None,
    keys_checked: bool = False,
) -> Move:
    """Action ``a`` (user 0's, or Tick) by user k, stepped by the model on the one-user
    state; with a ``check``, the claims it breaks, judged on that one-user step. With
    ``keys_checked``, a Connect or Sweep that shows the policy keys is also stepped with
    them renamed (:func:`same_when_renamed`)."""
    alone = State((user,), shared)
    t = step(config, policy, alone, a)
    if t is None:  # pragma: no cover - enabled() and step() disagree
        raise AssertionError(f"model lists {a} as enabled but step() refuses it")
    if keys_checked and user.managers and isinstance(a, Connect | Sweep):
        same_when_renamed(config, policy, user, shared, a)
    after = t.users[0]
    c, r = canon(after)
    whole = a if k == 0 or isinstance(a, Tick) else replace(a, user=k)
    admitted = isinstance(a, Connect) and after.next_id > user.next_id
    flags = FLAG_ADMITTED if admitted else 0
    breaks = () if check is None else check(alone, a, t)
    return Move(whole, code(whole), after, c, r, t.shared, flags, breaks)


# --- exploration ----------------------------------------------------------------------


def _repair(g: StateGraph, rank: dict[UserState, int]) -> None:
    """After a MemoryError in the hot loop: drop what it had half added, so the graph is
    what a budget stop leaves (the state being expanded, and any later, frontier)."""
    n = min(len(g.states), len(g.user_ids), len(g.depth), len(g.parent), len(g.parent_act))
    del g.states[n:], g.user_ids[n:], g.depth[n:], g.parent[n:], g.parent_act[n:]
    if len(g.index) > n:
        for key in [k for k, j in g.index.items() if j >= n]:
            del g.index[key]
    if len(rank) > len(g.user_states):
        for u in [u for u, r in rank.items() if r >= len(g.user_states)]:
            del rank[u]
    e = g.edge_start[-1]  # the end of the last fully expanded state's edges
    del g.dst[e:], g.act[e:], g.perm[e:], g.flags[e:]
    g.move_violations[:] = [(x, b) for x, b in g.move_violations if x < e]
    for a in [a for a, c in g.action_code.items() if c >= len(g.actions)]:
        del g.action_code[a]


def explore(
    config: Config,
    policy: Policy,
    *,
    symmetry: bool = True,
    forget: bool = False,
    max_states: int | None = None,
    max_depth: int | None = None,
    timeout: float | None = None,
    max_memory_mb: float | None = None,
    memory_share: float = 1.0,
    progress: Callable[[str], None] | None = None,
    on_edge: EdgeHook | None = None,
    move_check: MoveCheck | None = None,
    renumber: bool = True,
    keys_checked: bool | None = None,
) -> StateGraph:
    """Explore breadth-first from the model's initial state.

    Stops cleanly (``complete`` False, ``stopped_by`` set) when a budget is hit:
    ``max_states`` distinct states, ``timeout`` seconds, ``memory_share`` of
    ``max_memory_mb`` resident memory (by default :func:`memory.budget_mb`) or of what
    the machine has left (:func:`memory.over`), or ``max_depth``; or when the
    memory runs out before that (a MemoryError): ``stopped_by`` is then "memory" too.
    ``renumber=False`` keeps raw manager keys: only for tests with ``max_depth``.
    ``forget`` sets unobserved ages to 0 (:meth:`Forget.unobserved`; needs ``renumber``).
    ``keys_checked`` holds the policy to not computing with keys, which renumbering
    needs (:func:`same_when_renamed`); by default, every policy but the built-ins, whose
    code is known not to (tests hold them to it) and whose speed the figures measure.
    """
    if keys_checked is None:
        keys_checked = renumber and not is_builtin(policy)
    if forget and not renumber:
        raise ValueError("forget needs renumber: raw states keep every age")
    t0 = time.perf_counter()
    memory_mb = memory.budget_mb(max_memory_mb)
    fg = Forget.unobserved(policy) if forget else NOTHING
    g = StateGraph(config, policy, symmetry, fg, claims_per_move=move_check is not None)
    rank = g.user_rank
    index = g.index
    states = g.states
    depth, parent, parent_act = g.depth, g.parent, g.parent_act
    edge_start, dst, act, perm, flags = g.edge_start, g.dst, g.act, g.perm, g.flags
    action_code, actions = g.action_code, g.actions
    perm_code: dict[tuple[int, ...], int] = {}
    n_users = config.users
    sym = symmetry and n_users > 1
    if sym:
        for p in permutations(range(n_users)):
            perm_code[p] = len(g.perms)
            g.perms.append(p)
    else:
        perm_code[tuple(range(n_users))] = 0
        g.perms.append(tuple(range(n_users)))
    identity = 0 if not sym else perm_code[tuple(range(n_users))]

    # Every canonical user state gets an id on first sight (so the order is
    # deterministic); with symmetry, users are sorted by it. States are keyed by their
    # users' ids: hashing a few ints is much cheaper than hashing the whole state.
    sorting = sym and renumber  # users are sorted only in canonical (renumbered) states
    by_id = g.user_states  # user states by id (rank), for the move caches
    # A user's moves are cached per (user, user state id, shared state), a Tick's per
    # (user state id, shared state). With one user a state is its user's state and is
    # expanded once, so nothing would ever be reused: no cache then.
    moves = _Memo(
        lambda key: user_moves(config, policy, by_id[key[1]], key[2], mover(*key)),
        keep=n_users > 1,
    )
    tick_moves = _Memo(lambda key: mover(0, *key)(TICK), keep=n_users > 1)
    # The perm code when user k's new id moves to canonical position p, per (k, p);
    # and per perm code, the order (canonical position -> raw user), None if identity.
    shifted = [
        [
            perm_code[_inverse(_moved(n_users, k, p))] if sorting else identity
            for p in range(n_users)
        ]
        for k in range(n_users)
    ]
    order_of = [None if c == identity else _inverse(g.perms[c]) for c in range(len(g.perms))]

    def intern(c: UserState) -> int:
        r = rank.get(c)
        if r is None:
            r = rank[c] = len(rank)
            by_id.append(c)
        return r

    def canon(u: UserState) -> tuple[UserState, int]:
        c = _renumber(u, fg) if renumber else u
        return c, intern(c)

    def mover(k: int, r: int, shared: Hashable) -> Callable[[Action], Move]:
        u = by_id[r]
        return lambda a: one_move(
            config, policy, k, u, shared, a, canon, code_of, move_check, keys_checked
        )

    def code_of(a: Action) -> int:
        code = action_code.get(a)
        if code is None:
            code = action_code[a] = len(actions)
            actions.append(a)
        return code

    s0 = start(config, policy)
    if renumber:
        s0, _ = canonical(s0, rank, symmetry, fg)
    by_id.extend(rank)  # canonical() gave ids to s0's users, in order
    key0: tuple[Any, ...] = (*(intern(u) for u in s0.users), s0.shared)
    states.append(s0)
    user_ids = g.user_ids
    user_ids.append(key0[:-1])
    index[key0] = 0
    depth.append(0)
    parent.append(-1)
    parent_act.append(-1)
    code_of(TICK)  # Tick gets its code first, as it always has

    next_report = t0 + 1.0
    next_memory = t0 + memory.CHECK_SECONDS  # and every 4,096 states
    last_count = 0
    last_time = t0
    # Freed on a MemoryError, so that there is room to repair the graph and report.
    ballast = mmap.mmap(-1, BALLAST)  # reserved, not touched: no resident memory
    try:
        i = 0
        while i < len(states):
            # The clock at every state: a slow policy makes each expansion slow.
            now = time.perf_counter()
            if timeout is not None and now - t0 > timeout:
                g.stopped_by = "timeout"
                break
            if i & 4095 == 0 or now >= next_memory:
                next_memory = now + memory.CHECK_SECONDS
                if spent := memory.over(memory_mb, memory_share):
                    g.stopped_by = "memory"
                    share = "" if memory_share == 1 else f"exploring's {memory_share:.0%} of "
                    g.stop_detail = share + spent
                    break
            if progress is not None and now >= next_report:
                rate = (len(states) - last_count) / (now - last_time)
                progress(
                    f"{policy.name} exhaustive: {len(states):,} states ({rate:,.0f}/s), "
                    f"queue {len(states) - i:,}, depth {depth[i]}, edges {len(dst):,}"
                )
                next_report, last_count, last_time = now + 1.0, len(states), now
            s = states[i]
            d = depth[i]
            if max_depth is not None and d >= max_depth:
                g.stopped_by = "max_depth"
                break
            full = False
            users, shared = s.users, s.shared
            source_ids = user_ids[i]
            # The whole state's moves in the model's order: every user's environment
            # actions, every user's due actions, then Tick (k = -1) if nothing is due.
            batches: list[tuple[int, list[Move]]] = []
            due: list[tuple[int, list[Move]]] = []
            for k, r in enumerate(source_ids):
                environment, due_k = moves[k, r, shared]
                batches.append((k, environment))
                if due_k:
                    due.append((k, due_k))
            batches += due
            ticks: list[Move] = []
            if not due:  # time passes only when nothing is due
                # A Tick ages every user: its edge is batch -1, user 0's tick move standing
                # for all of them (code and flags alike), with the key and claims of all.
                ticks = [tick_moves[r, shared] for r in source_ids]
                ids = tuple(x.rank for x in ticks)
                tick_pc = identity
                if sorting:
                    ranked = sorted(range(n_users), key=ids.__getitem__)
                    tick_pc = perm_code[_inverse(ranked)]
                    ids = tuple(ids[o] for o in ranked)
                tick_key: tuple[Any, ...] = (*ids, ticks[0].shared)
                tick_breaks = tuple(dict.fromkeys(n for x in ticks for n in x.breaks))
                batches.append((-1, ticks[:1]))
            key: tuple[Any, ...]  # the users' ids, then the shared state
            j: int | None  # the successor's id
            for k, batch in batches:
                if not batch:
                    continue
                # The source's ids are sorted: only user k's new id can be out of place.
                rest = (*source_ids[:k], *source_ids[k + 1 :]) if sorting and k >= 0 else ()
                slots = shifted[k]
                mine = source_ids[k] if k >= 0 else -1
                # Unpacked: a named tuple's fields are slow attributes in the hot loop.
                for action, code, after, after_canon, r, after_shared, flag, breaks in batch:
                    if r == mine and (after_shared is shared or after_shared == shared):
                        # User k's state is unchanged (a send that refreshes nothing, say):
                        # a self-loop, with no key to build or look up. Never a Tick's
                        # batch (k = -1): ids are >= 0, and a Tick has its own key below.
                        j, pc = i, identity
                    else:
                        if k < 0:
                            key, pc, breaks = tick_key, tick_pc, tick_breaks
                        elif sorting:
                            # It goes where a stable sort would put it: k, clamped between
                            # the first and the last slot for r among the others.
                            slot = bisect_left(rest, r)
                            if slot < k:
                                slot = bisect_right(rest, r)
                                slot = k if k < slot else slot
                            key = (*rest[:slot], r, *rest[slot:], after_shared)
                            pc = slots[slot]
                        else:
                            key = (*source_ids[:k], r, *source_ids[k + 1 :], after_shared)
                            pc = identity
                        j = index.get(key)
                        if j is None:
                            if max_states is not None and len(states) >= max_states:
                                full = True
                                break
                            cu = (
                                [x.canon for x in ticks]
                                if k < 0
                                else [*users[:k], after_canon, *users[k + 1 :]]
                            )
                            j = len(states)
                            index[key] = j
                            order = order_of[pc]  # canonical position -> raw user
                            states.append(
                                State(
                                    tuple(cu if order is None else [cu[o] for o in order]),
                                    after_shared,
                                )
                            )
                            user_ids.append(key[:-1])
                            depth.append(d + 1)
                            parent.append(i)
                            parent_act.append(code)
                    dst.append(j)
                    act.append(code)
                    perm.append(pc)
                    flags.append(flag)
                    if breaks:
                        g.move_violations.append((len(dst) - 1, breaks))
                    if on_edge is not None:
                        if k >= 0:
                            t = State((*users[:k], after, *users[k + 1 :]), after_shared)
                        else:
                            t = State(tuple(x.user for x in ticks), after_shared)
                        if on_edge(i, s, action, t, len(dst) - 1) is False:
                            on_edge = None
                if full:
                    break
            if full:
                # Drop the half-expanded state's edges: it counts as frontier.
                del dst[edge_start[-1] :], act[edge_start[-1] :], perm[edge_start[-1] :]
                del flags[edge_start[-1] :]
                g.stopped_by = "max_states"
                break
            edge_start.append(len(dst))
            i += 1
        else:
            g.complete = True
    except MemoryError:
        ballast.close()
        g.stop_detail = "a MemoryError"
        _repair(g, rank)
        g.stopped_by = "memory"
    g.seconds = time.perf_counter() - t0
    return g


class _Memo(dict[Any, T]):
    """A cache that makes a missing value from its key; with ``keep`` False it stores
    nothing."""

    def __init__(self, make: Callable[[Any], T], keep: bool) -> None:
        super().__init__()
        self.make, self.keep = make, keep

    def __missing__(self, key: Any) -> T:
        value = self.make(key)
        if self.keep:
            self[key] = value
        return value


def _moved(n: int, k: int, p: int) -> list[int]:
    """The order (canonical position -> raw user) when user k moves to position p and
    the others keep theirs."""
    order = [j for j in range(n) if j != k]
    order.insert(p, k)
    return order


def _inverse(order: Sequence[int]) -> tuple[int, ...]:
    """The inverse permutation (position -> element becomes element -> position)."""
    inverse = [0] * len(order)
    for pos, raw in enumerate(order):
        inverse[raw] = pos
    return tuple(inverse)


# --- traces ---------------------------------------------------------------------------


def real_trace(g: StateGraph, path: list[tuple[int, int]]) -> tuple[tuple[Action, ...], State]:
    """Translate a path of (canonical state, action code) pairs starting at the initial
    state into real model actions, replaying it through the model. Returns the actions
    and the real state at the end."""
    real = start(g.config, g.policy)
    out: list[Action] = []
    for s, code in path:
        cstate, relabel = canonical(real, g.user_rank, g.symmetry, g.forget)
        if cstate != g.states[s]:  # pragma: no cover - a canonicalisation bug
            raise AssertionError("trace translation left the explored graph")
        a = relabel.action(g.actions[code])
        nxt = step(g.config, g.policy, real, a)
        if nxt is None:  # pragma: no cover
            raise AssertionError(f"{a} not enabled while translating a trace")
        out.append(a)
        real = nxt
    return tuple(out), real


def relabel_of(g: StateGraph, real: State) -> Relabel:
    return canonical(real, g.user_rank, g.symmetry, g.forget)[1]


# --- the networkx view ----------------------------------------------------------------


def summary(state: State) -> str:
    """One line per user: each manager's phase, the policy's memory of the user (if it
    keeps one), and the shared policy state."""
    parts = []
    for u, user in enumerate(state.users):
        ms = " ".join(f"{m.phase.value}{'' if m.is_active else '*'}" for m in user.managers)
        memory = "" if user.memory is None else f" memory={policy_state(user.memory)}"
        parts.append(f"u{u}[{ms}]{memory}")
    shared = "" if state.shared is None else f" shared={policy_state(state.shared)}"
    return " ".join(parts) + shared


def to_networkx(g: StateGraph, *, grouped: bool = False) -> Any:
    """The graph as a networkx.DiGraph: nodes are state ids with ``summary`` (readable;
    it leaves ages out, so states can share one: ``g.states[id]`` is the whole state),
    ``depth``, ``states`` (1), ``expanded`` (False for the frontier a budget left) and
    ``violates`` (claims some step into the state broke); edges carry ``action`` (str,
    in the source state's canonical coordinates), ``actions`` (every action from the
    one state to the other: a DiGraph holds one edge per pair), ``steps`` (how many),
    ``violates`` (the claims those steps broke; with the reduction on, not a violation
    only inherited from a user the step did not touch, decision 0013) and ``broken_by``
    (each action that broke a claim, with the claims it broke). A state found while
    expanding one that a budget then cut short is left out: that state's steps were
    dropped (it is frontier), so no edge reaches it.

    ``grouped``: one node per summary (keyed by it), standing for ``states`` states,
    at the least ``depth`` of them, ``expanded`` if all of them were: what a drawing
    can show. An edge then joins two groups if a step joins some of their states; its
    ``actions`` name each kind of step once (``Connect``; ``Connect u1`` with several
    users), and ``broken_by`` says which kinds broke what (some step of that kind did).
    The graph's own ``grouped`` says which view it is, and its ``node_of`` maps each
    state id to its node."""
    ends = g.edge_start
    broke: dict[int, list[str]] = {}
    for name, bad in g.bad_edges.items():
        for e in bad:
            broke.setdefault(e, []).append(name)
    reached = {0, *range(g.expanded), *g.dst}
    several = g.config.users > 1
    keys: list[Any] = [summary(st) for st in g.states] if grouped else list(range(len(g.states)))
    out = nx.DiGraph(grouped=grouped, node_of=keys)
    for s in sorted(reached):
        key = keys[s]
        if key in out:
            node = out.nodes[key]
            node["states"] += 1
            node["depth"] = min(node["depth"], g.depth[s])
            node["expanded"] = node["expanded"] and s < g.expanded
        else:
            text = key if grouped else summary(g.states[s])
            out.add_node(
                key, summary=text, violates=[], depth=g.depth[s], states=1, expanded=s < g.expanded
            )

    def label(code: int) -> str:
        action = g.actions[code]
        if not grouped:
            return str(action)
        who = getattr(action, "user", None)
        return action.name + (f" u{who}" if several and who is not None else "")

    # Counted in plain dicts first: networkx's per-edge lookups cost 4 µs a step.
    steps: Counter[tuple[Any, Any, int]] = Counter()
    for s in range(g.expanded):
        a, b, here = ends[s], ends[s + 1], keys[s]
        steps.update((here, keys[t], code) for t, code in zip(g.dst[a:b], g.act[a:b], strict=True))
    names = {code: label(code) for code in range(len(g.actions))}
    for (a, b, code), n in steps.items():
        if not out.has_edge(a, b):
            out.add_edge(a, b, action=names[code], actions=[], violates=[], broken_by={}, steps=0)
        edge = out.edges[a, b]
        edge["steps"] += n
        if names[code] not in edge["actions"]:
            edge["actions"].append(names[code])
    for e, claims in broke.items():
        s = bisect_right(ends, e) - 1
        a, b, name = keys[s], keys[g.dst[e]], names[g.act[e]]
        edge = out.edges[a, b]
        by = edge["broken_by"].setdefault(name, [])
        for claim in claims:
            for where in (edge["violates"], by, out.nodes[b]["violates"]):
                if claim not in where:
                    where.append(claim)
    rank = {name: i for i, name in enumerate(NAMES)}  # claims listed in catalogue order
    for d in [*(d for _, d in out.nodes(data=True)), *(d for _, _, d in out.edges(data=True))]:
        for claims in (d["violates"], *d.get("broken_by", {}).values()):
            claims.sort(key=rank.__getitem__)
    return out
