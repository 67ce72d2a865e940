"""The compatibility matrix: the whole test suite on every supported (Django, Python) combination.

Each combination gets its own virtual environment under ``.venvs/`` (``.venvs/django42-py310``, …),
made from that Python (pyenv's, else ``pythonX.Y`` on PATH) with the project installed editable,
its extras and dev group, and the Django series pinned. The results go to ``compat/matrix.json``
and the README's compatibility table (between the ``matrix:start``/``matrix:end`` markers) is
regenerated from that file. Exit 1 when any combination failed.

A combination that ``--only``/``--skip`` leaves out keeps its row from the previous results (with
the date and commit of the run that made it), so running one combination never loses the others';
a full run replaces every row.

Standard library only, so any Python 3.10+ can run it: ``make matrix`` or
``python3 scripts/matrix.py [--only NAME] [--skip NAME] [--deadline EPOCH] [--render]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
VENVS = REPO / ".venvs"
RESULTS = REPO / "compat" / "matrix.json"
README = REPO / "README.md"
START_MARKER = "<!-- matrix:start -->"
END_MARKER = "<!-- matrix:end -->"

# Each Django series with its pip specifier and the Pythons it supports (from its classifiers),
# limited to the Pythons this project supports.
DJANGO_SERIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "4.2": ("Django>=4.2,<5.0", ("3.10", "3.11", "3.12")),
    "5.2": ("Django>=5.2,<6.0", ("3.10", "3.11", "3.12", "3.13")),
    "6.0": ("Django>=6.0,<6.1", ("3.12", "3.13")),
    "6.1": ("Django>=6.1,<6.2", ("3.12", "3.13")),
}
# The series django-health-check (the `health` extra, migrator.contrib.health_check) supports:
# elsewhere the extra is not installed and the tests marked health_check are deselected.
HEALTH_CHECK_SERIES = ("5.2", "6.0", "6.1")
# Before the first combination has run, a combination is assumed to take this long (seconds).
FIRST_ESTIMATE = 300.0


@dataclass(frozen=True)
class Combination:
    django: str  # series, e.g. "4.2"
    python: str  # series, e.g. "3.10"

    @property
    def name(self) -> str:
        return f"django{self.django.replace('.', '')}-py{self.python.replace('.', '')}"

    @property
    def requirement(self) -> str:
        return DJANGO_SERIES[self.django][0]

    @property
    def venv(self) -> Path:
        return VENVS / self.name


COMBINATIONS = tuple(
    Combination(django, python)
    for django, (_spec, pythons) in DJANGO_SERIES.items()
    for python in pythons
)


def find_python(series: str) -> str | None:
    """The newest pyenv interpreter of ``series``, else ``pythonX.Y`` on PATH (not a pyenv shim,
    which answers only for the active version)."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = []
    for path in (root / "versions").glob(f"{series}.*/bin/python{series}"):
        patch = path.parent.parent.name[len(series) + 1 :]
        if patch.isdigit():
            candidates.append((int(patch), path))
    if candidates:
        return str(max(candidates)[1])
    found = shutil.which(f"python{series}")
    if found and "/shims/" not in found:
        return found
    return None


def default_combination() -> Combination | None:
    """The combination that ``make test``'s ``.venv`` is (its Django and Python series)."""
    python = REPO / ".venv" / "bin" / "python"
    if not python.exists():
        return None
    django, version = versions(REPO / ".venv")
    found = Combination(".".join(django.split(".")[:2]), ".".join(version.split(".")[:2]))
    return found if found in COMBINATIONS else None


def log(message: str) -> None:
    print(message, flush=True)


def run(
    command: list[str], logfile: Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> int:
    """Run ``command``, appending its output to ``logfile``; return its exit code."""
    with logfile.open("a") as out:
        out.write(f"\n$ {' '.join(command)}\n")
        out.flush()
        return subprocess.run(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env, check=False
        ).returncode


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def setup_venv(combination: Combination, python: str, logfile: Path) -> str | None:
    """Make (or reuse) the combination's venv; None when ready, else why not."""
    venv = combination.venv
    bin_dir = venv / "bin"
    stamp = venv / ".matrix-installed"
    key = hashlib.sha256(
        b"\0".join(
            [
                (REPO / "pyproject.toml").read_bytes(),
                combination.requirement.encode(),
                python.encode(),
            ]
        )
    ).hexdigest()
    if stamp.exists() and stamp.read_text() == key and (bin_dir / "python").exists():
        return None
    if run([python, "-m", "venv", "--clear", str(venv)], logfile):
        return f"could not create the venv with {python}"
    if run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], logfile
    ):
        return "could not upgrade pip"
    if run(["sh", str(REPO / ".ci" / "system-deps")], logfile):
        return "the build dependencies of mysqlclient are missing (.ci/system-deps)"
    install = [
        str(bin_dir / "python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "-e",
        ".[postgres,mysql,health,risk]"
        if combination.django in HEALTH_CHECK_SERIES
        else ".[postgres,mysql,risk]",
        "--group",
        "dev",
        combination.requirement,
    ]
    if run(install, logfile, cwd=REPO):
        return f"pip could not install the project with {combination.requirement}"
    stamp.write_text(key)
    return None


def versions(venv: Path) -> tuple[str, str]:
    """(Django version, Python version) installed in ``venv``."""
    out = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import django, platform; print(django.get_version(), platform.python_version())",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return out[0], out[1]


def counts(junit: Path) -> dict[str, int] | None:
    """passed/failed/skipped from pytest's JUnit XML (errors count as failed)."""
    try:
        root = ET.parse(junit).getroot()
    except (OSError, ET.ParseError):
        return None
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites:
        for field in total:
            total[field] += int(suite.get(field, 0))
    failed = total["failures"] + total["errors"]
    return {
        "passed": total["tests"] - failed - total["skipped"],
        "failed": failed,
        "skipped": total["skipped"],
    }


def deselect(combination: Combination) -> tuple[str, ...]:
    """pytest's ``-m`` option leaving out the marked tests this combination does not run."""
    left_out = [
        *(() if combination == default_combination() else ("parity_postgres", "celery_workers")),
        *(() if combination.django in HEALTH_CHECK_SERIES else ("health_check",)),
    ]
    return ("-m", " and ".join(f"not {marker}" for marker in left_out)) if left_out else ()


def run_combination(combination: Combination) -> dict[str, Any]:
    result: dict[str, Any] = {
        "name": combination.name,
        "django_series": combination.django,
        "python_series": combination.python,
        "requirement": combination.requirement,
    }
    VENVS.mkdir(exist_ok=True)
    logfile = VENVS / f"{combination.name}.log"
    logfile.write_text("")
    python = find_python(combination.python)
    if python is None:
        return result | {
            "status": "failed",
            "reason": f"no Python {combination.python} interpreter (pyenv install {combination.python})",
        }
    started = time.monotonic()
    problem = setup_venv(combination, python, logfile)
    setup_seconds = round(time.monotonic() - started, 1)
    result["setup_seconds"] = setup_seconds
    if problem:
        return result | {"status": "failed", "reason": f"{problem}; see {logfile}"}
    django_version, python_version = versions(combination.venv)
    result |= {"django": django_version, "python": python_version}
    junit = combination.venv / "junit.xml"
    junit.unlink(missing_ok=True)
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    env["CI"] = "true"  # the server-backed tests must run: an unreachable server fails them
    env["PATH"] = f"{combination.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    started = time.monotonic()
    code = run(
        [
            str(combination.venv / "bin" / "python"),
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            f"--junitxml={junit}",
            # Parity on PostgreSQL runs in the default combination only (CI time); on SQLite
            # it runs everywhere; the health check where django-health-check supports the
            # series. Deselected, not skipped: under CI nothing is skipped.
            *deselect(combination),
        ],
        logfile,
        cwd=REPO,
        env=env,
    )
    result["seconds"] = round(time.monotonic() - started, 1)
    found = counts(junit)
    if found is None:
        return result | {"status": "failed", "reason": f"pytest exited {code}; see {logfile}"}
    result |= found
    if code != 0 or found["failed"]:
        return result | {"status": "failed", "reason": f"pytest exited {code}; see {logfile}"}
    return result | {"status": "passed"}


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def minutes(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def runs_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs whose rows the results hold, oldest first (a file written before rows were
    carried over holds one run, described at its top level)."""
    if "runs" in data:
        return list(data["runs"])
    return [{key: data[key] for key in ("finished", "commit", "machine", "ci", "seconds")}]


def stamp(item: dict[str, Any]) -> tuple[str, str]:
    """Which run a row (or a run) is: its date and commit."""
    return str(item.get("finished")), str(item.get("commit"))


def carried_over(data: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The previous results' rows by name, each stamped with the date and commit of its run;
    rows of combinations that are gone or whose requirement changed are dropped."""
    if data is None:
        return {}
    run = runs_of(data)[-1]  # rows without a stamp come from the file's only run
    known = {combination.name: combination.requirement for combination in COMBINATIONS}
    rows = {}
    for item in data.get("combinations", []):
        if known.get(item.get("name")) != item.get("requirement"):
            continue
        if item["status"] != "not run" and "finished" not in item:
            item = item | {"finished": run["finished"], "commit": run["commit"]}
        rows[item["name"]] = item
    return rows


def previous_results() -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        return None
    return data


def render(data: dict[str, Any]) -> str:
    """The README's compatibility block from the results file's data."""
    rows = [
        "| Django | Python | result | passed | failed | skipped | tests took | venv setup took |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    combinations: list[dict[str, Any]] = data["combinations"]
    for item in combinations:
        status = str(item["status"])
        if item.get("reason") and status != "passed":
            status = f"{status}: {item['reason']}"
        cells = [
            str(item.get("django", item["django_series"])),
            str(item.get("python", item["python_series"])),
            status,
            *(str(item.get(field, "")) for field in ("passed", "failed", "skipped")),
            minutes(float(item["seconds"])) if "seconds" in item else "",
            minutes(float(item["setup_seconds"])) if "setup_seconds" in item else "",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    ran = [item for item in combinations if item["status"] != "not run"]
    runs = runs_of(data)
    if len(runs) == 1:
        run = runs[0]
        when = (
            f"ran on {run['finished']} (commit {run['commit']}, {run['machine']}), in "
            f"{minutes(float(run['seconds']))} in all, venvs included"
        )
    else:
        parts = []
        for run in runs:
            count = sum(1 for item in ran if stamp(item) == stamp(run))
            parts.append(
                f"{count} in the run of {run['finished']} (commit {run['commit']}, "
                f"{run['machine']}; that run took {minutes(float(run['seconds']))}, venvs "
                "included)"
            )
        when = f"ran in {len(runs)} runs: {'; '.join(parts)}"
    summary = (
        f"Generated by `make matrix` (`scripts/matrix.py`) from `compat/matrix.json`: "
        f"{len(ran)} of {len(combinations)} combinations {when}. Do not edit this table by hand."
    )
    return "\n".join([START_MARKER, *rows, "", summary, END_MARKER])


def update_readme(data: dict[str, Any]) -> None:
    text = README.read_text()
    pattern = re.compile(re.escape(START_MARKER) + ".*?" + re.escape(END_MARKER), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no {START_MARKER} … {END_MARKER} block to fill")
    README.write_text(pattern.sub(lambda _match: render(data), text, count=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], metavar="NAME")
    parser.add_argument("--skip", action="append", default=[], metavar="NAME")
    parser.add_argument(
        "--skip-default",
        action="store_true",
        help="skip the combination of .venv (make test's), already run by the caller",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        metavar="EPOCH",
        help="start no combination that would (by the longest one so far) end after this time",
    )
    parser.add_argument(
        "--render", action="store_true", help="only regenerate the README table from the results"
    )
    parser.add_argument("--list", action="store_true", help="print the combinations' names")
    args = parser.parse_args(argv)
    names = {combination.name for combination in COMBINATIONS}
    unknown = sorted(set(args.only + args.skip) - names)
    if unknown:
        parser.error(f"unknown combination {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    if args.list:
        for combination in COMBINATIONS:
            print(combination.name)
        return 0
    if args.render:
        update_readme(json.loads(RESULTS.read_text()))
        return 0

    default = default_combination() if args.skip_default else None
    commit = git_commit()  # the code under test, before this run changes the README
    previous = previous_results()
    kept = carried_over(previous) if args.only or args.skip else {}
    started = time.monotonic()
    results = []
    ran_now: list[dict[str, Any]] = []
    durations: list[float] = []  # of the combinations run so far, venv setup included
    for combination in COMBINATIONS:
        selected = (not args.only or combination.name in args.only) and (
            combination.name not in args.skip
        )
        base = {"name": combination.name, "django_series": combination.django}
        base |= {"python_series": combination.python, "requirement": combination.requirement}
        if combination == default:
            results.append(base | {"status": "not run", "reason": "ran as make test (.venv)"})
            continue
        if not selected:
            results.append(
                kept.get(combination.name, base | {"status": "not run", "reason": "not selected"})
            )
            continue
        estimate = max(durations, default=FIRST_ESTIMATE)
        if args.deadline is not None and time.time() + estimate > args.deadline:
            reason = f"time budget: would end after the deadline (estimate {minutes(estimate)})"
            log(f"{combination.name}: NOT RUN ({reason})")
            results.append(base | {"status": "not run", "reason": reason})
            continue
        log(
            f"{combination.name}: Django {combination.requirement[6:]}, Python {combination.python} …"
        )
        began = time.monotonic()
        result = run_combination(combination)
        durations.append(time.monotonic() - began)
        results.append(result)
        ran_now.append(result)
        line = (
            f"{combination.name}: {result['status']} (Django {result.get('django', '?')}, "
            f"Python {result.get('python', '?')}; passed {result.get('passed', '-')}, "
            f"failed {result.get('failed', '-')}, skipped {result.get('skipped', '-')}; "
            f"tests {minutes(float(result.get('seconds', 0)))}, "
            f"setup {minutes(float(result.get('setup_seconds', 0)))})"
        )
        log(line)
        if result["status"] != "passed":
            log(f"  {result.get('reason', '')}")
            log(tail(VENVS / f"{combination.name}.log"))

    run: dict[str, Any] = {
        "finished": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "machine": f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}",
        "ci": os.environ.get("CI", "").lower() == "true",
        "seconds": round(time.monotonic() - started, 1),
    }
    for result in ran_now:
        result |= {"finished": run["finished"], "commit": commit}
    # Every run that made a row of the table, oldest first; this one last.
    stamps = {stamp(item) for item in results if item["status"] != "not run"}
    earlier = [
        old
        for old in (runs_of(previous) if previous and kept else [])
        if stamp(old) in stamps and stamp(old) != stamp(run)
    ]
    # The top level describes this run, as before rows were carried over.
    data: dict[str, Any] = run | {"runs": [*earlier, run], "combinations": results}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=2) + "\n")
    update_readme(data)
    failed = [item["name"] for item in ran_now if item["status"] == "failed"]
    not_run = [item["name"] for item in results if item["status"] == "not run"]
    log(
        f"Matrix finished in {minutes(float(data['seconds']))}: "
        f"{len(ran_now) - len(failed)} combinations passed, {len(failed)} failed "
        f"({', '.join(failed) or 'none'}), {len(results) - len(ran_now) - len(not_run)} kept "
        f"from earlier runs, {len(not_run)} not run; results in "
        f"{os.path.relpath(RESULTS, REPO)} and the README's compatibility table"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
