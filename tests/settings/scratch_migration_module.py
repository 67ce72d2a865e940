"""The testproject with MIGRATION_MODULES naming a package that makemigrations has not created
yet: ``migrator_scratch`` (on PYTHONPATH in the test's tmp_path) exists, its ``legacy_migrations``
does not (migrator.E008)."""

from testproject.settings import *  # noqa: F403

MIGRATION_MODULES = {"legacy": "migrator_scratch.legacy_migrations"}
