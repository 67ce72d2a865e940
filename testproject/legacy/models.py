from __future__ import annotations

from django.db import models


class Customer(models.Model):
    """The legacy system's table: Django reads it, never creates or alters it."""

    name = models.CharField(max_length=200)
    email = models.CharField(max_length=200)

    class Meta:
        managed = False
        db_table = "customers"


class CustomerNote(models.Model):
    """Our notes about legacy customers, kept next to them on ``legacy_db``."""

    customer = models.ForeignKey(Customer, on_delete=models.DO_NOTHING, db_constraint=False)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
