from django.conf import settings
from django.db import models


class Note(models.Model):
    text = models.CharField(max_length=100)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False
    )
