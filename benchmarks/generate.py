"""Generate a synthetic multi-database Django project: A apps x M migrations x K aliases.

    python benchmarks/generate.py OUT --apps 300 --migrations 20 --aliases 8 [--backend sqlite|postgres]

App ``appN`` lives on alias ``N % K`` (alias 0 is ``default``); every fifth app's first migration
depends on the previous app's first migration, so there are cross-alias dependencies and several
plan levels. Models match their migrations (one model per app, one field added per migration).
Databases come from the environment of the generated settings: ``BENCH_BACKEND`` (``sqlite`` or
``postgres``), ``BENCH_DB_PREFIX`` (PostgreSQL database name prefix) and ``BENCH_VAR`` (SQLite folder).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

SETTINGS = """\
import os
from pathlib import Path

SECRET_KEY = "bench"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
APPS = {apps}
ALIASES = {aliases}
INSTALLED_APPS = ["migrator", *APPS]
BACKEND = os.environ.get("BENCH_BACKEND", "sqlite")
VAR = Path(os.environ.get("BENCH_VAR", Path(__file__).resolve().parent.parent / "var"))
PREFIX = os.environ.get("BENCH_DB_PREFIX", "bench")


def database(index, alias):
    if BACKEND == "postgres":
        return {{
            "ENGINE": "django.db.backends.postgresql",
            "NAME": f"{{PREFIX}}_{{index}}",
            "HOST": "127.0.0.1",
            "PORT": "5432",
            "USER": "postgres",
        }}
    return {{"ENGINE": "django.db.backends.sqlite3", "NAME": str(VAR / f"{{alias}}.sqlite3")}}


DATABASES = {{alias: database(i, alias) for i, alias in enumerate(ALIASES)}}
HOME = {{app: ALIASES[i % len(ALIASES)] for i, app in enumerate(APPS)}}
DATABASE_ROUTERS = ["benchproject.routers.Router"]
"""

ROUTERS = """\
from django.conf import settings


class Router:
    def db_for_read(self, model, **hints):
        return settings.HOME.get(model._meta.app_label)

    def db_for_write(self, model, **hints):
        return settings.HOME.get(model._meta.app_label)

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, **hints):
        home = settings.HOME.get(app_label)
        return None if home is None else db == home
"""

MANAGE = """\
#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchproject.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""


def model_source(app: str, fields: int) -> str:
    lines = [
        "from django.db import models",
        "",
        "",
        f"class Item{app.capitalize()}(models.Model):",
        "    name = models.CharField(max_length=100)",
    ]
    lines += [f"    f{i} = models.IntegerField(default=0)" for i in range(1, fields + 1)]
    return "\n".join(lines) + "\n"


def migration_source(app: str, number: int, deps: list[tuple[str, str]]) -> str:
    model = f"Item{app.capitalize()}"
    if number == 1:
        operation = (
            f"migrations.CreateModel(name={model!r}, fields=["
            "('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),"
            "('name', models.CharField(max_length=100))])"
        )
    else:
        operation = (
            f"migrations.AddField(model_name={model.lower()!r}, name='f{number - 1}', "
            "field=models.IntegerField(default=0))"
        )
    return (
        "from django.db import migrations, models\n\n\n"
        "class Migration(migrations.Migration):\n"
        f"    initial = {number == 1}\n"
        f"    dependencies = {deps!r}\n"
        f"    operations = [{operation}]\n"
    )


def name(number: int) -> str:
    return f"{number:04d}_step" if number > 1 else "0001_initial"


def generate(out: Path, apps: int, migrations: int, aliases: int, chain_every: int = 5) -> None:
    """Write the project; ``chain_every``: every n-th app depends on the one before (0: never)."""
    if out.exists():
        shutil.rmtree(out)
    package = out / "benchproject"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    labels = [f"app{i:04d}" for i in range(apps)]
    alias_names = ["default"] + [f"db{i}" for i in range(1, aliases)]
    (package / "settings.py").write_text(SETTINGS.format(apps=labels, aliases=alias_names))
    (package / "routers.py").write_text(ROUTERS)
    (out / "manage.py").write_text(MANAGE)
    for index, app in enumerate(labels):
        folder = out / app / "migrations"
        folder.mkdir(parents=True)
        (out / app / "__init__.py").write_text("")
        (folder / "__init__.py").write_text("")
        (out / app / "models.py").write_text(model_source(app, migrations - 1))
        for number in range(1, migrations + 1):
            deps = [(app, name(number - 1))] if number > 1 else []
            if number == 1 and chain_every and index % chain_every == chain_every - 1:
                deps.append((labels[index - 1], "0001_initial"))
            (folder / f"{name(number)}.py").write_text(migration_source(app, number, deps))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--apps", type=int, default=300)
    parser.add_argument("--migrations", type=int, default=20)
    parser.add_argument("--aliases", type=int, default=8)
    args = parser.parse_args()
    generate(args.out, args.apps, args.migrations, args.aliases)


if __name__ == "__main__":
    main()
