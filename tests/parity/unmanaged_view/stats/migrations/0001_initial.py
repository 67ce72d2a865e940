from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    operations = [
        migrations.CreateModel(
            name="DailyTotal",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("total", models.IntegerField()),
            ],
            options={"db_table": "stats_daily_total", "managed": False},
        ),
        migrations.RunSQL(
            "CREATE VIEW stats_daily_total AS SELECT 1 AS id, 0 AS total",
            "DROP VIEW stats_daily_total",
            hints={"model_name": "dailytotal"},
        ),
    ]
