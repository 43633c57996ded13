"""Benchmark of the Hypothesis search (issue 2). Not part of the test run.

Prints, at the production preset (limit 20):
- the find rate and median time-to-counterexample of conservative's no_permanent_block
  over N seeds, each search given at most 200 examples, and the shrunk lengths;
- model steps per second;
- the wall time of the default `wsmodel verify`.

    CI=true python benchmarks/bench_search.py [--seeds 20] [--skip-verify]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

from wsmodel.model import BUILTIN, Connect, Tick, enabled, preset, start, step
from wsmodel.properties.search import find_violation


def find_rate(seeds: int, examples: int) -> None:
    config = preset("production")
    policy = BUILTIN["conservative"]
    times: list[float] = []
    lengths: list[int] = []
    for s in range(seeds):
        started = time.perf_counter()
        found = find_violation(
            config, policy, ["no_permanent_block"], examples=examples, seed_value=s
        )
        took = time.perf_counter() - started
        if found is not None:
            times.append(took)
            lengths.append(found.counterexample.length())
        verdict = f"found, length {lengths[-1]}" if found else "NOT found"
        print(f"  seed {s:2}: {verdict} in {took:.1f} s", flush=True)
    print(
        f"conservative no_permanent_block at limit {config.limit}: found in "
        f"{len(times)}/{seeds} seeds ({100 * len(times) / seeds:.0f} %) within {examples} "
        f"examples; median time to counterexample {statistics.median(times):.1f} s "
        f"(min {min(times):.1f}, max {max(times):.1f})"
        if times
        else "never found"
    )
    if lengths:
        print(f"shrunk lengths: {sorted(lengths)} (bound 2 x limit + 5 = {2 * config.limit + 5})")


def steps_per_second() -> None:
    """Random runs through the model at the production limit: steps/s of step()."""
    import random

    config = preset("production")
    for name, policy in BUILTIN.items():
        rng = random.Random(0)
        state = start(config, policy)
        steps = 0
        started = time.perf_counter()
        while time.perf_counter() - started < 3.0:
            actions = enabled(config, policy, state)
            # Bias towards connects and time so registries fill and age.
            if rng.random() < 0.3:
                action = Connect(rng.randrange(config.users))
            elif rng.random() < 0.5 and Tick() in actions:
                action = Tick()
            else:
                action = rng.choice(actions)
            nxt = step(config, policy, state, action)
            if nxt is not None:
                state = nxt
                steps += 1
        took = time.perf_counter() - started
        held = sum(len(u.managers) for u in state.users)
        print(f"model steps/s ({name}, {held} managers at the end): {steps / took:,.0f}")


def verify_wall_time() -> None:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "wsmodel.properties.cli", "verify", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - started
    print(f"default `wsmodel verify`: exit {done.returncode}, wall time {took:.1f} s")
    print("\n".join(done.stdout.splitlines()[2:13]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--skip-verify", action="store_true")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, CI={os.environ.get('CI', '')}"
    )
    steps_per_second()
    find_rate(args.seeds, args.examples)
    if not args.skip_verify:
        verify_wall_time()


if __name__ == "__main__":
    main()
