"""What a checker reports: one result per (policy, property), with counterexamples
as replayable action sequences. Both engines produce these; the CLI renders them."""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import wraps
from typing import ParamSpec, TypeVar

from wsmodel.model import Action, Config, Policy, State, not_deterministic, start, step


class Status(StrEnum):
    HOLDS = "holds"
    VIOLATED = "violated"
    NOT_CHECKED = "not-checked"


@dataclass(frozen=True)
class Counterexample:
    """A run from the initial state: ``steps``, then (for a lasso) ``cycle`` repeated
    forever. Every action is a model action, replayable with :func:`replay`."""

    message: str  # what went wrong, in the domain's words
    steps: tuple[Action, ...]
    cycle: tuple[Action, ...] = ()
    user: int | None = None  # the user the claim is about, where there is one
    # Non-interference only: a second run from the initial state after which the same
    # user is in the same state (up to manager keys and ages nothing reads, decision
    # 0012) but the last action turns out differently. Replayable like ``steps``.
    contrast: tuple[Action, ...] = ()
    probe_from: int | None = None  # liveness: where the fixed recovery schedule starts

    def length(self) -> int:
        """How long the counterexample is for a reader: environment actions, a run of
        ticks counting as one, system reactions not counted. A Hypothesis liveness
        counterexample's fixed recovery schedule (``steps`` from ``probe_from`` on, and
        the cycle) counts as one step: the search did not choose it."""
        if self.probe_from is None:
            chosen, count = (*self.steps, *self.cycle), 0
        else:
            chosen, count = self.steps[: self.probe_from], 1
        previous: Action | None = None
        for a in chosen:
            if a.system:
                continue
            if not (a.name == "Tick" and previous is not None and previous.name == "Tick"):
                count += 1
            previous = a
        return count


@dataclass(frozen=True)
class Result:
    policy: str
    property: str
    status: Status
    engine: str
    counterexample: Counterexample | None = None
    witnessed: bool | None = None  # for safety claims: was the guarded situation reached
    detail: str = ""  # e.g. the worst case found against its bound
    coverage: dict[str, int | float | bool | str] = field(default_factory=dict)
    scope: str = ""  # what the exhaustive run covered, shared by its results; "" for a search


def full_detail(r: Result) -> str:
    """A result's detail and the scope it was found in, as one line (JSON, explain)."""
    return "; ".join(part for part in (r.detail, r.scope) if part)


def replay(config: Config, policy: Policy, actions: tuple[Action, ...]) -> list[State]:
    """The states a run visits (the initial one first); raises if an action is not
    enabled where the run takes it."""
    states = [start(config, policy)]
    for i, a in enumerate(actions):
        nxt = step(config, policy, states[-1], a)
        if nxt is None:
            raise ValueError(f"step {i + 1}: {a} is not enabled")
        states.append(nxt)
    return states


def replay_found(config: Config, policy: Policy, actions: tuple[Action, ...]) -> list[State]:
    """:func:`replay` of a run an engine found. It replays unless the policy is not
    deterministic: that is the policy's fault, said as such (a PolicyError; a
    RuntimeError for a built-in, whose fault it cannot be)."""
    try:
        return replay(config, policy, actions)
    except ValueError as exc:
        raise not_deterministic(policy, f"a run found with it does not replay ({exc})") from exc


P = ParamSpec("P")
R = TypeVar("R")


# A Ctrl-C (or the CLI's SIGTERM, a KeyboardInterrupt too) that was lost: Python cannot
# raise out of a gc callback (Hypothesis keeps one), so one landing there is only
# printed as "Exception ignored", and the search went on to report success. The CLI's
# unraisable hook keeps it here; the search's next step raises it again.
LOST_INTERRUPT: list[KeyboardInterrupt | None] = [None]


def gc_tuned(threshold0: int | None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run a checker with fewer cyclic garbage collections: both engines allocate
    millions of small tuples that the collector rescans again and again. ``None``
    pauses it (for the exhaustive graph, which makes no reference cycles); a number
    raises the youngest generation's threshold (for Hypothesis, which does make some
    cycles, so memory stays bounded)."""

    def tune(run: Callable[P, R]) -> Callable[P, R]:
        @wraps(run)
        def tuned(*args: P.args, **kwargs: P.kwargs) -> R:
            enabled, thresholds = gc.isenabled(), gc.get_threshold()
            if threshold0 is None:
                gc.disable()
            else:
                gc.set_threshold(threshold0, *thresholds[1:])
            try:
                return run(*args, **kwargs)
            finally:
                gc.set_threshold(*thresholds)
                if enabled:
                    gc.enable()

        return tuned

    return tune
