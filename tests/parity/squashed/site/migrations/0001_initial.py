from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = [("ledger", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="Page",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("account_id", models.BigIntegerField()),
            ],
        ),
    ]
