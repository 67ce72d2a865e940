from __future__ import annotations

from django.db import models


class Post(models.Model):
    """Posts live on ``default``; their authors on ``users_db``, so the key has no constraint."""

    author = models.ForeignKey(
        "users.User", on_delete=models.DO_NOTHING, db_constraint=False, related_name="posts"
    )
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, default="", blank=True)
    body = models.TextField()
    published_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.title
