"""Every third-party package that migrator/ imports is declared in pyproject's ``dependencies``:
an import that works only because another dependency brings the package breaks when that one
stops (prompt_toolkit came with questionary until issue 14)."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions, requires

from tests.helpers import REPO


def imported_top_level_modules() -> set[str]:
    found: set[str] = set()
    for path in (REPO / "migrator").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_imported_package_is_declared() -> None:
    third_party = imported_top_level_modules() - set(sys.stdlib_module_names) - {"migrator"}
    providers = packages_distributions()
    imported = {module: {normalized(d) for d in providers[module]} for module in third_party}
    declared = {
        normalized(re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0])
        for requirement in requires("django-migrate-all") or []
        if "extra ==" not in requirement
    }
    assert imported == {
        "django": {"django"},
        "networkx": {"networkx"},
        "prompt_toolkit": {"prompt-toolkit"},
        "questionary": {"questionary"},
    }
    assert {
        module: dists - declared for module, dists in imported.items() if dists - declared
    } == {}
