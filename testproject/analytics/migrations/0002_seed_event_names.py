from __future__ import annotations

from typing import Any

from django.db import migrations


def record_install(apps: Any, schema_editor: Any) -> None:
    """A data migration: writes one row through the alias it runs on."""
    event = apps.get_model("analytics", "Event")
    db = schema_editor.connection.alias
    event.objects.using(db).create(
        name="analytics.installed", payload={}, occurred_at="2026-01-01T00:00:00Z"
    )


class Migration(migrations.Migration):
    dependencies = [("analytics", "0001_initial")]

    operations = [migrations.RunPython(record_install, migrations.RunPython.noop)]
