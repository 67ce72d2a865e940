from __future__ import annotations

from django.db import models


class CacheEntry(models.Model):
    key = models.CharField(max_length=250, unique=True)
    value = models.BinaryField()
    expires_at = models.DateTimeField(db_index=True)
