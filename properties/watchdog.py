"""The CLI's watchdog over policy calls: one that has not returned after a limit (an
endless loop, a wait on something that never comes) is interrupted and reported as the
policy's fault, instead of hanging the run for ever.

A daemon thread polls when the main thread's policy call in progress began
(``wsmodel.model.calls.calling``) and, past the limit, sends the main thread SIGUSR1,
whose handler raises ``Overdue`` there; ``call_policy`` turns that into a PolicyError
naming the line the call was at. SIGUSR1 rather than SIGINT: a real Ctrl-C stays one,
and the CLI's worker processes ignore SIGINT. ``pthread_kill`` rather than
``_thread.interrupt_main``: a signal also ends a blocking wait (``time.sleep``, I/O).
Only the main thread's calls are watched (a signal handler runs there). The CLI sets
it up; as a library, wsmodel installs no handler unless asked to.
"""

from __future__ import annotations

import os
import signal
import threading
import time

from wsmodel.model.calls import Overdue, calling
from wsmodel.properties.loader import UsageError

ENV = "WSMODEL_POLICY_CALL_LIMIT"  # seconds; 0 turns the watchdog off (a debugger, say)
DEFAULT_LIMIT = 20.0  # a policy decides from a small registry: no honest call comes near
NAME = "wsmodel-policy-watchdog"

_limit = [DEFAULT_LIMIT]
_target = [0.0]  # the call (by its start) the last interrupt was meant for


def limit_from_env() -> float:
    """The limit in force: ``$WSMODEL_POLICY_CALL_LIMIT`` or the default; 0 is off.
    A UsageError, naming the variable, if it is not a number >= 0."""
    given = os.environ.get(ENV, "")
    if not given:
        return DEFAULT_LIMIT
    try:
        limit = float(given)
    except ValueError:
        limit = -1.0
    if not 0 <= limit < float("inf"):
        raise UsageError(f"{ENV} must be a number of seconds >= 0 (0: off), got {given!r}")
    return limit


def watch(limit: float) -> None:
    """Watch this process's main-thread policy calls (a later call changes the limit;
    0 stops interrupting). Call it from the main thread. No watchdog if SIGUSR1 already
    has a handler that is not the watchdog's: it is not ours to take."""
    _limit[0] = limit
    if limit <= 0 or any(t.name == NAME for t in threading.enumerate()):
        return
    # (A forked worker inherits the handler, but not the thread.)
    if signal.getsignal(signal.SIGUSR1) not in (signal.SIG_DFL, None, _overdue):
        return
    signal.signal(signal.SIGUSR1, _overdue)
    main = threading.main_thread().ident
    assert main is not None

    def poll() -> None:
        fired = 0.0
        while True:
            time.sleep(min(1.0, _limit[0] / 4) if _limit[0] > 0 else 1.0)
            began = calling[0]
            now = time.monotonic()
            # Again after each further limit, should the policy swallow the first.
            if _limit[0] > 0 and began and now - max(began, fired) > _limit[0]:
                _target[0], fired = began, now
                signal.pthread_kill(main, signal.SIGUSR1)

    threading.Thread(target=poll, name=NAME, daemon=True).start()


def _overdue(signum: int, frame: object) -> None:
    # Only into the call it was meant for: that call may have returned meanwhile.
    if calling[0] and calling[0] == _target[0]:
        raise Overdue(_limit[0])
