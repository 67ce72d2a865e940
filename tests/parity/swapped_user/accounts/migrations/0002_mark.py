from django.db import migrations

from tests.parity.marker import ran_python


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(ran_python("accounts.0002_mark"))]
