"""Minimal settings for django-stubs' mypy plugin: type-checking migrator needs no project."""

SECRET_KEY = "mypy"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "migrator"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
