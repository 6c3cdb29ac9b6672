"""The layering rules of docs/design.md, checked by parsing every module's imports.

Layers, top to bottom: wiring (app/__init__.py, app/__main__.py), HTTP (app/api), the
decisions, delivery and the dashboard's read models, the ledger, storage, the domain.
Imports point down only; only the HTTP layer and the wiring import Flask; only storage
imports pymongo; only delivery imports requests; the domain, the ledger and the decisions
never read the clock (it is passed in).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"

# package -> the app packages it may import (besides itself)
MAY_IMPORT: dict[str, set[str]] = {
    "domain": set(),
    "storage": set(),
    "ledger": {"domain", "storage"},
    "decisions": {"domain", "storage", "ledger"},
    "delivery": {"domain", "storage", "ledger"},
    "dashboard": {"domain", "storage", "ledger"},  # read models only: no decision
    "api": {"domain", "storage", "ledger", "decisions", "delivery", "dashboard"},
}
# third-party or standard modules -> the packages that may import them
ONLY_IN: dict[str, set[str]] = {
    "flask": {"api", "wiring"}, "werkzeug": {"api", "wiring"}, "flask_cors": {"wiring"},
    "flask_pymongo": {"wiring"}, "click": {"wiring"},
    "prometheus_client": {"api"},  # the ledger and delivery count through hooks the wiring sets
    "pymongo": {"storage"}, "bson": {"storage"}, "mongomock": set(),
    "requests": {"delivery"},
    "time": {"wiring"}, "datetime": {"wiring"},  # the clock is passed in (app/clock.py)
}
TOP_LEVEL_WIRING = {"__init__.py", "__main__.py", "config.py", "clock.py", "logs.py", "commands.py"}


def package_of(path: Path) -> str:
    relative = path.relative_to(APP)
    return "wiring" if len(relative.parts) == 1 else relative.parts[0]


def imported_modules(source: str, path: Path) -> list[tuple[str, int]]:
    """(absolute module name, line) of every import; relative ones resolved inside app."""
    found = []
    package = ["app", *path.relative_to(APP).parent.parts]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                names = [module] if node.module else [f"{module}.{alias.name}" for alias in node.names]
                found += [(name, node.lineno) for name in names]
            else:
                found.append((node.module or "", node.lineno))
    return found


def violations(source: str, path: Path) -> list[str]:
    here = package_of(path)
    problems = []
    for module, line in imported_modules(source, path):
        top = module.split(".")[0]
        where = f"{path.relative_to(APP.parent)}:{line} imports {module}"
        if top == "app":
            target = module.split(".")[1] if module.count(".") else "wiring"
            if target in TOP_LEVEL_WIRING_MODULES:
                target = "wiring"
            if here != "wiring" and target != here and target not in MAY_IMPORT[here]:
                problems.append(f"{where}: {here} may not import {target}")
        elif top in ONLY_IN and here not in ONLY_IN[top]:
            problems.append(f"{where}: only {sorted(ONLY_IN[top]) or 'tests'} may")
    return problems


TOP_LEVEL_WIRING_MODULES = {name.removesuffix(".py") for name in TOP_LEVEL_WIRING} | {"app"}


def modules() -> list[Path]:
    return sorted(APP.rglob("*.py"))


def test_every_package_is_known():
    assert {package_of(path) for path in modules()} == set(MAY_IMPORT) | {"wiring"}
    assert {path.name for path in APP.glob("*.py")} <= TOP_LEVEL_WIRING


@pytest.mark.parametrize("path", modules(), ids=lambda path: str(path.relative_to(APP)))
def test_imports_follow_the_layers(path):
    assert violations(path.read_text(), path) == []


@pytest.mark.parametrize("package, source", [
    ("domain", "import time\n"),
    ("ledger", "from datetime import datetime\n"),
    ("ledger", "from pymongo.errors import PyMongoError\n"),
    ("decisions", "from flask import request\n"),
    ("domain", "from ..storage import Store\n"),
    ("storage", "from ..ledger import Ledger\n"),
    ("ledger", "from ..decisions.tasks import claim\n"),
    ("decisions", "from ..api.views import ledger\n"),
    ("api", "import requests\n"),
    ("ledger", "from prometheus_client import Counter\n"),
    ("delivery", "import prometheus_client\n"),
])
def test_the_check_catches_a_violation(package, source):
    path = APP / package / "example.py"
    assert violations(source, path) != []
