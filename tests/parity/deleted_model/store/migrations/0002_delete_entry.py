from django.db import migrations

from tests.parity.marker import ran_python


class Migration(migrations.Migration):
    dependencies = [("store", "0001_initial")]

    operations = [
        migrations.RunPython(ran_python("store.0002_delete_entry"), hints={"model_name": "entry"}),
        migrations.DeleteModel(name="Entry"),
    ]
