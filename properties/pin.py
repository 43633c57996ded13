"""The pinned exhaustive results: configurations, and the command that rewrites them.

``python -m wsmodel.properties.pin`` rewrites ``tests/state_space.json``: for each
named configuration and built-in policy, the distinct states, edges, depth, whether
the run was complete, and the verdict per claim. ``--check`` compares instead and
exits 1 on any difference. Updating the manifest is deliberate: run the command,
then review the diff.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wsmodel.model import BUILTIN, preset
from wsmodel.properties.catalogue import NAMES
from wsmodel.properties.exhaustive import run_exhaustive

__all__ = ["PINNED", "Pinned", "main", "manifest", "run_pinned"]

DEFAULT_PATH = Path("tests/state_space.json")


@dataclass(frozen=True)
class Pinned:
    name: str
    preset: str
    users: int
    limit: int
    max_states: int | None = None  # a deterministic budget; None for a complete run
    policies: tuple[str, ...] = tuple(sorted(BUILTIN))

    def config_dict(self) -> dict[str, Any]:
        return {"preset": self.preset, "users": self.users, "limit": self.limit}


PINNED: tuple[Pinned, ...] = (
    # complete: every reachable state
    Pinned("small-1user-limit1", "small", users=1, limit=1),
    # a complete limit-2 run in the suite (~15 s): reference only (conservative ~40 s,
    # graduated ~6 min)
    Pinned("small-1user-limit2", "small", users=1, limit=2, policies=("reference",)),
    # two users, complete (~12 s, decisions 0013, 0014): reference only (conservative takes
    # minutes, graduated over the default budget and ~12 GB)
    Pinned("small-2users-limit1", "small", users=2, limit=1, policies=("reference",)),
    # every policy with two users: a fixed budget keeps it deterministic, so the pinned
    # verdicts are the violations found within it (the rest not-checked)
    Pinned("small-2users-limit1-first8000", "small", users=2, limit=1, max_states=8000),
)


def run_pinned(p: Pinned, policy: str) -> dict[str, Any]:
    config = preset(p.preset).with_(users=p.users, limit=p.limit)
    report = run_exhaustive(config, BUILTIN[policy], NAMES, max_states=p.max_states)
    g = report.graph
    return {
        "states": len(g.states),
        "edges": g.edges,
        "depth": g.max_depth,
        "complete": g.complete,
        "verdicts": {r.property: r.status.value for r in report.results},
    }


def manifest() -> dict[str, Any]:
    out: dict[str, Any] = {
        "about": "pinned by `python -m wsmodel.properties.pin`; review diffs deliberately",
        "configurations": {},
    }
    for p in PINNED:
        entry: dict[str, Any] = {"config": p.config_dict(), "max_states": p.max_states}
        entry["policies"] = {name: run_pinned(p, name) for name in p.policies}
        out["configurations"][p.name] = entry
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wsmodel.properties.pin")
    parser.add_argument("--path", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--check", action="store_true", help="compare; do not write")
    args = parser.parse_args(argv)
    data = manifest()
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if args.check:
        old = args.path.read_text() if args.path.exists() else ""
        if old != text:
            print(f"{args.path} is out of date; rerun without --check", file=sys.stderr)
            return 1
        return 0
    args.path.write_text(text)
    print(f"wrote {args.path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
