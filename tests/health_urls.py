"""URLconf of the health check tests: django-health-check's own view with migrator's check."""

from __future__ import annotations

from django.urls import path
from health_check.views import HealthCheckView

CHECK = "migrator.contrib.health_check.MigrationsApplied"

urlpatterns = [
    path("ht/", HealthCheckView.as_view(checks=[CHECK])),
    path("ht/users/", HealthCheckView.as_view(checks=[(CHECK, {"databases": ("users_db",)})])),
    path("ht/cached/", HealthCheckView.as_view(checks=[(CHECK, {"cache_seconds": 3600})])),
]
urlpatterns.append(
    path("ht/unknown/", HealthCheckView.as_view(checks=[(CHECK, {"databases": ("nope",)})]))
)
