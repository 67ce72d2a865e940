"""The testproject with a foreign key constraint that cannot exist (migrator.E004): crossdb on
cache_db points at blog.Post on default, for the tests of the checks that run before migrate_all
in a child."""

from testproject.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.fixtures.crossdb"]  # noqa: F405
DATABASE_APPS_MAPPING = {**DATABASE_APPS_MAPPING, "crossdb": "cache_db"}  # noqa: F405
