"""Hypothesis profiles, and the machine's memory as the tests see it.

Hypothesis (>= 6.x; checked in 6.170) registers a built-in ``ci`` profile (derandomized,
no deadline, no database) and loads it by itself when the ``CI`` environment variable
(or a vendor's equivalent) is set; we leave that alone. The searches in
``wsmodel.properties.search`` pin their own settings on top of whatever is loaded and
are derandomized unless given a seed, so the verdicts pinned in tests do not depend on
the profile.

Added here: ``dev``, for quick local runs of the few ``@given`` tests, chosen with
``HYPOTHESIS_PROFILE=dev``. An explicit ``HYPOTHESIS_PROFILE`` wins over the automatic
``ci`` choice, except that it may not switch CI away from derandomized runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import pytest
from hypothesis import settings
from wsmodel.model import Config, Connect, Policy, State, plan_connect
from wsmodel.properties import memory
from wsmodel.properties.catalogue import BY_NAME, LIVENESS_NAMES
from wsmodel.properties.results import Result
from wsmodel.properties.search import Run, Violation, isolation_replay, recover

settings.register_profile("dev", max_examples=20, deadline=None)

_chosen = os.environ.get("HYPOTHESIS_PROFILE")
if _chosen:
    settings.load_profile(_chosen)
    if os.environ.get("CI") and not settings.default.derandomize:
        raise RuntimeError(f"HYPOTHESIS_PROFILE={_chosen} would make CI runs random")


@pytest.fixture(autouse=True)
def _memory_to_spare(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests do not depend on what else runs on the machine: as far as they can tell,
    it has memory to spare (the tests of the memory budget say otherwise themselves)."""
    monkeypatch.setattr(memory, "left_mb", lambda: None)


def reproduce(config: Config, pol: Policy, r: Result, states: Sequence[State]) -> None:
    """Re-check a Hypothesis counterexample's claim on its replayed run (``states``,
    through ``steps`` then ``cycle``): it must fail the same way, not merely replay."""
    ce = r.counterexample
    assert ce is not None
    prop = BY_NAME[r.property]
    if prop.name in LIVENESS_NAMES:
        assert ce.probe_from is not None and ce.user is not None
        rec = recover(config, pol, states[ce.probe_from], ce.user)
        if prop.name == "no_permanent_block":
            assert rec.admitted_after is None
            # a real lasso: the cycle comes back to where it started
            assert ce.cycle and states[len(ce.steps)] == states[-1]
        else:
            assert rec.admitted_after is None or rec.admitted_after > config.recovery_bound
        return
    if prop.name == "isolation":
        assert ce.user is not None
        # the evidence is in the trace: it ends with the user's Connect, decided as said
        assert ce.steps[-1] == Connect(ce.user)
        outcome = plan_connect(config, pol, states[-2], ce.user).outcome
        assert f"user {ce.user}'s last connect is {outcome.value}, but" in ce.message
        run = Run(config, pol, ())
        for a in ce.steps:
            assert run.apply(a), a
        with pytest.raises(Violation) as caught:
            isolation_replay(run, ce.user)
        assert caught.value.prop == "isolation"
        return
    assert prop.check is not None and not ce.cycle
    problem = prop.check(config, pol, states[-2], ce.steps[-1], states[-1])
    assert problem is not None, (r.property, ce.message)
    if "implied by" not in r.detail:  # an implied verdict has the other's counterexample
        assert problem == ce.message
    # and the run was fine up to its last step
    for before, action, after in zip(states[:-2], ce.steps[:-1], states[1:-1], strict=True):
        assert prop.check(config, pol, before, action, after) is None


Reproduces = Callable[[Config, Policy, Result, Sequence[State]], None]


@pytest.fixture
def reproduces() -> Reproduces:
    """:func:`reproduce`, for the test modules (tests/ is not a package)."""
    return reproduce
