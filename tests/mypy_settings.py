"""Minimal settings for django-stubs' mypy plugin: type-checking migrator needs no project; the
tests name the testproject's models (and the crossdb fixture app's, which point at them) and
settings.DATABASE_APPS_MAPPING."""

from testproject import settings as project

SECRET_KEY = "mypy"
INSTALLED_APPS = [*project.INSTALLED_APPS, "tests.fixtures.crossdb", "tests.fixtures.phased"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DATABASE_APPS_MAPPING = project.DATABASE_APPS_MAPPING
