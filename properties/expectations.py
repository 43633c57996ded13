"""What each built-in policy is declared to do: the verdicts `wsmodel verify` must
reproduce when run over the built-ins.

A known-bad policy declares the claims it must break (docs/domain.md section 2 says why);
finding it break more is reported, not a failure. The reference policy must hold every
claim.
"""

from __future__ import annotations

from typing import Final

from wsmodel.properties.catalogue import NAMES

MUST_BREAK: Final[dict[str, frozenset[str]]] = {
    "conservative": frozenset(
        {"no_permanent_block", "zombies_reaped", "no_leak", "cleanup_terminates"}
    ),
    "graduated": frozenset({"no_healthy_eviction", "isolation", "cleanup_within_budget"}),
    "reference": frozenset(),
}

MUST_HOLD: Final[dict[str, frozenset[str]]] = {
    "reference": frozenset(NAMES),
}


def expected(policy: str, prop: str) -> str | None:
    """ "violated", "holds", or None when nothing is declared."""
    if prop in MUST_BREAK.get(policy, frozenset()):
        return "violated"
    if prop in MUST_HOLD.get(policy, frozenset()):
        return "holds"
    return None
