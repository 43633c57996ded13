"""Speed and scale of the exhaustive engine (issue 3). Not run by pytest.

    python benchmarks/bench_exhaustive.py [--quick | --two-users | --stages [N] | --one-user
                                           | --lasso]

Each measurement runs in a fresh subprocess so that peak memory (ru_maxrss) is its
own. Prints: engine vs a straightforward networkx baseline on the same model and
canonical forms (distinct states/s, peak memory; safety-only and with liveness), a
growth table over limit and users, the largest limit fully verified in 60 s, and the
time the cutoff lemmas take (docs/checking.md), what the reductions save at one user,
limit 2, and two users at limit 1 run to the end with no budget (``--quick`` skips the
baseline's limit-2 and two-user rows, limit 3 and the last three: about 3 minutes).
``--stages N`` times exploring two users at limit 1 and each stage of judging the
liveness claims, as the best of N runs (default 5) in one process, for the figures
that decide a goal on this noisy VM (about 2 minutes). ``--one-user`` breaks one
user at limit 2 down: exploring with and without the claims and judging (best of 3),
and the time each kind of move takes (about 2 minutes). ``--lasso`` times choosing
no_permanent_block's lasso where it is dearest, graduated with two users at limit 1
(about 4 minutes).
"""

from __future__ import annotations

import gc
import json
import resource
import subprocess
import sys
import time
from typing import Any

from wsmodel.model import BUILTIN, Config, enabled, preset, start, step
from wsmodel.properties.catalogue import BY_NAME, LIVENESS_NAMES, NAMES
from wsmodel.properties.exhaustive import EXPLORE_SHARE, RETRY, TICK, _Judge, run_exhaustive
from wsmodel.properties.explore import Forget, canonical, explore
from wsmodel.properties.fairness import fair_components, recovery_ticks, strongly_connected

SAFETY = [p for p in NAMES if p not in LIVENESS_NAMES]


def _config(users: int, limit: int) -> Config:
    return preset("small").with_(users=users, limit=limit)


def engine(
    users: int, limit: int, policy: str, props: list[str], timeout: float | None, reduction: bool
) -> dict[str, Any]:
    t0 = time.perf_counter()
    rep = run_exhaustive(
        _config(users, limit), BUILTIN[policy], props, timeout=timeout, reduction=reduction
    )
    dt = time.perf_counter() - t0
    g = rep.graph
    return {
        "states": len(g.states),
        "edges": g.edges,
        "complete": g.complete,
        "seconds": dt,
        "explore_seconds": g.seconds,
        "verdicts": {r.property: r.status.value for r in rep.results},
    }


def baseline(users: int, limit: int, policy: str, liveness: bool, timeout: float) -> dict[str, Any]:
    """What one would write first: a networkx.DiGraph grown during BFS (nodes are the
    canonical states themselves, the same reductions), the catalogue's step checks on
    every edge, and networkx's SCC routine on the fault-free subgraph for liveness."""
    import networkx as nx  # type: ignore[import-untyped]

    cfg, pol = _config(users, limit), BUILTIN[policy]
    forget = Forget.unobserved(pol)
    rank: dict[Any, int] = {}
    checks = [BY_NAME[p].check for p in SAFETY]
    t0 = time.perf_counter()
    s0 = canonical(start(cfg, pol), rank, True, forget)[0]
    g = nx.DiGraph()
    g.add_node(s0)
    queue = [s0]
    i = 0
    complete = True
    while i < len(queue):
        if time.perf_counter() - t0 > timeout:
            complete = False
            break
        s = queue[i]
        i += 1
        for a in enabled(cfg, pol, s):
            t = step(cfg, pol, s, a)
            assert t is not None
            for chk in checks:
                assert chk is not None
                chk(cfg, pol, s, a, t)
            c = canonical(t, rank, True, forget)[0]
            if c not in g:
                g.add_node(c)
                queue.append(c)
            g.add_edge(s, c, action=a)
    if liveness:
        sub = nx.DiGraph((u, v) for u, v, d in g.edges(data=True) if not d["action"].fault)
        sum(1 for _ in nx.strongly_connected_components(sub))
    return {
        "states": g.number_of_nodes(),
        "edges": g.number_of_edges(),
        "complete": complete,
        "seconds": time.perf_counter() - t0,
    }


def _one(spec: dict[str, Any]) -> dict[str, Any]:
    if spec["kind"] == "engine":
        out = engine(
            spec["users"],
            spec["limit"],
            spec["policy"],
            spec["props"],
            spec["timeout"],
            spec.get("reduction", True),
        )
    else:
        out = baseline(
            spec["users"], spec["limit"], spec["policy"], spec["liveness"], spec["timeout"]
        )
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def measure(**spec: Any) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--one", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(proc.stdout))


def main(argv: list[str]) -> int:
    if argv[:1] == ["--one"]:
        print(json.dumps(_one(json.loads(argv[1]))))
        return 0
    quick = "--quick" in argv
    if "--two-users" in argv:  # only the complete two-user runs (about 30 s)
        return two_users()
    if "--stages" in argv:
        rest = argv[argv.index("--stages") + 1 :]
        return stages(int(rest[0]) if rest else 5)
    if "--one-user" in argv:
        return one_user()
    if "--lasso" in argv:
        return lasso()
    print("# engine vs networkx baseline: small preset")
    print(
        "| policy | users | limit | run | states | s | states/s | peak MB | speed-up vs baseline |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|")
    # limit 2 only for reference: the other policies' limit-2 graphs take minutes
    sizes = [(p, 1, 1) for p in ("reference", "conservative", "graduated")]
    for policy, users, limit in (
        sizes if quick else [*sizes, ("reference", 1, 2), ("reference", 2, 1)]
    ):
        for label, props, live in (("safety", SAFETY, False), ("all+liveness", list(NAMES), True)):
            e = measure(
                kind="engine", users=users, limit=limit, policy=policy, props=props, timeout=600
            )
            b = measure(
                kind="baseline",
                users=users,
                limit=limit,
                policy=policy,
                liveness=live,
                timeout=600,
            )
            assert e["states"] == b["states"], (e, b)
            print(
                f"| {policy} | {users} | {limit} | {label} | {e['states']:,} | "
                f"{e['seconds']:.2f} | "
                f"{e['states'] / e['seconds']:,.0f} | {e['peak_mb']:.0f} | "
                f"{b['seconds'] / e['seconds']:.2f} (baseline {b['seconds']:.2f} s, "
                f"{b['peak_mb']:.0f} MB) |",
                flush=True,
            )
    print()
    print("# growth (reference, all claims, 60 s budget)")
    print("| users | limit | states | edges | complete | s | states/s | peak MB |")
    print("|---:|---:|---:|---:|---|---:|---:|---:|")
    largest: dict[int, int] = {}
    for users in (1, 2):
        for limit in (1, 2) if quick else (1, 2, 3):
            e = measure(
                kind="engine",
                users=users,
                limit=limit,
                policy="reference",
                props=list(NAMES),
                timeout=60 / EXPLORE_SHARE,  # 60 s of exploration, then judging
            )
            print(
                f"| {users} | {limit} | {e['states']:,} | {e['edges']:,} | {e['complete']} | "
                f"{e['seconds']:.1f} | {e['states'] / e['seconds']:,.0f} | "
                f"{e['peak_mb']:.0f} |",
                flush=True,
            )
            if e["complete"] and e["seconds"] <= 60:
                largest[users] = limit
            elif not e["complete"]:
                break
    print()
    for users in (1, 2):
        got = largest.get(users)
        print(
            f"largest limit fully verified within 60 s, {users} user(s): "
            f"{got if got else 'none (limit 1 does not finish)'}"
        )
    if quick:
        return 0
    print()
    print("# cutoff lemmas (reference): python -m wsmodel.properties.cutoff")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "wsmodel.properties.cutoff"], capture_output=True, text=True
    )
    print(proc.stdout.rstrip())
    print(f"exit {proc.returncode}, {time.perf_counter() - t0:.1f} s")
    print()
    print("# what the reductions save: 1 user, limit 2, reference, all claims, no budget")
    print("| reduction | states | edges | s | peak MB | verdicts |")
    print("|---|---:|---:|---:|---:|---|")
    for reduction in (True, False):
        e = measure(
            kind="engine",
            users=1,
            limit=2,
            policy="reference",
            props=list(NAMES),
            timeout=None,
            reduction=reduction,
        )
        verdicts = sorted(set(e["verdicts"].values()))
        print(
            f"| {'on' if reduction else 'off'} | {e['states']:,} | {e['edges']:,} | "
            f"{e['seconds']:.1f} | {e['peak_mb']:.0f} | {', '.join(verdicts)} |",
            flush=True,
        )
    print()
    return two_users()


def two_users() -> int:
    print("# two users, limit 1, reference, all claims, no budget")
    e = measure(
        kind="engine", users=2, limit=1, policy="reference", props=list(NAMES), timeout=None
    )
    print(
        f"{e['states']:,} states, {e['edges']:,} edges, complete {e['complete']}, "
        f"{e['seconds']:.0f} s (exploration {e['explore_seconds']:.0f} s), "
        f"{e['states'] / e['seconds']:,.0f} states/s, peak {e['peak_mb']:,.0f} MB"
    )
    print(json.dumps(e["verdicts"], indent=1))
    # The floor for any claim: the same exploration with no claim checked or judged;
    # and what the two liveness claims cost on top of it.
    e = measure(kind="engine", users=2, limit=1, policy="reference", props=[], timeout=None)
    print(f"the same exploration with no claims: {e['seconds']:.1f} s, {e['states']:,} states")
    live = sorted(LIVENESS_NAMES)
    e = measure(kind="engine", users=2, limit=1, policy="reference", props=live, timeout=None)
    print(
        f"the liveness claims only: {e['seconds']:.1f} s "
        f"(exploration {e['explore_seconds']:.1f} s, judging "
        f"{e['seconds'] - e['explore_seconds']:.1f} s)"
    )
    return 0


def stages(runs: int) -> int:
    """Best of ``runs``: exploring two users at limit 1 (reference, reductions on, no
    claim), then each stage of judging the two liveness claims on that graph."""
    best: dict[str, float] = {}
    states = 0
    gc.disable()  # as in a run (results.gc_tuned)
    for _ in range(runs):
        gc.collect()
        t = [time.perf_counter()]
        g = explore(_config(2, 1), BUILTIN["reference"], forget=True)
        t.append(time.perf_counter())
        judge = _Judge(g)
        lg = judge._build_followed()
        t.append(time.perf_counter())
        parts = strongly_connected(lg)
        t.append(time.perf_counter())
        fair_components(lg, parts, [TICK, RETRY])
        t.append(time.perf_counter())
        recovery_ticks(lg, parts, TICK, RETRY)
        t.append(time.perf_counter())
        names = ["exploration", "followed graph", "components", "fair components", "recovery"]
        for name, a, b in zip(names, t, t[1:], strict=False):
            best[name] = min(best.get(name, float("inf")), b - a)
        states = len(g.states)
        del g, judge, lg, parts
    gc.enable()
    print(f"# two users, limit 1, reference: best of {runs} runs in one process")
    for name, seconds in best.items():
        print(f"{name}: {seconds:.2f} s")
    print(f"exploration: {states / best['exploration']:,.0f} distinct states/s ({states:,} states)")
    liveness = sum(v for k, v in best.items() if k != "exploration")
    print(f"liveness judging in all: {liveness:.2f} s")
    return 0


def lasso() -> int:
    """Graduated, two users, limit 1, no_permanent_block: the time choosing its lasso
    takes, and the shortest-path searches inside it (docs/checking.md says why the lasso
    is the shorter of two, not the shortest of all)."""
    from wsmodel.properties import exhaustive

    spent = dict.fromkeys(("_lasso", "shortest"), 0.0)

    def timed(name: str) -> None:
        plain = getattr(exhaustive._Judge, name)

        def run(*args: Any) -> Any:
            t = time.perf_counter()
            try:
                return plain(*args)
            finally:
                spent[name] += time.perf_counter() - t

        setattr(exhaustive._Judge, name, run)

    timed("_lasso")
    timed("shortest")
    t0 = time.perf_counter()
    (r,) = run_exhaustive(_config(2, 1), BUILTIN["graduated"], ["no_permanent_block"]).results
    assert r.counterexample is not None
    print("# graduated, two users, limit 1, no_permanent_block")
    print(
        f"whole run: {time.perf_counter() - t0:.1f} s; choosing the lasso: "
        f"{spent['_lasso']:.1f} s, of which shortest paths {spent['shortest']:.1f} s; "
        f"lasso length {r.counterexample.length()}"
    )
    return 0


def one_user() -> int:
    """One user, limit 2, reference, the safety claims: where the time goes (the
    figures behind "not done, one user" in docs/performance.md)."""
    from collections import defaultdict

    from wsmodel.properties import explore as explore_module

    cfg, pol = _config(1, 2), BUILTIN["reference"]
    gc.disable()
    best = dict.fromkeys(("exploring alone", "with the claims", "judging"), float("inf"))
    for _ in range(3):
        gc.collect()
        t0 = time.perf_counter()
        explore(cfg, pol, forget=True)
        best["exploring alone"] = min(best["exploring alone"], time.perf_counter() - t0)
        t0 = time.perf_counter()
        rep = run_exhaustive(cfg, pol, SAFETY)
        whole = time.perf_counter() - t0
        best["with the claims"] = min(best["with the claims"], rep.graph.seconds)
        best["judging"] = min(best["judging"], whole - rep.graph.seconds)
    print("# one user, limit 2, reference, safety claims: best of 3 runs in one process")
    for name, seconds in best.items():
        print(f"{name}: {seconds:.2f} s")
    # One more run with each move timed by its action's kind (the timing adds a little).
    spent: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    plain = explore_module.one_move

    def timed(*args: Any) -> Any:
        t = time.perf_counter()
        move = plain(*args)
        kind = type(args[5]).__name__  # the action
        spent[kind] += time.perf_counter() - t
        count[kind] += 1
        return move

    explore_module.one_move = timed
    try:
        rep = run_exhaustive(cfg, pol, SAFETY)
    finally:
        explore_module.one_move = plain
    gc.enable()
    print(f"\n# each move timed by kind (exploration {rep.graph.seconds:.2f} s)")
    print("| action | edges | s | µs per edge |")
    print("|---|---:|---:|---:|")
    for kind in sorted(spent, key=spent.__getitem__, reverse=True):
        per = spent[kind] / count[kind] * 1e6
        print(f"| {kind} | {count[kind]:,} | {spent[kind]:.2f} | {per:.1f} |")
    print(f"| the rest of exploration | | {rep.graph.seconds - sum(spent.values()):.2f} | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
