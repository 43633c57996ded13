"""The drawn state graph (`wsmodel graph`, decision 0020): the grouped view partitions
the explored graph, a counterexample is drawn along the graph's own edges, and the DOT
is what Graphviz lays out."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from wsmodel.model import BUILTIN, Connect, Tick, preset
from wsmodel.properties.catalogue import NAMES
from wsmodel.properties.cli import MARKING, main
from wsmodel.properties.draw import CONTRAST, CYCLE, STEM, _who_broke, dot, drawn_path
from wsmodel.properties.exhaustive import Report, run_exhaustive
from wsmodel.properties.explore import StateGraph, summary, to_networkx
from wsmodel.properties.results import Counterexample, Status

SMALL = preset("small").with_(users=1, limit=1)
FIXTURES = Path(__file__).parent / "fixtures"


def explored(policy: str, claim: str) -> tuple[Report, Counterexample]:
    report = run_exhaustive(SMALL, BUILTIN[policy], [*MARKING, claim])
    (result,) = [r for r in report.results if r.property == claim]
    assert result.status is Status.VIOLATED and result.counterexample is not None
    return report, result.counterexample


@pytest.fixture(scope="module")
def conservative() -> tuple[Report, Counterexample]:
    return explored("conservative", "no_permanent_block")


def parsed(text: str) -> tuple[dict[str, dict[str, str]], dict[tuple[str, str], dict[str, str]]]:
    """The nodes and edges of a DOT text as written here, with their attributes."""
    nodes, edges = {}, {}
    for line in text.splitlines():
        if m := re.fullmatch(r"    (n\d+)(?: -> (n\d+))? \[(.*)\];", line):
            attrs = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m[3]))
            if m[2]:
                edges[m[1], m[2]] = attrs
            else:
                nodes[m[1]] = attrs
    return nodes, edges


def coloured(text: str, colour: str) -> set[tuple[str, str]]:
    """The edges of a DOT text drawn in ``colour`` (among others), as pairs of nodes."""
    return {
        e for e, attrs in parsed(text)[1].items() if colour in attrs.get("color", "").split(":")
    }


def pairs(g: StateGraph, view: object, ids: list[int]) -> set[tuple[str, str]]:
    """Consecutive states of a path as the DOT's node names."""
    number = {n: i for i, n in enumerate(view.nodes)}  # type: ignore[attr-defined]
    names = [f"n{number[summary(g.states[s])]}" for s in ids]
    return set(itertools.pairwise(names))


def test_grouped_view_partitions_the_graph(conservative: tuple[Report, Counterexample]) -> None:
    g = conservative[0].graph
    each, grouped = to_networkx(g), to_networkx(g, grouped=True)
    assert grouped.graph["grouped"] and not each.graph["grouped"]
    # every state in exactly one group, the group of its summary
    sizes = Counter(summary(state) for state in g.states)
    assert {n: d["states"] for n, d in grouped.nodes(data=True)} == dict(sizes)
    assert sum(d["steps"] for _, _, d in grouped.edges(data=True)) == g.edges
    # every step between two states is an edge between their groups, named by its kind
    for s, t, d in each.edges(data=True):
        edge = grouped.edges[each.nodes[s]["summary"], each.nodes[t]["summary"]]
        assert {a.split("(")[0] for a in d["actions"]} <= set(edge["actions"])
        assert set(d["violates"]) <= set(edge["violates"])
    # a group is marked with exactly the claims some step into one of its states broke,
    # as the engine recorded the steps, in the catalogue's order
    marks: dict[str, set[str]] = {n: set() for n in grouped}
    for claim, bad in g.bad_edges.items():
        for e in bad:
            marks[summary(g.states[g.dst[e]])].add(claim)
    assert {n: set(d["violates"]) for n, d in grouped.nodes(data=True)} == marks
    assert any(marks.values()) and not all(marks.values())
    for _, d in [*grouped.nodes(data=True), *each.nodes(data=True)]:
        assert d["violates"] == [n for n in NAMES if n in d["violates"]]
    # which action broke which claims, from the engine's own record of bad edges
    broke: dict[tuple[int, int], dict[str, set[str]]] = {}
    for claim, bad in g.bad_edges.items():
        for e in bad:
            s = next(s for s in range(g.expanded) if e in g.out_edges(s))
            by = broke.setdefault((s, g.dst[e]), {})
            by.setdefault(str(g.actions[g.act[e]]), set()).add(claim)
    kinds: dict[tuple[str, str], dict[str, set[str]]] = {}
    for (s, t), by in broke.items():
        assert {a: set(c) for a, c in each.edges[s, t]["broken_by"].items()} == by
        group = kinds.setdefault((each.nodes[s]["summary"], each.nodes[t]["summary"]), {})
        for action, claims in by.items():
            group.setdefault(action.split("(")[0], set()).update(claims)
    assert sum(bool(d["broken_by"]) for _, _, d in each.edges(data=True)) == len(broke)
    for a, b, d in grouped.edges(data=True):
        assert {k: set(c) for k, c in d["broken_by"].items()} == kinds.get((a, b), {})
    # the drawing marks the same groups, naming their claims
    text = dot(g, grouped, "title")
    nodes, edges = parsed(text)
    number = {n: f"n{i}" for i, n in enumerate(grouped.nodes)}
    for n, d in grouped.nodes(data=True):  # how many states a group stands for
        assert (f"\\n({d['states']:,} states)" in nodes[number[n]]["label"]) == (d["states"] > 1)
    red = {n for n, attrs in nodes.items() if attrs.get("fillcolor") == "mistyrose"}
    assert red == {number[n] for n, d in grouped.nodes(data=True) if d["violates"]}
    for n, d in grouped.nodes(data=True):
        if d["violates"]:
            assert nodes[number[n]]["label"].endswith(f"\\nbroken: {', '.join(d['violates'])}")
    # an edge that broke a claim says which of its actions broke which: the stuck
    # manager's close hangs when a connect's cleanup begins it, and a sweep's close only
    # leaves the zombie registered (checked state by state by a trial)
    hang = edges[number["u0[stuck]"], number["u0[closing*]"]]["label"].split("\\n")
    assert hang == [
        "Connect, Sweep",
        "Connect broke zombies_reaped, cleanup_terminates, cleanup_within_budget",
        "Sweep broke zombies_reaped",
    ]
    assert {(number[a], number[b]) for a, b, d in grouped.edges(data=True) if d["broken_by"]} == {
        e for e, attrs in edges.items() if attrs.get("color") == "red" == attrs["fontcolor"]
    }
    assert any(
        attrs["label"].split("\\n")[1].startswith("each broke")
        for attrs in edges.values()
        if attrs.get("color") == "red"
    )
    # the least depth of the group's states
    for n, d in grouped.nodes(data=True):
        assert d["depth"] == min(
            g.depth[s] for s in range(len(g.states)) if summary(g.states[s]) == n
        )


def test_a_lasso_is_drawn_along_the_graphs_edges(
    conservative: tuple[Report, Counterexample],
) -> None:
    report, cx = conservative
    g = report.graph
    path = drawn_path(g, cx)
    assert path.stem[0] == 0 and len(path.stem) == len(cx.steps) + 1
    assert len(path.cycle) == len(cx.cycle) + 1 and path.cycle[0] == path.stem[-1]
    assert path.cycle[-1] == path.cycle[0], "a cycle returns to where it began"
    assert not path.contrast
    for s, t in itertools.pairwise(path.stem + path.cycle[1:]):
        assert t in {g.dst[e] for e in g.out_edges(s)}, (s, t)
    view = to_networkx(g, grouped=True)
    text = dot(g, view, "title", cx=cx)
    assert coloured(text, CYCLE) == pairs(g, view, path.cycle)
    assert coloured(text, STEM) == pairs(g, view, path.stem)
    # an edge on both the run and the cycle shows both colours
    both = pairs(g, view, path.stem) & pairs(g, view, path.cycle)
    assert both and all(parsed(text)[1][e]["color"] == f"{STEM}:{CYCLE}" for e in both)
    # where the run ends, the cycle begins: a double border
    nodes = parsed(text)[0]
    (end,) = [n for n, attrs in nodes.items() if attrs.get("peripheries") == "2"]
    assert end == f"n{list(view.nodes).index(summary(g.states[path.cycle[0]]))}"
    assert nodes[end]["color"] == STEM and nodes[end]["label"].endswith("(the cycle starts here)")
    # a coloured edge names the kinds of step its part took along it, which its own
    # label (every kind between the two groups) does not say
    took: dict[tuple[str, str], dict[str, set[str]]] = {}
    number = {n: f"n{i}" for i, n in enumerate(view.nodes)}
    for ids, actions, name in (
        (path.stem, cx.steps, "the run"),
        (path.cycle, cx.cycle, "the cycle"),
    ):
        groups = [number[summary(g.states[s])] for s in ids]
        for e, action in zip(itertools.pairwise(groups), actions, strict=True):
            took.setdefault(e, {}).setdefault(name, set()).add(action.name)
    edges = parsed(text)[1]
    for e, parts in took.items():
        lines = [line.split(": ") for line in edges[e]["label"].split("\\n") if ": " in line]
        said = {part: set(kinds.split(", ")) for part, kinds in lines if part.startswith("the ")}
        assert said == parts
    # the trial's case: the cycle's edge joins groups a CloseHangs also joins, not taken
    assert any(
        "CloseHangs" in edges[e]["label"] and "CloseHangs" not in took[e].get("the cycle", ())
        for e in took
    )
    # the path's states drawn wider: those, and only those
    on_path = {f"n{list(view.nodes).index(summary(g.states[s]))}" for s in path.stem + path.cycle}
    assert {n for n, a in nodes.items() if a.get("penwidth") == "2.5"} == on_path
    # without a counterexample nothing is coloured but what broke a claim
    plain = dot(g, view, "title")
    assert not coloured(plain, STEM) and not coloured(plain, CYCLE) and coloured(plain, "red")


def test_an_isolation_contrast_is_drawn() -> None:
    report, cx = explored("graduated", "isolation")
    g = report.graph
    path = drawn_path(g, cx)
    assert cx.contrast and len(path.contrast) == len(cx.contrast) + 1
    assert path.contrast[0] == 0 and not path.cycle
    view = to_networkx(g, grouped=True)
    text = dot(g, view, "title", cx=cx)
    assert coloured(text, CONTRAST) == pairs(g, view, path.contrast)
    assert coloured(text, STEM) == pairs(g, view, path.stem)
    # each run's last state (admitted in one, rejected in the other) has a double border
    number = {n: f"n{i}" for i, n in enumerate(view.nodes)}
    ends = {n: a["color"] for n, a in parsed(text)[0].items() if a.get("peripheries") == "2"}
    last = {
        number[summary(g.states[p[-1]])]: c
        for p, c in ((path.stem, STEM), (path.contrast, CONTRAST))
    }
    assert ends == last and len(ends) == 2


def test_every_state_view_names_each_state(conservative: tuple[Report, Counterexample]) -> None:
    g = conservative[0].graph
    view = to_networkx(g)
    text = dot(g, view, "title", cx=conservative[1])
    assert len(re.findall(r"^    n\d+ \[", text, re.M)) == len(g.states)
    assert f'n7 [label="#7\\n{summary(g.states[7])}' in text
    path = drawn_path(g, conservative[1])
    assert coloured(text, CYCLE) == {(f"n{a}", f"n{b}") for a, b in itertools.pairwise(path.cycle)}


def graphviz() -> str:
    found = shutil.which("dot")
    if found is None:
        # CI installs Graphviz (.ci/run): there, its absence is a failure, not a skip
        assert not os.environ.get("CI"), "Graphviz's dot is not installed"
        pytest.skip("Graphviz's dot is not installed")
    return found


def test_graphviz_lays_the_drawing_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = graphviz()
    monkeypatch.syspath_prepend(str(FIXTURES))
    for policy in ["conservative", "wsmodel_fixture_policies:QuotedShared"]:
        out = tmp_path / "g.dot"
        argv = ["graph", "--policy", policy, "--property", "no_permanent_block", "--quiet"]
        assert main([*argv, "-o", str(out)]) == 0
        svg = subprocess.run(
            [binary, "-Tsvg", str(out)], capture_output=True, text=True, check=False
        )
        assert svg.returncode == 0 and not svg.stderr, svg.stderr
        # every node and edge written was laid out (and the start point with its edge)
        nodes, edges = parsed(out.read_text())
        assert svg.stdout.count('class="node"') == len(nodes) + 1
        assert svg.stdout.count('class="edge"') == len(edges) + 1
    # quotes, a backslash and a newline in a policy's state come through as text
    assert "say &quot;hi&quot; \\n" in svg.stdout and ">next" in svg.stdout
    capsys.readouterr()


def test_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "g.dot"
    code = main(["graph", "--policy", "conservative", "--property", "no_permanent_block"])
    text, err = capsys.readouterr()
    assert code == 0 and text.startswith("// Written by `wsmodel graph`")
    assert "wsmodel graph: 8 nodes written\n" in err
    assert "no_permanent_block: faults have stopped" in text and "complete" in text
    # "-" is stdout too, not a file of that name
    monkeypatch.chdir(tmp_path)
    assert main(["graph", "--policy", "conservative", "--quiet", "-o", "-"]) == 0
    text, err = capsys.readouterr()
    assert text.startswith("// Written by") and not err and not (tmp_path / "-").exists()
    # a claim that holds: the graph, and a note that there is nothing to draw over it
    argv = ["graph", "--policy", "reference", "--property", "no_permanent_block"]
    assert main([*argv, "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "reference: drawing 4,158 steps" in err  # the progress line
    assert err.endswith(
        f"wsmodel graph: 18 nodes written to {out}; "
        "no_permanent_block holds: no counterexample to draw\n"
    )
    assert "no_permanent_block holds: no counterexample to draw" in out.read_text()
    assert 'color="blue"' not in out.read_text()
    # isolation with one user holds with no witness, as verify says
    assert main(["graph", "--policy", "conservative", "--property", "isolation", "--quiet"]) == 0
    assert "isolation holds (no witness): no counterexample" in capsys.readouterr().err


def test_a_budget_draws_the_part_explored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "g.dot"
    argv = ["graph", "--policy", "conservative", "--property", "no_permanent_block", "--quiet"]
    for every in ([], ["--every-state"]):
        assert main([*argv, *every, "--max-states", "50", "-o", str(out)]) == 0
        err = capsys.readouterr().err
        assert "stopped (max_states): the graph is a part" in err
        assert "no_permanent_block not-checked: no counterexample to draw" in err
        text = out.read_text()
        assert "incomplete, stopped by max_states" in text
        assert "dashed: not expanded (the budget ran out)" in text
        nodes, edges = parsed(text)
        # every state drawn is reached by a drawn step (those a cut-short state found
        # went with its steps), and those not expanded are dashed
        assert {b for _, b in edges} | {"n0"} == set(nodes)
        dashed = {n for n, a in nodes.items() if "dashed" in a.get("style", "")}
        assert dashed and all("not" in nodes[n]["label"] for n in dashed)
    report = run_exhaustive(SMALL, BUILTIN["conservative"], list(MARKING), max_states=50)
    g, view = report.graph, to_networkx(report.graph)
    assert set(view) == {0, *range(g.expanded), *g.dst} and len(view) < len(g.states)
    assert {n for n, d in view.nodes(data=True) if not d["expanded"]} == set(view) - set(
        range(g.expanded)
    )
    assert len(dashed) == len(view) - g.expanded


def test_the_output_is_checked_before_exploring(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def explore(*args: object, **kwargs: object) -> None:
        raise AssertionError("explored before the output was checked")

    monkeypatch.setattr("wsmodel.properties.exhaustive.run_exhaustive", explore)
    for path, said in [
        (tmp_path / "none" / "g.dot", f"no directory {tmp_path / 'none'}"),
        (tmp_path, "is a directory"),
        ("", "is empty"),
    ]:
        assert main(["graph", "--policy", "reference", "-o", str(path)]) == 2
        assert capsys.readouterr().err == f"wsmodel: error: --output {str(path)!r}: {said}\n"


@pytest.mark.parametrize(
    ("argv", "code", "said"),
    [
        (["--policy", "reference", "--policy", "graduated"], 2, "draws one policy's"),
        (["--policy", "reference", "--engine", "hypothesis"], 2, "unrecognized arguments"),
        (["--policy", "reference", "--examples", "5"], 2, "unrecognized arguments"),
        (["--policy", "reference", "--property", "nope"], 2, "invalid choice"),
        (
            ["--policy", "reference", "--property", "isolation", "--property", "no_leak"],
            2,
            "graph draws one counterexample; --property given 2 times (isolation, no_leak)",
        ),
        (["--policy", "wsmodel_fixture_policies:Raises"], 3, "fixture policy exploded"),
    ],
)
def test_bad_input(
    argv: list[str],
    code: int,
    said: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES))
    assert main(["graph", *argv, "--quiet"]) == code
    out, err = capsys.readouterr()
    assert said in err and "Traceback" not in err and not out


def test_which_action_broke_what_is_said_per_action() -> None:
    # "each" only where every action broke the same claims; else one line per claim set
    edge: dict[str, Any] = {"actions": ["Connect", "Sweep"], "broken_by": {}}
    edge["broken_by"] = {"Connect": ["no_leak"], "Sweep": ["no_leak"]}
    assert _who_broke(edge, sorted) == "each broke no_leak"
    edge["broken_by"] = {"Sweep": ["no_leak"]}
    assert _who_broke(edge, sorted) == "Sweep broke no_leak"
    edge["broken_by"] = {"Sweep": ["no_leak"], "Connect": ["isolation", "no_leak"]}
    assert _who_broke(edge, sorted) == "Sweep broke no_leak\nConnect broke isolation, no_leak"


def test_grouped_steps_name_their_user_with_several_users() -> None:
    config = preset("small").with_(users=2, limit=1)
    # reference: some pairs of groups are joined by two steps of one kind (a stall of
    # either of two managers, say), which the view names once
    g = run_exhaustive(config, BUILTIN["reference"], list(MARKING), max_states=3000).graph
    grouped = to_networkx(g, grouped=True)
    kinds = {"Connect u0", "Connect u1", "Tick", "Stall u1", "Sweep u0"}
    seen: set[str] = set()
    for _, _, d in grouped.edges(data=True):
        assert len(d["actions"]) == len(set(d["actions"])), d["actions"]  # each kind once
        assert all(re.fullmatch(r"Tick|[A-Za-z]+ u[01]", a) for a in d["actions"])
        seen.update(d["actions"])
    assert kinds <= seen
    # the same steps, kind by kind, as the graph holds them
    want: Counter[str] = Counter()
    for s in range(g.expanded):
        for e in g.out_edges(s):
            a = g.actions[g.act[e]]
            user = getattr(a, "user", None)
            want[a.name if user is None else f"{a.name} u{user}"] += 1
    assert set(want) == seen


def test_every_state_refuses_what_no_drawing_holds(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("wsmodel.properties.cli.DRAWABLE_STEPS", 4_000)
    argv = ["graph", "--policy", "reference", "--quiet"]
    assert main([*argv, "--every-state"]) == 2
    assert capsys.readouterr() == (
        "",
        "wsmodel: error: --every-state: 4,158 steps are more than a drawing can hold "
        "(at most 4,000); leave it out to draw the groups, or give --max-states\n",
    )
    assert main(argv) == 0 and main([*argv, "--every-state", "--max-states", "500"]) == 0


def test_two_runs_ending_in_one_group_are_both_said(
    conservative: tuple[Report, Counterexample],
) -> None:
    g = conservative[0].graph
    # two runs that end in the same group (one active manager), at different ages
    both = Counterexample("m", steps=(Connect(0),), contrast=(Connect(0), Tick()))
    view = to_networkx(g, grouped=True)
    nodes = parsed(dot(g, view, "title", cx=both))[0]
    (end,) = [a for a in nodes.values() if a.get("peripheries") == "2"]
    assert end["label"].endswith("(the run ends and the other run ends here)")
    assert end["color"] == STEM
