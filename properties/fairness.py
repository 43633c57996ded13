"""Liveness on a finite graph, done on strongly connected components.

A *labelled graph* has integer nodes and edges carrying a bit mask of labels. A fair
cycle for a set of required labels is a cycle that contains, for every required
label, at least one edge with that label. One exists exactly when some strongly
connected component contains, for every required label, an *internal* edge (both ends
in the component) with it: inside a component every edge can be chained into one
cycle. This is the standard reduction of weak-fairness (Büchi) emptiness to SCCs.

Two shortcuts give wrong answers and are deliberately not used (tests/test_explore_fairness.py
shows each failing on a small graph): looking only at bottom components (a fair cycle
may sit in a component the run could leave but need not), and an "eventually" that
follows paths and treats a revisited node as fine (it never sees the cycle at all).
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import permutations
from typing import NamedTuple

__all__ = [
    "Components",
    "LabelledGraph",
    "Lasso",
    "fair_components",
    "find_cycle",
    "from_edges",
    "longest_weighted",
    "path_within",
    "recovery_ticks",
    "retry_product",
    "strongly_connected",
]


@dataclass
class LabelledGraph:
    """Compact (CSR) graph: the edges of node v are ``start[v]`` to ``start[v + 1]``;
    ``ref`` ties each edge back to whatever it stands for (a model edge)."""

    n: int
    start: array[int] = field(default_factory=lambda: array("Q", [0]))
    dst: array[int] = field(default_factory=lambda: array("I"))
    label: bytearray = field(default_factory=bytearray)
    ref: array[int] = field(default_factory=lambda: array("Q"))


def from_edges(n: int, edges: Iterable[tuple[int, int, int]]) -> LabelledGraph:
    """Build from (source, target, label mask) triples; ``ref`` is the triple's index."""
    by_src: list[list[tuple[int, int, int]]] = [[] for _ in range(n)]
    for k, (u, v, lab) in enumerate(edges):
        by_src[u].append((v, lab, k))
    g = LabelledGraph(n)
    for out in by_src:
        for v, lab, k in out:
            g.dst.append(v)
            g.label.append(lab)
            g.ref.append(k)
        g.start.append(len(g.dst))
    return g


class Components(NamedTuple):
    """The strongly connected components of a graph, numbered in completion order:
    every component reachable from component c has a number <= c (sinks first)."""

    comp: array[int]  # component of each node
    number: int  # of components
    order: array[int]  # the nodes grouped by component, in the components' order


Poll = Callable[[], None] | None  # called every 65,536 nodes; it may raise to stop


def strongly_connected(g: LabelledGraph, poll: Poll = None) -> Components:
    """Tarjan's algorithm, iterative. ``poll`` is called every 65,536 nodes (it may
    raise to stop a search that has run out of time)."""
    n = g.n
    start, dst = g.start, g.dst
    # Unsigned arrays store faster than signed ones; visit order counts from 1, so 0
    # means not visited yet.
    index = array("I", [0]) * n
    low = array("I", [0]) * n
    comp = array("I", [0]) * n
    order = array("I")
    on_stack = bytearray(n)
    stack: list[int] = []
    counter = 1
    ncomp = 0
    for root in range(n):
        if index[root]:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = 1
        work = [root]
        pos = [start[root]]
        while work:
            v = work[-1]
            ei = pos[-1]
            end = start[v + 1]
            descended = False
            while ei < end:
                w = dst[ei]
                ei += 1
                if not index[w]:
                    pos[-1] = ei
                    index[w] = low[w] = counter
                    counter += 1
                    if counter & 65535 == 0 and poll is not None:
                        poll()
                    stack.append(w)
                    on_stack[w] = 1
                    work.append(w)
                    pos.append(start[w])
                    descended = True
                    break
                if on_stack[w] and index[w] < low[v]:
                    low[v] = index[w]
            if descended:
                continue
            work.pop()
            pos.pop()
            if low[v] == index[v]:
                while True:
                    w = stack.pop()
                    on_stack[w] = 0
                    comp[w] = ncomp
                    order.append(w)
                    if w == v:
                        break
                ncomp += 1
            if work:
                u = work[-1]
                if low[v] < low[u]:
                    low[u] = low[v]
    return Components(comp, ncomp, order)


def fair_components(
    g: LabelledGraph, parts: Components, required: Sequence[int], poll: Poll = None
) -> list[int]:
    """Components with, for every mask in ``required``, an internal edge carrying it."""
    comp, ncomp = parts.comp, parts.number
    seen = [0] * ncomp
    start, dst, label = g.start, g.dst, g.label
    for v in range(g.n):
        if v & 65535 == 0 and poll is not None:
            poll()
        c = comp[v]
        for e in range(start[v], start[v + 1]):
            lab = label[e]
            if lab and comp[dst[e]] == c:  # most edges carry no label
                seen[c] |= lab
    if not required:
        return list(range(ncomp))
    # (most components have no labelled inner edge: skip them before all())
    return [c for c in range(ncomp) if seen[c] and all(seen[c] & r for r in required)]


def path_within(
    g: LabelledGraph, comp: array[int], c: int, source: int, goal: int | None, want: int = 0
) -> tuple[list[int], int]:
    """Shortest edge path inside component c from ``source``: to node ``goal`` when
    given, else through the nearest edge carrying label ``want`` (which ends the path).
    Returns (edge indices, end node)."""
    prev: dict[int, int] = {source: -1}
    queue = deque([source])
    if goal is not None and goal == source:
        return [], source
    while queue:
        v = queue.popleft()
        for e in range(g.start[v], g.start[v + 1]):
            w = g.dst[e]
            if comp[w] != c:
                continue
            if goal is None and g.label[e] & want:
                return [*_unwind(g, prev, v), e], w
            if w not in prev:
                prev[w] = e
                if w == goal:
                    return _unwind(g, prev, w), w
                queue.append(w)
    raise ValueError("no such path inside the component")


def _unwind(g: LabelledGraph, prev: dict[int, int], v: int) -> list[int]:
    path: list[int] = []
    while prev[v] != -1:
        e = prev[v]
        path.append(e)
        v = _source(g, e)
    path.reverse()
    return path


def _source(g: LabelledGraph, e: int) -> int:
    lo, hi = 0, g.n
    start = g.start
    while lo < hi:  # last v with start[v] <= e
        mid = (lo + hi + 1) // 2
        if start[mid] <= e:
            lo = mid
        else:
            hi = mid - 1
    while start[lo + 1] <= e:
        lo += 1
    return lo


@dataclass(frozen=True)
class Lasso:
    entry: int  # the node where the cycle starts and ends
    cycle: tuple[int, ...]  # edge indices


def find_cycle(
    g: LabelledGraph, comp: array[int], c: int, entry: int, required: Sequence[int]
) -> Lasso:
    """A cycle from ``entry`` back to it, inside component c, through an edge with each
    required label: the shortest over the orders of the labels (each leg shortest), as a
    fixed order can take a needless round (a retry that must wait for a tick first)."""
    best: tuple[int, ...] | None = None
    for order in permutations(required):
        edges: list[int] = []
        at = entry
        for r in order:
            part, at = path_within(g, comp, c, at, None, want=r)
            edges += part
        back, _ = path_within(g, comp, c, at, entry)
        if best is None or len(edges) + len(back) < len(best):
            best = tuple(edges + back)
    assert best is not None  # permutations() yields at least the empty order
    return Lasso(entry, best)


def _spans(parts: Components, poll: Poll) -> Iterator[tuple[int, int]]:
    """Each component's nodes as a span ``order[i:j]``, sinks first; ``poll`` is called
    every 65,536 nodes."""
    comp, order = parts.comp, parts.order
    n = len(order)
    i = 0
    while i < n:
        c = comp[order[i]]
        j = i + 1
        while j < n and comp[order[j]] == c:
            j += 1
        if poll is not None and i >> 16 != j >> 16:
            poll()
        yield i, j
        i = j


def longest_weighted(
    g: LabelledGraph, parts: Components, weight: int, poll: Poll = None
) -> tuple[list[int], list[int]] | int:
    """Longest path, counting edges that carry label ``weight``, from every node.

    Returns (best per component, the edge achieving it or -1), or, if some component
    has an internal weighted edge (the longest path is unbounded), that component."""
    comp, ncomp = parts.comp, parts.number
    best = [0] * ncomp
    via = [-1] * ncomp
    start, dst, label = g.start, g.dst, g.label
    # Components sinks first; each one's nodes in node order (so the edge chosen among
    # equally long ones does not depend on the search's visiting order). Sorted one
    # component at a time: sorting all the nodes at once took ~90 bytes a node.
    order = parts.order
    for i, j in _spans(parts, poll):
        c = comp[order[i]]
        top, arg = 0, -1
        for v in (order[i],) if j == i + 1 else sorted(order[i:j]):
            for e in range(start[v], start[v + 1]):
                d = comp[dst[e]]
                w = 1 if label[e] & weight else 0
                if d == c:
                    if w:
                        return c
                    continue
                cand = w + best[d]
                if cand > top or (arg == -1 and cand == top):
                    top, arg = cand, e
        best[c], via[c] = top, arg
    return best, via


def retry_product(g: LabelledGraph, tick: int, retry: int, poll: Poll = None) -> LabelledGraph:
    """g with a bit per node: has the run retried since the last tick? Node (v, b) is
    ``v * 2 + b``. From b = 0 no tick is taken; a retry sets the bit; a tick clears
    it. So a path's ticks each follow a retry since the previous tick (or the start).
    Edges keep their labels and their ``ref`` in g."""
    out = LabelledGraph(g.n * 2)
    start, dst, label, ref = g.start, g.dst, g.label, g.ref
    for v in range(g.n):
        if v & 65535 == 0 and poll is not None:
            poll()
        edges = range(start[v], start[v + 1])
        for b in (0, 1):
            for e in edges:
                lab = label[e]
                if lab & tick:
                    if b == 0:
                        continue
                    bit = 0
                else:
                    bit = 1 if lab & retry else b
                out.dst.append(dst[e] * 2 + bit)
                out.label.append(lab)
                out.ref.append(ref[e])
            out.start.append(len(out.dst))
    return out


def recovery_ticks(
    g: LabelledGraph, parts: Components, tick: int, retry: int, poll: Poll = None
) -> tuple[list[int], list[int]] | None:
    """The longest path of :func:`retry_product` counting ticks, from every (v, 0) and
    (v, 1), worked out on g and its components without building the product.

    Inside one component of g, a tick leads from layer 1 to layer 0 and a retry from
    layer 0 to layer 1. If a component has inner edges of both kinds this returns
    None: only then can the product have a cycle through a tick (the caller builds the
    product). Otherwise at most one kind is inside, so the layer it leads into is
    finished first, and within a layer the remaining inner edges weigh nothing: each
    node's value is the best of what the nodes it reaches there can leave with.
    Components are taken sinks first (their numbering), so everything outside is
    final. ``tests/test_explore_fairness.py`` holds it to the product's own longest
    path on random graphs."""
    n = g.n
    start, dst, label = g.start, g.dst, g.label
    best = ([0] * n, [0] * n)  # per layer (bit), per node
    b0, b1 = best
    comp, order = parts.comp, parts.order
    for i, j in _spans(parts, poll):
        v = order[i]
        if j == i + 1:  # one node (most of them): its only inner edges are self-loops
            t0 = t1 = 0
            loops = 0
            for e in range(start[v], start[v + 1]):
                w, lab = dst[e], label[e]
                if w == v:
                    loops |= lab
                elif lab & tick:
                    x = 1 + b0[w]
                    t1 = x if x > t1 else t1
                elif lab & retry:
                    x = b1[w]
                    t0 = x if x > t0 else t0
                    t1 = x if x > t1 else t1
                else:
                    t0 = b0[w] if b0[w] > t0 else t0
                    t1 = b1[w] if b1[w] > t1 else t1
            if loops & tick and loops & retry:
                return None
            if loops & tick:  # (v, 1) -tick-> (v, 0)
                t1 = max(t1, 1 + t0)
            if loops & retry:  # (v, 0) -retry-> (v, 1)
                t0 = max(t0, t1)
            b0[v], b1[v] = t0, t1
        elif not _component_ticks(g, comp, order[i:j], best, tick, retry, poll):
            return None
    return best


def _component_ticks(
    g: LabelledGraph,
    comp: array[int],
    members: Sequence[int],
    best: tuple[list[int], list[int]],
    tick: int,
    retry: int,
    poll: Poll,
) -> bool:
    """:func:`recovery_ticks` for one component of several nodes; False if it has
    inner ticks and inner retries."""
    start, dst, label = g.start, g.dst, g.label
    c = comp[members[0]]
    inner = 0
    for v in members:
        for e in range(start[v], start[v + 1]):
            if comp[dst[e]] == c:
                inner |= label[e]
    if inner & tick and inner & retry:
        return False
    for layer in (0, 1) if inner & tick else (1, 0):
        values = best[layer]
        # What each node can leave the layer with: edges out of the component, and
        # edges into the other layer (finished first).
        for v in members:
            top = 0
            for e in range(start[v], start[v + 1]):
                w, lab = dst[e], label[e]
                if lab & tick:
                    if layer == 0:
                        continue
                    x = 1 + best[0][w]
                elif lab & retry:
                    x = best[1][w]
                    if comp[w] == c and layer == 1:
                        continue  # stays in the layer, inside: spread below
                elif comp[w] == c:
                    continue  # stays in the layer, inside: spread below
                else:
                    x = values[w]
                top = x if x > top else top
            values[v] = top
        # Spread along the zero-weight inner edges of the layer until nothing changes.
        changed = True
        while changed:
            if poll is not None:
                poll()  # a pass over a large component can take seconds
            changed = False
            for v in members:
                for e in range(start[v], start[v + 1]):
                    w, lab = dst[e], label[e]
                    stays = not lab & tick and (layer == 1 or not lab & retry)
                    if stays and comp[w] == c and values[w] > values[v]:
                        values[v] = values[w]
                        changed = True
    return True
