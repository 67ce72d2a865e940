from django.db import migrations

from tests.parity.marker import ran_sql


class Migration(migrations.Migration):
    initial = True

    operations = [migrations.RunSQL(ran_sql("flags.0001_initial"), hints={"foo": True})]
