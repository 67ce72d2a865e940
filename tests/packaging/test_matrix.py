"""The compatibility matrix script agrees with the package's metadata, and the README's table is
the one it generates from its last results (never edited by hand)."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from importlib.metadata import metadata
from types import ModuleType

from tests.helpers import REPO


def load_matrix() -> ModuleType:
    spec = importlib.util.spec_from_file_location("matrix", REPO / "scripts" / "matrix.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["matrix"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_matrix_covers_exactly_the_classifiers() -> None:
    matrix = load_matrix()
    classifiers = set(metadata("django-migrate-all").get_all("Classifier") or [])
    djangos = {
        c.rsplit(" :: ", 1)[1] for c in classifiers if c.startswith("Framework :: Django ::")
    }
    pythons = {
        c.rsplit(" :: ", 1)[1]
        for c in classifiers
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    combinations = matrix.COMBINATIONS
    assert {c.django for c in combinations} == djangos
    assert {c.python for c in combinations} == pythons
    names = [c.name for c in combinations]
    assert len(names) == len(set(names))
    assert "django42-py310" in names
    assert {"django52-py311", "django60-py312", "django60-py313"} <= set(names)


def test_readme_table_is_generated_from_the_last_matrix_run() -> None:
    matrix = load_matrix()
    data = json.loads((REPO / "compat" / "matrix.json").read_text())
    readme = (REPO / "README.md").read_text()
    start, end = readme.index(matrix.START_MARKER), readme.index(matrix.END_MARKER)
    assert readme[start : end + len(matrix.END_MARKER)] == matrix.render(data), (
        "README's compatibility table differs from compat/matrix.json: run make matrix "
        "(or python3 scripts/matrix.py --render)"
    )
    assert [item["name"] for item in data["combinations"]] == [c.name for c in matrix.COMBINATIONS]
