"""Rendering results for people (domain words) and for machines (JSON)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from wsmodel.model import (
    AbortClose,
    Action,
    ClientClose,
    CloseHangs,
    Config,
    Connect,
    FinishClose,
    GoIdle,
    HeartbeatVerdict,
    Outcome,
    Phase,
    Policy,
    ServerSend,
    Stall,
    State,
    Sweep,
    Tick,
    Traffic,
    plan_connect,
)
from wsmodel.properties.catalogue import BY_NAME, CATALOGUE
from wsmodel.properties.results import Counterexample, Result, Status, replay

JSON_SCHEMA = "wsmodel.verify/1"


# --- one step in words ---------------------------------------------------------------


def describe(config: Config, policy: Policy, before: State, action: Action, after: State) -> str:
    """What ``action`` did, in the domain's words."""
    if isinstance(action, Tick):
        return "1 tick passes"
    u = action.user
    if isinstance(action, Connect):
        plan = plan_connect(config, policy, before, u)
        took = "" if not plan.elapsed else f" after a {plan.elapsed * config.tick_ms} ms cleanup"
        if plan.outcome is Outcome.ADMITTED:
            return f"user {u} connects: admitted as m{before.users[u].next_id}{took}"
        if plan.outcome is Outcome.HUNG:
            return f"user {u} connects: the emergency cleanup awaits a close that never ends"
        retry = "" if plan.retry_after is None else f", retry after {plan.retry_after} ticks"
        return f"user {u} connects: rejected{took}{retry}"
    if isinstance(action, ServerSend):
        return f"the application sends to every manager of user {u}"
    if isinstance(action, Sweep):
        return f"the periodic sweep runs over user {u}'s entries"
    m = f"user {u}'s m{action.manager}"
    words = {
        Traffic: f"{m} receives a message from its peer",
        Stall: f"{m} goes stuck: its peer vanished or its handler hung",
        ClientClose: f"the client closes {m}",
        CloseHangs: f"{m}'s close hangs: the peer stopped reading",
        GoIdle: f"{m} goes idle ({config.idle_after} ticks without inbound traffic)",
        HeartbeatVerdict: f"{m} missed its heartbeats for H+T = {config.verdict_after} ticks: "
        "the server aborts it",
        FinishClose: f"{m}'s close completes",
        AbortClose: f"{m}'s close is aborted",
    }
    text = words[type(action)]
    if (
        isinstance(action, (FinishClose, AbortClose))
        and after.users[u].find(action.manager) is None
    ):
        text += "; its entry is removed"
    return text


def summarize_user(state: State, user: int) -> str:
    """One user's registry in a line: entries grouped by phase."""
    managers = state.users[user].managers
    if not managers:
        return f"user {user}: no managers"
    groups: dict[Phase, list[str]] = {}
    for m in managers:
        label = m.name
        if m.phase is Phase.CLOSING and m.close_hangs:
            label += " (hangs)"
        groups.setdefault(m.phase, []).append(label)
    parts = [f"{phase.value} {_compact(names)}" for phase, names in groups.items()]
    live = state.users[user].live_count
    return f"user {user}: {len(managers)} registered, {live} live — " + "; ".join(parts)


def _compact(names: list[str]) -> str:
    return ", ".join(names) if len(names) <= 4 else f"{names[0]} … {names[-1]} ({len(names)})"


def summarize_state(state: State) -> str:
    return " | ".join(summarize_user(state, u) for u in range(len(state.users)))


# --- counterexamples -----------------------------------------------------------------


def counterexample_lines(
    config: Config, policy: Policy, cx: Counterexample, *, every_state: bool = False
) -> list[str]:
    """Numbered steps in domain words; system reactions indented under the step that
    caused them; runs of ticks and repeated rounds folded."""
    actions = (*cx.steps, *cx.cycle)
    states = replay(config, policy, actions)
    entries: list[tuple[bool, str, State]] = []  # (is system reaction, text, state after)
    for i, a in enumerate(actions):
        entries.append(
            (a.system, describe(config, policy, states[i], a, states[i + 1]), states[i + 1])
        )
    lines: list[str] = []
    number = 0
    i = 0
    cycle_start = len(cx.steps)
    probe_from = cx.probe_from
    while i < len(entries):
        if i == probe_from:
            lines.append(
                "   -- faults stop; from here the fixed recovery schedule: every tick the "
                f"application sends and user {cx.user} retries --"
            )
        if i == cycle_start and cx.cycle:
            lines.append("   -- the cycle: from here the run repeats forever --")
        block, times = _repetition(entries, i, stop=_next_marker(i, probe_from, cycle_start, cx))
        if times >= 3:
            number += 1
            texts = "; ".join(t for _, t, _ in entries[i : i + block])
            lines.append(f"{number:4}. {times} times over: {texts}")
            i += block * times
            continue
        system, text, after = entries[i]
        if text == "1 tick passes":
            run = 1
            while i + run < len(entries) and entries[i + run][1] == text and i + run != cycle_start:
                run += 1
            if run > 1:
                text = f"{run} ticks pass"
            after = entries[i + run - 1][2]
            i += run
        else:
            i += 1
        if system:
            lines.append(f"        ↳ {text}")
        else:
            number += 1
            lines.append(f"{number:4}. {text}")
        if every_state:
            lines.append(f"          state: {summarize_state(after)}")
    final = states[-1]
    lines.append(f"   state after the last step: {summarize_state(final)}")
    return lines


def _next_marker(i: int, probe_from: int | None, cycle_start: int, cx: Counterexample) -> int:
    marks = [m for m in (probe_from, cycle_start if cx.cycle else None) if m is not None and m > i]
    return min(marks, default=10**9)


def _repetition(entries: list[tuple[bool, str, State]], i: int, stop: int) -> tuple[int, int]:
    """The shortest block starting at ``i`` that repeats (same words), and how often."""
    texts = [t for _, t, _ in entries]
    end = min(len(texts), stop)
    for block in range(2, 9):
        times = 1
        while i + block * (times + 1) <= end and (
            texts[i + block * times : i + block * (times + 1)] == texts[i : i + block]
        ):
            times += 1
        if times >= 3:
            return block, times
    return 1, 1


# --- tables and documents ------------------------------------------------------------


def verdict_table(results: Sequence[Result]) -> list[str]:
    policies = list(dict.fromkeys(r.policy for r in results))
    props = list(dict.fromkeys(r.property for r in results))
    by = {(r.policy, r.property): r for r in results}
    width = max(len(p) for p in props) + 2
    cols = [max(len(p), 12) + 2 for p in policies]
    head = "property".ljust(width) + "".join(
        p.ljust(c) for p, c in zip(policies, cols, strict=True)
    )
    lines = [head, "-" * len(head)]
    for prop in props:
        cells = []
        for pol, c in zip(policies, cols, strict=True):
            r = by.get((pol, prop))
            cell = "—" if r is None else _cell(r)
            cells.append(cell.ljust(c))
        lines.append(prop.ljust(width) + "".join(cells))
    return lines


def _cell(r: Result) -> str:
    if r.status is Status.VIOLATED:
        return "VIOLATED"
    if r.status is Status.NOT_CHECKED:
        return "not-checked"
    return "holds" if r.witnessed is not False else "holds (no witness)"


def action_json(a: Action) -> dict[str, Any]:
    return {"action": a.name, "args": a.args()}


def counterexample_json(cx: Counterexample) -> dict[str, Any]:
    out: dict[str, Any] = {
        "message": cx.message,
        "user": cx.user,
        "length": cx.length(),
        "steps": [action_json(a) for a in cx.steps],
        "cycle": [action_json(a) for a in cx.cycle],
        "probe_from": cx.probe_from,
    }
    if cx.contrast:
        out["contrast"] = [action_json(a) for a in cx.contrast]
    return out


def result_json(r: Result, expected: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "status": r.status.value,
        "kind": BY_NAME[r.property].kind.value,
        "engine": r.engine,
        "witnessed": r.witnessed,
        "detail": r.detail,
        "coverage": dict(r.coverage),
    }
    if expected is not None:
        out["expected"] = expected
    if r.counterexample is not None:
        out["counterexample"] = counterexample_json(r.counterexample)
    return out


def config_json(config: Config) -> dict[str, Any]:
    return asdict(config)


def catalogue_lines() -> list[str]:
    width = max(len(p.name) for p in CATALOGUE)
    return [f"{p.name.ljust(width)}  {p.kind.value:<15} {p.meaning}" for p in CATALOGUE]
