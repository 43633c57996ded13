"""Rendering results for people (domain words) and for machines (JSON)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
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
    Manager,
    Outcome,
    Phase,
    Policy,
    PolicyError,
    ServerSend,
    Stall,
    State,
    Sweep,
    Tick,
    Traffic,
    Wait,
    plan_connect,
    plan_sweep,
    step,
)
from wsmodel.model.policy import view_of
from wsmodel.properties.catalogue import (
    BY_NAME,
    CATALOGUE,
    never_ends,
    plural,
    policy_state,
    saturated,
    ticks,
)
from wsmodel.properties.results import Counterexample, Result, Status, full_detail, replay_found

JSON_SCHEMA = "wsmodel.verify/1"
ONE_TICK = "1 tick passes"


# --- one step in words ---------------------------------------------------------------


def describe(config: Config, policy: Policy, before: State, action: Action, after: State) -> str:
    """What ``action`` did, in the domain's words."""
    if isinstance(action, Tick):
        return ONE_TICK
    u = action.user
    if isinstance(action, Connect):
        plan = plan_connect(config, policy, before, u)
        # The close a cleanup hangs on is said once, as what it awaits.
        did = _cleanup_did(
            before.users[u].managers, after.users[u].managers, plan.hung_on, _seen(config, policy)
        )
        if plan.outcome is Outcome.HUNG:
            # The model abandons the attempt (the client gives up); the close stays.
            return (
                f"user {u} connects: its emergency cleanup {did + ' and ' if did else ''}awaits "
                f"{never_ends(plan.hung_on)}: the attempt hangs (the client gives up on it)"
            )
        # "a cleanup of 11000 ms": no article to agree with the number
        took = f" of {plan.elapsed * config.tick_ms} ms" if plan.elapsed else ""
        if plan.waits:  # what the time went on, the incident's question
            took += f" ({_waited(config, plan.waits)})"
        cleanup = f" after a cleanup{took}" if took or did else ""
        if did:
            cleanup += f" that {did}"
        if plan.outcome is Outcome.ADMITTED:
            return f"user {u} connects: admitted as m{before.users[u].next_id}{cleanup}"
        sep = "; " if did else ", "  # after a list of what the cleanup did, a comma would join it
        retry = (
            ""
            if plan.retry_after is None
            else f"{sep}retry after {plural(plan.retry_after, 'tick')}"
        )
        return f"user {u} connects: rejected{cleanup}{retry}"
    if isinstance(action, ServerSend):
        return f"the application sends to every manager of user {u}"
    if isinstance(action, Sweep):
        sweep = plan_sweep(config, policy, before, u)
        did = _cleanup_did(
            before.users[u].managers, after.users[u].managers, sweep.hung_on, _seen(config, policy)
        )
        text = f"the periodic sweep runs over user {u}'s entries" + (f" and {did}" if did else "")
        if sweep.hung:  # the model keeps what it did so far
            text += (
                f", then awaits {never_ends(sweep.hung_on)}: it stops "
                "there, and the next period's sweep starts afresh"
            )
        return text
    m = f"user {u}'s m{action.manager}"
    words = {
        Traffic: f"{m} receives a message from its peer",
        Stall: f"{m} goes stuck: its peer vanished or its handler hung",
        ClientClose: f"the client closes {m}",
        CloseHangs: f"the close of {m} hangs: the peer stopped reading",
        GoIdle: f"{m} goes idle ({config.idle_after} ticks without inbound traffic)",
        HeartbeatVerdict: f"{m} missed its heartbeats for H + T = {config.verdict_after} ticks: "
        "the server aborts it",
        FinishClose: f"the close of {m} completes",
        AbortClose: f"the close of {m} is aborted",
    }
    text = words[type(action)]
    if (
        isinstance(action, (FinishClose, AbortClose))
        and after.users[u].find(action.manager) is None
    ):
        text += "; its entry is removed"
    return text


def _waited(config: Config, waits: Sequence[Wait]) -> str:
    """What a cleanup's duration is made of: "probing m19: 2000 ms, no answer; ..."."""
    return "; ".join(
        f"probing m{w.manager}: {w.ticks * config.tick_ms} ms, no answer"
        if w.what == "probe"
        else f"closing m{w.manager}: {w.ticks * config.tick_ms} ms, cut off at its deadline"
        for w in waits
    )


def _cleanup_did(
    before: tuple[Manager, ...],
    after: tuple[Manager, ...],
    hung_on: int | None = None,
    seen: Callable[[list[Manager]], str] | None = None,
) -> str:
    """What a policy's cleanup does to a user's entries, e.g. "closes and removes m0 …
    m9 (10), starts closing m12"; "" if nothing. (A new entry is not its doing, nor is
    the close it hung on, which is said as what it awaits.) With ``seen``, what the
    policy saw of the live entries it closed follows each group, for the why."""
    now = {m.id: m for m in after}
    did: dict[str, list[Manager]] = {}
    for m in before:
        if m.id == hung_on:
            continue
        n = now.get(m.id)
        if n is None:
            what = "removes" if m.phase is Phase.CLOSED else "closes and removes"
        elif n.phase is m.phase:
            continue
        else:
            what = "closes" if n.phase is Phase.CLOSED else "starts closing"
        did.setdefault(what, []).append(m)
    texts = []
    for what, ms in did.items():
        text = f"{what} {_compact([m.name for m in ms])}"
        live = [m for m in ms if m.live]
        if seen is not None and live:
            # "m0 … m9 (10; as it saw them: ...)", not two brackets in a row
            text = f"{text[:-1]}; {seen(live)})" if text.endswith(")") else f"{text} ({seen(live)})"
        texts.append(text)
    return ", ".join(texts)


def _seen(config: Config, policy: Policy) -> Callable[[list[Manager]], str]:
    """What the policy saw of entries it closed, as ranges over them: "as it saw it:
    server flag is_active set, last activity 4 ticks ago, heartbeat answered this
    tick"."""

    def ago(ages: list[int]) -> str:
        lo, hi, h = min(ages), max(ages), config.horizon
        if hi == 0:
            return "this tick"
        if lo == hi:
            return f"{ticks(hi, h)} ago"
        return f"{saturated(lo, h)}–{saturated(hi, h)} ticks ago"

    def seen(ms: list[Manager]) -> str:
        views = [view_of(m, config, policy.reads_age) for m in ms]
        active = sum(v.is_active for v in views)
        # the server's is_active flag, not the phase: an idle entry may still be "active"
        flag = (
            "server flag is_active set"
            if active == len(views)
            else "server flag is_active cleared"
            if active == 0
            else "server flag is_active set on some"
        )
        parts = [flag, f"last activity {ago([v.activity_age for v in views])}"]
        if policy.heartbeat:
            parts.append(f"heartbeat answered {ago([v.pong_age for v in views])}")
        if policy.reads_age:
            parts.append(f"created {ago([m.age for m in ms])}")
        them = "it" if len(ms) == 1 else "them"
        return f"as it saw {them}: " + ", ".join(parts)

    return seen


def summarize_user(state: State, user: int) -> str:
    """One user's registry in a line: entries grouped by phase; then the policy's memory
    of the user, if it keeps one (it decides admissions too; the built-ins keep none)."""
    memory = state.users[user].memory
    text = _registry(state, user)
    return text if memory is None else f"{text}; memory: {policy_state(memory)}"


def _registry(state: State, user: int) -> str:
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
    """Names, folded: a run of consecutive keys is "m0 … m18", one name repeated is
    "m0 (5 times)"; a fold never hides a gap. With a fold, the count of all the names
    follows: "m0 … m18 (19)", "m0, m2 … m19 (19 in all)" (a count after one part of
    a list would read as the whole list's)."""
    if len(names) <= 4:
        return ", ".join(names)
    repeats = [(name, len(list(same))) for name, same in itertools.groupby(names)]
    runs: list[list[tuple[str, int]]] = []
    for name, times in repeats:
        last = runs[-1][-1] if runs else None
        if last is not None and last[1] == times == 1 and _next_key(last[0]) == name:
            runs[-1].append((name, times))
        else:
            runs.append([(name, times)])
    text = ", ".join(_run_text(run) for run in runs)
    if all(len(run) <= 3 for run in runs):
        return text  # nothing folded: every name is shown
    if len(runs) == 1:
        return f"{text} ({len(names)})"
    if len(repeats) < len(names):
        return text  # a count would mix managers and repetitions
    return f"{text} ({len(names)} in all)"


def _run_text(run: list[tuple[str, int]]) -> str:
    if len(run) == 1:
        name, times = run[0]
        return name if times == 1 else f"{name} ({times} times)"
    names = [name for name, _ in run]
    return ", ".join(names) if len(names) <= 3 else f"{names[0]} … {names[-1]}"


def _next_key(name: str) -> str | None:
    """The label of the next manager key with the same suffix: m3 (hangs) -> m4 (hangs)."""
    key = re.fullmatch(r"m(\d+)(.*)", name)
    return None if key is None else f"m{int(key[1]) + 1}{key[2]}"


def summarize_state(state: State) -> str:
    users = " | ".join(summarize_user(state, u) for u in range(len(state.users)))
    # The policy's shared state (graduated's breaker) decides admissions too: show it.
    return users if state.shared is None else f"{users} | shared: {policy_state(state.shared)}"


# --- counterexamples -----------------------------------------------------------------


def counterexample_lines(
    config: Config, policy: Policy, cx: Counterexample, *, every_state: bool = False
) -> list[str]:
    """Numbered steps in domain words. System reactions are indented under the step that
    caused them (alike ones merged); runs of ticks are folded, and so are rounds (the
    steps up to and including a tick) that repeat."""
    actions = (*cx.steps, *cx.cycle)
    states = replay_found(config, policy, actions)
    reactions = _reactions(config, policy, actions, states)
    entries = [
        _Entry(reactions[i], describe(config, policy, states[i], a, states[i + 1]), states[i + 1])
        for i, a in enumerate(actions)
    ]
    shown = [not _idle_sweep(a, states[i], states[i + 1]) for i, a in enumerate(actions)]
    marks: dict[int, str] = {}
    if cx.probe_from is not None:
        marks[cx.probe_from] = (
            "   -- faults stop; from here the fixed recovery schedule: every tick the "
            f"application sends and user {cx.user} retries --"
        )
    faults_stop = None  # a lasso's stem: after its last fault (the search marks its own)
    if cx.cycle and cx.probe_from is None:
        last = max((i for i, a in enumerate(cx.steps) if a.fault), default=None)
        if last is not None:
            faults_stop = last + 1
            # A close of a peer already stuck still hangs, and reads as a fault otherwise.
            stuck = any(
                m.phase is Phase.STUCK for u in states[faults_stop].users for m in u.managers
            )
            also = "; a peer already stuck stays silent, so closing it hangs" if stuck else ""
            marks[faults_stop] = f"   -- faults stop: no Stall or CloseHangs from here on{also} --"
    if cx.cycle:
        n, c = len(cx.steps), len(cx.cycle)
        alike = n >= c and [e.text for e in entries[n - c : n]] == [e.text for e in entries[n:]]
        # The stem may end in rounds that read like the cycle's: say why they are not in it.
        why = (
            " (the rounds just before it look the same; they differ only in ages, which "
            "the steps do not show)"
            if alike and _only_ages_differ(states[n - c], states[n])
            else ""
        )
        cycle = f"the cycle: from here the run repeats forever{why}"
        # where the stem ends in its last fault, one marker says both
        marks[n] = f"   -- faults stop, and {cycle} --" if faults_stop == n else f"   -- {cycle} --"
    lines: list[str] = []
    number = 0
    bounds = sorted({0, len(entries), *marks})
    for lo, hi in itertools.pairwise(bounds):
        if lo in marks:
            lines.append(marks[lo])
            if lo in (cx.probe_from, faults_stop) and not every_state:
                # what the user holds from here on: the cause of a slow or no recovery
                lines.append(f"          state: {summarize_state(states[lo])}")
        rounds = _rounds([e for e, keep in zip(entries[lo:hi], shown[lo:hi], strict=True) if keep])
        shapes = [tuple(_shape(rnd)) for rnd in rounds]  # once per segment, not per round
        r = 0
        while r < len(rounds):
            period, times = _repeats(shapes, r)
            if times > 1:
                number += 1
                folded = rounds[r : r + period * times]
                texts = ["; ".join(_tick_runs(_shape(rnd))) for rnd in folded[:period]]
                texts, which = _placeholders(folded, period, texts)
                if period == 1:
                    lines.append(f"{number:4}. {times} times over, one round: {texts[0]}{which}")
                else:  # one round per line: a block on one line ran to hundreds of characters
                    lines.append(
                        f"{number:4}. {times} times over, a block of {period} rounds{which}:"
                    )
                    lines += [f"          {i}) {text}" for i, text in enumerate(texts, 1)]
                if every_state:
                    lines.append(f"          state: {summarize_state(folded[-1][-1].after)}")
                r += period * times
                continue
            for block in _fold(rounds[r]):
                if block.system:
                    lines.append(f"        ↳ {block.text}")
                else:
                    number += 1
                    lines.append(f"{number:4}. {block.text}")
                if every_state:
                    lines.append(f"          state: {summarize_state(block.after)}")
            r += 1
    if not every_state:  # else the last step's own state line says it
        lines.append(f"   state after the last step: {summarize_state(states[-1])}")
    if cx.contrast:
        other = replace(cx, steps=cx.contrast, cycle=(), contrast=(), probe_from=None)
        lines.append(
            f"   -- the other run: user {cx.user} reaches the same state before its last "
            "Connect (up to manager keys and ages nothing reads), and that "
            "Connect turns out differently --"
        )
        lines += counterexample_lines(config, policy, other, every_state=every_state)
    return lines


def _reactions(
    config: Config, policy: Policy, actions: Sequence[Action], states: list[State]
) -> list[bool]:
    """Per action, whether it is a reaction to the last step shown on its own line (and
    is indented under it): a system action that was not yet due before that step. One
    already due (an idle verdict from the last tick, taken after a connect) is a step
    of its own, and later reactions then hang under it."""
    out: list[bool] = []
    parent = -1  # the last action shown as a step of its own
    for i, a in enumerate(actions):
        reaction = a.system and parent >= 0 and not _enabled(config, policy, states[parent], a)
        out.append(reaction)
        if not reaction:
            parent = i
    return out


def _enabled(config: Config, policy: Policy, state: State, a: Action) -> bool:
    try:
        return step(config, policy, state, a) is not None
    except PolicyError:  # a policy's sweep that fails there: say nothing about causes
        return True


def _only_ages_differ(a: State, b: State) -> bool:
    """Whether a and b differ, and only in ages: the managers' (not whether stuck_age is
    set) and the ticks since the user's last sweep."""

    def ageless(m: Manager) -> Manager:
        stuck = None if m.stuck_age is None else 0
        return m._replace(
            age=0, activity_age=0, quiet_age=0, pong_age=0, phase_age=0, stuck_age=stuck
        )

    def without_ages(s: State) -> State:
        users = tuple(
            u._replace(managers=tuple(map(ageless, u.managers)), since_sweep=0) for u in s.users
        )
        return s._replace(users=users)

    return a != b and without_ages(a) == without_ages(b)


def _idle_sweep(action: Action, before: State, after: State) -> bool:
    """A periodic sweep that changed nothing but its own timer: not worth a line."""
    return (
        isinstance(action, Sweep)
        and before.users[action.user].managers == after.users[action.user].managers
        and before.shared == after.shared
    )


@dataclass(frozen=True)
class _Entry:
    system: bool
    text: str
    after: State


def _rounds(entries: list[_Entry]) -> list[list[_Entry]]:
    """Split into rounds, each ending with a tick (the last one may not)."""
    rounds: list[list[_Entry]] = [[]]
    for e in entries:
        rounds[-1].append(e)
        if e.text == ONE_TICK:
            rounds.append([])
    merged: list[list[_Entry]] = []
    for r in rounds:
        if r and _ticks_only(r) and merged:
            # Bare ticks join the round before, whose last step is a tick too: one run
            # of ticks ("N ticks pass"), not "1 tick passes" then "3 ticks pass".
            merged[-1].extend(r)
        elif r:
            merged.append(r)
    return merged


def _ticks_pass(n: int) -> str:
    return f"{plural(n, 'tick')} {'passes' if n == 1 else 'pass'}"


def _tick_runs(texts: list[str]) -> list[str]:
    """Runs of single ticks as one "N ticks pass" (a round may end with several)."""
    out: list[str] = []
    for text, group in itertools.groupby(texts):
        n = len(list(group))
        out += [_ticks_pass(n)] if text == ONE_TICK else [text] * n
    return out


def _ticks_only(rnd: list[_Entry]) -> bool:
    return all(e.text == ONE_TICK for e in rnd)


def _repeats(texts: list[tuple[str, ...]], r: int) -> tuple[int, int]:
    """The shortest period (in rounds, given by their shapes) that repeats at ``r``, and
    how often; rounds made of ticks only are left to _fold."""
    for period in range(1, 13):
        block = texts[r : r + period]
        if len(block) < period or all(t == (ONE_TICK,) for t in block):
            break
        times = 1
        while texts[r + period * times : r + period * (times + 1)] == block:
            times += 1
        if times > 1:
            return period, times
    return 1, 1


_MANAGER = re.compile(r"\bm(\d+)\b")


_SLOTS = "abcdefgh"


def _names(rnd: list[_Entry]) -> list[str]:
    """The managers a round mentions, in order of first mention."""
    return list(dict.fromkeys(m for e in rnd for m in _MANAGER.findall(e.text)))[: len(_SLOTS)]


def _shape(rnd: list[_Entry]) -> list[str]:
    """A round's texts with its managers replaced by placeholders (m<a>, m<b>, ... in
    order of first mention): rounds alike but for which managers they touch repeat."""
    slot = {n: _SLOTS[i] for i, n in enumerate(_names(rnd))}
    return [
        _MANAGER.sub(
            lambda m: f"m<{slot[m.group(1)]}>" if m.group(1) in slot else m.group(0), e.text
        )
        for e in rnd
    ]


def _placeholders(
    folded: list[list[_Entry]], period: int, texts: list[str]
) -> tuple[list[str], str]:
    """The texts with each placeholder that stood for one manager throughout put back
    ("m0", not "m<a>" and "a = m0, m0, m0"), and what the others stood for, round by
    round: " (a = m0 … m18; b = ...)"."""
    per_slot: dict[str, list[str]] = {}
    for i in range(0, len(folded), period):
        for rnd in folded[i : i + period]:
            for slot, name in zip(_SLOTS, _names(rnd), strict=False):
                per_slot.setdefault(slot, []).append("m" + name)
    parts = []
    for slot, names in per_slot.items():
        if len(set(names)) == 1:
            texts = [t.replace(f"m<{slot}>", names[0]) for t in texts]
        else:
            parts.append(f"{slot} = {_compact(names)}")
    return texts, f" ({'; '.join(parts)})" if parts else ""


def _fold(entries: list[_Entry]) -> list[_Entry]:
    """Merge runs of ticks, and runs of alike system reactions on different managers."""
    out: list[_Entry] = []
    i = 0
    while i < len(entries):
        e = entries[i]
        j = i + 1
        if e.text == ONE_TICK:
            while j < len(entries) and entries[j].text == e.text:
                j += 1
            text = _ticks_pass(j - i)
        elif e.system and (key := _MANAGER.sub("{}", e.text, count=1)) != e.text:
            names = [_MANAGER.search(e.text).group(0)]  # type: ignore[union-attr]
            while j < len(entries) and entries[j].system:
                m = _MANAGER.search(entries[j].text)
                if m is None or _MANAGER.sub("{}", entries[j].text, count=1) != key:
                    break
                names.append(m.group(0))
                j += 1
            text = key.format(_compact(names))
        else:
            text = e.text
        out.append(_Entry(e.system, text, entries[j - 1].after))
        i = j
    return out


# --- tables and documents ------------------------------------------------------------


def verdict_table(results: Sequence[Result]) -> list[str]:
    policies = list(dict.fromkeys(r.policy for r in results))
    props = list(dict.fromkeys(r.property for r in results))
    by = {(r.policy, r.property): r for r in results}
    width = max(len(p) for p in props) + 2
    cols = [
        max(len(pol), *(len(verdict_word(r)) for r in results if r.policy == pol)) + 2
        for pol in policies
    ]
    head = "property".ljust(width) + "".join(
        p.ljust(c) for p, c in zip(policies, cols, strict=True)
    )
    lines = [head.rstrip(), "-" * len(head.rstrip())]
    for prop in props:
        cells = []
        for pol, c in zip(policies, cols, strict=True):
            r = by.get((pol, prop))
            cell = "—" if r is None else verdict_word(r)
            cells.append(cell.ljust(c))
        lines.append((prop.ljust(width) + "".join(cells)).rstrip())  # no trailing blanks
    return lines


def verdict_word(r: Result) -> str:
    """A result as the verdict table shows it: "holds (no witness)", say."""
    if r.status is Status.VIOLATED:
        return "VIOLATED"
    if r.status is Status.NOT_CHECKED:
        return "not-checked"
    marks = [
        m
        for m, on in (
            ("search only", r.coverage.get("unproven")),  # --engine all
            ("no witness", r.witnessed is False),
        )
        if on
    ]
    return f"holds ({', '.join(marks)})" if marks else "holds"


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
        "detail": full_detail(r),
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
    return [f"{p.name.ljust(width)}  {p.kind.value:<15} {p.plain}" for p in CATALOGUE]
