"""Integrations with other packages, each behind its extra (``[health]``: django-health-check)."""
