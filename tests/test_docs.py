"""Generated docs are fresh; the JSON schema matches real output; the example policy works."""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test
from wsmodel.model import (
    BUILTIN,
    PRESETS,
    Action,
    Config,
    Connect,
    Phase,
    Tick,
    plan_connect,
    start,
    step,
)
from wsmodel.model.policy import view_of
from wsmodel.properties import docs
from wsmodel.properties.catalogue import NAMES
from wsmodel.properties.cli import main as wsmodel
from wsmodel.properties.loader import load_policy, validate_policy

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def test_checked_in_artifacts_equal_the_generators_output() -> None:
    for rel, text in docs.generate(ROOT).items():
        assert (ROOT / rel).read_text(encoding="utf-8") == text, (
            f"{rel} is stale: run python -m wsmodel.properties.docs"
        )


def test_check_passes_on_the_checkout() -> None:
    assert docs.main(["--check", "--root", str(ROOT)]) == 0


@pytest.fixture
def copy(tmp_path: Path) -> Iterator[Path]:
    shutil.copytree(DOCS, tmp_path / "docs")
    yield tmp_path


def test_check_names_a_stale_section(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = copy / "docs" / "properties.md"
    page.write_text(page.read_text().replace("reaches the limit |", "reaches it |"))
    assert docs.main(["--check", "--root", str(copy)]) == 1
    assert "docs/properties.md" in capsys.readouterr().err
    assert docs.main(["--root", str(copy)]) == 0  # regenerating repairs it
    assert docs.main(["--check", "--root", str(copy)]) == 0


def test_check_names_a_stale_whole_file(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (copy / "docs" / "lifecycle.dot").write_text("digraph {}\n")
    assert docs.main(["--check", "--root", str(copy)]) == 1
    assert "docs/lifecycle.dot" in capsys.readouterr().err


def test_a_missing_section_is_an_error(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = copy / "docs" / "policies.md"
    page.write_text(page.read_text().replace("<!-- generated:verdicts -->", ""))
    assert docs.main(["--check", "--root", str(copy)]) == 1
    assert "generated:verdicts" in capsys.readouterr().err


def test_outside_a_checkout_it_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # It said "docs/model.md: missing (it must hold generated sections)".
    assert docs.main(["--check", "--root", str(tmp_path)]) == 2
    assert "is not a wsmodel checkout (no docs/ folder)" in capsys.readouterr().err


def test_diagrams_have_every_edge_of_the_table() -> None:
    mermaid, dot = docs.lifecycle_mermaid(), docs.lifecycle_dot()
    from wsmodel.model import EDGES

    for (source, trigger), dest in EDGES.items():
        assert f"{source.value} --> {dest.value}: {trigger.value}" in mermaid
        assert f'{source.value} -> {dest.value} [label="{trigger.value}"]' in dot
    assert mermaid.count("-->") == len(EDGES) + 2  # plus the initial and final markers
    assert f"start -> {Phase.ACTIVE.value}" in dot


def test_every_property_and_policy_is_documented() -> None:
    properties = (DOCS / "properties.md").read_text()
    policies = (DOCS / "policies.md").read_text()
    for name in NAMES:
        assert f"\n### {name}\n" in properties, name
    for name in BUILTIN:
        assert re.search(rf"\n## {name}\b", policies), name


def test_config_table_has_every_field_and_preset() -> None:
    table = docs.config_table()
    for name in PRESETS:
        assert f" {name} " in table.splitlines()[0]
    for row in table.splitlines()[2:]:
        assert row.count("|") == 4 + len(PRESETS), row
        assert row.rstrip(" |").split("|")[-1].strip(), f"no comment: {row}"


def test_relative_links_resolve() -> None:
    for page in DOCS.rglob("*.md"):
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.relative_to(ROOT)} -> {target}"


# --- the JSON schema ---------------------------------------------------------------


def schema() -> dict[str, object]:
    loaded = json.loads((DOCS / "verify.schema.json").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_real_verify_output_conforms_to_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["verify", "--policy", "reference", "--preset", "small", "--examples", "5"]
    code = wsmodel([*argv, "--json", "--quiet"])
    out = json.loads(capsys.readouterr().out)
    assert code == out["exit_code"] == 0
    assert docs.validate(out, schema()) == []


def test_exhaustive_output_conforms_to_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    # every built-in at 1 user, limit 1: proofs, figures, safety counterexamples, lassos
    code = wsmodel(["verify", "--engine", "exhaustive", "--json", "--quiet", "--jobs", "1"])
    out = json.loads(capsys.readouterr().out)
    assert code == out["exit_code"] == 0
    results = [r for by_claim in out["policies"].values() for r in by_claim.values()]
    assert any(r.get("counterexample", {}).get("cycle") for r in results)  # a lasso
    assert docs.validate(out, schema()) == []


def test_a_counterexample_conforms_to_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["verify", "--policy", "conservative", "--preset", "small", "--examples", "5"]
    code = wsmodel([*argv, "--property", "no_leak", "--json", "--quiet"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert "counterexample" in out["policies"]["conservative"]["no_leak"]
    assert docs.validate(out, schema()) == []


def test_the_validator_rejects_what_the_schema_forbids() -> None:
    config_fields = docs.verify_schema()["properties"]["configuration"]["required"]
    doc = {
        "schema": "wsmodel.verify/1",
        "engine": "hypothesis",
        "preset": "small",
        "configuration": dict.fromkeys(config_fields, 1),
        "settings": {"examples": 1, "seed": None, "max_states": None, "timeout": 600,
                     "max_memory_mb": None, "reduction": True},
        "mode": "declared",
        "success": True,
        "exit_code": 0,
        "failures": [],
        "seconds": 0.5,
        "policies": {"p": {"no_leak": {"status": "holds", "kind": "invariant",
                                       "engine": "hypothesis", "witnessed": True,
                                       "detail": "", "coverage": {"examples": 1}}}},
    }  # fmt: skip
    assert docs.validate(doc, schema()) == []
    broken = json.loads(json.dumps(doc))
    del broken["success"]
    broken["exit_code"] = True  # a bool is not the integer 0 or 1
    broken["policies"]["p"]["no_leak"]["status"] = "fine"
    broken["policies"]["p"]["no_such_property"] = {}
    errors = docs.validate(broken, schema())
    assert any("'success'" in e for e in errors)
    assert any("exit_code" in e for e in errors)
    assert any("fine" in e for e in errors)
    assert any("no_such_property" in e for e in errors)
    with pytest.raises(KeyError):
        docs.validate(1, {"$ref": "#/$defs/nothing"})
    assert docs.validate(1, {"pattern": "x"})  # unsupported keywords are not ignored


# --- the example policy --------------------------------------------------------------


@pytest.fixture
def examples_on_path() -> Iterator[None]:
    sys.path.insert(0, str(DOCS / "examples"))
    try:
        yield
    finally:
        sys.path.remove(str(DOCS / "examples"))
        sys.modules.pop("my_policy", None)


@pytest.mark.usefixtures("examples_on_path")
def test_example_policy_loads_and_holds_on_small(capsys: pytest.CaptureFixture[str]) -> None:
    policy = load_policy("my_policy:MyPolicy")
    validate_policy(policy, PRESETS["small"])
    argv = ["verify", "--policy", "my_policy:MyPolicy", "--preset", "small", "--examples", "10"]
    assert wsmodel([*argv, "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert docs.validate(out, schema()) == []


@pytest.mark.usefixtures("examples_on_path")
def test_example_without_idle_rule_is_blocked_for_ever(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["verify", "--policy", "my_policy:NoIdleClose", "--preset", "small", "--examples", "10"]
    assert wsmodel([*argv, "--property", "no_permanent_block", "--json", "--quiet"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["policies"]["no-idle-close"]["no_permanent_block"]["status"] == "violated"


class _ModelHarness:
    """A stand-in for a real registry in own-policy.md's lockstep sketch: it steps a
    copy of the model, so only the sketch's use of the API is on trial here."""

    def __init__(self, config: Config) -> None:
        self.config, self.policy = config, BUILTIN["reference"]
        self.state = start(config, self.policy)

    def _do(self, action: Action) -> None:
        after = step(self.config, self.policy, self.state, action)
        assert after is not None, action
        self.state = after

    def connect(self, user: int) -> str:
        outcome = plan_connect(self.config, self.policy, self.state, user).outcome
        self._do(Connect(user))
        return outcome.value

    def advance_clock(self, ms: int) -> None:
        self._do(Tick())

    def perform(self, action: Action) -> None:
        self._do(action)

    def entries(self, user: int) -> dict[int, tuple[object, bool]]:
        views = [view_of(m, self.config) for m in self.state.users[user].managers]
        return {v.id: (v.transport, v.is_active) for v in views}


def test_the_lockstep_sketch_runs_as_documented() -> None:
    # Its driver took a fourth argument that machine_for never passes (a trial's).
    text = (DOCS / "own-policy.md").read_text(encoding="utf-8")
    (sketch,) = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "Lockstep" in b]
    namespace: dict[str, Any] = {"MyHarness": _ModelHarness}
    exec(compile(sketch, "own-policy.md", "exec"), namespace)
    config = PRESETS["small"].with_(users=2, limit=1)
    machine = namespace["machine_for"](
        config, BUILTIN["reference"], ["per_user_limit"], run_class=namespace["Lockstep"]
    )
    run_state_machine_as_test(machine, settings=settings(max_examples=20, database=None))
