"""The cutoff argument for large limits (docs/checking.md): two lemmas, checked.

No engine can explore limit 20 (each extra manager multiplies the one-user space by
~150; ~95 with the exhaustive engine's reductions), so the argument for large limits
goes through single managers. Project a run onto one manager: its *local steps* are
(local state before, label, local state after), where the local state is the manager
with its key erased and the label says what moved it (``Tick``, one of its own actions,
or a user-level action of its user: ``Connect``, ``Sweep``, ``ServerSend``). Steps that
leave it unchanged and are not its own or a ``Tick`` are stutters and are dropped;
creation is ``(None, "Connect", m)`` and removal ``(m, label, None)``.

Lemma M: every local step of a run at limit L is a local step of the complete
one-user graph at limit 1 (same timings and policy). By induction over the run, every
local state at limit L is then reachable at limit 1, so claims about one manager's
local state or step (``zombies_reaped`` with its worst figure, ``no_healthy_eviction``,
``no_leak``'s first half) carry over from limit 1. Checked on every edge of an explored
graph at a larger limit, and on seeded random runs at any limit.

Lemma L (reference): every local state reachable at limit 1 that is live but not in
use (``catalogue.in_use``) is stuck, or idle long enough for reference to evict it
(``activity_age > idle_after``). With lemma M and reference's admission rule it gives
the liveness claims at every limit; docs/checking.md has the argument.

    python -m wsmodel.properties.cutoff [--policy NAME] [--limit L] [--runs N]
"""

from __future__ import annotations

import argparse
import io
import random
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Generic, TypeVar

from wsmodel.model import (
    LIVE,
    Action,
    Config,
    ConfigError,
    Connect,
    Manager,
    Phase,
    Policy,
    PolicyError,
    ServerSend,
    State,
    Sweep,
    Tick,
    enabled,
    preset,
    start,
    step,
)
from wsmodel.properties import watchdog
from wsmodel.properties.catalogue import in_use
from wsmodel.properties.explore import StateGraph, explore
from wsmodel.properties.loader import UsageError, load_policy, validate_policy

__all__ = [
    "LocalStep",
    "base_relation",
    "check_limit",
    "check_runs",
    "lemma_l_exceptions",
    "local_steps",
    "random_runs",
]

LocalStep = tuple[Manager | None, str, Manager | None]
W = TypeVar("W")  # what a tally keeps as the witness of a step outside the base
_USER_LEVEL = (Connect, Sweep, ServerSend)


def _local(m: Manager) -> Manager:
    return m._replace(id=0)


def local_steps(before: State, action: Action, after: State) -> Iterator[LocalStep]:
    """The local steps of every manager moved by one step of the model (raw keys:
    ``after`` as ``step`` returned it, not a canonical form)."""
    owner = getattr(action, "user", None)
    for u, (b, a) in enumerate(zip(before.users, after.users, strict=True)):
        mine = owner == u
        now = {m.id: m for m in a.managers}
        for m in b.managers:
            n = now.get(m.id)
            own = mine and getattr(action, "manager", None) == m.id
            if isinstance(action, Tick) or own:
                label = action.name
            elif mine and isinstance(action, _USER_LEVEL):
                if n == m:
                    continue  # a stutter for m
                label = action.name
            elif n == m:
                continue  # another manager's or user's step, m untouched
            else:
                label = f"foreign {action.name}"  # never a step of the base graph
            yield _local(m), label, None if n is None else _local(n)
        for m in a.managers:
            if m.id >= b.next_id:
                yield None, action.name, _local(m)


class Incomplete(RuntimeError):
    """The limit-1 graph did not finish within its budget: nothing can be checked."""


def base_relation(config: Config, policy: Policy, timeout: float | None = None) -> set[LocalStep]:
    """Every local step of the complete one-user, limit-1 graph of ``config``'s timings."""
    base = config.with_(users=1, limit=1)
    steps: set[LocalStep] = set()

    def hook(i: int, s: State, a: Action, t: State, e: int) -> None:
        steps.update(local_steps(s, a, t))

    g = explore(base, policy, on_edge=hook, timeout=timeout)
    if not g.complete:
        raise Incomplete(f"the limit-1 graph did not finish (stopped by {g.stopped_by})")
    return steps


@dataclass
class LemmaCheck:
    checked: int  # local steps examined
    distinct: int  # distinct local steps among them
    covered: int  # how many of the base relation's steps were seen
    outside: list[tuple[LocalStep, list[Action]]]  # steps not in the base, with a witness run

    @property
    def holds(self) -> bool:
        return not self.outside


@dataclass
class _Tally(Generic[W]):
    """Lemma M's bookkeeping: every local step of the steps fed in, against the base;
    the first few outside it keep a witness (what ``witness`` returns, when asked)."""

    base: set[LocalStep]
    checked: int = 0
    found: set[LocalStep] = field(default_factory=set)
    outside: list[tuple[LocalStep, W]] = field(default_factory=list)

    def add(self, s: State, a: Action, t: State, witness: Callable[[], W]) -> None:
        for ls in local_steps(s, a, t):
            self.checked += 1
            if ls not in self.found:
                self.found.add(ls)
                if ls not in self.base and len(self.outside) < 5:
                    self.outside.append((ls, witness()))

    def result(self, trace: Callable[[W], list[Action]]) -> LemmaCheck:
        outside = [(ls, trace(w)) for ls, w in self.outside]
        return LemmaCheck(self.checked, len(self.found), len(self.found & self.base), outside)


def check_limit(
    config: Config,
    policy: Policy,
    base: set[LocalStep],
    *,
    max_states: int | None = None,
    timeout: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[LemmaCheck, StateGraph]:
    """Lemma M over every edge of the one-user graph of ``config``, checked as the
    edges are found (a budget checks a prefix; the graph says how far it got).
    ``progress`` gets the explorer's progress lines."""
    tally: _Tally[tuple[int, Action]] = _Tally(base)

    def hook(i: int, s: State, a: Action, t: State, e: int) -> None:
        tally.add(s, a, t, lambda: (i, a))

    g = explore(
        config.with_(users=1),
        policy,
        on_edge=hook,
        max_states=max_states,
        timeout=timeout,
        progress=progress,
    )
    return tally.result(lambda w: [g.actions[c] for _, c in g.path_to(w[0])] + [w[1]]), g


def random_runs(
    config: Config, policy: Policy, runs: int, length: int, seed: int
) -> Iterator[tuple[list[Action], State, Action, State]]:
    """Seeded random walks that fill the registry: most steps are a Connect, a Tick or
    a due system action (a Connect needs a Tick before the next); the rest are drawn
    from every enabled action, at a rate each run draws, so some runs reach the limit
    with healthy managers and some with zombies and hanging closes."""
    rng = random.Random(seed)
    for _ in range(runs):
        s = start(config, policy)
        trace: list[Action] = []
        other = rng.uniform(0.02, 0.4)
        for _ in range(length):
            acts = enabled(config, policy, s)
            pick = [a for a in acts if isinstance(a, (Connect, Tick)) or a.system]
            a = rng.choice(acts if not pick or rng.random() < other else pick)
            t = step(config, policy, s, a)
            assert t is not None
            trace.append(a)
            yield trace, s, a, t
            s = t


def check_runs(
    walks: Iterable[tuple[list[Action], State, Action, State]], base: set[LocalStep]
) -> LemmaCheck:
    """Lemma M over the steps of runs (``random_runs``); a witness is the run so far."""
    tally: _Tally[list[Action]] = _Tally(base)
    for trace, s, a, t in walks:
        tally.add(s, a, t, partial(list, trace))
    return tally.result(lambda w: w)


def lemma_l_exceptions(config: Config, base: set[LocalStep]) -> list[Manager]:
    """Local states of the base relation that are live and not in use, yet neither
    stuck nor evictable by reference's rule (``activity_age > idle_after``)."""
    states = {m for before, _, after in base for m in (before, after) if m is not None}
    return sorted(
        (
            m
            for m in states
            if m.phase in LIVE
            and not in_use(config, m)
            and m.phase is not Phase.STUCK
            and m.activity_age <= config.idle_after
        ),
        key=show,
    )


def show(m: Manager | None) -> str:
    if m is None:
        return "(none)"
    return (
        f"{m.phase.value}{'' if m.is_active else '*'} age={m.age} activity={m.activity_age} "
        f"quiet={m.quiet_age} pong={m.pong_age} in_phase={m.phase_age}"
        f"{' hangs' if m.close_hangs else ''}{' aborting' if m.aborting else ''}"
        f"{'' if m.stuck_age is None else f' stuck={m.stuck_age}'}"
    )


def describe(ls: LocalStep) -> str:
    before, label, after = ls
    return f"{show(before)} --{label}--> {show(after)}"


def main(argv: list[str] | None = None) -> int:
    """Exit 0 if both lemmas hold, 1 if one fails (with witnesses) or could not be
    checked, 2 on bad input, 3 if the policy broke the protocol, 4 on an internal error."""
    parser = argparse.ArgumentParser(
        prog="python -m wsmodel.properties.cutoff",
        description="Check the lemmas of the cutoff argument (docs/checking.md, 'The cutoff "
        "in the limit'), one user, small timings: lemma L, every manager that is live but not "
        "in use at limit 1 is stuck or evictable; lemma M, every step of one manager at a "
        "larger limit is a step it can take at limit 1. Exit 0 if both hold, 1 if one fails "
        "or could not be checked, 2 on bad input, 3 if the policy broke the protocol, 4 on an "
        "internal error.",
    )
    parser.add_argument(
        "--policy",
        default="reference",
        metavar="NAME|module:attr",
        help="the policy (default reference; the argument is made for reference only)",
    )
    parser.add_argument(
        "--limit", type=int, default=20, help="limit of the random runs (default 20)"
    )
    parser.add_argument("--runs", type=int, default=200, help="random runs (default 200)")
    parser.add_argument("--length", type=int, default=1000, help="steps per run (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random runs (default 0)")
    parser.add_argument(
        "--exhaustive-limit",
        type=int,
        default=2,
        metavar="L",
        help="also check every edge of the one-user graph at limit L (default 2; 0: skip)",
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds for that graph (default 600)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    try:
        if min(args.runs, args.length) < 0 or args.timeout <= 0:
            raise UsageError("--runs and --length must be >= 0 and --timeout > 0")
        if not args.exhaustive_limit and not (args.runs and args.length):
            # exit 0 says both lemmas hold: lemma M must be checked somewhere
            raise UsageError(
                "nothing would check lemma M: give --exhaustive-limit >= 2, or --runs and "
                "--length above 0"
            )
        if args.exhaustive_limit < 0 or args.exhaustive_limit == 1:
            # limit 1 is the base relation itself: nothing to compare
            raise UsageError(
                f"--exhaustive-limit must be 0 or at least 2, got {args.exhaustive_limit}"
            )
        cfg = preset("small").with_(users=1, limit=1)
        walk_cfg = cfg.with_(limit=args.limit)
        watchdog.watch(watchdog.limit_from_env())  # a call that never returns is said, not hung on
        policy = load_policy(args.policy)
        # every configuration the tool runs: a trait may depend on it (sweep_period)
        walks = args.runs > 0 and args.length > 0
        sizes = {
            1,
            *([args.limit] if walks else []),
            *([args.exhaustive_limit] if args.exhaustive_limit else []),
        }
        for limit in sorted(sizes):
            validate_policy(policy, cfg.with_(limit=limit), args.policy)
    except (UsageError, ConfigError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    except PolicyError as exc:
        print(f"{parser.prog}: policy error: {exc}", file=sys.stderr)
        return 3
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # each finding as it comes, even piped
    try:
        return _check(policy, cfg, walk_cfg, args)
    except PolicyError as exc:
        print(f"{parser.prog}: policy error: {exc}", file=sys.stderr)
        return 3
    except Incomplete as exc:
        print(f"not checked: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug in wsmodel: not "a lemma fails" (exit 1)
        print(f"{parser.prog}: internal error ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 4


def _check(policy: Policy, cfg: Config, walk_cfg: Config, args: argparse.Namespace) -> int:
    base = base_relation(cfg, policy, timeout=args.timeout)
    print(f"{policy.name}: {len(base)} distinct local steps at limit 1 (small timings)")
    exceptions = lemma_l_exceptions(cfg, base)
    if exceptions:
        print(f"lemma L: FAILS on {len(exceptions)} local states, e.g. {show(exceptions[0])}")
    else:
        print("lemma L: holds (every live local state not in use is stuck or evictable)")
    failed = bool(exceptions)
    cut = ""  # what stopped the limit-L graph short, if anything did
    if args.exhaustive_limit > 1:
        out, g = check_limit(
            cfg.with_(limit=args.exhaustive_limit),
            policy,
            base,
            timeout=args.timeout,
            progress=None if args.quiet else partial(print, file=sys.stderr, flush=True),
        )
        scope = "complete" if g.complete else f"a prefix: stopped by {g.stopped_by}"
        failed |= _report(
            f"limit {args.exhaustive_limit}, every edge ({len(g.states):,} states, {scope})",
            out,
            len(base),
        )
        # A prefix is checked, but the graph is not: the lemma stays unproven there.
        if not g.complete:
            cut = g.stopped_by
    if args.runs and args.length:
        walks = random_runs(walk_cfg, policy, args.runs, args.length, args.seed)
        failed |= _report(
            f"limit {args.limit}, {args.runs} random runs of {args.length} steps",
            check_runs(walks, base),
            len(base),
        )
    if failed:
        print(f"the cutoff argument does not apply to {policy.name} (docs/checking.md)")
    elif cut:
        print(
            f"not checked: the limit-{args.exhaustive_limit} graph is a prefix (stopped by "
            f"{cut}); lemma M holds on the part explored"
        )
        return 1
    else:
        # The lemmas are steps of an argument: say where the argument is.
        print(
            f"no check failed for {policy.name}: the cutoff argument built on these (lemma M "
            "argued, not proven, beyond what was checked here) and what it does not cover: "
            "docs/checking.md, 'The cutoff in the limit'"
        )
    return 1 if failed else 0


def _report(scope: str, out: LemmaCheck, base_size: int) -> bool:
    print(
        f"{scope}: {out.checked:,} local steps, {out.distinct} distinct "
        f"({out.covered} of the {base_size} limit-1 steps); "
        + ("lemma M holds (each is a limit-1 step)" if out.holds else "LEMMA M FAILS")
    )
    for ls, trace in out.outside:
        print(f"  not a limit-1 step: {describe(ls)}")
        print(f"    after {len(trace)} steps, ending: {' '.join(map(str, trace[-8:]))}")
    return not out.holds


if __name__ == "__main__":
    sys.exit(main())
