"""How much memory a run may use, so that it stops cleanly instead of being killed.

A run's memory budget bounds this process's resident memory. Each check also asks
what the machine (or the container) has left: policies checked in parallel, or any
other process, may take memory the budget counted on, and the OOM killer ends a
process without a word. So a run stops at its budget or when growing further would
leave less than a reserve, whichever comes first.
"""

from __future__ import annotations

import os
import resource
from contextlib import suppress
from functools import cache

# A run that names no budget may use this share of what the process can have.
DEFAULT_SHARE = 0.85
# Left free for everything else: this share of what the process can have.
RESERVE_SHARE = 0.05

_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
_CGROUP_USAGE = ("/sys/fs/cgroup/memory.current", "/sys/fs/cgroup/memory/memory.usage_in_bytes")


def resident_mb() -> float:
    """This process's resident memory now. (Not getrusage's peak: that is the whole
    process's, and one run in a process must not stop for an earlier one's.) Where
    /proc is missing, the peak all the same."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError, AttributeError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@cache
def limit_mb() -> float:
    """The memory this process can have: the least of the machine's RAM, the cgroup's
    limit (a container's) and the soft address-space and data limits (``ulimit``)."""
    limits = []
    with suppress(ValueError, OSError, AttributeError):  # non-POSIX: no sysconf
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    cgroup = _cgroup()[0]
    if cgroup is not None:
        limits.append(cgroup)
    for which in ("RLIMIT_AS", "RLIMIT_DATA"):
        soft = resource.getrlimit(getattr(resource, which))[0]
        if soft != resource.RLIM_INFINITY:
            limits.append(soft)
    return min(limits, default=4096 * 2**20) / 2**20


def default_budget_mb() -> float:
    """The budget of a run that names none."""
    return DEFAULT_SHARE * limit_mb()


def left_mb() -> float | None:
    """What the machine, or the container, has left now; None if it does not say.
    (Called every few thousand states: it reads two or three small files.)"""
    left = []
    with suppress(OSError, ValueError), open("/proc/meminfo", "rb") as f:
        info = f.read()
        at = info.index(b"MemAvailable:") + len(b"MemAvailable:")
        left.append(int(info[at : info.index(b"kB", at)]) / 1024)
    limit, usage = _cgroup()
    if limit is not None and usage is not None:
        with suppress(OSError, ValueError):
            left.append((limit - _read_int(usage)) / 2**20)
    return min(left, default=None)


def over(budget_mb: float, share: float = 1.0) -> str:
    """Whether this process is past ``share`` of the memory it may use: its budget, or
    what it could reach before the machine had less than the reserve left, if that is
    less. Which of the two, in words ("the 20,490 MB memory budget", say); "" if
    neither."""
    resident = resident_mb()
    if resident > share * budget_mb:
        return f"the {budget_mb:,.0f} MB memory budget"
    left = left_mb()
    if left is not None and resident > share * (resident + left - RESERVE_SHARE * limit_mb()):
        return "the machine's free memory"
    return ""


@cache
def _cgroup() -> tuple[int | None, str | None]:
    """The cgroup's memory limit (v2, or v1), and the file that says its usage."""
    for limit, usage in zip(_CGROUP_LIMITS, _CGROUP_USAGE, strict=True):
        with suppress(OSError, ValueError):  # absent, or "max": no limit
            return _read_int(limit), usage
    return None, None


def _read_int(path: str) -> int:
    with open(path, "rb") as f:
        return int(f.read())
