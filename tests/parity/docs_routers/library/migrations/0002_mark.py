from django.db import migrations

from tests.parity.marker import ran_python


class Migration(migrations.Migration):
    dependencies = [("library", "0001_initial")]

    # No hints: Django runs it wherever allow_migrate(db, "library") allows.
    operations = [migrations.RunPython(ran_python("library.0002_mark"))]
