"""Counterexamples in words: folding must say exactly what the run did."""

from __future__ import annotations

import re
from dataclasses import replace

from wsmodel.model import (
    BUILTIN,
    Admit,
    ClientClose,
    CloseHangs,
    Config,
    Connect,
    Decision,
    FinishClose,
    GoIdle,
    Outcome,
    Phase,
    Policy,
    Registry,
    Reject,
    ServerSend,
    Stall,
    State,
    Sweep,
    Tick,
    Traffic,
    Transport,
    UserState,
    Wait,
    new_manager,
    plan_connect,
    plan_sweep,
    preset,
    start,
    step,
    urgent,
)
from wsmodel.properties.catalogue import BY_NAME, holding, saturated, ticks
from wsmodel.properties.exhaustive import check_exhaustive
from wsmodel.properties.render import (
    _cleanup_did,
    _compact,
    _only_ages_differ,
    _seen,
    counterexample_lines,
    describe,
    summarize_state,
)
from wsmodel.properties.results import Counterexample, replay
from wsmodel.properties.search import Run, Violation, check_recovery

CONFIG = preset("production")


def _liveness_counterexample() -> tuple[Violation, Run]:
    run = Run(CONFIG, BUILTIN["conservative"], [])
    for _ in range(CONFIG.limit):
        run.connect(0)
    try:
        check_recovery(run, 0, {"no_permanent_block"})
    except Violation as v:
        return v, run
    raise AssertionError("conservative must block a user holding 20 idle managers")


def test_folded_rounds_count_what_happened() -> None:
    found, run = _liveness_counterexample()
    lines = counterexample_lines(CONFIG, BUILTIN["conservative"], found.counterexample)
    # 20 connects one tick apart: 19 folded rounds naming m0 … m18, then m19 alone.
    assert re.search(
        r"1\. 19 times over, one round: user 0 connects: admitted as m<a>; "
        r"1 tick passes \(a = m0 … m18 \(19\)\)",
        lines[0],
    ), lines[0]
    assert "admitted as m19" in lines[1]
    assert any("-- faults stop" in line for line in lines)
    assert any("-- the cycle" in line for line in lines)
    # The folded counts of the recovery schedule add up to the ticks it really took.
    probe = found.counterexample.steps[len(run.trace) :] + found.counterexample.cycle
    ticks = sum(1 for a in probe if a.name == "Tick")
    shown = 0
    for line in lines[lines.index(next(x for x in lines if "-- faults stop" in x)) :]:
        m = re.search(r"(\d+) times over, one round: .*1 tick passes", line)
        if m:
            shown += int(m.group(1))
        elif re.search(r"\d+\. 1 tick passes$", line):
            shown += 1
        elif m2 := re.search(r"\d+\. (\d+) ticks pass$", line):
            shown += int(m2.group(1))
    assert shown == ticks
    assert lines[-1].startswith("   state after the last step: user 0: 20 registered")


def test_a_permanent_block_says_what_the_user_holds_on_the_cycle() -> None:
    # Faults stopped with 20 active managers; by the cycle they are idle: the message
    # must say the cycle's holdings (idle, none in use), not those when faults stopped.
    found, _ = _liveness_counterexample()
    cx = found.counterexample
    assert "20 registered managers (20 idle), 20 against the limit of 20, none in use" in (
        cx.message
    ), cx.message
    on_cycle = replay(CONFIG, BUILTIN["conservative"], cx.steps)[-1].users[0]
    assert {m.phase for m in on_cycle.managers} == {Phase.IDLE}
    # the exhaustive engine's lasso: a close that hangs, which counts against nothing
    cfg = preset("small").with_(users=1, limit=1)
    (r,) = check_exhaustive(cfg, BUILTIN["conservative"], ["no_permanent_block"])
    assert r.counterexample is not None
    assert "1 registered manager (1 closing whose close hangs), 0 against the limit of 1" in (
        r.counterexample.message
    ), r.counterexample.message
    # a policy's memory of the user decides admissions too: it is said
    bare = start(cfg, BUILTIN["reference"]).users[0]._replace(memory=(3,))
    assert holding(cfg, bare) == (
        "0 registered managers, 0 against the limit of 1, none in use; the policy's memory: (3,)"
    )


def test_folded_names_never_hide_a_gap() -> None:
    names = [f"m{i}" for i in range(19)] + ["m24"]
    # the count is of the whole list, not of the part before it
    assert _compact(names) == "m0 … m18, m24 (20 in all)"
    assert _compact(["m1", "m3 (hangs)", "m4", "m5", "m6", "m7", "m9"]) == (
        "m1, m3 (hangs), m4 … m7, m9 (7 in all)"
    )
    assert _compact(["m2", "m7"]) == "m2, m7"
    hanging = [f"m{i} (hangs)" for i in range(20)]
    assert _compact(hanging) == "m0 (hangs) … m19 (hangs) (20)"
    # the same manager in every folded round
    assert _compact(["m0"] * 5 + ["m1", "m2", "m3", "m4"]) == "m0 (5 times), m1 … m4"


def test_an_isolation_pair_shows_both_runs_in_words() -> None:
    cfg = preset("small").with_(users=1, limit=1)
    pol = BUILTIN["graduated"]
    (r,) = check_exhaustive(cfg, pol, ["isolation"])
    assert r.counterexample is not None and r.counterexample.contrast
    lines = counterexample_lines(cfg, pol, r.counterexample)
    (split,) = [i for i, line in enumerate(lines) if "-- the other run" in line]
    first, other = lines[:split], lines[split + 1 :]
    connects = [line for line in first if "connects:" in line]
    assert "admitted" in connects[-1]
    assert "rejected" in [line for line in other if "connects:" in line][-1]
    assert "Connect(" not in r.counterexample.message  # words, not reprs


def test_a_run_of_ticks_is_one_step_even_after_a_round() -> None:
    # Connect and Stall end their round with a tick; the bare ticks after it belong to
    # the same run of ticks, not to a second step ("1 tick passes", "2 ticks pass").
    small = preset("small").with_(users=1, limit=1)
    policy = BUILTIN["conservative"]
    steps = (Connect(0), Stall(0, 0), Tick(), Tick(), Tick())
    assert replay(small, policy, steps)[-1].users[0].managers[0].phase is Phase.STUCK
    cx = Counterexample("x", steps, user=0)
    lines = counterexample_lines(small, policy, cx)
    assert [m.group(1) for line in lines if (m := re.match(r" +\d+\. (.*)", line))] == [
        "user 0 connects: admitted as m0",
        "user 0's m0 goes stuck: its peer vanished or its handler hung",
        "3 ticks pass",
    ]


def test_a_repeated_round_ending_in_several_ticks_says_how_many() -> None:
    # A round ends with its run of ticks; folded as "N times over", that run still
    # reads "2 ticks pass", not "1 tick passes; 1 tick passes".
    small = preset("small").with_(users=1, limit=1)
    policy = BUILTIN["reference"]
    state, steps = start(small, policy), []
    for a in (Connect(0), Tick(), *((Traffic(0, 0), Connect(0), Tick(), Tick()) * 3)):
        while step(small, policy, state, a) is None:  # the due sweeps first
            due = urgent(small, policy, state)[0]
            steps.append(due)
            state = step(small, policy, state, due)
        steps.append(a)
        state = step(small, policy, state, a)
    lines = counterexample_lines(small, policy, Counterexample("x", tuple(steps), user=0))
    (folded,) = [line for line in lines if "times over" in line]
    assert folded.endswith(
        "3 times over, one round: user 0's m0 receives a message from its peer; "
        "user 0 connects: rejected, retry after 1 tick; 2 ticks pass"  # one manager: named
    )


def test_a_connect_says_what_its_cleanup_did() -> None:
    # graduated evicts the oldest half of a full registry, healthy or not: the step
    # must name them, not leave the reader to spot them missing from the state after.
    run = Run(CONFIG, BUILTIN["graduated"], [])
    for _ in range(CONFIG.limit + 1):
        run.connect(0)
    assert run.trace[-1] == Connect(0)
    text = describe(CONFIG, run.policy, run.states[-2], run.trace[-1], run.states[-1])
    # ... and say what the policy saw of them: the oldest, with recent activity
    assert text == (
        "user 0 connects: admitted as m20 after a cleanup that closes and removes m0 … m9 "
        "(10; as it saw them: server flag is_active set, last activity 11–20 ticks ago, "
        "created 11–20 ticks ago)"
    )
    # a probe of a stuck peer costs its timeout, a hung close its deadline: the
    # cleanup's duration is said, and what it went on
    while run.state.users[0].live_count < CONFIG.limit:
        run.connect(0)
    assert run.apply(Stall(0, run.state.users[0].managers[-1].id))
    run.connect(0)
    text = describe(CONFIG, run.policy, run.states[-2], run.trace[-1], run.states[-1])
    assert text == (
        "user 0 connects: admitted as m30 after a cleanup of 12000 ms (probing m29: 2000 ms, "
        "no answer; closing m29: 10000 ms, cut off at its deadline) that closes and removes m29 "
        "(as it saw it: server flag is_active set, last activity 1 tick ago, created 1 tick "
        "ago)"
    )
    plan = plan_connect(CONFIG, run.policy, run.states[-2], 0)
    assert plan.waits == (Wait("probe", 29, 2), Wait("close", 29, 10))
    assert plan.elapsed == sum(w.ticks for w in plan.waits) and plan.timeouts == 2


def test_cleanup_effects_in_words() -> None:
    m = [new_manager(i) for i in range(5)]
    before = (m[0], m[1]._replace(phase=Phase.IDLE), m[2]._replace(phase=Phase.CLOSED), m[3])
    after = (m[1]._replace(phase=Phase.CLOSING), m[3], m[4])  # m4 is the newcomer
    assert _cleanup_did(before, after) == "closes and removes m0, starts closing m1, removes m2"
    assert _cleanup_did(before, before) == ""
    closed = (m[0]._replace(phase=Phase.CLOSED), *before[1:])
    assert _cleanup_did(before, closed) == "closes m0"


def test_ages_in_ticks_say_one_tick_and_saturation() -> None:
    # the exhaustive figures and the cleanup's "as it saw them" share these (once "1
    # ticks", and ">= 5" beside "5+")
    assert [ticks(n, 5) for n in (1, 4, 5, 9)] == ["1 tick", "4 ticks", "5+ ticks", "9+ ticks"]
    assert saturated(4, 5) == "4" and saturated(5, 5) == "5+"


def test_a_cleanup_says_what_the_policy_saw_of_the_entries_it_closed() -> None:
    # Why these entries: the policy's view of the live ones, as ranges; ages at the
    # horizon are "N+"; a closed entry it only removed has no view worth giving.
    cfg = preset("small")  # horizon 5
    m = [new_manager(i) for i in range(4)]
    before = (
        m[0]._replace(activity_age=5, pong_age=1, age=5),
        m[1]._replace(activity_age=2, pong_age=1, age=3, is_active=False),
        m[2]._replace(phase=Phase.CLOSED),
        m[3],
    )
    after = (m[3],)
    seen = _seen(cfg, BUILTIN["reference"])  # heartbeats on, ages not read
    assert _cleanup_did(before, after, seen=seen) == (
        "closes and removes m0, m1 (as it saw them: server flag is_active set on some, last "
        "activity 2–5+ ticks ago, heartbeat answered 1 tick ago), removes m2"
    )
    graduated = _seen(cfg, BUILTIN["graduated"])  # no heartbeats, reads ages
    assert _cleanup_did(before[1:], after, seen=graduated) == (
        "closes and removes m1 (as it saw it: server flag is_active cleared, last activity 2 "
        "ticks ago, created 3 ticks ago), removes m2"
    )


def test_a_stem_that_reads_like_its_cycle_says_why_it_is_not_part_of_it() -> None:
    # conservative at production: the last stem rounds read like the cycle's, but the
    # closing managers' phase ages are still growing towards the horizon.
    found, _ = _liveness_counterexample()
    cx = found.counterexample
    lines = counterexample_lines(CONFIG, BUILTIN["conservative"], cx)
    (marker,) = [line for line in lines if "-- the cycle" in line]
    assert "they differ only in ages, which the steps do not show" in marker
    # a lasso whose stem does not end like its cycle gets the bare marker
    small = preset("small").with_(users=1, limit=1)
    (r,) = check_exhaustive(small, BUILTIN["conservative"], ["no_permanent_block"])
    assert r.counterexample is not None
    lines = counterexample_lines(small, BUILTIN["conservative"], r.counterexample)
    assert "   -- the cycle: from here the run repeats forever --" in lines


def test_only_ages_differ() -> None:
    s = start(CONFIG, BUILTIN["reference"])
    a = step(CONFIG, BUILTIN["reference"], s, Connect(0))
    assert a is not None
    (u0, u1) = a.users
    older = a._replace(users=(u0._replace(managers=(u0.managers[0]._replace(age=7),)), u1))
    assert _only_ages_differ(a, older)
    ticked = step(CONFIG, BUILTIN["reference"], a, Tick())  # also resets this tick's attempts
    assert ticked is not None and not _only_ages_differ(a, ticked)
    assert not _only_ages_differ(a, a)
    stuck = step(CONFIG, BUILTIN["reference"], a, Stall(0, 0))
    assert stuck is not None and not _only_ages_differ(a, stuck)


def test_a_repeated_block_of_rounds_shows_one_round_per_line() -> None:
    rounds = (Traffic(0, 0), Tick(), ServerSend(0), Tick())
    cx = Counterexample("a block", (Connect(0), Tick(), *rounds * 3), user=0)
    lines = counterexample_lines(CONFIG, BUILTIN["conservative"], cx)  # no sweep due
    at = lines.index("   3. 3 times over, a block of 2 rounds:")
    assert lines[at + 1 : at + 3] == [
        "          1) user 0's m0 receives a message from its peer; 1 tick passes",
        "          2) the application sends to every manager of user 0; 1 tick passes",
    ]


def test_the_state_when_faults_stop_is_shown() -> None:
    # what the user holds when recovery starts is what explains a slow or no recovery
    found, _ = _liveness_counterexample()
    lines = counterexample_lines(CONFIG, BUILTIN["conservative"], found.counterexample)
    at = next(i for i, line in enumerate(lines) if line.startswith("   -- faults stop;"))
    held = "user 0: 20 registered, 20 live — active m0 … m19 (20) | user 1: no managers"
    assert lines[at + 1] == f"          state: {held}"
    # with every state shown (explain), the step before already says it: not twice
    lines = counterexample_lines(
        CONFIG, BUILTIN["conservative"], found.counterexample, every_state=True
    )
    at = next(i for i, line in enumerate(lines) if line.startswith("   -- faults stop;"))
    assert lines[at - 1].lstrip().startswith("state:")
    assert not lines[at + 1].lstrip().startswith("state:")
    assert lines[-1].lstrip().startswith("state:")  # not repeated as "state after the last step"
    assert not any(line.startswith("   state after the last step") for line in lines)


class RemovesThenRejects(Policy):
    name = "removes-then-rejects"

    def on_connect(self, registry: Registry) -> Decision:
        closed = [e.id for e in registry.entries if e.transport is Transport.CLOSED]
        for key in closed:
            registry.remove(key)
        return Reject(retry_after=2) if closed or registry.entries else Admit()


def test_a_rejection_after_a_cleanup_that_did_something() -> None:
    pol = RemovesThenRejects()
    states = replay(CONFIG, pol, (Connect(0), Tick(), ClientClose(0, 0), FinishClose(0, 0)))
    before = states[-1]
    after = step(CONFIG, pol, before, Connect(0))
    assert after is not None
    assert describe(CONFIG, pol, before, Connect(0), after) == (
        "user 0 connects: rejected after a cleanup that removes m0; retry after 2 ticks"
    )


def test_a_cleanup_that_hangs_names_the_close_it_awaits() -> None:
    # conservative awaits a stuck stale entry's close with no deadline: the step and
    # the claim's message name that entry, and it is not also listed as "starts closing"
    pol = BUILTIN["conservative"]
    one = CONFIG.with_(users=1)
    stale = CONFIG.activity_cutoff + 1
    managers = (
        new_manager(0)._replace(activity_age=stale),
        new_manager(1)._replace(phase=Phase.STUCK, activity_age=stale, stuck_age=0),
        *(new_manager(i) for i in range(2, CONFIG.limit)),
    )
    before = start(one, pol)
    before = before._replace(
        users=(before.users[0]._replace(managers=managers, next_id=CONFIG.limit),)
    )
    plan = plan_connect(one, pol, before, 0)
    assert plan.outcome is Outcome.HUNG and plan.hung_on == 1
    after = step(one, pol, before, Connect(0))
    assert after is not None
    assert describe(one, pol, before, Connect(0), after) == (
        "user 0 connects: its emergency cleanup closes and removes m0 (as it saw it: server "
        "flag is_active set, last activity 301+ ticks ago) and awaits the close of m1, which "
        "never ends: the attempt hangs (the client gives up on it)"
    )
    check = BY_NAME["cleanup_terminates"].check
    assert check is not None
    assert check(one, pol, before, Connect(0), after) == (
        "user 0's emergency cleanup awaits the close of m1, which never ends"
    )


class SweepHangs(Policy):
    name = "sweep-hangs"

    def sweep_period(self, config: Config) -> int | None:
        return 1

    def sweep(self, registry: Registry) -> None:
        for e in registry.entries:
            registry.close(e.id, deadline=None)  # m1's close hangs: never returns
            registry.remove(e.id)


def test_a_sweep_that_hangs_says_it_stopped_there() -> None:
    pol = SweepHangs()
    one = CONFIG.with_(users=1)
    managers = (new_manager(0), new_manager(1)._replace(phase=Phase.STUCK), new_manager(2))
    before = start(one, pol)
    user = before.users[0]._replace(managers=managers, next_id=3, since_sweep=1)
    before = before._replace(users=(user,))
    sweep = plan_sweep(one, pol, before, 0)
    assert sweep.hung and sweep.hung_on == 1
    after = step(one, pol, before, Sweep(0))
    assert after is not None
    assert [m.id for m in after.users[0].managers] == [1, 2]  # m2's turn never came
    assert describe(one, pol, before, Sweep(0), after) == (
        "the periodic sweep runs over user 0's entries and closes and removes m0 (as it saw "
        "it: server flag is_active set, last activity this tick, created this tick), then "
        "awaits the "
        "close of m1, which never ends: it stops there, and the next period's sweep starts "
        "afresh"
    )
    # hung on its first entry: it did nothing else
    first = user._replace(managers=(managers[1], managers[0]))
    before = before._replace(users=(first,))
    after = step(one, pol, before, Sweep(0))
    assert after is not None
    assert describe(one, pol, before, Sweep(0), after) == (
        "the periodic sweep runs over user 0's entries, then awaits the close of m1, which "
        "never ends: it stops there, and the next period's sweep starts afresh"
    )


def test_a_reaction_is_indented_only_under_the_step_that_caused_it() -> None:
    # m0 goes idle because of the third tick: under the ticks if it follows them, a
    # step of its own if user 1's connect comes between (it did not cause it).
    small = preset("small").with_(users=2, limit=1)
    pol = BUILTIN["conservative"]
    start_ = (Connect(0), Tick(), Tick(), Tick())
    idle = "user 0's m0 goes idle (3 ticks without inbound traffic)"
    at_once = counterexample_lines(small, pol, Counterexample("x", (*start_, GoIdle(0, 0))))
    assert at_once[1:3] == ["   2. 3 ticks pass", f"        ↳ {idle}"]
    later = (*start_, Connect(1), GoIdle(0, 0))
    lines = counterexample_lines(small, pol, Counterexample("x", later))
    assert lines[2:4] == ["   3. user 1 connects: admitted as m0", f"   4. {idle}"]
    # a step of its own is no parent for a reaction that was due before it (a review)
    closes = (Connect(0), Connect(1), ClientClose(0, 0), ClientClose(1, 0))
    both = (*closes, FinishClose(0, 0), FinishClose(1, 0))
    lines = counterexample_lines(small, pol, Counterexample("x", both))
    assert lines[4:6] == [
        "   5. the close of user 0's m0 completes",
        "   6. the close of user 1's m0 completes",
    ]
    # and a reaction to a step of its own hangs under it
    lines = counterexample_lines(small, pol, Counterexample("x", (*closes[:3], FinishClose(0, 0))))
    assert lines[2:4] == [
        "   3. the client closes user 0's m0",
        "        ↳ the close of user 0's m0 completes",
    ]


def test_a_state_shows_the_policys_shared_state() -> None:
    # graduated's breaker decides admissions: a state line without it would hide why
    grad = start(CONFIG, BUILTIN["graduated"])
    assert summarize_state(grad).endswith(" | shared: Breaker(failures=0, open_for=0)")
    assert "shared" not in summarize_state(start(CONFIG, BUILTIN["reference"]))


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str")


def test_a_state_shows_the_policys_memory_safely() -> None:
    # A policy's state is its code: printing it may raise (that was wsmodel's internal
    # error, exit 4, in place of the verdict), and it may be long.
    one = State((UserState((), 0, 0, 0, Unprintable()),), None)
    assert (
        summarize_state(one)
        == "user 0: no managers; memory: <a Unprintable that cannot be printed>"
    )
    long = State((UserState((), 0, 0, 0, tuple(range(100))),), "x" * 100)
    assert summarize_state(long) == (
        f"user 0: no managers; memory: {str(tuple(range(100)))[:79]}… | shared: {'x' * 79}…"
    )


def test_a_lasso_says_where_faults_stop() -> None:
    small = preset("small").with_(users=1, limit=1)
    pol = BUILTIN["conservative"]
    cx = Counterexample("m", (Connect(0), Stall(0, 0), Tick(), Connect(0)), user=0, cycle=(Tick(),))
    lines = counterexample_lines(small, pol, cx)
    marker = (
        "   -- faults stop: no Stall or CloseHangs from here on; a peer already stuck "
        "stays silent, so closing it hangs --"
    )
    assert lines[lines.index(marker) - 1].startswith("   2. user 0's m0 goes stuck")
    # with no peer stuck when they stop, the marker says only that (a trial's reading of
    # a later hanging close as a fault after the marker)
    hung = (Connect(0), ClientClose(0, 0), CloseHangs(0, 0), Tick(), Connect(0))
    plain = counterexample_lines(small, pol, replace(cx, steps=hung))
    assert "   -- faults stop: no Stall or CloseHangs from here on --" in plain
    # a stem that ends in its last fault: one marker says both
    cx = replace(cx, steps=cx.steps[:2])
    lines = counterexample_lines(small, pol, cx)
    assert marker not in lines
    both = "   -- faults stop, and the cycle: from here the run repeats forever --"
    assert lines[lines.index(both) - 1].startswith("   2. user 0's m0 goes stuck")
