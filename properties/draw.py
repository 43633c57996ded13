"""The explored state graph as Graphviz DOT, with a counterexample drawn over it.

What `wsmodel graph` writes (decision 0020). The graph is the exhaustive engine's, in
its networkx view (:func:`~wsmodel.properties.explore.to_networkx`): every state, or,
by default, the states grouped by their summary (phases, the ``is_active`` flag, the
policy's memory and shared state; ages left out), which keeps the drawing to tens of
nodes at the sizes a drawing can show. Only text is written: Graphviz, if installed,
lays it out (``dot -Tsvg graph.dot -o graph.svg``).
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence
from typing import Any, NamedTuple

from wsmodel.properties.explore import StateGraph, canonical
from wsmodel.properties.results import Counterexample, replay_found

__all__ = ["Drawn", "dot", "drawn_path"]

# How a counterexample's parts are drawn: its run (for a lasso, up to the cycle), the
# cycle, and an isolation counterexample's second run.
STEM, CYCLE, CONTRAST = "blue", "darkorange", "purple"


class Drawn(NamedTuple):
    """A counterexample as state ids of the graph: its run from the initial state, the
    cycle it then repeats (a lasso), and the contrasting run (isolation)."""

    stem: list[int]
    cycle: list[int]
    contrast: list[int]


def drawn_path(g: StateGraph, cx: Counterexample) -> Drawn:
    """The states an exhaustive counterexample passes through, as ids of ``g``: it was
    found on this graph, so every state it reaches is one of the graph's."""
    rank = dict(g.user_rank)  # canonical() numbers user states it has not seen: not g's

    def ids(actions: Sequence[Any]) -> list[int]:
        out = []
        for real in replay_found(g.config, g.policy, tuple(actions)):
            found = g.id_of(canonical(real, rank, g.symmetry, g.forget)[0])
            if found is None:
                raise RuntimeError("a counterexample passes through a state not in the graph")
            out.append(found)
        return out

    whole = ids((*cx.steps, *cx.cycle))
    stem, cycle = whole[: len(cx.steps) + 1], whole[len(cx.steps) :] if cx.cycle else []
    return Drawn(stem, cycle, ids(cx.contrast) if cx.contrast else [])


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(**attrs: str | float) -> str:
    return "[" + ", ".join(f"{k}={_quoted(str(v))}" for k, v in attrs.items()) + "]"


def dot(g: StateGraph, view: Any, title: str, cx: Counterexample | None = None) -> str:
    """``view``, ``g``'s :func:`~wsmodel.properties.explore.to_networkx` (grouped or
    not), as DOT titled ``title`` (a key to the drawing is added under it). A state
    that a step broke a claim into is filled red and names the claims; frontier a
    budget left is dashed; a counterexample found on ``g``, if given, is drawn over the
    graph in colour (:data:`STEM`, :data:`CYCLE`, :data:`CONTRAST`; an edge two parts
    share shows both), each run's last state with a double border."""
    grouped, node = view.graph["grouped"], view.graph["node_of"]
    on: dict[tuple[Hashable, Hashable], list[str]] = {}  # edge -> its parts' colours
    # edge -> part -> the kinds of step that part took along it (the edge's own label
    # names every kind between its ends: a reader took one for the cycle's)
    took: dict[tuple[Hashable, Hashable], dict[str, list[str]]] = {}
    ends: dict[Hashable, list[str]] = {}  # the last state of each run -> what ends there
    visited: set[Hashable] = set()
    if cx is not None:
        path = drawn_path(g, cx)
        parts = [
            (path.stem, cx.steps, STEM, "the run"),
            (path.cycle, cx.cycle, CYCLE, "the cycle"),
            (path.contrast, cx.contrast, CONTRAST, "the other run"),
        ]
        for ids, actions, colour, name in parts:
            nodes = [node[s] for s in ids]
            visited.update(nodes)
            for (a, b), action in zip(itertools.pairwise(nodes), actions, strict=True):
                if colour not in on.setdefault((a, b), []):
                    on[a, b].append(colour)
                kinds = took.setdefault((a, b), {}).setdefault(name, [])
                if action.name not in kinds:
                    kinds.append(action.name)
        # where a run ends; a lasso's run ends where its cycle starts, and says so
        end = "the cycle starts" if cx.cycle else "the run ends"
        for ids, what in ((path.stem, end), (path.contrast, "the other run ends")):
            if ids:
                ends.setdefault(node[ids[-1]], []).append(what)
    key = ["*: the server's is_active flag is off (a close has begun)"]
    if grouped:
        key.append("(N states): a group of N states that differ only in ages")
    if not all(d["expanded"] for _, d in view.nodes(data=True)):
        key.append("dashed: not expanded (the budget ran out)")
    heading = "\n".join([title, "; ".join(key)])
    number = {n: i for i, n in enumerate(view.nodes)}
    order = sorted if grouped else list  # a group's kinds by name; a state's steps as found
    lines = [
        "// Written by `wsmodel graph`; render with: dot -Tsvg FILE -o graph.svg",
        "digraph states {",
        f"    graph {_attrs(label=heading, labelloc='t', fontname='Helvetica')};",
        '    node [shape=box, style=rounded, fontname="Helvetica", fontsize=10];',
        '    edge [fontname="Helvetica", fontsize=9];',
        '    start [shape=point, label=""];',
        f"    start -> n{number[node[0]]};",
    ]
    for n, d in view.nodes(data=True):
        label = d["summary"].replace("] ", "]\n")
        if not grouped:  # summaries leave ages out: several states can share one
            label = f"#{n}\n{label}"
        if d["states"] > 1:
            label += f"\n({d['states']:,} states)"
        style = ["rounded"]
        if not d["expanded"]:
            label += "\n(not all expanded)" if grouped else "\n(not expanded)"
            style.append("dashed")
        attrs: dict[str, str | float] = {"label": label}
        if d["violates"]:
            attrs["label"] = f"{label}\nbroken: {', '.join(d['violates'])}"
            style.append("filled")
            attrs.update(fillcolor="mistyrose", color="red")
        if len(style) > 1:
            attrs["style"] = ",".join(style)
        if n in visited:
            attrs["penwidth"] = 2.5
        if n in ends:  # where a run ends: said, and a double border
            attrs["label"] = f"{attrs['label']}\n({' and '.join(ends[n])} here)"
            attrs.update(
                peripheries=2,
                color=CONTRAST if len(ends[n]) == 1 and "other" in ends[n][0] else STEM,
            )
        lines.append(f"    n{number[n]} {_attrs(**attrs)};")
    for a, b, d in view.edges(data=True):
        attrs = {"label": ", ".join(order(d["actions"]))}
        if d["broken_by"]:
            attrs.update(label=f"{attrs['label']}\n{_who_broke(d, order)}", color="red")
            attrs["fontcolor"] = "red"
        if (a, b) in on:
            steps = "\n".join(f"{part}: {', '.join(k)}" for part, k in took[a, b].items())
            attrs.update(label=f"{attrs['label']}\n{steps}", color=":".join(on[a, b]))
            attrs["penwidth"] = 2.5
        lines.append(f"    n{number[a]} -> n{number[b]} {_attrs(**attrs)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _who_broke(edge: dict[str, Any], order: Any) -> str:
    """Which of an edge's actions broke which claims: "each broke X" when every action
    broke the same ones, else one line per set of claims ("Sweep broke X")."""
    by_claims: dict[tuple[str, ...], list[str]] = {}
    for action, claims in edge["broken_by"].items():
        by_claims.setdefault(tuple(claims), []).append(action)
    if len(by_claims) == 1 and len(edge["broken_by"]) == len(edge["actions"]):
        return f"each broke {', '.join(next(iter(by_claims)))}"
    return "\n".join(
        f"{', '.join(order(acts))} broke {', '.join(c)}" for c, acts in by_claims.items()
    )
