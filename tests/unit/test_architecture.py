"""The dependency rule, checked on the source: inner layers never import outer ones."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative imports hide the dependency direction; use absolute ones")
    return found


def project_imports(package: str) -> dict[str, set[str]]:
    root = SRC.joinpath(*package.split("."))
    return {
        str(p.relative_to(SRC)): {m for m in imports_of(p) if m.split(".")[0] in ("adpilot", "adpilot_sandbox")}
        for p in sorted(root.rglob("*.py"))
    }


# package -> the project packages it may import (itself always allowed)
RULES = {
    "adpilot.domain": ("adpilot.domain",),
    "adpilot.ports": ("adpilot.domain", "adpilot.ports", "adpilot.errors"),
    "adpilot_sandbox": ("adpilot_sandbox",),
    # Policies are pure functions of the snapshot: the domain and each other, nothing with I/O.
    "adpilot.policies": ("adpilot.domain", "adpilot.policies"),
    "adpilot.agent": (
        "adpilot.domain",
        "adpilot.ports",
        "adpilot.errors",
        "adpilot.policies",
        "adpilot.actions",
        "adpilot.platforms",
        "adpilot.sync",
        "adpilot.lake",
        "adpilot.config",
        "adpilot.rules_file",
        "adpilot.accounts",
        "adpilot.creative",
        "adpilot.agent",
    ),
    "adpilot.warehouse": (
        "adpilot.domain",
        "adpilot.ports",
        "adpilot.errors",
        "adpilot.warehouse",
        "adpilot.config",
    ),
}


@pytest.mark.parametrize("package", sorted(RULES))
def test_dependency_rule(package: str) -> None:
    allowed = RULES[package]
    violations = {
        file: sorted(m for m in mods if not any(m == a or m.startswith(a + ".") for a in allowed))
        for file, mods in project_imports(package).items()
    }
    assert {f: v for f, v in violations.items() if v} == {}, f"{package} may import only {allowed}"


def test_guardrails_are_pure() -> None:
    mods = imports_of(SRC / "adpilot" / "actions" / "guardrails.py")
    assert {m for m in mods if m.startswith("adpilot")} <= {
        "adpilot.domain.actions",
        "adpilot.domain.fx",
        "adpilot.domain.ids",
        "adpilot.domain.money",
    }


def test_only_benchmarks_and_the_demo_run_the_sandbox() -> None:
    users = {
        file for file, mods in project_imports("adpilot").items() if any(m.startswith("adpilot_sandbox") for m in mods)
    }
    assert users <= {"adpilot/demo.py"} | {f for f in users if f.startswith("adpilot/bench/")}


def test_nothing_imports_the_entry_points() -> None:
    offenders = {
        file: sorted(m for m in mods if m.startswith("adpilot.entrypoints"))
        for file, mods in project_imports("adpilot").items()
        if not file.startswith(("adpilot/entrypoints", "adpilot/__main__"))
    }
    assert {f: v for f, v in offenders.items() if v} == {}


def test_the_rule_test_sees_violations(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from adpilot.warehouse.duckdb import DuckDBWarehouse\nimport adpilot_sandbox\n")
    assert imports_of(bad) == {"adpilot.warehouse.duckdb", "adpilot_sandbox"}
