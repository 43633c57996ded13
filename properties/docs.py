"""Generated documentation: diagrams, tables and the JSON Schema, produced from the code.

Hand-written prose in ``docs/*.md`` surrounds generated sections delimited by
``<!-- generated:NAME -->`` and ``<!-- /generated -->``; ``docs/lifecycle.dot`` and
``docs/verify.schema.json`` are generated whole. ::

    python -m wsmodel.properties.docs          # rewrite every generated artifact
    python -m wsmodel.properties.docs --check  # exit 1 naming each stale file

:func:`validate` checks a JSON document against the subset of JSON Schema that
``docs/verify.schema.json`` uses, so that no schema library is needed.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import io
import json
import re
import sys
import tokenize
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final

import wsmodel.properties
from wsmodel.model import (
    ACTION_TYPES,
    BUILTIN,
    LIVE,
    PRESETS,
    TABLE,
    Config,
    ManagerView,
    Phase,
    Policy,
    Registry,
    State,
    Tick,
    UserState,
)
from wsmodel.model.state import Manager
from wsmodel.properties.catalogue import CATALOGUE, NAMES, Kind
from wsmodel.properties.expectations import expected
from wsmodel.properties.render import JSON_SCHEMA
from wsmodel.properties.results import Status

__all__ = [
    "FILES",
    "SECTIONS",
    "DocsError",
    "generate",
    "main",
    "stale",
    "validate",
    "verify_schema",
]

GENERATOR: Final = "python -m wsmodel.properties.docs"


class DocsError(Exception):
    """A document lacks a generated section it must have, or has an unknown one."""


# --- reading the code's own comments ------------------------------------------------


@dataclass(frozen=True)
class Member:
    name: str
    annotation: str  # the declared type, as written
    default: str | None  # the default, as written; None if there is none
    comment: str  # the trailing ``#`` comment, or the first docstring line
    group: str  # the last full-line comment above it in the class body


def _class_node(cls: type) -> tuple[ast.ClassDef, list[str]]:
    source = inspect.getsource(cls)
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.ClassDef)
    return node, source.splitlines()


def _comments(source_lines: list[str]) -> dict[int, str]:
    """Line number (1-based) -> the text of the ``#`` comment on it."""
    text = "\n".join(source_lines) + "\n"
    return {
        tok.start[0]: tok.string.lstrip("#").strip()
        for tok in tokenize.generate_tokens(io.StringIO(text).readline)
        if tok.type == tokenize.COMMENT
    }


def fields_of(cls: type) -> list[Member]:
    """The annotated fields of a class, with their comments, in declaration order."""
    node, lines = _class_node(cls)
    comments = _comments(lines)
    members: list[Member] = []
    group = ""
    previous_end = node.lineno
    for item in node.body:
        for line in range(previous_end + 1, item.lineno):
            if line in comments and lines[line - 1].lstrip().startswith("#"):
                group = comments[line]
        previous_end = item.end_lineno or item.lineno
        if not isinstance(item, ast.AnnAssign) or not isinstance(item.target, ast.Name):
            continue
        span = range(item.lineno, (item.end_lineno or item.lineno) + 1)
        comment = " ".join(comments[n] for n in span if n in comments)
        default = None if item.value is None else ast.unparse(item.value)
        members.append(
            Member(item.target.id, ast.unparse(item.annotation), default, comment, group)
        )
    return members


def _first_line(doc: str | None) -> str:
    """The first paragraph of a docstring, on one line, reST roles made Markdown."""
    if not doc:
        return ""
    paragraph = " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())
    paragraph = re.sub(r":[a-z]+:`([^`]+)`", r"`\1`", paragraph)
    return paragraph.replace("``", "`")


def methods_of(cls: type, *, private: bool = False) -> list[tuple[str, str, str]]:
    """(name, signature, first docstring paragraph) of the methods defined in ``cls``."""
    node, _ = _class_node(cls)
    out: list[tuple[str, str, str]] = []
    for item in node.body:
        if not isinstance(item, ast.FunctionDef):
            continue
        if item.name.startswith("_") and not private:
            continue
        is_property = any(ast.unparse(d) == "property" for d in item.decorator_list)
        args = ast.unparse(item.args)
        args = re.sub(r"^self(, )?", "", args)
        signature = item.name if is_property else f"{item.name}({args})"
        if item.returns is not None and not is_property:
            signature += f" -> {ast.unparse(item.returns)}"
        out.append((item.name, signature, _first_line(ast.get_docstring(item))))
    return out


# --- markdown helpers ---------------------------------------------------------------


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = [
        "| " + " | ".join(head) + " |",
        "| " + " | ".join("---" for _ in head) + " |",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _code(text: str) -> str:
    return f"`{text}`"


# --- the lifecycle ------------------------------------------------------------------


def _edges() -> list[tuple[Phase, Phase, str]]:
    return [(s, dest, t.value) for t, sources, dest in TABLE for s in sources]


def lifecycle_mermaid() -> str:
    lines = ["```mermaid", "stateDiagram-v2", f"    [*] --> {Phase.ACTIVE.value}"]
    lines += [f"    {s.value} --> {d.value}: {t}" for s, d, t in _edges()]
    lines += [
        f"    {Phase.CLOSED.value} --> [*]",
        "    classDef live font-weight:bold,stroke-width:3px",
        "    class " + ",".join(p.value for p in Phase if p in LIVE) + " live",
        "```",
    ]
    return "\n".join(lines)


def lifecycle_dot() -> str:
    lines = [
        f"// Generated from wsmodel.model.lifecycle.TABLE by `{GENERATOR}`; do not edit.",
        "// Render with: dot -Tsvg docs/lifecycle.dot -o lifecycle.svg",
        "// Bold: the phases that count against the per-user limit in the claims (LIVE).",
        "digraph lifecycle {",
        "    rankdir=LR;",
        '    node [shape=box, style=rounded, fontname="Helvetica"];',
        '    edge [fontname="Helvetica", fontsize=10];',
        '    start [shape=point, label=""];',
    ]
    for p in Phase:
        attrs = ['style="rounded,bold"'] if p in LIVE else []
        if p is Phase.CLOSED:
            attrs.append("peripheries=2")
        lines.append(f"    {p.value}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    lines.append(f"    start -> {Phase.ACTIVE.value};")
    lines += [f'    {s.value} -> {d.value} [label="{t}"];' for s, d, t in _edges()]
    lines.append("}")
    return "\n".join(lines) + "\n"


def lifecycle_table() -> str:
    return _table(
        ["trigger", "from", "to"],
        [(_code(t.value), ", ".join(s.value for s in src), d.value) for t, src, d in TABLE],
    )


# --- the state and the actions ------------------------------------------------------


def state_table() -> str:
    rows: list[tuple[str, str, str]] = []
    for cls in (State, UserState, Manager):
        for m in fields_of(cls):
            rows.append((f"`{cls.__name__}.{m.name}`", _code(m.annotation), m.comment))
    return _table(["field", "type", "meaning"], rows)


def actions_table() -> str:
    rows = []
    for t in ACTION_TYPES:
        kind = "system" if t.system else "fault" if t.fault else "environment"
        if t is Tick:
            kind = "time"
        args = ", ".join(f.name for f in fields(t))
        rows.append((f"`{t.__name__}({args})`", kind, _first_line(t.__doc__)))
    return _table(["action", "kind", "meaning"], rows)


# --- configuration ------------------------------------------------------------------


def config_table() -> str:
    names = list(PRESETS)
    rows = []
    for m in fields_of(Config):
        values = [getattr(PRESETS[n], m.name) for n in names]
        rows.append((_code(m.name), *values, m.group or "all", m.comment))
    return _table(["field", *names, "used by", "meaning"], rows)


def derived_table() -> str:
    names = list(PRESETS)
    rows = []
    for name in ("verdict_after", "recovery_bound", "horizon"):
        doc = _first_line(getattr(Config, name).__doc__)
        rows.append((_code(name), *(getattr(PRESETS[n], name) for n in names), doc))
    return _table(["derived", *names, "meaning"], rows)


# --- properties and policies --------------------------------------------------------


def properties_table() -> str:
    rows = []
    for p in CATALOGUE:
        witness = p.witness_meaning if p.witness is not None else "— (liveness: see below)"
        rows.append((f"[`{p.name}`](#{p.name})", p.kind.value, p.meaning, witness))
    return _table(["property", "kind", "meaning", "witness"], rows)


def verdicts_table() -> str:
    words = {"violated": "must break", "holds": "must hold", None: "—"}
    policies = list(BUILTIN)
    rows = [(_code(n), *(words[expected(pol, n)] for pol in policies)) for n in NAMES]
    return _table(["property", *policies], rows)


def traits_table() -> str:
    production = PRESETS["production"]
    flags = ("remove_on_close", "heartbeat", "close_deadline", "refresh_on_send")
    rows = []
    for name, policy in BUILTIN.items():
        period = policy.sweep_period(production)
        shares = "yes" if policy.initial_shared() is not None else "no"
        rows.append(
            (
                _code(name),
                *("yes" if getattr(policy, f) else "no" for f in flags),
                "none" if period is None else f"{period} ticks",
                shares,
            )
        )
    return _table([*("policy", *flags), "sweep period (production)", "shared state"], rows)


# --- the policy protocol ------------------------------------------------------------


def view_table() -> str:
    rows = [(_code(m.name), _code(m.annotation), m.comment) for m in fields_of(ManagerView)]
    rows += [(_code(n), _code("int"), doc) for n, _, doc in methods_of(ManagerView)]
    return _table(["observable", "type", "meaning"], rows)


# Members whose source carries no comment to generate from.
_UNCOMMENTED: Final = {"name": "the policy's name in tables and JSON; non-empty, distinct"}
# Registry members that exist for the model, not for policies.
_MODEL_ONLY: Final = frozenset({"managers"})


def protocol_table() -> str:
    rows: list[tuple[str, str, str]] = []
    for m in fields_of(Policy):
        meaning = m.comment or _UNCOMMENTED.get(m.name, "")
        rows.append((_code(f"{m.name}: {m.annotation} = {m.default}"), "attribute", meaning))
    for _, signature, doc in methods_of(Policy):
        rows.append((_code(signature), "method", doc))
    return _table(["member", "kind", "meaning (default)"], rows)


def registry_table() -> str:
    return _table(
        ["operation", "meaning and cost"],
        [(_code(sig), doc) for name, sig, doc in methods_of(Registry) if name not in _MODEL_ONLY],
    )


# --- the JSON Schema of `wsmodel verify --json` -------------------------------------


def verify_schema() -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of the document ``wsmodel verify --json`` prints."""
    from wsmodel.properties.cli import ENGINES, EXIT_OK, EXIT_VIOLATED

    nullable_int = {"type": ["integer", "null"]}
    actions = [t.__name__ for t in ACTION_TYPES]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://wsmodel.invalid/schema/verify-1.json",
        "title": f"wsmodel verify --json ({JSON_SCHEMA})",
        "description": f"Generated by `{GENERATOR}`; documented in docs/json.md.",
        "type": "object",
        "required": [
            "schema",
            "engine",
            "preset",
            "configuration",
            "settings",
            "mode",
            "success",
            "exit_code",
            "failures",
            "seconds",
            "policies",
        ],
        "additionalProperties": False,
        "properties": {
            "schema": {"const": JSON_SCHEMA},
            "engine": {"enum": list(ENGINES)},
            "preset": {"enum": list(PRESETS)},
            "configuration": {
                "type": "object",
                "required": [f.name for f in fields(Config)],
                "additionalProperties": False,
                "properties": {f.name: {"type": "integer", "minimum": 1} for f in fields(Config)},
            },
            "settings": {
                "type": "object",
                "required": [
                    "examples",
                    "seed",
                    "max_states",
                    "timeout",
                    "max_memory_mb",
                    "reduction",
                ],
                "additionalProperties": False,
                "properties": {
                    "examples": {"type": ["integer", "null"], "minimum": 1},
                    "seed": nullable_int,
                    "max_states": nullable_int,
                    "timeout": {"type": "number", "minimum": 0},
                    "max_memory_mb": {"type": ["number", "null"]},
                    "reduction": {"type": ["boolean", "null"]},
                },
            },
            "mode": {"enum": ["declared", "all-must-hold"]},
            "success": {"type": "boolean"},
            "exit_code": {"enum": [EXIT_OK, EXIT_VIOLATED]},
            "failures": {"type": "array", "items": {"type": "string"}},
            "seconds": {"type": "number", "minimum": 0},
            "policies": {"type": "object", "additionalProperties": {"$ref": "#/$defs/policy"}},
        },
        "$defs": {
            "policy": {
                "type": "object",
                "additionalProperties": False,
                "properties": {name: {"$ref": "#/$defs/result"} for name in NAMES},
            },
            "result": {
                "type": "object",
                "required": ["status", "kind", "engine", "witnessed", "detail", "coverage"],
                "additionalProperties": False,
                "properties": {
                    "status": {"enum": [s.value for s in Status]},
                    "kind": {"enum": [k.value for k in Kind]},
                    "engine": {"enum": ["hypothesis", "exhaustive"]},
                    "witnessed": {"type": ["boolean", "null"]},
                    "detail": {"type": "string"},
                    "coverage": {
                        "type": "object",
                        "additionalProperties": {"type": ["number", "boolean", "string"]},
                    },
                    "expected": {"enum": ["holds", "violated"]},
                    "counterexample": {"$ref": "#/$defs/counterexample"},
                },
            },
            "counterexample": {
                "type": "object",
                "required": ["message", "user", "length", "steps", "cycle", "probe_from"],
                "additionalProperties": False,
                "properties": {
                    "message": {"type": "string"},
                    "user": nullable_int,
                    "length": {"type": "integer", "minimum": 0},
                    "steps": {"type": "array", "items": {"$ref": "#/$defs/action"}},
                    "cycle": {"type": "array", "items": {"$ref": "#/$defs/action"}},
                    "probe_from": {"type": ["integer", "null"], "minimum": 0},
                    "contrast": {"type": "array", "items": {"$ref": "#/$defs/action"}},
                },
            },
            "action": {
                "type": "object",
                "required": ["action", "args"],
                "additionalProperties": False,
                "properties": {
                    "action": {"enum": actions},
                    "args": {
                        "type": "object",
                        "additionalProperties": {"type": "integer", "minimum": 0},
                    },
                },
            },
        },
    }


def verify_schema_text() -> str:
    return json.dumps(verify_schema(), indent=2) + "\n"


_TYPES: Final[dict[str, Callable[[object], bool]]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _same(a: object, b: object) -> bool:
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def validate(
    instance: object, schema: dict[str, Any], root: dict[str, Any] | None = None, path: str = "$"
) -> list[str]:
    """Every way ``instance`` fails ``schema`` (empty if it conforms).

    Supports the keywords the verify schema uses: ``$ref`` (local), ``type``,
    ``const``, ``enum``, ``required``, ``properties``, ``additionalProperties``,
    ``items`` and ``minimum``; any other keyword is an error, not silently ignored."""
    root = schema if root is None else root
    known = {"$schema", "$id", "title", "description", "$defs", "$ref", "type", "const"}
    known |= {"enum", "required", "properties", "additionalProperties", "items", "minimum"}
    unknown = set(schema) - known
    if unknown:
        return [f"{path}: schema uses unsupported keyword(s) {sorted(unknown)}"]
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return validate(instance, target, root, path)
    errors: list[str] = []
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](instance) for t in types):
            return [f"{path}: expected {' or '.join(types)}, got {instance!r}"]
    if "const" in schema and not _same(instance, schema["const"]):
        errors.append(f"{path}: expected {schema['const']!r}, got {instance!r}")
    if "enum" in schema and not any(_same(instance, e) for e in schema["enum"]):
        errors.append(f"{path}: {instance!r} is not one of {schema['enum']}")
    if "minimum" in schema and _TYPES["number"](instance):
        assert isinstance(instance, int | float)
        if instance < schema["minimum"]:
            errors.append(f"{path}: {instance} is below the minimum {schema['minimum']}")
    if isinstance(instance, dict):
        for key in schema.get("required", []):
            if key not in instance:
                errors.append(f"{path}: missing required field {key!r}")
        props: dict[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, value in instance.items():
            where = f"{path}.{key}"
            if key in props:
                errors += validate(value, props[key], root, where)
            elif extra is False:
                errors.append(f"{path}: unexpected field {key!r}")
            elif isinstance(extra, dict):
                errors += validate(value, extra, root, where)
    if isinstance(instance, list) and "items" in schema:
        for i, value in enumerate(instance):
            errors += validate(value, schema["items"], root, f"{path}[{i}]")
    return errors


# --- the generated artifacts --------------------------------------------------------

SECTIONS: Final[dict[str, tuple[str, Callable[[], str]]]] = {
    "lifecycle-diagram": ("docs/model.md", lifecycle_mermaid),
    "lifecycle-table": ("docs/model.md", lifecycle_table),
    "state": ("docs/model.md", state_table),
    "actions": ("docs/model.md", actions_table),
    "config": ("docs/model.md", config_table),
    "derived": ("docs/model.md", derived_table),
    "properties": ("docs/properties.md", properties_table),
    "policy-traits": ("docs/policies.md", traits_table),
    "verdicts": ("docs/policies.md", verdicts_table),
    "manager-view": ("docs/own-policy.md", view_table),
    "policy-protocol": ("docs/own-policy.md", protocol_table),
    "registry": ("docs/own-policy.md", registry_table),
}
"""Generated section name -> (the document that must hold it, its renderer)."""

FILES: Final[dict[str, Callable[[], str]]] = {
    "docs/lifecycle.dot": lifecycle_dot,
    "docs/verify.schema.json": verify_schema_text,
}
"""Files generated whole."""

_SECTION = re.compile(
    r"(<!-- generated:(?P<name>[a-z0-9-]+) -->\n)(?P<body>.*?)(<!-- /generated -->)", re.DOTALL
)


def fill(document: str, text: str) -> str:
    """``text`` (the current contents of ``document``) with its generated sections
    rewritten; raises DocsError for a missing or unknown section."""
    wanted = {name for name, (doc, _) in SECTIONS.items() if doc == document}
    found: set[str] = set()

    def body(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in SECTIONS or SECTIONS[name][0] != document:
            raise DocsError(f"{document}: unknown generated section {name!r}")
        found.add(name)
        return match[1] + SECTIONS[name][1]() + "\n" + match[4]

    out = _SECTION.sub(body, text)
    missing = wanted - found
    if missing:
        raise DocsError(
            f"{document}: missing generated section(s) "
            + ", ".join(f"<!-- generated:{n} -->…<!-- /generated -->" for n in sorted(missing))
        )
    return out


def generate(root: Path) -> dict[str, str]:
    """Relative path -> the contents every generated artifact should have."""
    out = {rel: render() for rel, render in FILES.items()}
    for document in sorted({doc for doc, _ in SECTIONS.values()}):
        path = root / document
        if not path.exists():
            raise DocsError(f"{document}: missing (it must hold generated sections)")
        out[document] = fill(document, path.read_text(encoding="utf-8"))
    return out


def stale(root: Path) -> list[str]:
    """The generated artifacts under ``root`` that differ from what the code gives."""
    return [
        rel
        for rel, text in generate(root).items()
        if not (root / rel).exists() or (root / rel).read_text(encoding="utf-8") != text
    ]


def default_root() -> Path:
    """The checkout: the folder holding ``properties/`` when installed editable,
    otherwise the current directory."""
    package = Path(wsmodel.properties.__file__).resolve().parent
    return package.parent if (package.parent / "docs").is_dir() else Path.cwd()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m wsmodel.properties.docs",
        description="Regenerate the generated parts of docs/, or check they are fresh.",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if anything is stale")
    parser.add_argument("--root", type=Path, help="the checkout (default: found)")
    args = parser.parse_args(argv)
    root: Path = args.root or default_root()
    if not (root / "docs").is_dir():  # a wheel install run outside the checkout, say
        print(
            f"docs: error: {root.absolute()} is not a wsmodel checkout (no docs/ folder): "
            "run this from the checkout, or pass --root",
            file=sys.stderr,
        )
        return 2
    try:
        if args.check:
            old = stale(root)
            for rel in old:
                print(f"stale: {rel} (run {GENERATOR})", file=sys.stderr)
            return 1 if old else 0
        for rel, text in generate(root).items():
            path = root / rel
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
                print(f"wrote {rel}")
    except DocsError as exc:
        print(f"docs: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
