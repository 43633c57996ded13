"""How much memory a run may use, so that it stops cleanly instead of being killed.

A run's memory budget bounds this process's resident memory. Each check also asks
what the machine (or the container) has left: policies checked in parallel, or any
other process, may take memory the budget counted on, and the OOM killer ends a
process without a word. And under an address-space limit (``ulimit -v``) the process's
virtual size, not its resident memory, is what runs out. So a run stops at whichever
of these comes first (decision 0016).
"""

from __future__ import annotations

import os
import resource
import sys
from contextlib import suppress
from functools import cache
from pathlib import Path
from typing import NamedTuple

# A run that names no budget may use this share of what the process can have.
DEFAULT_SHARE = 0.85
# Left free for everything else: this share of what the process can have.
RESERVE_SHARE = 0.05
# A long loop asks memory at most this often: each ask reads /proc, about 40 µs.
CHECK_SECONDS = 0.1


def budget_mb(given: float | None) -> float:
    """The memory budget of a run: the one given, or this share of what the process
    can have."""
    # rounded to a tenth of a MB, so that the JSON states it as it is used (not 20489.7281…)
    return round(DEFAULT_SHARE * limit_mb(), 1) if given is None else given


def mb(x: float) -> str:
    """A size in MB for a message: "20,490 MB", "0.5 MB"."""
    return f"{x:,.0f} MB" if x >= 10 else f"{x:g} MB"


def over(budget: float, share: float = 1.0, need_mb: float = 0.0) -> str:
    """Whether this process is past ``share`` of the memory it may use: its budget;
    what it could reach before the machine (or its cgroup) had less than the reserve
    left; or, under an address-space limit, that limit less the reserve. Which one,
    in words ("the 20,490 MB memory budget", say); "" if none. ``need_mb``: would be,
    after allocating that much more."""
    size, now = _statm()
    resident = now + need_mb
    if resident > share * budget:
        return f"the {mb(budget)} memory budget"
    reserve = RESERVE_SHARE * limit_mb()
    left = left_mb()
    if left is not None and resident > share * (now + left - reserve):
        return "the machine's free memory"
    space = _address_space_mb()
    if space is not None and size + need_mb > share * (space - reserve):
        return f"the {mb(space)} address-space limit set by ulimit -v"
    return ""


def resident_mb() -> float:
    """This process's resident memory now."""
    return _statm()[1]


@cache
def limit_mb() -> float:
    """The memory this process can have: the least of the machine's RAM, its cgroup's
    limit (a container's) and the soft address-space and data limits (``ulimit -v``,
    ``ulimit -d``)."""
    limits = []
    with suppress(ValueError, OSError, AttributeError):  # non-POSIX: no sysconf
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20)
    limits += [c.limit / 2**20 for c in _cgroups()]
    for which in ("RLIMIT_AS", "RLIMIT_DATA"):
        soft = resource.getrlimit(getattr(resource, which))[0]
        if soft != resource.RLIM_INFINITY:
            limits.append(soft / 2**20)
    return min(limits, default=4096.0)


def left_mb() -> float | None:
    """What the machine, or the cgroup, has left now; None if neither says. (Called
    every few thousand states: it reads a few small files.)"""
    left = []
    with suppress(OSError, ValueError), open(MEMINFO, "rb") as f:
        info = f.read()
        at = info.index(b"MemAvailable:") + len(b"MemAvailable:")
        left.append(int(info[at : info.index(b"kB", at)]) / 1024)
    for c in _cgroups():  # an ancestor with a larger limit may have less room left
        with suppress(OSError, ValueError):
            # The page cache it has not touched lately is reclaimed before the OOM killer.
            used = _read_int(c.directory / c.usage) - _stat(c.directory / c.stat, c.inactive)
            left.append((c.limit - used) / 2**20)
    return min(left, default=None)


# --- reading /proc and /sys ---------------------------------------------------------

# The files of a cgroup (v2, then v1): limit, usage, stat, and the stat line that
# counts page cache not touched lately.
_CGROUP_FILES = (
    ("memory.max", "memory.current", "memory.stat", b"inactive_file"),
    ("memory.limit_in_bytes", "memory.usage_in_bytes", "memory.stat", b"total_inactive_file"),
)


def _statm() -> tuple[float, float]:
    """This process's virtual size and resident memory now. (Not getrusage's peak:
    that is the whole process's, and one run must not stop for an earlier one's.)
    Where /proc is missing, the peak for both."""
    try:
        with open("/proc/self/statm", "rb") as f:
            size, resident = f.read().split()[:2]
        page = os.sysconf("SC_PAGE_SIZE") / 2**20
        return int(size) * page, int(resident) * page
    except (OSError, ValueError, AttributeError):
        unit = 2**20 if sys.platform == "darwin" else 2**10  # bytes there, KiB elsewhere
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / unit
        return peak, peak


def _address_space_mb() -> float | None:
    soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    return None if soft == resource.RLIM_INFINITY else soft / 2**20


class _Cgroup(NamedTuple):
    directory: Path
    limit: int  # bytes
    usage: str  # the file that says its usage
    stat: str  # the file with its page cache counts
    inactive: bytes  # the line there that counts page cache not touched lately


# Where the machine and the cgroups say what they have (module constants, so that a
# test can point them at files of its own)
MEMINFO = Path("/proc/meminfo")
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


@cache
def _cgroups() -> tuple[_Cgroup, ...]:
    """The cgroups that limit this process's memory: its own and its ancestors', v2 or
    v1, each with a limit. Where the process's own path is not mounted (a container
    without a cgroup namespace sees its cgroup at the root), the root."""
    paths = []
    with suppress(OSError, ValueError):
        for line in PROC_CGROUP.read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controllers == "":
                paths.append((CGROUP_ROOT, path, 0))
            elif "memory" in controllers.split(","):
                paths.append((CGROUP_ROOT / "memory", path, 1))
    found: dict[Path, _Cgroup] = {}
    for root, path, version in paths:
        limit_file, usage, stat, inactive = _CGROUP_FILES[version]
        directory = root / path.lstrip("/")
        for d in (directory, *directory.parents):
            if not d.is_relative_to(root):
                break
            with suppress(OSError, ValueError):  # absent, or "max": no limit here
                limit = _read_int(d / limit_file)
                if limit < _UNLIMITED:
                    found[d] = _Cgroup(d, limit, usage, stat, inactive)
    return tuple(found.values())


_UNLIMITED = 2**60  # cgroup v1 writes "no limit" as a number near 2**63


def _read_int(path: Path) -> int:
    with open(path, "rb") as f:
        return int(f.read())


def _stat(path: Path, key: bytes) -> int:
    with open(path, "rb") as f:
        for line in f:
            if line.startswith(key + b" "):
                return int(line.split()[1])
    return 0
