from django.db import migrations

from tests.parity.marker import ran_python


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial")]

    # No hints, in an app whose models are all on archive: Django runs it wherever
    # allow_migrate(db, "reports") allows, here on default and archive.
    operations = [migrations.RunPython(ran_python("reports.0002_mark"))]
