"""The compatibility matrix script agrees with the package's metadata, and the README's table is
the one it generates from its last results (never edited by hand)."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from importlib.metadata import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from migrator import django_compat
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
    assert {"django52-py311", "django60-py312", "django60-py313", "django61-py313"} <= set(names)


def test_the_django_gate_and_requirement_span_the_matrix() -> None:
    """The series the matrix tests are exactly what the version gate lets through and what the
    distribution's Django requirement allows (no other series)."""
    matrix = load_matrix()
    series = sorted(tuple(int(part) for part in name.split(".")) for name in matrix.DJANGO_SERIES)
    assert tuple(series) == django_compat.TESTED_SERIES
    requires = metadata("django-migrate-all").get_all("Requires-Dist") or []
    django = [r for r in requires if re.match(r"Django[\s<>=!~,;]", r, re.IGNORECASE)]
    assert len(django) == 1
    assert set(django[0][len("Django") :].split(",")) == set(
        django_compat.REQUIREMENT[len("Django") :].split(",")
    )


def test_the_health_check_tests_run_where_django_health_check_supports_django() -> None:
    """The health extra needs django-health-check 4, which supports Django 5.2+: the matrix
    installs the extra there and deselects the tests marked health_check elsewhere."""
    matrix = load_matrix()
    assert set(matrix.HEALTH_CHECK_SERIES) == set(matrix.DJANGO_SERIES) - {"4.2"}
    for combination in matrix.COMBINATIONS:
        left_out = "health_check" in " ".join(matrix.deselect(combination))
        assert left_out == (combination.django == "4.2")


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


def test_only_replaces_its_own_rows_and_keeps_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    matrix = load_matrix()
    results, readme = tmp_path / "matrix.json", tmp_path / "README.md"
    old = {
        "finished": "2026-12-04 18:55 UTC",
        "commit": "d6d9e75",
        "machine": "2 cores, Linux x86_64",
        "ci": True,
        "seconds": 1715.8,
        "combinations": [
            {
                "name": c.name,
                "django_series": c.django,
                "python_series": c.python,
                "requirement": c.requirement,
                **(
                    {"status": "not run", "reason": "ran as make test (.venv)"}
                    if c.name == "django52-py311"
                    else {"status": "passed", "passed": 344, "failed": 0, "skipped": 9}
                ),
            }
            for c in matrix.COMBINATIONS
            if c.django != "6.1"  # the file was written before 6.1 was in the matrix
        ],
    }
    results.write_text(json.dumps(old))
    readme.write_text(f"before\n{matrix.START_MARKER}\nold table\n{matrix.END_MARKER}\nafter\n")
    ran = []
    monkeypatch.setattr(matrix, "RESULTS", results)
    monkeypatch.setattr(matrix, "README", readme)
    monkeypatch.setattr(matrix, "git_commit", lambda: "abc1234")

    def fake_run(combination: Any) -> dict[str, Any]:
        ran.append(combination.name)
        return {
            "name": combination.name,
            "django_series": combination.django,
            "python_series": combination.python,
            "requirement": combination.requirement,
            "django": "6.1.3",
            "python": f"{combination.python}.0",
            "seconds": 200.0,
            "setup_seconds": 20.0,
            "passed": 360,
            "failed": 0,
            "skipped": 0,
            "status": "passed",
        }

    monkeypatch.setattr(matrix, "run_combination", fake_run)
    assert matrix.main(["--only", "django61-py312", "--only", "django61-py313"]) == 0
    assert ran == ["django61-py312", "django61-py313"]
    data = json.loads(results.read_text())
    rows = {item["name"]: item for item in data["combinations"]}
    assert [item["name"] for item in data["combinations"]] == [c.name for c in matrix.COMBINATIONS]
    # The rows of the earlier run are kept, stamped with that run; the new ones with this run.
    assert rows["django42-py310"] == {
        **old["combinations"][0],  # type: ignore[index]
        "finished": "2026-12-04 18:55 UTC",
        "commit": "d6d9e75",
    }
    assert rows["django52-py311"]["status"] == "not run"
    assert rows["django61-py313"]["passed"] == 360
    assert rows["django61-py313"]["commit"] == "abc1234"
    assert [run["commit"] for run in data["runs"]] == ["d6d9e75", "abc1234"]
    table = readme.read_text()
    assert table.startswith("before\n")
    assert table.endswith("after\n")
    assert "| 4.2 | 3.10 | passed | 344 | 0 | 9 |" in table
    assert "| 6.1.3 | 3.13.0 | passed | 360 | 0 | 0 | 3m 20s | 20s |" in table
    assert (
        "10 of 11 combinations ran in 2 runs: 8 in the run of 2026-12-04 18:55 UTC (commit "
        "d6d9e75, 2 cores, Linux x86_64; that run took 28m 36s, venvs included); 2 in the run of "
    ) in table
    assert "kept from earlier runs" in capfd.readouterr().out

    # A whole run replaces every row: one run again.
    assert matrix.main([]) == 0
    data = json.loads(results.read_text())
    assert [run["commit"] for run in data["runs"]] == ["abc1234"]
    assert all(item["commit"] == "abc1234" for item in data["combinations"])
    assert "11 of 11 combinations ran on " in readme.read_text()
