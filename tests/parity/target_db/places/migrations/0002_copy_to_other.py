from django.db import migrations

from tests.parity.marker import ran_python


class Migration(migrations.Migration):
    dependencies = [("places", "0001_initial")]

    operations = [
        migrations.RunPython(ran_python("places.0002_copy_to_other"), hints={"target_db": "other"}),
    ]
