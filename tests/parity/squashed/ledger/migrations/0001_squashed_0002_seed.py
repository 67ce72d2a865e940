from django.db import migrations, models

from tests.parity.marker import ran_python


class Migration(migrations.Migration):
    initial = True
    replaces = [("ledger", "0001_initial"), ("ledger", "0002_seed")]

    operations = [
        migrations.CreateModel(
            name="Account",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100)),
            ],
        ),
        migrations.RunPython(ran_python("ledger.0001_squashed_0002_seed")),
    ]
