"""The SCC fairness engine on small hand-built graphs, including the two traps the
issue names: checking only bottom SCCs, and an "eventually" that ignores cycles."""

from __future__ import annotations

import networkx as nx  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wsmodel.properties.fairness import (
    fair_components,
    find_cycle,
    from_edges,
    longest_weighted,
    recovery_ticks,
    retry_product,
    strongly_connected,
)

TICK, RETRY, ADMIT = 1, 2, 4  # labels; an ADMIT edge leaves the restricted graph


def _fair(n: int, edges: list[tuple[int, int, int]]) -> bool:
    # the engine's method: admitting edges removed, fair SCC = internal TICK and RETRY
    g = from_edges(n, [e for e in edges if not e[2] & ADMIT])
    return bool(fair_components(g, strongly_connected(g), [TICK, RETRY]))


def _naive_bottom_sccs(n: int, edges: list[tuple[int, int, int]]) -> bool:
    # trap 1: look only at bottom SCCs of the unrestricted graph
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    for u, v, lab in edges:
        g.add_edge(u, v, label=g.get_edge_data(u, v, {"label": 0})["label"] | lab)
    cond = nx.condensation(g)
    for c in cond.nodes:
        if cond.out_degree(c) == 0:
            members = cond.nodes[c]["members"]
            labels = 0
            for u, v, d in g.edges(data=True):
                if u in members and v in members:
                    labels |= d["label"]
            if labels & TICK and labels & RETRY and not labels & ADMIT:
                return True
    return False


def _naive_eventually(n: int, edges: list[tuple[int, int, int]]) -> bool:
    # trap 2: a path-following "eventually admitted" that treats a revisited node as
    # fine (stateright's documented false negative): reports a violation only at a
    # dead end reached without admission.
    out: dict[int, list[tuple[int, int]]] = {v: [] for v in range(n)}
    for u, v, lab in edges:
        out[u].append((v, lab))
    seen: set[int] = set()

    def visit(v: int) -> bool:
        if v in seen:
            return False
        seen.add(v)
        if not out[v]:
            return True
        return any(not lab & ADMIT and visit(w) for w, lab in out[v])

    return visit(0)


# Trap 1: a fair blocking cycle 0 <-> 1 that the environment may leave (1 -> 2 is an
# environment action, not owed by fairness); the only bottom SCC {2, 3} admits.
TRAP_BOTTOM = [(0, 1, RETRY), (1, 0, TICK), (1, 2, 0), (2, 3, ADMIT), (3, 2, TICK | RETRY)]

# Trap 2: the user retries and time passes on a self-loop at 0 forever; a branch admits.
TRAP_CYCLE = [(0, 0, TICK | RETRY), (0, 1, ADMIT), (1, 1, TICK)]


def test_bottom_scc_trap() -> None:
    assert _fair(4, TRAP_BOTTOM)
    assert not _naive_bottom_sccs(4, TRAP_BOTTOM)  # the shortcut misses it


def test_cycle_ignoring_eventually_trap() -> None:
    assert _fair(2, TRAP_CYCLE)
    assert not _naive_eventually(2, TRAP_CYCLE)  # the shortcut misses it


def test_unfair_cycles_are_not_violations() -> None:
    assert not _fair(2, [(0, 1, RETRY), (1, 0, 0)])  # no time passes: Zeno
    assert not _fair(2, [(0, 1, TICK), (1, 0, 0)])  # the user stopped retrying
    assert not _fair(2, [(0, 1, RETRY | ADMIT), (1, 0, TICK)])  # admitted each round


def test_tarjan_matches_networkx() -> None:
    edges = [(0, 1, 0), (1, 2, 0), (2, 0, 0), (2, 3, 0), (3, 4, 0), (4, 3, 0), (5, 5, 0)]
    g = from_edges(7, edges)
    comp, ncomp, order = strongly_connected(g)
    mine = {frozenset(v for v in range(7) if comp[v] == c) for c in range(ncomp)}
    theirs = {
        frozenset(c)
        for c in nx.strongly_connected_components(nx.DiGraph([(u, v) for u, v, _ in edges]))
    } | {frozenset({6})}
    assert mine == theirs
    # reverse topological numbering: {3, 4} is reachable from {0, 1, 2}
    assert comp[3] < comp[0]
    # every node once, grouped by component in that numbering
    assert sorted(order) == list(range(7)) and [comp[v] for v in order] == sorted(comp)


def test_find_cycle_passes_required_labels() -> None:
    g = from_edges(4, [(0, 1, 0), (1, 2, RETRY), (2, 3, 0), (3, 0, TICK)])
    comp = strongly_connected(g).comp
    lasso = find_cycle(g, comp, comp[0], 0, [RETRY, TICK])
    labels = 0
    at = 0
    for e in lasso.cycle:
        assert g.start[at] <= e < g.start[at + 1]  # consecutive
        labels |= g.label[e]
        at = g.dst[e]
    assert at == 0 and labels & RETRY and labels & TICK


def test_find_cycle_takes_the_labels_in_the_order_that_is_shortest() -> None:
    # From 0 a retry must wait for a tick (as when this tick's connect is used up): in
    # the order retry-then-tick the cycle went round twice (4 edges, a trial's lasso).
    g = from_edges(2, [(0, 1, TICK), (1, 0, RETRY)])
    comp = strongly_connected(g).comp
    for required in ([RETRY, TICK], [TICK, RETRY]):
        assert len(find_cycle(g, comp, comp[0], 0, required).cycle) == 2


def test_longest_weighted() -> None:
    g = from_edges(4, [(0, 1, TICK), (1, 2, 0), (2, 1, 0), (2, 3, TICK), (0, 3, TICK)])
    parts = strongly_connected(g)
    out = longest_weighted(g, parts, TICK)
    assert not isinstance(out, int)
    best, _ = out
    assert best[parts.comp[0]] == 2
    cyclic = from_edges(2, [(0, 1, TICK), (1, 0, 0)])
    parts = strongly_connected(cyclic)
    assert longest_weighted(cyclic, parts, TICK) == parts.comp[0]


def _product_longest(g_edges: list[tuple[int, int, int]], n: int) -> list[int] | None:
    """The longest tick count from every (v, bit) of the explicit retry product, by
    the generic routines; None if it is unbounded."""
    product = retry_product(from_edges(n, g_edges), TICK, RETRY)
    parts = strongly_connected(product)
    out = longest_weighted(product, parts, TICK)
    if isinstance(out, int):
        return None
    best, _ = out
    return [best[parts.comp[x]] for x in range(2 * n)]


def _layered(best: tuple[list[int], list[int]]) -> list[int]:
    return [best[x % 2][x // 2] for x in range(2 * len(best[0]))]


def _graphs(n: int) -> st.SearchStrategy[tuple[int, list[tuple[int, int, int]]]]:
    # A ring through the first m nodes (so components of several nodes are common),
    # half the time with ticks only inside, and random edges, mostly unlabelled:
    # components with inner ticks only, inner retries only, or both, with labelled
    # edges leaving them (where the order of the layers matters).
    label = st.sampled_from([0, 0, 0, TICK, RETRY])
    edge = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), label)

    def ring(m: int) -> st.SearchStrategy[list[tuple[int, int, int]]]:
        labels = st.one_of(st.sampled_from([0, TICK]), label)
        return st.lists(labels, min_size=m, max_size=m).map(
            lambda labs: [(v, (v + 1) % m, lab) for v, lab in enumerate(labs)]
        )

    rings = st.integers(0, n).flatmap(lambda m: ring(m) if m >= 2 else st.just([]))
    edges = st.tuples(rings, st.lists(edge, max_size=2 * n)).map(lambda p: p[0] + p[1])
    return st.tuples(st.just(n), edges)


@settings(max_examples=400)
@given(st.integers(1, 7).flatmap(_graphs))
def test_recovery_ticks_agrees_with_the_explicit_product(
    graph: tuple[int, list[tuple[int, int, int]]],
) -> None:
    # bounded_recovery's figure is worked out on the followed graph's own components
    # (recovery_ticks); it must equal the longest path of the explicit product.
    n, edges = graph
    g = from_edges(n, edges)
    parts = strongly_connected(g)
    comp = parts.comp
    fast = recovery_ticks(g, parts, TICK, RETRY)
    explicit = _product_longest(edges, n)
    if fast is None:
        # only where some component has inner ticks and inner retries
        inner = [0] * n
        for u, v, lab in edges:
            if comp[u] == comp[v]:
                inner[comp[u]] |= lab
        assert any(x & TICK and x & RETRY for x in inner)
    else:
        assert explicit is not None
        assert _layered(fast) == explicit


def test_recovery_ticks_on_hand_built_graphs() -> None:
    # 0 -retry-> 1 -tick-> 2 -retry-> 3 -tick-> 4: two ticks, each after a retry
    chain = [(0, 1, RETRY), (1, 2, TICK), (2, 3, RETRY), (3, 4, TICK)]
    g = from_edges(5, chain)
    best = recovery_ticks(g, strongly_connected(g), TICK, RETRY)
    assert best is not None and best[0][0] == 2 and best[1][1] == 2 and best[0][1] == 0
    # no tick before a retry: 0 -tick-> 1 -retry-> 2 -tick-> 3 counts from 1 on
    g = from_edges(4, [(0, 1, TICK), (1, 2, RETRY), (2, 3, TICK)])
    best = recovery_ticks(g, strongly_connected(g), TICK, RETRY)
    assert best is not None and best[0][0] == 0 and best[0][1] == 1 and best[1][0] == 2
    # a cycle through a retry and a tick: left to the explicit product
    g = from_edges(2, [(0, 1, RETRY), (1, 0, TICK)])
    assert recovery_ticks(g, strongly_connected(g), TICK, RETRY) is None
    # inner ticks alone (time passes without retries): bounded, the cycle adds nothing
    edges = [(0, 1, TICK), (1, 0, 0), (1, 2, RETRY), (2, 2, TICK)]
    g = from_edges(3, edges)
    best = recovery_ticks(g, strongly_connected(g), TICK, RETRY)
    assert best is not None and best[0][1] == 1 and best[1][0] == 2
    assert _layered(best) == _product_longest(edges, 3)


class _Stop(Exception):
    pass


def test_long_passes_over_a_graph_poll_the_budget() -> None:
    # They never polled: 11-15 s unpolled on a 1.8 M-state graph, and the product built
    # past the memory budget (a review's). A chain of 140,000 nodes with a tick then a
    # retry on alternate edges; polling is every 65,536 nodes: the second poll stops it
    # (a pass that polled only as it began would not be).
    n = 140_000
    g = from_edges(n, [(v, v + 1, TICK if v % 2 else RETRY) for v in range(n - 1)])
    parts = strongly_connected(g)
    polls = []

    def stop() -> None:
        polls.append(1)
        if len(polls) % 2 == 0:
            raise _Stop

    for run in (
        lambda: fair_components(g, parts, [TICK, RETRY], stop),
        lambda: longest_weighted(g, parts, TICK, stop),
        lambda: retry_product(g, TICK, RETRY, stop),
        lambda: recovery_ticks(g, parts, TICK, RETRY, stop),
    ):
        polls.clear()
        with pytest.raises(_Stop):
            run()
    got = longest_weighted(g, parts, TICK)
    assert not isinstance(got, int) and got[0][parts.comp[0]] == (n - 1) // 2
