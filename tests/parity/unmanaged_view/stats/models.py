from django.db import models


class DailyTotal(models.Model):
    total = models.IntegerField()

    class Meta:
        managed = False
        db_table = "stats_daily_total"
