"""The two lemmas of the cutoff argument (docs/checking.md): each holds for reference,
and each is shown failing on a policy it must reject, so neither check is vacuous."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import ClassVar

import pytest
from wsmodel.model import (
    BUILTIN,
    Connect,
    Decision,
    Phase,
    Policy,
    Reference,
    Registry,
    Tick,
    preset,
    start,
    step,
)
from wsmodel.model.state import Transport
from wsmodel.properties import cutoff
from wsmodel.properties.cutoff import (
    LocalStep,
    base_relation,
    check_limit,
    check_runs,
    lemma_l_exceptions,
    local_steps,
    random_runs,
)

SMALL = preset("small").with_(users=1)


@cache
def base(name: str) -> frozenset[LocalStep]:
    return frozenset(base_relation(SMALL, BUILTIN[name]))


class SparesTheFirst(Reference):
    """At the limit, closes every open entry but the first, healthy or not: what happens
    to a manager depends on how many others there are, which limit 1 cannot show."""

    name: ClassVar[str] = "mutant-spares-the-first"

    def on_connect(self, registry: Registry) -> Decision:
        if registry.open_count >= registry.config.limit:
            for e in [e for e in registry.entries if e.transport is Transport.OPEN][1:]:
                registry.close_nowait(e.id)
        return super().on_connect(registry)


def test_local_steps_of_a_connect_and_a_tick() -> None:
    pol = BUILTIN["reference"]
    cfg = SMALL.with_(limit=2)
    s0 = start(cfg, pol)
    s1 = step(cfg, pol, s0, Connect(0))
    assert s1 is not None
    ((before, label, after),) = local_steps(s0, Connect(0), s1)
    assert before is None and label == "Connect" and after is not None
    assert after.phase is Phase.ACTIVE and after.id == 0
    s2 = step(cfg, pol, s1, Tick())
    assert s2 is not None
    ((before, label, after),) = local_steps(s1, Tick(), s2)
    assert label == "Tick" and before is not None and after is not None
    assert (before.age, after.age) == (0, 1) and after.id == 0


def test_lemma_m_holds_for_reference_at_limit_2_and_20() -> None:
    ref = set(base("reference"))
    on_graph, g = check_limit(SMALL.with_(limit=2), BUILTIN["reference"], ref, max_states=30_000)
    assert on_graph.holds and on_graph.checked > 50_000 and len(g.states) == 30_000
    runs = check_runs(random_runs(SMALL.with_(limit=20), BUILTIN["reference"], 40, 600, 0), ref)
    assert runs.holds
    assert runs.covered > 0.8 * len(ref), (runs.covered, len(ref))


def test_lemma_m_fails_when_a_manager_s_fate_depends_on_the_others() -> None:
    pol: Policy = SparesTheFirst()
    mutant_base = base_relation(SMALL, pol)
    out = check_runs(random_runs(SMALL.with_(limit=2), pol, 20, 300, 0), mutant_base)
    assert not out.holds
    (before, label, after), trace = out.outside[0]
    assert label == "Connect" and before is not None and before.phase is Phase.ACTIVE
    assert after is not None and after.phase is Phase.CLOSING
    assert isinstance(trace[-1], Connect)


def test_lemma_l_holds_for_reference_and_fails_where_sends_refresh_activity() -> None:
    assert lemma_l_exceptions(SMALL, set(base("reference"))) == []
    # conservative refreshes last_activity on every send: an idle manager whose peer is
    # silent can look fresh, so reference's eviction rule would not see it
    exceptions = lemma_l_exceptions(SMALL, set(base("conservative")))
    assert exceptions and all(m.phase is Phase.IDLE for m in exceptions)
    assert all(m.activity_age <= SMALL.idle_after < m.quiet_age for m in exceptions)


def test_cli_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    quick = ["--exhaustive-limit", "0", "--runs", "5", "--length", "200"]
    assert cutoff.main(quick) == 0
    out = capsys.readouterr().out
    assert "lemma L: holds" in out and "lemma M holds" in out
    assert "no check failed for reference" in out and "The cutoff in the limit" in out
    assert cutoff.main(["--policy", "conservative", *quick]) == 1
    assert "lemma L: FAILS" in capsys.readouterr().out
    assert cutoff.main(["--policy", "no-such-policy"]) == 2
    assert cutoff.main(["--limit", "0"]) == 2
    err = capsys.readouterr().err
    assert "unknown policy 'no-such-policy'" in err and "limit must be at least 1" in err
    # one line each, in argparse's own form: "PROG: error: ..."
    assert [line.split(": error: ")[0] for line in err.splitlines()] == [
        "python -m wsmodel.properties.cutoff"
    ] * 2
    assert cutoff.main(["--exhaustive-limit", "0", "--runs", "0"]) == 2  # once exit 0
    assert "nothing would check lemma M" in capsys.readouterr().err
    for bad in ("-1", "1"):
        assert cutoff.main(["--exhaustive-limit", bad]) == 2
        assert f"--exhaustive-limit must be 0 or at least 2, got {bad}" in capsys.readouterr().err
    assert cutoff.main(["--timeout", "0.001"]) == 1
    assert "not checked" in capsys.readouterr().err


def test_the_policy_is_validated_at_every_limit_the_tool_runs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only limit 1 was: a sweep period of 0 at limit 20 kept a sweep due for ever, and
    # time could not pass in the walk (a review's).
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "fixtures"))
    spec = "wsmodel_fixture_policies:NoSweepPeriodAtLargeLimits"
    assert cutoff.main(["--policy", spec, "--exhaustive-limit", "0"]) == 2
    assert "sweep_period() returned 0" in capsys.readouterr().err


def test_cli_reports_progress_while_it_explores(capsys: pytest.CaptureFixture[str]) -> None:
    # The limit-2 graph takes most of a minute: its exploration reports on stderr. A 2 s
    # budget outlasts the first report (after 1 s) and leaves a prefix, still checked,
    # but the lemma is not checked on the graph: exit 1 (it was once 0).
    argv = ["--exhaustive-limit", "2", "--timeout", "2", "--runs", "0"]
    assert cutoff.main(argv) == 1
    out, err = capsys.readouterr()
    assert "a prefix: stopped by timeout" in out and "lemma M holds" in out
    assert out.endswith(
        "not checked: the limit-2 graph is a prefix (stopped by timeout); lemma M holds on "
        "the part explored\n"
    )
    assert "random runs" not in out  # --runs 0: none, and no verdict on none
    assert "reference exhaustive: " in err and "states" in err
    assert cutoff.main([*argv, "--quiet"]) == 1
    assert capsys.readouterr().err == ""
