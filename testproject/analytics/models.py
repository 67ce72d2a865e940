from __future__ import annotations

from django.db import models


class Event(models.Model):
    """Tracking events on ``analytics_db`` (its own schema on PostgreSQL)."""

    name = models.CharField(max_length=100)
    user_id = models.BigIntegerField(null=True)
    payload = models.JSONField(default=dict)
    occurred_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["name", "occurred_at"], name="event_name_time_idx"),
            models.Index(
                fields=["user_id", "name", "occurred_at"], name="event_user_name_time_idx"
            ),
        ]
