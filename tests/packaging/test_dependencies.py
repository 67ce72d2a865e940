"""Every third-party package that migrator/ imports is declared in pyproject's ``dependencies``:
an import that works only because another dependency brings the package breaks when that one
stops (prompt_toolkit came with questionary until issue 14)."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import distributions, requires

from tests.helpers import REPO

CONTRIB = REPO / "migrator" / "contrib"  # each module needs its extra (health: django-health-check)
# --executor celery: imported only when chosen; they need the [celery] extra.
CELERY_MODULES = (
    REPO / "migrator" / "execution" / "celery_steps.py",
    REPO / "migrator" / "tasks.py",
)
# --phase: the project's own deploy-phase tool, imported only then (never a requirement).
PHASES_MODULE = REPO / "migrator" / "project" / "phases.py"


def imported_top_level_modules(*, contrib: bool = False) -> set[str]:
    """What migrator/ imports, but migrator/contrib/ (or only that, with ``contrib``)."""
    found: set[str] = set()
    for path in (REPO / "migrator").rglob("*.py"):
        if (
            path.is_relative_to(CONTRIB) != contrib
            or path in CELERY_MODULES
            or path == PHASES_MODULE
        ):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def providers() -> dict[str, set[str]]:
    """Top-level module -> the distributions whose installed files provide it, from their
    RECORD (``packages_distributions`` on Python 3.10 reads only top_level.txt, which wheels
    built by some tools, questionary's among them, do not have)."""
    found: dict[str, set[str]] = {}
    for dist in distributions():
        for file in dist.files or ():
            top = file.parts[0] if file.parts else ""
            module = top.removesuffix(".py")
            if module and not top.endswith((".dist-info", ".egg-info", ".data", ".pth")):
                found.setdefault(module, set()).add(normalized(dist.metadata["Name"]))
    return found


def test_every_imported_package_is_declared() -> None:
    third_party = imported_top_level_modules() - set(sys.stdlib_module_names) - {"migrator"}
    provided = providers()
    imported = {module: provided[module] for module in third_party}
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


def test_contrib_imports_come_from_their_extras() -> None:
    third_party = imported_top_level_modules(contrib=True) - set(sys.stdlib_module_names)
    assert third_party - {"migrator", "django"} == {"health_check"}
    health = {
        normalized(re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0])
        for requirement in requires("django-migrate-all") or []
        if 'extra == "health"' in requirement
    }
    assert health == {"django-health-check"}


def test_the_celery_executor_imports_come_from_its_extra() -> None:
    found: set[str] = set()
    for path in CELERY_MODULES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
    assert found - set(sys.stdlib_module_names) - {"migrator", "django"} == {"celery"}
    celery = {
        normalized(re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0])
        for requirement in requires("django-migrate-all") or []
        if 'extra == "celery"' in requirement
    }
    assert celery == {"celery"}


def test_the_phase_tools_are_imported_only_inside_functions() -> None:
    """--phase imports django-syzygy or django-safemigrate when asked: the project installs the
    one it uses; neither is a requirement, and the module imports without them."""
    tree = ast.parse(PHASES_MODULE.read_text())
    top = {
        (node.module or "").split(".")[0]
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.level == 0
    } | {
        alias.name.split(".")[0]
        for node in tree.body
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert top - set(sys.stdlib_module_names) == {"django", "migrator"}
    inside = {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
    } - top
    assert inside == {"syzygy", "django_safemigrate"}
    declared = {normalized(requirement) for requirement in requires("django-migrate-all") or []}
    assert not {name for name in declared if "syzygy" in name or "safemigrate" in name}
