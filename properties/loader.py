"""Resolving ``--policy`` arguments: a built-in name or ``package.module:attribute``."""

from __future__ import annotations

import importlib
import inspect
from functools import partial
from pathlib import Path

from wsmodel.model import BUILTIN, Config, Policy, PolicyError, call_policy
from wsmodel.model.config import did_you_mean


class UsageError(ValueError):
    """Bad command-line input; the message says what is wrong."""


def load_policy(spec: str) -> Policy:
    """The policy named by ``spec``; a class is instantiated without arguments."""
    if spec in BUILTIN:
        return BUILTIN[spec]
    if ":" not in spec:
        path = " (a file is named by its module, importable: PYTHONPATH=dir module:Class)"
        raise UsageError(
            f"unknown policy {spec!r}{did_you_mean(spec, BUILTIN)}: "
            f"use one of {', '.join(BUILTIN)} or package.module:attribute"
            + (path if spec.endswith(".py") or "/" in spec else "")
        )
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise UsageError(
            f"--policy {spec!r} names no {'module' if not module_name else 'attribute'}: "
            "use package.module:attribute"
        )
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # any import-time failure of the user's module
        why = f"it called sys.exit({exc.code!r})" if isinstance(exc, SystemExit) else str(exc)
        top = module_name.partition(".")[0]
        if isinstance(exc, ModuleNotFoundError) and exc.name == top and _beside(top):
            # The console script does not put the current directory on sys.path.
            why += " (it is in the current directory: run with PYTHONPATH=.)"
        raise UsageError(f"cannot import {module_name!r} for --policy {spec}: {why}") from exc
    try:
        obj = getattr(module, attr)
    except AttributeError:
        names = [n for n in dir(module) if not n.startswith("_")]
        raise UsageError(
            f"module {module_name!r} has no attribute {attr!r}{did_you_mean(attr, names)}"
        ) from None
    if inspect.isclass(obj):
        try:
            obj = obj()
        except (Exception, SystemExit) as exc:
            raise UsageError(f"cannot instantiate {spec}: {exc}") from exc
    if not isinstance(obj, Policy):
        raise UsageError(
            f"{spec} is a {type(obj).__name__}, not a wsmodel.model.Policy; subclass "
            "Policy and override on_connect (see docs/own-policy.md)"
        )
    if obj.name in BUILTIN and obj is not BUILTIN[obj.name]:
        # Results and errors are reported by name: an inherited one would blame the built-in.
        raise UsageError(
            f"{spec} is named {obj.name!r}, a built-in policy's name (inherited?); "
            "give it its own `name`"
        )
    return obj


def _beside(module: str) -> bool:
    """Whether ``module`` is a file or package in the current directory."""
    here = Path.cwd()
    return (here / f"{module}.py").is_file() or (here / module / "__init__.py").is_file()


def validate_policy(policy: Policy, config: Config, spec: str | None = None) -> None:
    """Reject a policy whose declared traits are not of the protocol's types. ``spec``
    is how the user named it (``--policy``), for the message when its name is empty."""
    if not isinstance(policy.name, str) or not policy.name:
        spec = spec or f"{type(policy).__module__}:{type(policy).__qualname__}"
        raise UsageError(f"policy {spec}: name must be a non-empty string")
    if type(policy).on_connect is Policy.on_connect:
        raise UsageError(f"policy {policy.name!r} does not override on_connect, its decision")
    flags = ("remove_on_close", "heartbeat", "close_deadline", "refresh_on_send", "reads_age")
    for flag in flags:
        if not isinstance(getattr(policy, flag), bool):
            raise UsageError(f"policy {policy.name!r}: {flag} must be True or False")
    # Called here first: what it raises is the policy's fault (exit 3), said as such.
    period = call_policy(policy, "sweep_period", lambda: policy.sweep_period(config))
    alone = config.with_(users=1)
    if call_policy(policy, "sweep_period", lambda: policy.sweep_period(alone)) != period:
        # the search compares a user with the user alone (isolation): the same sweeps
        raise UsageError(
            f"policy {policy.name!r}: sweep_period() depends on the number of users; "
            "a user's sweeps must not (isolation compares each user with the user alone)"
        )
    if period is not None and (
        not isinstance(period, int) or isinstance(period, bool) or period < 1
    ):
        raise UsageError(
            f"policy {policy.name!r}: sweep_period() returned {period!r}; "
            "expected None or a positive integer"
        )
    shared = call_policy(policy, "initial_shared", policy.initial_shared)
    memory = call_policy(policy, "initial_memory", policy.initial_memory)
    for what, value in (
        ("__hash__", policy),
        ("hash(initial_shared())", shared),
        ("hash(initial_memory())", memory),
    ):
        try:
            call_policy(policy, what, partial(hash, value))
        except PolicyError as exc:
            if isinstance(exc.__cause__, TypeError):  # unhashable: a mistake in the declaration
                why = exc.__cause__
                raise UsageError(
                    f"policy {policy.name!r}: must be hashable, with hashable state: {why}"
                ) from exc
            raise
