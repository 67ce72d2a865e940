from __future__ import annotations

from django.db import models


class User(models.Model):
    """The site's accounts; they live on ``users_db``."""

    username = models.CharField(max_length=150, unique=True)
    email = models.EmailField(blank=True)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.username
