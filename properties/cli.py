"""The ``wsmodel`` command.

Exit codes: 0 success (for ``graph``, the graph was written); 1 a property violated
(or a declared verdict not reproduced); 2 bad usage or configuration (or the system
refused: a full disk); 3 the policy under test broke the policy protocol; 4 an
internal error (a bug in wsmodel); 130 interrupted (SIGINT); 143 terminated (SIGTERM).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from importlib.metadata import version
from typing import Any, NoReturn

from wsmodel.model import (
    BUILTIN,
    PRESETS,
    Config,
    ConfigError,
    Policy,
    PolicyError,
    preset,
)
from wsmodel.model.calls import outside_call, signals_marked
from wsmodel.model.config import did_you_mean
from wsmodel.properties import render, watchdog
from wsmodel.properties.catalogue import BY_NAME, CATALOGUE, NAMES
from wsmodel.properties.expectations import MUST_BREAK, expected
from wsmodel.properties.loader import UsageError, load_policy, validate_policy
from wsmodel.properties.results import (
    LOST_INTERRUPT,
    Counterexample,
    Result,
    Status,
    full_detail,
    replay_found,
)

EXIT_OK, EXIT_VIOLATED, EXIT_USAGE, EXIT_POLICY, EXIT_INTERNAL = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130  # the shell's convention for SIGINT
EXIT_TERMINATED = 143  # and for SIGTERM
TIMEOUT = 600.0  # seconds per policy and engine, unless --timeout says otherwise
ENGINES = ("hypothesis", "exhaustive", "all")
DEFAULT_EXAMPLES = 200
DEFAULT_PRESET = {"hypothesis": "production", "exhaustive": "small", "all": "small"}


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line in the form of every other usage error."""

    commands: dict[str, argparse.ArgumentParser]  # the subcommands' parsers, by name

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"wsmodel: error: {message} (see {self.prog} --help)\n")

    def _check_value(self, action: argparse.Action, value: object) -> None:
        # argparse's own check, with a near miss named ("--engine exhaustve")
        if action.choices is not None and value not in action.choices:
            hint = did_you_mean(str(value), map(str, action.choices))
            if hint:
                choices = ", ".join(map(str, action.choices))
                raise argparse.ArgumentError(
                    action, f"invalid choice: {value!r}{hint}; choose from {choices}"
                )
        super()._check_value(action, value)

    def parse(self, argv: Sequence[str] | None) -> argparse.Namespace:
        """parse_args, but an unknown flag is the subcommand's to report, pointing at
        its own --help ("see wsmodel verify --help")."""
        args, extra = self.parse_known_args(argv)
        if extra:
            words = list(sys.argv[1:] if argv is None else argv)
            # before the subcommand, the flag was wsmodel's own: "wsmodel --bogus verify"
            before = extra[0] in words[: words.index(args.command)]
            owner = self if before else self.commands[args.command]
            owner.error(f"unrecognized arguments: {' '.join(extra)}")
        return args


def _parser() -> _Parser:
    p = _Parser(
        prog="wsmodel",
        description="Check cleanup policies of per-user WebSocket manager registries.",
    )
    p.add_argument("--version", action="version", version=f"wsmodel {version('wsmodel')}")
    sub = p.add_subparsers(dest="command", required=True)

    def policy_option(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--policy",
            required=True,
            action="append",  # to refuse a second one, not to keep the last silently
            metavar="NAME|module:attr",
            help="a built-in policy (conservative, graduated, reference) or your own",
        )

    def run_options(sp: argparse.ArgumentParser, several: bool, engines: bool = True) -> None:
        if engines:
            sp.add_argument(
                "--engine",
                choices=ENGINES,
                default="hypothesis",
                help="hypothesis: search at any size (default); exhaustive: prove "
                "over the whole state graph; all: both",
            )
        else:  # the exhaustive engine's graph, nothing to choose
            sp.set_defaults(engine="exhaustive", examples=None, seed=None)
        sp.add_argument(
            "--preset",
            choices=sorted(PRESETS),
            help="timing preset (default: "
            + ("production for hypothesis, small otherwise)" if engines else "small)"),
        )
        sizes = "the preset's; exhaustive: 1" if engines else "1"
        sp.add_argument("--users", type=int, help=f"number of users, 1 to 8 (default: {sizes})")
        sp.add_argument("--limit", type=int, help=f"per-user manager limit (default: {sizes})")
        sp.add_argument(
            "--set",
            action="append",
            default=[],
            metavar="FIELD=VALUE",
            help="override any configuration field (see docs/model.md)",
        )
        if engines:
            sp.add_argument(
                "--examples",
                type=int,
                help=f"Hypothesis examples per search (default {DEFAULT_EXAMPLES})",
            )
            sp.add_argument("--seed", type=int, help="Hypothesis seed (default: derandomized)")
        sp.add_argument("--max-states", type=int, help="exhaustive: stop after this many states")
        sp.add_argument(
            "--timeout",
            type=float,
            help=f"time budget in seconds for each policy and engine (default {TIMEOUT:.0f}"
            + ("; policies run in parallel, --jobs" if several else "")
            + "): exhaustive, judging included"
            + ("; hypothesis, minimizing included" if engines else "")
            + "; the properties left undecided are then not-checked",
        )
        sp.add_argument(
            "--max-memory",
            type=float,
            metavar="MB",
            help="exhaustive: memory budget in MB for each policy, judging included "
            "(default 85%% of what the process can have: RAM, its cgroup's limit, ulimit); "
            "a run also stops while the machine has 5%% of that left; checked ten times a "
            "second, so a run may go a little past it",
        )
        sp.add_argument(
            "--no-reduction",
            action="store_true",
            help="exhaustive: explore without the reductions (user symmetry, unobserved ages)",
        )
        sp.add_argument("--quiet", action="store_true", help="no progress on stderr")

    v = sub.add_parser("verify", help="check policies against the property catalogue")
    v.add_argument(
        "--policy",
        action="append",
        metavar="NAME|module:attr",
        help="policy to check (repeatable); default: every built-in policy",
    )
    v.add_argument(
        "--property",
        action="append",
        choices=NAMES,
        metavar="NAME",
        help="check only this property (repeatable)",
    )
    v.add_argument("--json", action="store_true", help="one JSON document on stdout")
    v.add_argument("--jobs", type=int, help="policies checked in parallel (default: cores)")
    run_options(v, several=True)

    e = sub.add_parser(
        "explain",
        help="show a property's counterexample step by step, with the state after each step",
        description="Check one property of one policy and show its counterexample step by "
        "step: the shortest one with --engine exhaustive (or a lasso, for the liveness "
        "claims), a minimized one with the Hypothesis engine (the default); with --engine "
        "all, the shorter of the two by the JSON's length (in which a Hypothesis liveness "
        "counterexample's recovery schedule counts as one step). Exit 1 when "
        "a counterexample is shown or the claim was left not-checked, 0 when it holds.",
    )
    e.add_argument(
        "property",
        choices=NAMES,
        metavar="PROPERTY",
        help="a property of the catalogue (`wsmodel properties` lists them)",
    )
    policy_option(e)
    run_options(e, several=False)

    g = sub.add_parser(
        "graph",
        help="draw the reachable state graph (Graphviz DOT), a counterexample over it",
        description="Explore one policy's reachable states with the exhaustive engine and "
        "write the graph as Graphviz DOT: states grouped by what the state lines show "
        "(phases, the is_active flag, the policy's memory and shared state; ages left "
        "out), or every state with --every-state. States a step broke a claim into are "
        "red. With --property, that claim's counterexample is drawn over the graph: its "
        "run in blue, a lasso's cycle in orange, an isolation counterexample's other run "
        "in purple. Render with: dot -Tsvg FILE -o graph.svg. Exit 0 when the graph was "
        "written, whatever the claims' verdicts (wsmodel verify and explain give those).",
    )
    policy_option(g)
    g.add_argument(
        "--property",
        choices=NAMES,
        action="append",  # to refuse a second one, not to keep the last silently
        metavar="NAME",
        help="draw this property's counterexample over the graph, if it has one",
    )
    g.add_argument(
        "--every-state",
        action="store_true",
        help="one node per state (with its id) rather than per group",
    )
    g.add_argument(
        "--output", "-o", metavar="FILE", help="write the DOT to FILE (default or -: stdout)"
    )
    run_options(g, several=False, engines=False)

    props = sub.add_parser("properties", help="list the property catalogue")
    p.commands = {"verify": v, "explain": e, "graph": g, "properties": props}
    return p


# The exhaustive engine's sizes when none are given: the largest configuration every
# built-in policy completes in seconds (two users or limit 2 take minutes to hours;
# docs/performance.md). The Hypothesis engine keeps the preset's sizes.
EXHAUSTIVE_SIZES = {"users": 1, "limit": 1}


def build_config(args: argparse.Namespace) -> Config:
    config = preset(args.preset or DEFAULT_PRESET[args.engine])
    changes: dict[str, int] = {}
    if args.engine != "hypothesis":
        changes.update(EXHAUSTIVE_SIZES)
    if args.users is not None:
        changes["users"] = args.users
    if args.limit is not None:
        changes["limit"] = args.limit
    seen: dict[str, str] = {}
    for item in args.set:
        field, sep, value = item.partition("=")
        field = field.strip()
        if not sep or not field:
            raise UsageError(f"--set {item!r}: expected FIELD=VALUE")
        if field in seen:
            raise UsageError(f"--set {seen[field]} and --set {item} both given: use one")
        seen[field] = item
        if field in ("users", "limit") and getattr(args, field) is not None:
            raise UsageError(f"--set {item} and --{field} both given: use one")
        try:
            changes[field] = int(value)
        except ValueError:
            raise UsageError(f"--set {item!r}: {field} must be an integer") from None
    if args.examples is not None and args.examples < 1:
        raise UsageError(f"--examples must be at least 1, got {args.examples}")
    if args.timeout is not None and not 0 < args.timeout < math.inf:
        # nan fails this too: it would otherwise mean no budget at all
        raise UsageError(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
    if args.max_states is not None and args.max_states < 1:
        raise UsageError(f"--max-states must be at least 1, got {args.max_states}")
    if args.max_memory is not None and not 0 < args.max_memory < math.inf:
        raise UsageError(f"--max-memory must be a positive number of MB, got {args.max_memory:g}")
    # A flag the chosen engine would ignore is a mistake worth saying, not dropping.
    other = {
        "hypothesis": (
            ("--max-states", args.max_states is not None),
            ("--max-memory", args.max_memory is not None),
            ("--no-reduction", args.no_reduction),
        ),
        "exhaustive": (
            ("--examples", args.examples is not None),
            ("--seed", args.seed is not None),
        ),
    }
    for flag, given in other.get(args.engine, ()):
        if given:
            wanted = "exhaustive" if args.engine == "hypothesis" else "hypothesis"
            raise UsageError(
                f"{flag} applies to the {wanted} engine only, and --engine is {args.engine} "
                f"(use --engine {wanted} or all)"
            )
    if args.examples is None:
        args.examples = DEFAULT_EXAMPLES
    if args.max_memory is not None:
        from wsmodel.properties.memory import RESERVE_SHARE, limit_mb, mb

        if args.max_memory > (most := limit_mb()):
            # Not refused: the run still stops in time, only later than the user may think.
            print(
                f"wsmodel: warning: --max-memory {mb(args.max_memory)} is more than this "
                f"process can have ({mb(most)}); the run stops while {RESERVE_SHARE:.0%} "
                "of that is still left instead",
                file=sys.stderr,
            )
    return config.with_(**changes)


def check_policy(
    config: Config,
    spec: str,
    properties: Sequence[str],
    args: argparse.Namespace,
    progress: Callable[[str], None] | None,
) -> list[Result]:
    """Every requested property of one policy, by the chosen engine(s)."""
    policy = load_policy(spec)
    results: list[list[Result]] = []
    with _blaming(policy):
        if args.engine in ("hypothesis", "all"):
            from wsmodel.properties.search import check_hypothesis

            results.append(
                check_hypothesis(
                    config,
                    policy,
                    properties,
                    examples=args.examples,
                    seed_value=args.seed,
                    timeout=_timeout(args),
                    progress=progress,
                )
            )
        if args.engine in ("exhaustive", "all"):
            from wsmodel.properties.exhaustive import check_exhaustive

            results.append(
                check_exhaustive(config, policy, properties, progress=progress, **_bounds(args))
            )
        for cx in (r.counterexample for rs in results for r in rs if r.counterexample):
            # Nothing is reported that does not replay (the JSON is not rendered, so
            # check here); with a deterministic policy every engine's counterexample does.
            replay_found(config, policy, (*cx.steps, *cx.cycle))
            replay_found(config, policy, cx.contrast)
    if len(results) == 1:
        return results[0]
    return [_combine(a, b) for a, b in zip(*results, strict=True)]


@contextlib.contextmanager
def _blaming(policy: Policy) -> Iterator[None]:
    """What the policy's own code raised while it was checked, as the PolicyError that
    says so: here, in the process that ran it (a worker's traceback is lost)."""
    try:
        yield
    except Exception as exc:
        if (error := outside_call(policy, exc)) is None:
            raise
        raise error from exc


def _bounds(args: argparse.Namespace) -> dict[str, Any]:
    """The exhaustive engine's budgets and reductions, as the flags set them."""
    return {
        "max_states": args.max_states,
        "timeout": _timeout(args),
        "max_memory_mb": _memory(args),
        "reduction": not args.no_reduction,
    }


def _timeout(args: argparse.Namespace) -> float:
    """The time budget in force, for each policy and engine."""
    return TIMEOUT if args.timeout is None else float(args.timeout)


def _memory(args: argparse.Namespace) -> float | None:
    """The exhaustive engine's memory budget in force, in MB (None when it does not run)."""
    if args.engine == "hypothesis":
        return None
    from wsmodel.properties.memory import budget_mb

    return budget_mb(args.max_memory)


def _combine(a: Result, b: Result) -> Result:
    """Both engines on one property (``a`` the search's, ``b`` the exhaustive engine's):
    a violation from either wins (the shorter counterexample); then an engine fault,
    which is a bug to report, not a verdict a search may cover; a proof beats a search;
    otherwise whichever checked. A claim the search held but the exhaustive engine left
    not checked says so, with why and that engine's scope (what it covered), and is
    marked ``unproven``: otherwise nothing said the proof did not finish."""
    violated = [r for r in (a, b) if r.status is Status.VIOLATED]
    if violated:
        return min(violated, key=lambda r: r.counterexample.length() if r.counterexample else 0)
    for r in (a, b):
        if r.coverage.get("engine_fault"):
            return r
    if b.status is Status.HOLDS:
        return b
    if a.status is Status.HOLDS:
        why = "not proven: the exhaustive engine left it not checked"
        said = f"exhaustive: {b.detail}" if b.detail else ""
        return replace(
            a,
            detail="; ".join(d for d in (a.detail, why, said) if d),
            scope=b.scope,
            coverage={**a.coverage, "unproven": True},
        )
    if a.status is Status.NOT_CHECKED and a.detail:  # neither decided: both say why
        return replace(
            b,
            detail="; ".join(d for d in (b.detail, f"search: {a.detail}") if d),
            coverage={**a.coverage, **b.coverage},
        )
    return b


class _Progress:
    """Progress lines on stderr (picklable, so worker processes can report too)."""

    def __init__(self) -> None:
        self.started = time.time()

    def __call__(self, message: str) -> None:
        # One write per line: worker processes share stderr, and print() writes the
        # text and its newline separately. Best effort: a closed stderr (`2>&1 | head`)
        # must not end the run before its verdict.
        try:
            sys.stderr.write(f"[{time.time() - self.started:6.1f}s] {message}\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            _to_devnull(sys.stderr)


def _to_devnull(stream: object) -> None:
    """Point a stream that can no longer be written at /dev/null, so that what is left
    in its buffer does not fail again when Python exits (exit 120)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())  # type: ignore[attr-defined]


def _progress(args: argparse.Namespace) -> Callable[[str], None] | None:
    return None if getattr(args, "quiet", False) else _Progress()


def _check_all(
    config: Config, specs: list[str], properties: list[str], args: argparse.Namespace
) -> list[Result]:
    progress = _progress(args)
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    jobs = args.jobs or min(len(specs), os.cpu_count() or 1)
    if jobs == 1 or len(specs) == 1:
        return [r for s in specs for r in check_policy(config, s, properties, args, progress)]
    # Longest first: a policy that breaks nothing costs full searches to the end, one
    # that breaks much stops early; so start those declared to break least.
    order = sorted(specs, key=lambda s: len(MUST_BREAK.get(s, frozenset())))
    pool = ProcessPoolExecutor(
        max_workers=jobs,
        initializer=_in_worker,
        initargs=(watchdog.limit_from_env(), bool(getattr(args, "json", False))),
    )
    try:
        futures = {
            s: pool.submit(check_policy, config, s, properties, args, progress) for s in order
        }
        # The first error, whichever policy's, ends the run; not the first in --policy order.
        done, _ = wait(futures.values(), return_when=FIRST_EXCEPTION)
        for f in done:
            if (exc := f.exception()) is not None:
                raise exc
        return [r for s in specs for r in futures[s].result()]
    except BaseException:
        # Ctrl-C, SIGTERM, or one policy's error: end the others now rather than wait for
        # them (they ignore Ctrl-C). The executor offers no public way to. (A second
        # signal that breaks off this loop leaves none running either: a worker that
        # ended breaks the pool, and the executor then ends the rest itself.)
        for worker in list(pool._processes.values()):
            worker.terminate()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _in_worker(limit: float, json_out: bool) -> None:
    """A worker starts: Ctrl-C (sent to the whole process group) is the parent's to
    handle; it ends the workers and says "interrupted" (in a worker, a KeyboardInterrupt
    could land in a gc callback of Hypothesis's and be printed as "Exception ignored
    ..."). Its policy calls are watched like the parent's; with --json, what a policy
    prints goes to stderr, as in the parent."""
    if json_out:
        sys.stdout = sys.stderr
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's: terminate() ends us
    signals_marked[0] = True  # so a KeyboardInterrupt here is a policy's
    watchdog.watch(limit)


def _failures(results: list[Result], declared: bool) -> list[tuple[str, str, str]]:
    """(policy, property, what went wrong) for each result that fails the run."""
    out = []
    for r in results:
        want = expected(r.policy, r.property) if declared else "holds"
        if r.status is Status.NOT_CHECKED and want is not None:  # undeclared: no gate (0007)
            out.append((r.policy, r.property, f"not checked ({_why_not_checked(r)})"))
        elif want == "violated" and r.status is not Status.VIOLATED:
            out.append((r.policy, r.property, "declared violated but not found so"))
        elif want == "holds" and r.status is Status.VIOLATED:
            out.append((r.policy, r.property, "VIOLATED"))
    return out


def _why_not_checked(r: Result) -> str:
    if r.coverage.get("engine_fault"):
        return "engine fault"
    one_user = "one user: the search needs two" if r.coverage.get("one_user") else ""
    if r.engine == "exhaustive":  # with --engine all, the search's reason too
        return "; ".join(w for w in ("budget", one_user) if w)
    if one_user:
        return one_user
    if r.coverage.get("stopped_by") == "memory":
        return "the machine's memory ran out"  # the search has no memory budget of its own
    return "budget"


def _failed_line(wrong: list[tuple[str, str, str]], whole_catalogue: bool) -> str:
    """The failures grouped by policy and by what went wrong, so that a run the budget
    cut short reads "reference: every claim not checked (budget)", not nine entries."""
    groups: dict[tuple[str, str], list[str]] = {}
    for policy, prop, what in wrong:
        groups.setdefault((policy, what), []).append(prop)
    # Then policies that failed in the same way: "graduated, reference: isolation ...".
    same: dict[tuple[tuple[str, ...], str], list[str]] = {}
    for (policy, what), props in groups.items():
        same.setdefault((tuple(props), what), []).append(policy)
    parts = []
    for (claims, what), owners in same.items():
        names = (
            "every claim" if whole_catalogue and len(claims) == len(NAMES) else ", ".join(claims)
        )
        parts.append(f"{', '.join(owners)}: {names} {what}")
    return "; ".join(parts)


def _header(command: str, args: argparse.Namespace, config: Config) -> str:
    """What was checked: the engine, the configuration and the budget or search size."""
    runs = []
    if args.engine != "exhaustive":
        seed = "derandomized" if args.seed is None else f"seed {args.seed}"
        runs.append(f"{args.examples} examples, {seed}")
    each = "per policy and engine" if args.engine == "all" else "per policy"
    budget = f"budget {_timeout(args):g} s {each}"
    if args.engine != "hypothesis":
        # Parallel policies (--jobs) share the machine: each stops while some is left.
        from wsmodel.properties.memory import mb

        memory = _memory(args)
        assert memory is not None  # the exhaustive engine runs
        budget += f", memory up to {mb(memory)}"
    runs.append(budget)
    return f"wsmodel {command}: engine {args.engine}, {_sizes(args, config)}, " + ", ".join(runs)


def _sizes(args: argparse.Namespace, config: Config) -> str:
    return (
        f"preset {args.preset or DEFAULT_PRESET[args.engine]} ("
        f"users {config.users}, limit {config.limit}, H {config.heartbeat_interval}, "
        f"T {config.heartbeat_timeout}, C {config.close_timeout}, R {config.reaper_period}, "
        f"idle {config.idle_after}, tick {config.tick_ms} ms)"
    )


def verify(args: argparse.Namespace) -> int:
    out = sys.stdout
    # One JSON document on stdout: with --json, what the policies print (on import,
    # while checked) goes to stderr instead.
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        config = build_config(args)
        specs: list[str] = args.policy or list(BUILTIN)
        # Each claim once, however often it was named: the engines answer it once.
        properties: list[str] = list(dict.fromkeys(args.property or NAMES))
        policies = [load_policy(s) for s in specs]
        for spec, policy in zip(specs, policies, strict=True):
            validate_policy(policy, config, spec)
        names = [p.name for p in policies]
        if len(set(names)) != len(names):
            raise UsageError(f"policies must have distinct names, got {names}")
        declared = args.policy is None  # over the built-ins, success means "as declared"
        started = time.monotonic()
        results = _check_all(config, specs, properties, args)
        seconds = time.monotonic() - started

    wrong = _failures(results, declared)
    failures = [f"{policy}: {prop} {what}" for policy, prop, what in wrong]
    code = args.verdict = EXIT_VIOLATED if failures else EXIT_OK  # before any output

    by_name = dict(zip(names, policies, strict=True))
    if args.json:
        doc = {
            "schema": render.JSON_SCHEMA,
            "engine": args.engine,
            "preset": args.preset or DEFAULT_PRESET[args.engine],
            "configuration": render.config_json(config),
            "settings": {
                "examples": None if args.engine == "exhaustive" else args.examples,
                "seed": None if args.engine == "exhaustive" else args.seed,
                "max_states": args.max_states,
                "timeout": _timeout(args),
                "max_memory_mb": _memory(args),
                "reduction": None if args.engine == "hypothesis" else not args.no_reduction,
            },
            "mode": "declared" if declared else "all-must-hold",
            "success": not failures,
            "exit_code": code,
            "failures": failures,
            "seconds": round(seconds, 3),
            "policies": {
                name: {
                    r.property: render.result_json(
                        r, expected(name, r.property) if declared else "holds"
                    )
                    for r in results
                    if r.policy == name
                }
                for name in names
            },
        }
        print(json.dumps(doc, indent=2), file=out)
        return code

    print(_header("verify", args, config))
    print()
    for line in render.verdict_table(results):
        print(line)
    # The exhaustive scope once per policy, then one line per distinct detail: the same
    # reason for several policies is said once.
    scopes: dict[str, str] = {}
    details: dict[tuple[str, str], list[str]] = {}
    for r in results:
        if r.scope:
            scopes[r.policy] = r.scope
        if r.detail and r.status is not Status.VIOLATED:
            details.setdefault((r.property, r.detail), []).append(r.policy)
    for name, scope in scopes.items():
        print(f"  {name}: {'explored ' if scope.startswith('all ') else ''}{scope}")
    for (prop, detail), owners in details.items():
        print(f"  {', '.join(owners)} {prop}: {detail}")
    shown: dict[tuple[str, Counterexample], str] = {}
    for r in results:
        if r.status is Status.VIOLATED and r.counterexample is not None:
            cx = r.counterexample
            print()
            print(f"{r.policy} violates {r.property}: {BY_NAME[r.property].plain}")
            print(f"  {cx.message}")
            if r.coverage.get("not_shortest"):  # a budget ran out: say so
                print(f"  ({r.detail})")
            # One run often breaks several claims (a permanent block is also an
            # unbounded recovery): show it once, and point back to it.
            first = shown.setdefault((r.policy, replace(cx, message="")), r.property)
            if first != r.property:
                print(f"  the same run as {first}'s counterexample, above")
                continue
            for line in render.counterexample_lines(config, by_name[r.policy], cx):
                print(line)
    print()
    if failures:
        print(f"FAILED: {_failed_line(wrong, args.property is None)} ({seconds:.1f} s)")
    else:
        what = "every policy behaved as declared" if declared else "every property holds"
        print(f"OK: {what} ({seconds:.1f} s)")
    return code


def _one_policy(args: argparse.Namespace, config: Config, does: str) -> Policy:
    """The one policy a command takes (``args.policy`` becomes its spec), loaded."""
    if len(args.policy) > 1:
        raise UsageError(
            f"{args.command} {does}; --policy given {len(args.policy)} times "
            f"({', '.join(args.policy)}): use wsmodel verify for several"
        )
    (args.policy,) = args.policy
    policy = load_policy(args.policy)
    validate_policy(policy, config, args.policy)
    return policy


def explain(args: argparse.Namespace) -> int:
    config = build_config(args)
    policy = _one_policy(args, config, "shows one policy's counterexample")
    progress = _progress(args)
    (result,) = check_policy(config, args.policy, [args.property], args, progress)
    # as for verify: a claim the budget left undecided is not a success
    shown = result.status is Status.VIOLATED and result.counterexample is not None
    code = args.verdict = EXIT_VIOLATED if shown or result.status is Status.NOT_CHECKED else EXIT_OK
    print(_header("explain", args, config))
    print(f"{policy.name} / {args.property}: {BY_NAME[args.property].plain}")
    by = {"hypothesis": "the Hypothesis search", "exhaustive": "the exhaustive engine"}
    if result.status is not Status.VIOLATED or result.counterexample is None:
        print(f"  {result.status.value}, by {by[result.engine]}; ", end="")
        print(full_detail(result) or "no counterexample")
        return code
    print(f"  found by {by[result.engine]}: {result.counterexample.message}")
    if result.coverage.get("not_shortest"):  # a budget ran out: say so, as verify does
        print(f"  ({result.detail})")
    lines = render.counterexample_lines(config, policy, result.counterexample, every_state=True)
    for line in lines:
        print(line)
    return code


# What marks the drawn graph: the claims with a per-step half (the catalogue's
# ``check``), as in to_networkx; the liveness claims are judged over cycles only.
MARKING = tuple(p.name for p in CATALOGUE if p.check is not None)
LAYOUT_EDGES = 300  # where dot gets slow
READABLE_EDGES = 10_000  # where no layout is readable (2 users, limit 1, grouped: 2,399)
DRAWABLE_STEPS = 100_000  # --every-state: 4 M steps took 3.3 GB and wrote 254 MB


def graph(args: argparse.Namespace) -> int:
    from wsmodel.properties.draw import dot
    from wsmodel.properties.exhaustive import run_exhaustive
    from wsmodel.properties.explore import to_networkx

    config = build_config(args)
    policy = _one_policy(args, config, "draws one policy's state graph")
    if len(args.property or ()) > 1:
        raise UsageError(
            f"graph draws one counterexample; --property given {len(args.property)} times "
            f"({', '.join(args.property)})"
        )
    (prop,) = args.property or [None]
    to_stdout = args.output in (None, "-")
    if not to_stdout:  # before exploring, which can take minutes
        folder = os.path.dirname(args.output) or "."
        why = ""
        if not args.output:
            why = "is empty"
        elif os.path.isdir(args.output):
            why = "is a directory"
        elif not os.path.isdir(folder):
            why = f"no directory {folder}"
        if why:
            raise UsageError(f"--output {args.output!r}: {why}")
    progress = _progress(args)
    claims = list(MARKING) + ([prop] if prop not in (None, *MARKING) else [])
    with _blaming(policy):
        report = run_exhaustive(config, policy, claims, progress=progress, **_bounds(args))
        g = report.graph
        if args.every_state and g.edges > DRAWABLE_STEPS:  # before it fills the memory
            raise UsageError(
                f"--every-state: {g.edges:,} steps are more than a drawing can hold (at most "
                f"{DRAWABLE_STEPS:,}); leave it out to draw the groups, or give --max-states"
            )
        result = next((r for r in report.results if r.property == prop), None)
        shown = result.counterexample if result and result.status is Status.VIOLATED else None
        # a claim asked for that holds, or was left not-checked: said in the title and here
        nothing = ""
        if result is not None and shown is None:
            nothing = f"{prop} {render.verdict_word(result)}: no counterexample to draw"
        if progress:
            progress(f"{policy.name}: drawing {g.edges:,} steps")
        view = to_networkx(g, grouped=not args.every_state)
        drawn = "every state" if args.every_state else "states grouped by summary, ages left out"
        title = [
            f"{policy.name}: {_sizes(args, config)}",
            f"{sum(d['states'] for _, d in view.nodes(data=True)):,} states, "
            f"{g.edges:,} steps ({drawn}); "
            + ("complete" if g.complete else f"incomplete, stopped by {g.stopped_by}"),
        ]
        if shown is not None:
            parts = ["blue: its run", "orange: the cycle it repeats"][: 2 if shown.cycle else 1]
            if shown.contrast:
                parts.append("purple: the other run")
            title += [f"{prop}: {shown.message}", "; ".join(parts)]
        elif nothing:
            title.append(nothing)
        text = dot(g, view, "\n".join(textwrap.fill(line, 100) for line in title), cx=shown)
    if to_stdout:
        sys.stdout.write(text)
    else:
        try:
            with open(args.output, "w", encoding="utf-8") as out:
                out.write(text)
        except OSError as exc:
            raise OSError(f"--output {args.output}: {exc.strerror or exc}") from exc
    args.verdict = EXIT_OK
    notes = []
    if not args.quiet:
        where = "" if to_stdout else f" to {args.output}"
        notes.append(f"{view.number_of_nodes():,} nodes written{where}")
    if not g.complete:
        notes.append(f"the exploration stopped ({g.stopped_by}): the graph is a part")
    if nothing:
        notes.append(nothing)
    edges = view.number_of_edges()
    if edges > READABLE_EDGES:
        notes.append(f"{edges:,} edges: too many to read once laid out; try a smaller size")
    elif edges > LAYOUT_EDGES:
        # measured here: 150 edges take dot 0.2 s; 800 edges (reference, limit 2) over
        # 5 minutes and 4,000 (--every-state) 7 minutes, where sfdp takes 1-2 s
        notes.append(
            f"{edges:,} edges: Graphviz's dot may take minutes to lay them out, sfdp -Tsvg seconds"
        )
    if notes:
        _say("wsmodel graph: " + "; ".join(notes))
    return EXIT_OK


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the run is (as a Ctrl-C is), so that the worker processes
    are ended before the command exits: with the default action they were orphaned,
    still running (a trial's)."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, raised as Python's own handler does, but of its own class: a plain
    KeyboardInterrupt in a policy call is then the policy's (``calls.signals_marked``)."""


def _interrupt(signum: int, frame: object) -> None:
    raise Interrupted


@contextlib.contextmanager
def _signals_marked() -> Iterator[None]:
    """SIGTERM and Ctrl-C raise wsmodel's own exceptions while a run is checked (on the
    main thread only: signal handlers can be set nowhere else). A SIGINT that is ignored
    (a background job) stays ignored; one handled by someone else's handler (an embedding
    program's) stays theirs, and then a policy's KeyboardInterrupt is taken for a Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    term = signal.signal(signal.SIGTERM, _terminate)
    before, marked = signal.getsignal(signal.SIGINT), signals_marked[0]
    if before is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupt)
    # (our own handler already: main() run inside main(), as an embedding program may)
    signals_marked[0] = before in (signal.default_int_handler, signal.SIG_IGN, _interrupt)
    try:
        yield
    finally:
        signals_marked[0] = marked
        if before is signal.default_int_handler:
            signal.signal(signal.SIGINT, before)
        signal.signal(signal.SIGTERM, term)


class _LostInterrupts:
    """The unraisable hook while a run is checked: a Ctrl-C that landed in a gc callback,
    where Python can only print it, is noted instead, and raised again by the search's
    next step (``results.LOST_INTERRUPT``); anything else goes to the hook before."""

    def __init__(self, previous: Callable[[sys.UnraisableHookArgs], object]) -> None:
        self.previous = previous

    def __call__(self, unraisable: sys.UnraisableHookArgs) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            LOST_INTERRUPT[0] = unraisable.exc_value  # Terminated stays Terminated
        else:
            self.previous(unraisable)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse(argv)
    except SystemExit as exc:  # argparse has printed its message
        return int(exc.code or 0) and EXIT_USAGE
    try:
        if args.command == "properties":
            args.verdict = EXIT_OK
            for line in render.catalogue_lines():
                print(line)
            sys.stdout.flush()
            return EXIT_OK
        watchdog.watch(watchdog.limit_from_env())  # a call that never returns is said, not hung on
        previous = sys.unraisablehook
        sys.unraisablehook = _LostInterrupts(previous)
        try:
            with _signals_marked():
                code = {"verify": verify, "explain": explain, "graph": graph}[args.command](args)
                if (lost := LOST_INTERRUPT[0]) is not None:  # lost after the last step
                    raise lost
            sys.stdout.flush()  # here, not at exit: a closed pipe is then handled below
            return code
        finally:
            sys.unraisablehook = previous
            LOST_INTERRUPT[0] = None  # for whatever this process runs next
    except (UsageError, ConfigError) as exc:
        _say(f"wsmodel: error: {exc}")
        return EXIT_USAGE
    except PolicyError as exc:
        _say(f"wsmodel: policy error: {exc}")
        return EXIT_POLICY
    except Terminated:
        _say("wsmodel: terminated")
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        _say("wsmodel: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. piped into `head`: the verdict stands, known by then
        _to_devnull(sys.stdout)
        return getattr(args, "verdict", EXIT_USAGE)  # none yet: the output was refused
    except BrokenProcessPool as exc:  # a worker killed from outside: the system's doing
        _say(
            f"wsmodel: error: a worker process was killed ({exc}); if the machine ran out "
            "of memory, give --jobs 1 or a lower --max-memory"
        )
        return EXIT_USAGE
    except OSError as exc:  # the machine's, not a bug: a full disk, an output closed
        _say(f"wsmodel: error: {exc}")
        return EXIT_USAGE
    except Exception as exc:  # a bug in wsmodel itself: say so, in one line
        _say(f"wsmodel: internal error ({type(exc).__name__}: {exc}); please report it")
        return EXIT_INTERNAL


def _say(message: str) -> None:
    """An error's one line on stderr; if stderr cannot be written either, the exit code
    still says what happened (the write's own error made it 1, "violated")."""
    with contextlib.suppress(OSError, ValueError):
        print(message, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
