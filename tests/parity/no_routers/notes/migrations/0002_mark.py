from django.db import migrations

from tests.parity.marker import ran_python


class Migration(migrations.Migration):
    dependencies = [("notes", "0001_initial")]

    operations = [migrations.RunPython(ran_python("notes.0002_mark"))]
