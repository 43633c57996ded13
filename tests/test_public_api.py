"""The public surface is pinned: changing it means changing this file, deliberately."""

from __future__ import annotations

import importlib
import importlib.resources
import pkgutil

import wsmodel.model
import wsmodel.properties

MODEL_ALL = [
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
    "SweepPlan",
    "Tick",
    "Traffic",
    "Transport",
    "Trigger",
    "UserState",
    "Wait",
    "action_from_json",
    "call_policy",
    "enabled",
    "environment",
    "fire",
    "new_manager",
    "not_deterministic",
    "plan_connect",
    "plan_sweep",
    "preset",
    "start",
    "step",
    "urgent",
    "user_of",
]

PROPERTIES_MODULES = [
    "catalogue",
    "cli",
    "cutoff",
    "docs",
    "draw",
    "exhaustive",
    "expectations",
    "explore",
    "fairness",
    "loader",
    "memory",
    "pin",
    "render",
    "results",
    "search",
    "watchdog",
]

# What other code (tests, docs, a driver for a real registry) relies on, per module.
PROPERTIES_NAMES = {
    "catalogue": [
        "BY_NAME",
        "CATALOGUE",
        "LIVENESS_NAMES",
        "NAMES",
        "Kind",
        "Property",
        "holds_limit_in_use",
        "in_use",
    ],
    "cli": ["main"],
    "cutoff": ["base_relation", "check_limit", "check_runs", "lemma_l_exceptions", "local_steps"],
    "draw": ["Drawn", "dot", "drawn_path"],
    "expectations": ["MUST_BREAK", "MUST_HOLD", "expected"],
    "loader": ["UsageError", "load_policy", "validate_policy"],
    "memory": ["budget_mb", "left_mb", "limit_mb", "over", "resident_mb"],
    "render": ["JSON_SCHEMA", "counterexample_lines", "result_json", "verdict_table"],
    "results": ["Counterexample", "Result", "Status", "replay"],
    "search": [
        "Run",
        "Violation",
        "check_hypothesis",
        "find_violation",
        "isolation_replay",
        "machine_for",
        "recover",
    ],
    "watchdog": ["DEFAULT_LIMIT", "ENV", "limit_from_env", "watch"],
}


def test_model_all_is_pinned() -> None:
    assert wsmodel.model.__all__ == MODEL_ALL
    for name in MODEL_ALL:
        assert getattr(wsmodel.model, name, None) is not None, name


def test_model_exports_nothing_unlisted() -> None:
    public = {
        n
        for n, v in vars(wsmodel.model).items()
        if not n.startswith("_") and not isinstance(v, type(wsmodel))  # submodules aside
    }
    assert public == set(MODEL_ALL)


def test_properties_modules_are_pinned() -> None:
    found = sorted(m.name for m in pkgutil.iter_modules(wsmodel.properties.__path__))
    assert found == PROPERTIES_MODULES


def test_properties_names_are_pinned() -> None:
    for module_name, names in PROPERTIES_NAMES.items():
        module = importlib.import_module(f"wsmodel.properties.{module_name}")
        for name in names:
            assert hasattr(module, name), f"wsmodel.properties.{module_name}.{name}"


def test_packages_are_typed() -> None:
    for package in ("wsmodel.model", "wsmodel.properties"):
        assert importlib.resources.files(package).joinpath("py.typed").is_file(), package
