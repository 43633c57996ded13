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

import pytest
from wsmodel.model import BUILTIN, preset
from wsmodel.properties.cli import MARKING, main
from wsmodel.properties.draw import CONTRAST, CYCLE, STEM, dot, drawn_path
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


def coloured(text: str, colour: str) -> set[tuple[str, str]]:
    """The edges of a DOT text drawn in ``colour``, as pairs of node names."""
    return {
        (a, b)
        for a, b, attrs in re.findall(r"^    (n\d+) -> (n\d+) \[(.*)\];$", text, re.M)
        if f'color="{colour}"' in attrs.replace("fontcolor", "")
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
    # a group is marked with exactly the claims some step into one of its states broke
    marks: dict[str, set[str]] = {n: set() for n in grouped}
    for _, d in each.nodes(data=True):
        marks[d["summary"]] |= set(d["violates"])
    assert {n: set(d["violates"]) for n, d in grouped.nodes(data=True)} == marks
    assert any(marks.values()) and not all(marks.values())
    # which actions broke a claim: those and only those on the edges that broke one
    for view in (each, grouped):
        for _, _, d in view.edges(data=True):
            assert set(d["broken_by"]) <= set(d["actions"])
            assert bool(d["broken_by"]) == bool(d["violates"])
    # the drawing marks the same groups, naming their claims
    text = dot(g, grouped, "title")
    red = re.findall(r'^    n\d+ \[label="([^"]*)", style="rounded,filled"', text, re.M)
    expected = []
    for n, d in grouped.nodes(data=True):
        if d["violates"]:
            label = n.replace("] ", "]\n")
            label += f"\n({d['states']:,} states)" if d["states"] > 1 else ""
            expected.append(f"{label}\nbroken: {', '.join(d['violates'])}".replace("\n", "\\n"))
    assert sorted(red) == sorted(expected)
    # an edge that broke a claim says by which of its actions ("each": all of them)
    number = {n: i for i, n in enumerate(grouped.nodes)}
    said = dict(re.findall(r'^    (n\d+ -> n\d+) \[label="([^"]*)", color="red"', text, re.M))
    ways = set()
    for a, b, d in grouped.edges(data=True):
        if d["violates"]:
            by = sorted(d["broken_by"])
            ways.add(by == sorted(d["actions"]))
            first = ", ".join(sorted(d["actions"]))
            then = f"{'each' if by == sorted(d['actions']) else ', '.join(by)} broke"
            line = f"{first}\\n{then} {', '.join(d['violates'])}"
            assert said.pop(f"n{number[a]} -> n{number[b]}") == line
    assert not said and ways == {True, False}
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
    # where the run and the cycle share an edge, the cycle's colour is drawn
    assert coloured(text, STEM) == pairs(g, view, path.stem) - pairs(g, view, path.cycle)
    assert coloured(text, STEM) and coloured(text, CYCLE)
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
    assert coloured(text, CONTRAST) == pairs(g, view, path.contrast) - pairs(g, view, path.stem)
    assert coloured(text, CONTRAST)


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
        assert "u0[stuck]" in svg.stdout or "u0[active]" in svg.stdout
    # quotes, a backslash and a newline in a policy's state come through as text
    assert "say &quot;hi&quot; \\n" in svg.stdout and ">next" in svg.stdout
    capsys.readouterr()


def test_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "g.dot"
    code = main(["graph", "--policy", "conservative", "--property", "no_permanent_block"])
    text, err = capsys.readouterr()
    assert code == 0 and text.startswith("// Written by `wsmodel graph`")
    assert "wsmodel graph: 8 nodes written" in err
    assert "no_permanent_block: faults have stopped" in text and "complete" in text
    # a claim that holds: the graph, and a note that there is nothing to draw over it
    argv = ["graph", "--policy", "reference", "--property", "no_permanent_block", "--quiet"]
    assert main([*argv, "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"nodes written to {out}" in err and "no_permanent_block holds" in err
    assert 'color="blue"' not in out.read_text()
    # a budget: a part of the graph, said in the title and on stderr
    assert main([*argv, "--max-states", "10", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "stopped (max_states): the graph is a part" in err
    assert "incomplete, stopped by max_states" in out.read_text()
    assert "not-checked: no counterexample to draw" in err


@pytest.mark.parametrize(
    ("argv", "code", "said"),
    [
        (["--policy", "reference", "--policy", "graduated"], 2, "draws one policy's"),
        (["--policy", "reference", "--engine", "hypothesis"], 2, "unrecognized arguments"),
        (["--policy", "reference", "--examples", "5"], 2, "unrecognized arguments"),
        (["--policy", "reference", "--property", "nope"], 2, "invalid choice"),
        (["--policy", "reference", "-o", "/nonexistent/dir/g.dot"], 2, "No such file"),
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
