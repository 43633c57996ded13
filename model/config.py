"""The run configuration: sizes and timings, in integer ticks.

One tick is ``tick_ms`` milliseconds of real time. Every timing is a whole number of
ticks; the ``production`` preset uses one-second ticks and the defaults of
docs/domain.md section 3. Policy-specific knobs (cutoffs, probe timeouts, breaker
settings) live here too so that a configuration names everything a run depends on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from difflib import get_close_matches
from typing import Final


class ConfigError(ValueError):
    """An impossible configuration; the message names the field."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """The hint ` (did you mean 'x'?)` for a near miss among ``choices``, else ''."""
    close = get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True, slots=True)
class Config:
    users: int = 2  # number of users (1 to 8)
    limit: int = 20  # per-user limit on managers in active, idle or stuck
    tick_ms: int = 1000  # length of one tick in milliseconds
    heartbeat_interval: int = 20  # H: ticks between heartbeats
    heartbeat_timeout: int = 20  # T: ticks to wait for the answer
    close_timeout: int = 10  # C: ticks a close may run before it is aborted
    idle_after: int = 300  # ticks without inbound traffic before a manager is idle
    reaper_period: int = 5  # R: ticks between runs of the reaper (reference)
    cleanup_budget_ms: int = 500  # the incident's SLA for one emergency cleanup
    connects_per_tick: int = 1  # attempts one user can make within one tick (no Zeno runs)
    # conservative (as deployed) and graduated (which keeps its scan and sweep)
    activity_cutoff: int = 300  # last_activity older than this makes an entry removable
    sweep_period: int = 300  # ticks between runs of the slow background sweep
    # graduated (the later fix)
    probe_timeout_moderate: int = 2  # ticks a Moderate-level ping waits for its pong
    probe_timeout_aggressive: int = 10  # ticks an Aggressive-level ping waits
    age_rule: int = 300  # Aggressive evicts managers older than this, healthy or not
    breaker_threshold: int = 5  # failed cleanups (all users together) that open the breaker
    breaker_window: int = 300  # ticks the breaker stays open; every refusal restarts it

    def __post_init__(self) -> None:
        for f in fields(self):  # every field is a count or a duration in ticks: >= 1
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(f"{f.name} must be an integer, got {value!r}")
            if value < 1:
                raise ConfigError(f"{f.name} must be at least 1, got {value}")
        if self.users > 8:
            raise ConfigError(f"users must be at most 8, got {self.users}")

    @property
    def verdict_after(self) -> int:
        """Ticks without a heartbeat answer after which a peer is declared dead: H + T."""
        return self.heartbeat_interval + self.heartbeat_timeout

    @property
    def recovery_bound(self) -> int:
        """H + T + C + R: the bound on freeing a dead peer's slot, and on admission."""
        return self.verdict_after + self.close_timeout + self.reaper_period

    @property
    def horizon(self) -> int:
        """Ages saturate here. It exceeds every threshold and bound, so nothing that
        decides behaviour or a claim can tell two saturated ages apart."""
        return 1 + max(
            self.recovery_bound,
            self.idle_after,
            self.activity_cutoff,
            self.sweep_period,
            self.age_rule,
            self.breaker_window,
            self.probe_timeout_aggressive,
        )

    def with_(self, **changes: int) -> Config:
        names = [f.name for f in fields(self)]
        unknown = sorted(set(changes) - set(names))
        if unknown:
            hint = did_you_mean(unknown[0], names) if len(unknown) == 1 else ""
            raise ConfigError(
                f"unknown configuration field(s): {', '.join(unknown)}{hint}; "
                f"the fields are {', '.join(names)}"
            )
        return replace(self, **changes)


PRESETS: Final[dict[str, Config]] = {
    # docs/domain.md section 3 defaults, one tick = one second.
    "production": Config(),
    # Same shape, every timing shrunk so exhaustive checking stays small.
    "small": Config(
        users=2,
        limit=2,
        heartbeat_interval=1,
        heartbeat_timeout=1,
        close_timeout=1,
        idle_after=3,
        reaper_period=1,
        activity_cutoff=3,
        sweep_period=4,
        probe_timeout_moderate=1,
        probe_timeout_aggressive=2,
        age_rule=3,
        breaker_threshold=2,
        breaker_window=3,
    ),
}


def preset(name: str) -> Config:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown preset {name!r}{did_you_mean(name, PRESETS)}; "
            f"choose one of: {', '.join(sorted(PRESETS))}"
        ) from None
