"""``make bench``: migrate_all against the shell loop and single-alias ``migrate``, side by side.

Every case runs its commands alternately (A B C, then C B A, ...) in fresh processes, at least five
times each, and reports the median wall time, the peak memory (max RSS of the process) and the
ratios the issue asks about. Byte-code is cached (.pyc) as on a deployed site: each command runs
once unmeasured first.

Cases (``--case``, repeatable; all of them by default):
  noop      1. no-op deploy, 2. planning, 4. peak memory (SQLite, --apps x --migrations x --aliases)
  parallel  3. fresh PostgreSQL databases, --parallel 4 against --parallel 1 (needs the server)
  fresh     5. fresh deploy: 120 apps x 10 migrations x 4 empty SQLite aliases, migrate_all
            against the per-alias loop (manage.py migrate --database X for each alias)
  fleet     6. 200 PostgreSQL databases from one template (targets from code): a no-op
            migrate_all against one alias's manage.py migrate; 7. preflight (--check) of 200
            aliases, 5 of them on a server that never answers, against CONNECT_TIMEOUT
  celery    8. fresh deploy of 50 PostgreSQL tenant databases (the testproject's fleet,
            tests/settings/celery_fleet.py): --executor celery with 2 Celery workers (Redis)
            against --parallel 2 and serial (needs PostgreSQL and Redis; not run by default)
  risk      9. lock-risk review: 200 PostgreSQL databases from one template, one migration
            pending on each (targets from code): migrate_all --risk against --plan; 10. --risk
            on the testproject with every migration pending (PostgreSQL and MariaDB aliases)
            against its --plan (needs both servers)

    python benchmarks/run.py [--case fresh] [--runs 5] [--apps 300] [--migrations 20] [--aliases 8]
                             [--skip-postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "generated"
sys.path.insert(0, str(HERE))

from generate import generate  # noqa: E402


@dataclass
class Measure:
    seconds: list[float]
    rss_kb: list[int]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def peak_kb(self) -> int:
        return max(self.rss_kb)


def environment(project: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONDONTWRITEBYTECODE", "DJANGO_SETTINGS_MODULE")
    }
    env.update({"PYTHONPATH": f"{project}:{ROOT}", "BENCH_VAR": str(project / "var"), **extra})
    return env


def timed(
    commands: list[list[str]], project: Path, env: dict[str, str], ok: tuple[int, ...] = (0, 1)
) -> tuple[float, int]:
    """Run commands one after the other; wall time of all, peak RSS of the largest (KB).

    ``ok``: the exit codes that count as success (``--plan``/``--check`` may exit 1)."""
    started = time.perf_counter()
    peak = 0
    for command in commands:
        process = subprocess.Popen(
            command, cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode not in ok:
            raise SystemExit(
                f"{' '.join(command)} failed: {process.stderr.read().decode() if process.stderr else ''}"
            )
        peak = max(peak, usage.ru_maxrss)
    return time.perf_counter() - started, peak


def compare(
    cases: dict[str, list[list[str]]],
    project: Path,
    env: dict[str, str],
    runs: int,
    reset: Callable[[], None] | None = None,
    after_warmup: Callable[[str], None] | None = None,
    ok: tuple[int, ...] = (0, 1),
) -> dict[str, Measure]:
    """``reset`` runs before every command, untimed; ``after_warmup(name)`` after each warm-up."""
    names = list(cases)
    for name in names:  # warm-up: byte-code caches, page cache
        if reset is not None:
            reset()
        timed(cases[name], project, env, ok)
        if after_warmup is not None:
            after_warmup(name)
    results = {name: Measure([], []) for name in names}
    for index in range(runs):
        order = names if index % 2 == 0 else list(reversed(names))
        for name in order:
            if reset is not None:
                reset()
            seconds, rss = timed(cases[name], project, env, ok)
            results[name].seconds.append(seconds)
            results[name].rss_kb.append(rss)
    return results


def manage(*args: str) -> list[str]:
    return [sys.executable, "manage.py", *args]


def record_everything(project: Path, env: dict[str, str], aliases: list[str]) -> None:
    """Make every alias up to date the way the shell loop leaves it: every migration recorded."""
    script = (
        "import django, os; django.setup()\n"
        "from django.db import connections\n"
        "from django.db.migrations.loader import MigrationLoader\n"
        "from django.db.migrations.recorder import MigrationRecorder\n"
        "names = sorted(MigrationLoader(None).disk_migrations)\n"
        f"for alias in {aliases!r}:\n"
        "    recorder = MigrationRecorder(connections[alias])\n"
        "    recorder.ensure_schema()\n"
        "    recorder.migration_qs.all().delete()\n"
        "    recorder.Migration.objects.using(alias).bulk_create(\n"
        "        [recorder.Migration(app=a, name=n) for a, n in names], batch_size=500)\n"
    )
    subprocess.run(
        [sys.executable, "-c", script],
        cwd=project,
        env={**env, "DJANGO_SETTINGS_MODULE": "benchproject.settings"},
        check=True,
    )


def forget_last(project: Path, env: dict[str, str], alias: str, migrations: int) -> None:
    """Unrecord the last migration of every app on ``alias``: that alias has pending work."""
    script = (
        "import django; django.setup()\n"
        "from django.conf import settings\n"
        "from django.db import connections\n"
        f"apps = [a for a, home in settings.HOME.items() if home == {alias!r}]\n"
        f"with connections[{alias!r}].cursor() as c:\n"
        f"    c.executemany('DELETE FROM django_migrations WHERE app = %s AND name = %s', [(a, '{migrations:04d}_step') for a in apps])\n"
    )
    subprocess.run(
        [sys.executable, "-c", script],
        cwd=project,
        env={**env, "DJANGO_SETTINGS_MODULE": "benchproject.settings"},
        check=True,
    )


def sqlite_project(name: str, apps: int, migrations: int, aliases: int) -> tuple[Path, list[str]]:
    project = OUT / name
    generate(project, apps, migrations, aliases)
    (project / "var").mkdir()
    return project, ["default"] + [f"db{i}" for i in range(1, aliases)]


def line(label: str, value: str) -> None:
    print(f"  {label:<62} {value}")


CASES = ("noop", "parallel", "fresh", "fleet", "celery", "risk")
DEFAULT_CASES = CASES


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--apps", type=int, default=300)
    parser.add_argument("--migrations", type=int, default=20)
    parser.add_argument("--aliases", type=int, default=8)
    parser.add_argument(
        "--skip-postgres", action="store_true", help="leave out cases 3, 6 to 10 (servers)"
    )
    parser.add_argument(
        "--case",
        action="append",
        choices=CASES,
        help="run only this case (repeatable); default: all",
    )
    args = parser.parse_args()
    runs = max(5, args.runs)
    cases = list(dict.fromkeys(args.case or DEFAULT_CASES))
    if args.skip_postgres:
        cases = [case for case in cases if case not in ("parallel", "fleet", "celery", "risk")]
    if not cases:
        parser.error("--skip-postgres leaves no case to run")
    report: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "runs": runs,
        "cases": cases,
    }
    print(f"machine: {report['machine']}; median of {runs} alternating runs per command")
    ratios: dict[str, float] = {}
    took: dict[str, float] = {}
    for case in cases:
        started = time.perf_counter()
        if case == "noop":
            ratios.update(noop_and_plan(args, runs))
        elif case == "parallel":
            ratios["parallel_4_vs_1"] = postgres_parallel(runs)
        elif case == "fleet":
            ratios.update(postgres_fleet(runs))
        elif case == "celery":
            ratios.update(celery_fleet(runs))
        elif case == "risk":
            found, report["risk"] = risk_review(runs)
            ratios.update(found)
        else:
            ratios["fresh_vs_loop"], report["fresh"] = fresh_deploy(runs)
        took[case] = round(time.perf_counter() - started, 1)
        print(f"  (case {case}: {took[case]:.0f} s in all, set-up and warm-up included)")
    report["ratios"] = ratios
    report["seconds_per_case"] = took
    (OUT / "results.json").write_text(json.dumps(report, indent=2))
    print(f"\nresults: {OUT / 'results.json'}")


def noop_and_plan(args: argparse.Namespace, runs: int) -> dict[str, float]:
    """1. No-op deploy, 2. planning and 4. peak memory, A x M x K on SQLite."""
    project, aliases = sqlite_project("noop", args.apps, args.migrations, args.aliases)
    env = environment(project, DJANGO_SETTINGS_MODULE="benchproject.settings")
    record_everything(project, env, aliases)
    third = aliases[min(3, len(aliases) - 1)]
    noop = compare(
        {
            "loop": [manage("migrate", "--database", a, "-v", "0") for a in aliases],
            "single": [manage("migrate", "--database", third, "-v", "0")],
            "migrate_all": [manage("migrate_all", "-v", "0")],
        },
        project,
        env,
        runs,
    )
    plan = compare(
        {
            "single": [manage("migrate", "--plan", "--database", third)],
            "migrate_all": [manage("migrate_all", "--plan")],
        },
        project,
        env,
        runs,
    )
    forget_last(project, env, third, args.migrations)
    plan_pending = compare(
        {
            "single": [manage("migrate", "--plan", "--database", third)],
            "migrate_all": [manage("migrate_all", "--plan")],
        },
        project,
        env,
        runs,
    )
    double, double_aliases = sqlite_project("double", args.apps * 2, args.migrations, args.aliases)
    double_env = environment(double, DJANGO_SETTINGS_MODULE="benchproject.settings")
    record_everything(double, double_env, double_aliases)
    doubled = compare({"migrate_all": [manage("migrate_all", "--plan")]}, double, double_env, runs)

    size = f"A={args.apps}, M={args.migrations}, K={args.aliases}, SQLite"
    print(f"\n1. No-op deploy ({size}, every alias up to date)")
    line(
        f"shell loop: {len(aliases)} x manage.py migrate --database X",
        f"{noop['loop'].median:6.2f} s",
    )
    line(f"single alias: manage.py migrate --database {third}", f"{noop['single'].median:6.2f} s")
    line("manage.py migrate_all", f"{noop['migrate_all'].median:6.2f} s")
    ratios = {
        "noop_vs_loop": noop["migrate_all"].median / noop["loop"].median,
        "noop_vs_single": noop["migrate_all"].median / noop["single"].median,
        "plan_vs_single": plan["migrate_all"].median / plan["single"].median,
        "plan_pending_vs_single": plan_pending["migrate_all"].median
        / plan_pending["single"].median,
        "plan_doubled_apps": doubled["migrate_all"].median / plan["migrate_all"].median,
        "memory_noop_vs_single": noop["migrate_all"].peak_kb / noop["single"].peak_kb,
        "memory_plan_vs_single": plan["migrate_all"].peak_kb / plan["single"].peak_kb,
    }
    line("ratio migrate_all / loop (target <= 0.05)", f"{ratios['noop_vs_loop']:6.3f}")
    line("ratio migrate_all / single alias (target <= 0.4)", f"{ratios['noop_vs_single']:6.3f}")
    print(f"\n2. Planning ({size})")
    line(
        f"manage.py migrate --plan --database {third}, nothing pending",
        f"{plan['single'].median:6.2f} s",
    )
    line("manage.py migrate_all --plan, nothing pending", f"{plan['migrate_all'].median:6.2f} s")
    line("ratio (target <= 1.2)", f"{ratios['plan_vs_single']:6.3f}")
    line(
        f"manage.py migrate --plan --database {third}, {third} pending",
        f"{plan_pending['single'].median:6.2f} s",
    )
    line(
        f"manage.py migrate_all --plan, {third} pending",
        f"{plan_pending['migrate_all'].median:6.2f} s",
    )
    line("ratio (target <= 1.2)", f"{ratios['plan_pending_vs_single']:6.3f}")
    line(
        f"manage.py migrate_all --plan with A={args.apps * 2}",
        f"{doubled['migrate_all'].median:6.2f} s",
    )
    line("ratio doubled A / A (target <= 2.2)", f"{ratios['plan_doubled_apps']:6.3f}")
    print("\n4. Peak memory (max RSS)")
    line(
        "no-op: migrate_all / single-alias migrate (target <= 1.2)",
        f"{noop['migrate_all'].peak_kb / 1024:5.0f} MB / {noop['single'].peak_kb / 1024:5.0f} MB = {ratios['memory_noop_vs_single']:.2f}",
    )
    line(
        "plan: migrate_all --plan / migrate --plan (target <= 1.2)",
        f"{plan['migrate_all'].peak_kb / 1024:5.0f} MB / {plan['single'].peak_kb / 1024:5.0f} MB = {ratios['memory_plan_vs_single']:.2f}",
    )
    return ratios


def postgres_parallel(runs: int) -> float:
    """3. Fresh databases: K=4 PostgreSQL databases, 40 independent apps x 10 migrations each."""
    import psycopg

    project = OUT / "parallel"
    generate(project, 160, 10, 4, chain_every=0)
    prefix = f"migrator_bench_{os.getpid()}"
    env = environment(
        project,
        DJANGO_SETTINGS_MODULE="benchproject.settings",
        BENCH_BACKEND="postgres",
        BENCH_DB_PREFIX=prefix,
    )
    admin = psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True)

    def reset() -> None:
        for index in range(4):
            admin.execute(f'DROP DATABASE IF EXISTS "{prefix}_{index}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{prefix}_{index}"')

    try:
        measured = compare(
            {
                "parallel 1": [manage("migrate_all", "--noinput", "-v", "0", "--parallel", "1")],
                "parallel 4": [manage("migrate_all", "--noinput", "-v", "0", "--parallel", "4")],
            },
            project,
            env,
            runs,
            reset=reset,
        )
    finally:
        for index in range(4):
            admin.execute(f'DROP DATABASE IF EXISTS "{prefix}_{index}" WITH (FORCE)')
        admin.close()
    ratio = measured["parallel 4"].median / measured["parallel 1"].median
    print("\n3. Fresh databases (K=4 PostgreSQL, 40 independent apps x 10 migrations per alias)")
    line("manage.py migrate_all --parallel 1", f"{measured['parallel 1'].median:6.2f} s")
    line("manage.py migrate_all --parallel 4", f"{measured['parallel 4'].median:6.2f} s")
    line("ratio (target <= 0.6)", f"{ratio:6.3f}")
    return ratio


CELERY_TENANTS = 50


def celery_fleet(runs: int) -> dict[str, float]:
    """8. Fresh deploy of 50 PostgreSQL tenants (each from an empty template, re-made before
    every command): 2 Celery workers against --parallel 2 and serial."""
    import psycopg

    sys.path.insert(0, str(ROOT))
    from tests.servers import unique

    project = ROOT / "testproject"
    var = OUT / "celery-var"
    prefix = unique("migrator_bench_celery")
    queue = unique("migrator_bench_q")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MIGRATOR_")},
        "PYTHONPATH": f"{ROOT}:{project}",
        "DJANGO_SETTINGS_MODULE": "tests.settings.celery_fleet",
        "MIGRATOR_VAR_DIR": str(var),
        "MIGRATOR_TEST_PG_FLEET": f"{prefix}:{CELERY_TENANTS}",
        "MIGRATOR_TEST_QUEUE": queue,
    }
    admin = psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True)
    names = [f"{prefix}_{n:03d}" for n in range(CELERY_TENANTS)]
    admin.execute(f'CREATE DATABASE "{prefix}_tpl"')

    def reset() -> None:
        shutil.rmtree(var, ignore_errors=True)
        var.mkdir(parents=True)
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{prefix}_tpl"')

    reset()
    workers = []
    try:
        for worker in ("one", "two"):
            log = var.parent / f"celery-{worker}.log"
            log.unlink(missing_ok=True)
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "tests.celery_app", "worker",
                     "-Q", queue, "-n", f"{worker}@%h", "--concurrency", "1",
                     "--pool", "prefork", "--without-gossip", "--without-mingle", "--loglevel", "INFO",
                     "--logfile", str(log)],
                    cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log.with_suffix(".err").open("w"),
                    start_new_session=True,
                )
            )  # fmt: skip
            deadline = time.monotonic() + 60
            while "ready." not in (log.read_text() if log.exists() else ""):
                if time.monotonic() > deadline:
                    raise SystemExit(f"celery worker {worker} did not start: see {log}")
                time.sleep(0.1)
        run = [sys.executable, str(project / "manage.py"), "migrate_all", "--noinput", "-v", "0"]
        measured = compare(
            {
                "serial": [run],
                "parallel 2": [[*run, "--parallel", "2"]],
                "celery, 2 workers": [[*run, "--executor", "celery"]],
            },
            ROOT,
            env,
            runs,
            reset=reset,
            ok=(0,),
        )
    finally:
        for process in workers:
            if process.poll() is None:
                os.killpg(process.pid, 9)
            process.wait()
        for name in [*names, f"{prefix}_tpl"]:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
        shutil.rmtree(var, ignore_errors=True)
    print(
        f"\n6. Fresh deploy of {CELERY_TENANTS} PostgreSQL tenants (+ the testproject's 5 SQLite aliases)"
    )
    for name, measure in measured.items():
        line(f"manage.py migrate_all ({name})", f"{measure.median:6.2f} s")
    serial = measured["serial"].median
    return {
        "celery_2_workers_vs_serial": measured["celery, 2 workers"].median / serial,
        "parallel_2_vs_serial": measured["parallel 2"].median / serial,
    }


FRESH_APPS, FRESH_MIGRATIONS, FRESH_ALIASES = 120, 10, 4
FRESH_TARGET = 0.5


def sqlite_state(var: Path, aliases: list[str]) -> dict[str, tuple[list[str], int]]:
    """Per alias: its tables (SQLite's own left out) and its django_migrations row count."""
    state: dict[str, tuple[list[str], int]] = {}
    for alias in aliases:
        path = var / f"{alias}.sqlite3"
        if not path.exists():
            state[alias] = ([], 0)
            continue
        with sqlite3.connect(path) as connection:
            tables = sorted(
                row[0]
                for row in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                )
            )
            rows = (
                connection.execute("SELECT COUNT(*) FROM django_migrations").fetchone()[0]
                if "django_migrations" in tables
                else 0
            )
        connection.close()
        state[alias] = (tables, rows)
    return state


def fresh_deploy(runs: int) -> tuple[float, dict[str, object]]:
    """5. Fresh deploy: every alias empty, migrate_all against the per-alias loop (SQLite)."""
    project, aliases = sqlite_project("fresh", FRESH_APPS, FRESH_MIGRATIONS, FRESH_ALIASES)
    env = environment(project, DJANGO_SETTINGS_MODULE="benchproject.settings")
    var = project / "var"

    def reset() -> None:  # fresh SQLite files: none exists, each command creates its own
        shutil.rmtree(var)
        var.mkdir()

    states: dict[str, dict[str, tuple[list[str], int]]] = {}

    def inspect(name: str) -> None:  # after each warm-up; stop before measuring if tables differ
        states[name] = sqlite_state(var, aliases)
        if len(states) < 2:
            return
        different = [
            f"{alias}: only after the loop {sorted(set(loop) - set(ours))}, "
            f"only after migrate_all {sorted(set(ours) - set(loop))}"
            for alias in aliases
            for loop, ours in [(states["loop"][alias][0], states["migrate_all"][alias][0])]
            if loop != ours
        ]
        if different:
            raise SystemExit(
                "fresh deploy: the two sides left different tables:\n" + "\n".join(different)
            )

    measured = compare(
        {
            "loop": [manage("migrate", "--database", a, "--noinput") for a in aliases],
            "migrate_all": [manage("migrate_all", "--noinput")],
        },
        project,
        env,
        runs,
        reset=reset,
        after_warmup=inspect,
        ok=(0,),
    )
    reset()
    ratio = measured["migrate_all"].median / measured["loop"].median
    size = f"A={FRESH_APPS}, M={FRESH_MIGRATIONS}, K={FRESH_ALIASES}, SQLite"
    print(f"\n5. Fresh deploy ({size}, every alias empty before each command)")
    line(
        f"loop: {len(aliases)} x manage.py migrate --database X --noinput",
        f"{measured['loop'].median:6.2f} s",
    )
    line("manage.py migrate_all --noinput", f"{measured['migrate_all'].median:6.2f} s")
    verdict = "met" if ratio <= FRESH_TARGET else "NOT met"
    line(
        f"ratio migrate_all / loop (target: at or below {FRESH_TARGET} x the loop)",
        f"{ratio:6.3f} ({verdict})",
    )
    pairs = sorted(
        a / b
        for a, b in zip(measured["migrate_all"].seconds, measured["loop"].seconds, strict=True)
    )
    line(
        "per run (each run's pair): lowest / median / highest ratio",
        f"{pairs[0]:.3f} / {statistics.median(pairs):.3f} / {pairs[-1]:.3f}",
    )
    print("  after one unmeasured run of each: tables, django_migrations rows (loop / migrate_all)")
    for alias in aliases:
        (tables, loop_rows), (_, all_rows) = states["loop"][alias], states["migrate_all"][alias]
        line(f"{alias}: the same {len(tables)} tables", f"{loop_rows:5d} / {all_rows:5d} rows")
    return ratio, {
        "target": FRESH_TARGET,
        "met": ratio <= FRESH_TARGET,
        "loop_seconds": measured["loop"].seconds,
        "migrate_all_seconds": measured["migrate_all"].seconds,
        "ratio_per_run": pairs,
        "django_migrations_rows": {
            alias: {
                "loop": states["loop"][alias][1],
                "migrate_all": states["migrate_all"][alias][1],
            }
            for alias in aliases
        },
    }


FLEET, FLEET_DOWN, FLEET_CONNECT_TIMEOUT = 200, 5, 5.0
FLEET_NOOP_TARGET, FLEET_PREFLIGHT_TARGET = 2.0, 1.5

FLEET_SETTINGS = """\
import os

SECRET_KEY = "bench"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "migrator",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    *os.environ.get("BENCH_APPS", "").split(),  # case 9: the app with a pending migration
]
PREFIX = os.environ["BENCH_DB_PREFIX"]


def entry(name, host="127.0.0.1", port="5432"):
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "HOST": host,
        "PORT": port,
        "USER": "postgres",
    }


DATABASES = {"default": entry(os.environ.get("BENCH_DEFAULT", f"{PREFIX}_000"))}
MIGRATOR = {
    "DATABASES": "fleetproject.settings.tenants",
    "CONNECT_TIMEOUT": float(os.environ["BENCH_CONNECT_TIMEOUT"]),
    "ROUTING_CACHE": os.environ["BENCH_ROUTING_CACHE"],  # the no-op fast path, as deployed
}
if os.environ.get("BENCH_SERIAL"):  # one alias after the other, as before bounded concurrency
    MIGRATOR.update(MAX_CONNECTIONS_PER_SERVER=1, MAX_CONNECTIONS=1)


def tenants():
    found = {
        f"tenant_{n:03d}": entry(f"{PREFIX}_{n:03d}")
        for n in range(1, int(os.environ["BENCH_UP"]))
    }
    host, port, down = os.environ.get("BENCH_DOWN", "::0").split(":")
    for n in range(int(down)):
        found[f"down_{n:03d}"] = entry(f"{PREFIX}_down_{n:03d}", host, port)
    return found
"""


def postgres_fleet(runs: int) -> dict[str, float]:
    """6. A no-op over 200 PostgreSQL databases (``default`` in settings, 199 tenants from code,
    all made from one migrated template) against ``manage.py migrate`` of ``default`` alone;
    7. ``migrate_all --check`` of 200 aliases, 5 of them on a silent server (a listener that
    never answers), against MIGRATOR["CONNECT_TIMEOUT"]. MIGRATOR["ROUTING_CACHE"] is set, as
    on a deployed site (the no-op fast path); the bounds are the defaults (8 per server)."""
    import psycopg

    sys.path.insert(0, str(ROOT))
    from tests.listener import SilentListener  # no pytest there

    project = OUT / "fleet"
    shutil.rmtree(project, ignore_errors=True)
    (project / "fleetproject").mkdir(parents=True)
    (project / "fleetproject" / "__init__.py").write_text("")
    (project / "fleetproject" / "settings.py").write_text(FLEET_SETTINGS)
    (project / "manage.py").write_text(MANAGE_FLEET)
    prefix = f"migrator_bench_fleet_{os.getpid()}"
    template = f"{prefix}_tpl"
    env = environment(
        project,
        DJANGO_SETTINGS_MODULE="fleetproject.settings",
        BENCH_DB_PREFIX=prefix,
        BENCH_CONNECT_TIMEOUT=str(FLEET_CONNECT_TIMEOUT),
        BENCH_UP=str(FLEET),
        BENCH_ROUTING_CACHE=str(project / "routing"),
    )
    admin = psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True)
    made: list[str] = []
    try:
        admin.execute(f'CREATE DATABASE "{template}"')
        made.append(template)
        timed([manage("migrate", "-v", "0")], project, {**env, "BENCH_DEFAULT": template}, (0,))
        for n in range(FLEET):
            admin.execute(f'CREATE DATABASE "{prefix}_{n:03d}" TEMPLATE "{template}"')
            made.append(f"{prefix}_{n:03d}")
        noop = compare(
            {
                "single": [manage("migrate", "-v", "0")],
                "migrate_all": [manage("migrate_all", "-v", "0")],
            },
            project,
            env,
            runs,
            ok=(0,),
        )
        serial = compare(
            {"migrate_all": [manage("migrate_all", "-v", "0")]},
            project,
            {**env, "BENCH_SERIAL": "1"},
            runs,
            ok=(0,),
        )
        with SilentListener() as silent:
            down_env = {
                **env,
                "BENCH_UP": str(FLEET - FLEET_DOWN),
                "BENCH_DOWN": f"127.0.0.1:{silent.port}:{FLEET_DOWN}",
            }
            preflight = compare(
                {"migrate_all --check": [manage("migrate_all", "--check")]},
                project,
                down_env,
                runs,
                ok=(1,),  # the preflight names the 5 unreachable aliases
            )
            peak = silent.peak
    finally:
        for name in reversed(made):
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
    ratios = {
        "fleet_noop_vs_single": noop["migrate_all"].median / noop["single"].median,
        "fleet_noop_serial_vs_single": serial["migrate_all"].median / noop["single"].median,
        "fleet_preflight_vs_connect_timeout": preflight["migrate_all --check"].median
        / FLEET_CONNECT_TIMEOUT,
    }
    print(f"\n6. No-op over {FLEET} PostgreSQL databases (1 in settings, {FLEET - 1} from code)")
    line("manage.py migrate (default only)", f"{noop['single'].median:6.2f} s")
    line(f"manage.py migrate_all ({FLEET} aliases)", f"{noop['migrate_all'].median:6.2f} s")
    line(
        "the same, one alias at a time (MAX_CONNECTIONS 1)",
        f"{serial['migrate_all'].median:6.2f} s",
    )
    verdict = "met" if ratios["fleet_noop_vs_single"] <= FLEET_NOOP_TARGET else "NOT met"
    line(
        f"ratio (target <= {FLEET_NOOP_TARGET})",
        f"{ratios['fleet_noop_vs_single']:6.3f} ({verdict})",
    )
    print(f"\n7. Preflight of {FLEET} aliases, {FLEET_DOWN} of them on a server that never answers")
    line(
        "manage.py migrate_all --check (exits 1 naming them)",
        f"{preflight['migrate_all --check'].median:6.2f} s",
    )
    line("CONNECT_TIMEOUT", f"{FLEET_CONNECT_TIMEOUT:6.2f} s")
    ratio = ratios["fleet_preflight_vs_connect_timeout"]
    verdict = "met" if ratio <= FLEET_PREFLIGHT_TARGET else "NOT met"
    line(f"ratio (target <= {FLEET_PREFLIGHT_TARGET})", f"{ratio:6.3f} ({verdict})")
    line("connections open at once on the silent server (at most 8)", f"{peak:6d}")
    return ratios


MANAGE_FLEET = """\
#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fleetproject.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""


RISK_FLEET, RISK_ROWS = FLEET, 20_000
RISK_FLEET_TARGET, RISK_TESTPROJECT_TARGET = 2.0, 3.0

ORDERS_MODELS = """\
from django.db import models


class Order(models.Model):
    number = models.IntegerField()
    placed = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["placed"], name="orders_placed")]
"""

ORDERS_0001 = """\
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Order",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
                ("number", models.IntegerField()),
            ],
        ),
    ]
"""

ORDERS_0002 = """\
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial")]
    operations = [
        migrations.AddField("order", "placed", models.DateTimeField(null=True)),
        migrations.AddIndex("order", models.Index(fields=["placed"], name="orders_placed")),
    ]
"""


def risk_review(runs: int) -> tuple[dict[str, float], dict[str, object]]:
    """9. ``migrate_all --risk`` against ``--plan`` over 200 PostgreSQL databases made from one
    template (case 6's settings and an app ``orders`` whose 0002 is pending on every alias:
    AddField, AddIndex on a table of 20,000 rows, analysed); 10. ``--risk`` against ``--plan``
    on the testproject with every migration pending: default and users_db on PostgreSQL,
    analytics_db in a schema of default's database, legacy_db on MariaDB, the rest SQLite.
    Before measuring, one ``--risk --json`` of each checks what was reviewed."""
    fleet = _risk_fleet(runs)
    site = _risk_testproject(runs)
    ratios = {
        "risk_vs_plan_fleet": fleet["risk"].median / fleet["plan"].median,
        "risk_testproject_seconds": site["risk"].median,
        "risk_vs_plan_testproject": site["risk"].median / site["plan"].median,
    }
    print(
        f"\n9. Lock-risk review of {RISK_FLEET} PostgreSQL databases, 1 migration pending on each"
    )
    line("manage.py migrate_all --plan", f"{fleet['plan'].median:6.2f} s")
    line("manage.py migrate_all --risk", f"{fleet['risk'].median:6.2f} s")
    ratio = ratios["risk_vs_plan_fleet"]
    verdict = "met" if ratio < RISK_FLEET_TARGET else "NOT met"
    line(f"ratio --risk / --plan (target < {RISK_FLEET_TARGET})", f"{ratio:6.3f} ({verdict})")
    print(
        "\n10. Lock-risk review of the testproject, every migration pending (PostgreSQL, MariaDB)"
    )
    line("manage.py migrate_all --plan", f"{site['plan'].median:6.2f} s")
    seconds = ratios["risk_testproject_seconds"]
    verdict = "met" if seconds < RISK_TESTPROJECT_TARGET else "NOT met"
    line(
        f"manage.py migrate_all --risk (target < {RISK_TESTPROJECT_TARGET:.0f} s)",
        f"{seconds:6.2f} s ({verdict})",
    )
    line("ratio --risk / --plan", f"{ratios['risk_vs_plan_testproject']:6.3f}")
    return ratios, {
        "fleet": {"aliases": RISK_FLEET, "rows": RISK_ROWS, "plan_seconds": fleet["plan"].seconds, "risk_seconds": fleet["risk"].seconds},
        "testproject": {"plan_seconds": site["plan"].seconds, "risk_seconds": site["risk"].seconds},
    }  # fmt: skip


def _reviewed(command: list[str], cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    """One untimed ``--risk --json``: its ``risk`` object (the benchmark stops on an error)."""
    done = subprocess.run(
        [*command, "--json"], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode not in (0, 1) or not done.stdout:
        raise SystemExit(f"{' '.join(command)} --json failed: {done.stderr}")
    risk: dict[str, Any] = json.loads(done.stdout)["risk"]
    return risk


def _risk_fleet(runs: int) -> dict[str, Measure]:
    import psycopg

    project = OUT / "risk"
    shutil.rmtree(project, ignore_errors=True)
    (project / "fleetproject").mkdir(parents=True)
    (project / "fleetproject" / "__init__.py").write_text("")
    (project / "fleetproject" / "settings.py").write_text(FLEET_SETTINGS)
    (project / "manage.py").write_text(MANAGE_FLEET)
    (project / "orders" / "migrations").mkdir(parents=True)
    for path, text in (
        ("__init__.py", ""),
        ("models.py", ORDERS_MODELS),
        ("migrations/__init__.py", ""),
        ("migrations/0001_initial.py", ORDERS_0001),
        ("migrations/0002_placed.py", ORDERS_0002),
    ):
        (project / "orders" / path).write_text(text)
    prefix = f"migrator_bench_risk_{os.getpid()}"
    template = f"{prefix}_tpl"
    env = environment(
        project,
        DJANGO_SETTINGS_MODULE="fleetproject.settings",
        BENCH_APPS="orders",
        BENCH_DB_PREFIX=prefix,
        BENCH_CONNECT_TIMEOUT=str(FLEET_CONNECT_TIMEOUT),
        BENCH_UP=str(RISK_FLEET),
        BENCH_ROUTING_CACHE=str(project / "routing"),
    )
    admin = psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True)
    made: list[str] = []
    try:
        admin.execute(f'CREATE DATABASE "{template}"')
        made.append(template)
        first = {**env, "BENCH_DEFAULT": template}
        timed([manage("migrate", "-v", "0")], project, first, (0,))
        # orders.0002 unapplied: the one migration pending on every alias
        timed([manage("migrate", "orders", "0001", "-v", "0")], project, first, (0,))
        with psycopg.connect(host="127.0.0.1", user="postgres", dbname=template) as filling:
            filling.execute(
                "INSERT INTO orders_order (number) SELECT g FROM generate_series(1, %s) g",
                [RISK_ROWS],
            )
            filling.commit()
            filling.autocommit = True
            filling.execute("ANALYZE orders_order")
        for n in range(RISK_FLEET):
            admin.execute(f'CREATE DATABASE "{prefix}_{n:03d}" TEMPLATE "{template}"')
            made.append(f"{prefix}_{n:03d}")
        review = _reviewed(manage("migrate_all", "--risk"), project, env)
        reviewed = review["reviewed"]
        if len(reviewed) != RISK_FLEET or any(item["migrations"] != 1 for item in reviewed):
            raise SystemExit(f"case 9: --risk should review 1 migration per alias: {reviewed}")
        rules = sorted({str(f["rule"]) for f in review["findings"]})
        print(
            f"\n  (case 9: --risk reviewed {len(reviewed)} aliases, 1 migration each; findings: "
            f"{', '.join(rules)})"
        )
        return compare(
            {
                "plan": [manage("migrate_all", "--plan")],
                "risk": [manage("migrate_all", "--risk")],
            },
            project,
            env,
            runs,
        )
    finally:
        for name in reversed(made):
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _risk_testproject(runs: int) -> dict[str, Measure]:
    import MySQLdb
    import psycopg

    prefix = f"migrator_bench_risk_tp_{os.getpid()}"
    site, users, legacy = f"{prefix}_site", f"{prefix}_users", f"{prefix}_legacy"
    var = OUT / "risk-var"
    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    project = ROOT / "testproject"
    postgres = "postgres://postgres@127.0.0.1:5432"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MIGRATOR_")},
        "PYTHONPATH": f"{ROOT}:{project}",
        "DJANGO_SETTINGS_MODULE": "testproject.settings",
        "MIGRATOR_VAR_DIR": str(var),
        "MIGRATOR_DB_DEFAULT": f"{postgres}/{site}",
        "MIGRATOR_DB_USERS_DB": f"{postgres}/{users}",
        "MIGRATOR_DB_ANALYTICS_DB": f"{postgres}/{site}?options=-c%20search_path%3Danalytics",
        "MIGRATOR_DB_LEGACY_DB": f"mysql://root@127.0.0.1:3306/{legacy}",
    }
    admin = psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True)
    maria = MySQLdb.connect(host="127.0.0.1", port=3306, user="root")
    try:
        for name in (site, users):
            admin.execute(f'CREATE DATABASE "{name}"')
        with psycopg.connect(host="127.0.0.1", user="postgres", dbname=site) as connection:
            connection.execute("CREATE SCHEMA analytics")
        maria.cursor().execute(f"CREATE DATABASE `{legacy}`")
        command = [sys.executable, str(project / "manage.py"), "migrate_all"]
        review = _reviewed([*command, "--risk"], ROOT, env)
        reviewed = review["reviewed"]
        counts = ", ".join(f"{r['alias']} ({r['vendor']}) {r['migrations']}" for r in reviewed)
        print(f"\n  (case 10: --risk reviewed {counts} migrations)")
        return compare(
            {"plan": [[*command, "--plan"]], "risk": [[*command, "--risk"]]}, ROOT, env, runs
        )
    finally:
        for name in (site, users):
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
        maria.cursor().execute(f"DROP DATABASE IF EXISTS `{legacy}`")
        maria.close()
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
    for generated in ("noop", "double", "fresh", "fleet", "risk", "risk-var"):
        shutil.rmtree(OUT / generated, ignore_errors=True)
