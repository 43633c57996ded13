"""wsmodel.model: the spec. Pure, deterministic, immutable state, integer ticks.

Read top-down: ``lifecycle`` (the phase table), ``config`` (constants), ``state``
(variables), ``actions`` (the vocabulary), ``policy`` (what a cleanup policy may see
and do), ``policies`` (the built-ins), ``step`` (the semantics).
"""

from wsmodel.model.actions import (
    ACTION_TYPES,
    AbortClose,
    Action,
    ClientClose,
    CloseHangs,
    Connect,
    FinishClose,
    GoIdle,
    HeartbeatVerdict,
    ServerSend,
    Stall,
    Sweep,
    Tick,
    Traffic,
    action_from_json,
    user_of,
)
from wsmodel.model.config import PRESETS, Config, ConfigError, preset
from wsmodel.model.lifecycle import ALIVE, EDGES, LIVE, MACHINE, TABLE, Phase, Trigger, fire
from wsmodel.model.policies import BUILTIN, Breaker, Conservative, Graduated, Reference
from wsmodel.model.policy import Admit, Decision, ManagerView, Policy, PolicyError, Registry, Reject
from wsmodel.model.state import Manager, State, Transport, UserState, new_manager
from wsmodel.model.step import (
    ConnectPlan,
    Outcome,
    enabled,
    environment,
    plan_connect,
    start,
    step,
    urgent,
)

__all__ = [
    "ACTION_TYPES",
    "ALIVE",
    "BUILTIN",
    "EDGES",
    "LIVE",
    "MACHINE",
    "PRESETS",
    "TABLE",
    "AbortClose",
    "Action",
    "Admit",
    "Breaker",
    "ClientClose",
    "CloseHangs",
    "Config",
    "ConfigError",
    "Connect",
    "ConnectPlan",
    "Conservative",
    "Decision",
    "FinishClose",
    "GoIdle",
    "Graduated",
    "HeartbeatVerdict",
    "Manager",
    "ManagerView",
    "Outcome",
    "Phase",
    "Policy",
    "PolicyError",
    "Reference",
    "Registry",
    "Reject",
    "ServerSend",
    "Stall",
    "State",
    "Sweep",
    "Tick",
    "Traffic",
    "Transport",
    "Trigger",
    "UserState",
    "action_from_json",
    "enabled",
    "environment",
    "fire",
    "new_manager",
    "plan_connect",
    "preset",
    "start",
    "step",
    "urgent",
    "user_of",
]
