from django.db import models


class Page(models.Model):
    account_id = models.BigIntegerField()
