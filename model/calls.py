"""How the model calls a policy, and whose fault an error is.

Every call into a policy goes through :func:`call_policy`: what the policy raises
becomes a PolicyError that names the policy, the method and the line in the user's
code; a call the CLI's watchdog finds overdue is said as such. :func:`outside_call`
tells the policy's code apart from wsmodel's when the engines call it outside a policy
method (its state's ``__eq__`` in a lookup). None of this changes a result: it decides
what an error says, kept apart so that ``step`` reads as the semantics alone.
"""

from __future__ import annotations

import sys
import sysconfig
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from threading import get_ident, main_thread
from typing import TypeVar

from wsmodel.model.policy import CleanupHung, Policy, PolicyError

T = TypeVar("T")

# wsmodel itself, as imported (not resolved: an editable install links to the checkout):
# its two folders, side by side whether installed or in a checkout (whose root holds
# tests and users' policies too); and the installed libraries (the standard library,
# site-packages)
_HERE = Path(__file__).absolute().parent
_PACKAGE = (_HERE, _HERE.parent / "properties")
_LIBRARIES = tuple(
    Path(sysconfig.get_paths()[k]).absolute()
    for k in ("stdlib", "platstdlib", "purelib", "platlib")
)


def call_policy(policy: Policy, method: str, call: Callable[[], T], awaits: bool = False) -> T:
    """Call into the policy; a PolicyError for anything it raised, sys.exit()
    included (the caller's exit code is not the policy's to choose), and a KeyboardInterrupt
    that is no Ctrl-C (``signals_marked``). In a call that
    ``awaits`` (on a registry), CleanupHung from an await (a close that never ends; a
    BaseException) passes through for the caller to handle: a sentinel return value
    could not be told from a policy that returned nothing. One the policy raised
    itself, or in a call with nothing to await, is a PolicyError. A
    MemoryError passes through too: the machine's, not the policy's fault. A call that
    overran the CLI's watchdog (wsmodel.properties.watchdog) is a PolicyError."""
    main = get_ident() == _MAIN
    if main:
        calling[0] = time.monotonic()
    try:
        try:
            return call()
        finally:  # first: a watchdog signal still pending must find no call in progress
            if main:
                calling[0] = 0.0
    except MemoryError:
        raise
    except KeyboardInterrupt as exc:
        if not signals_marked[0] or type(exc) is not KeyboardInterrupt:
            raise  # a Ctrl-C or SIGTERM
        where = _where(policy, exc)  # not a signal's: the policy raised it
        raise PolicyError(
            f"policy {policy.name!r} raised KeyboardInterrupt in {method} ({where}), not a Ctrl-C"
        ) from None
    except CleanupHung as exc:
        if awaits and exc.manager is not None:  # an await's: the caller's to handle
            raise
        where = _where(policy, exc)  # raised by the policy itself: only awaits may
        raise PolicyError(
            f"policy {policy.name!r}: {method} raised CleanupHung ({where})"
        ) from None
    except Overdue as exc:
        where = _where(policy, exc)
        raise PolicyError(
            f"policy {policy.name!r}: {method} had not returned after {exc.args[0]:g} s "
            f"(it was at {where}): an endless loop, or a wait on something that never comes?"
        ) from None
    except PolicyError as exc:  # the registry refused a call: say which policy, and where
        where = _where(policy, exc)
        raise PolicyError(f"policy {policy.name!r}, in {method} ({where}): {exc}") from exc
    except (Exception, SystemExit) as exc:
        where = _where(policy, exc)
        raise PolicyError(
            f"policy {policy.name!r} raised {type(exc).__name__} in {method} ({where}): {exc}"
        ) from exc


# Set by the CLI, which raises a subclass of KeyboardInterrupt of its own for a Ctrl-C
# or a SIGTERM (its worker processes ignore Ctrl-C, and SIGTERM ends them): a plain
# KeyboardInterrupt in a policy call is then the policy's, not the user's (a trial's
# policy raising it was taken for a Ctrl-C, exit 130), even one that caught a Ctrl-C
# and raised a new one. Elsewhere one cannot be told from a Ctrl-C, and passes through.
signals_marked: list[bool] = [False]


# When the main thread's policy call in progress began (0: none), for the CLI's
# watchdog, which raises Overdue into a call that runs too long. No result depends on it.
calling: list[float] = [0.0]
_MAIN = main_thread().ident


class Overdue(BaseException):
    """Raised into a policy call that overran the watchdog's limit (``args[0]``, s)."""


def _where(policy: Policy, exc: BaseException) -> str:
    """file:line in the user's code where ``exc`` came from (not wsmodel's, not a
    library's: failing that, the policy's classes' files), so the user need not rerun
    it to find out."""
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if not _under(f.filename, _PACKAGE)]
    # not generated code either ("<string>": a frozen dataclass's __setattr__, say)
    users = [f for f in own if f.filename[:1] != "<" and not _under(f.filename, _LIBRARIES)]
    files = _policy_files(policy)
    frame = (users or [f for f in own if f.filename in files] or own or frames)[-1]
    return f"{Path(frame.filename).name}:{frame.lineno}"


def _policy_files(policy: Policy) -> set[object]:
    """The files of the policy's classes' modules (installed in site-packages, perhaps)."""
    return {getattr(sys.modules.get(c.__module__), "__file__", 0) for c in type(policy).__mro__}


def outside_call(policy: Policy, exc: Exception) -> PolicyError | None:
    """``exc`` as the policy's fault, if it came from the policy's code when wsmodel
    called that outside a policy method (its state's ``__eq__`` in a lookup, say): its
    innermost frame is the user's. None if it is wsmodel's or a library's own."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename[:1] != "<"]
    if isinstance(exc, PolicyError) or not frames:
        return None
    f = frames[-1]
    if f.filename not in _policy_files(policy) and _under(f.filename, (*_PACKAGE, *_LIBRARIES)):
        return None
    return PolicyError(
        f"policy {policy.name!r}: its code raised {type(exc).__name__} at "
        f"{Path(f.filename).name}:{f.lineno}, called by wsmodel outside a policy method "
        f"(its state's __eq__ or __hash__, say): {exc}"
    )


def _under(filename: str, roots: tuple[Path, ...]) -> bool:
    path = Path(filename).absolute()
    return any(path.is_relative_to(root) for root in roots)
