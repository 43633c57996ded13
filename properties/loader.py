"""Resolving ``--policy`` arguments: a built-in name or ``package.module:attribute``."""

from __future__ import annotations

import importlib
import inspect

from wsmodel.model import BUILTIN, Config, Policy


class UsageError(ValueError):
    """Bad command-line input; the message says what is wrong."""


def load_policy(spec: str) -> Policy:
    """The policy named by ``spec``; a class is instantiated without arguments."""
    if spec in BUILTIN:
        return BUILTIN[spec]
    if ":" not in spec:
        raise UsageError(
            f"unknown policy {spec!r}: use one of {', '.join(BUILTIN)} or package.module:attribute"
        )
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import-time failure of the user's module
        raise UsageError(f"cannot import {module_name!r} for --policy {spec}: {exc}") from exc
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise UsageError(f"module {module_name!r} has no attribute {attr!r}") from None
    if inspect.isclass(obj):
        try:
            obj = obj()
        except Exception as exc:
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


def validate_policy(policy: Policy, config: Config, spec: str | None = None) -> None:
    """Reject a policy whose declared traits are not of the protocol's types. ``spec``
    is how the user named it (``--policy``), for the message when its name is empty."""
    if not isinstance(policy.name, str) or not policy.name:
        spec = spec or f"{type(policy).__module__}:{type(policy).__qualname__}"
        raise UsageError(f"policy {spec}: name must be a non-empty string")
    flags = ("remove_on_close", "heartbeat", "close_deadline", "refresh_on_send", "reads_age")
    for flag in flags:
        if not isinstance(getattr(policy, flag), bool):
            raise UsageError(f"policy {policy.name!r}: {flag} must be True or False")
    period = policy.sweep_period(config)
    if period is not None and (
        not isinstance(period, int) or isinstance(period, bool) or period < 1
    ):
        raise UsageError(
            f"policy {policy.name!r}: sweep_period() returned {period!r}; "
            "expected None or a positive integer"
        )
    try:
        hash(policy)
        hash(policy.initial_shared())
        hash(policy.initial_memory())
    except TypeError as exc:
        raise UsageError(
            f"policy {policy.name!r}: must be hashable, with hashable state: {exc}"
        ) from exc
