from __future__ import annotations

from django.apps import AppConfig


class MigratorConfig(AppConfig):
    name = "migrator"
    verbose_name = "django-migrator"

    def ready(self) -> None:
        # Registers the routing doctor as system checks (tag "migrator"): manage.py check runs it.
        from migrator.doctor import system_checks  # noqa: F401
