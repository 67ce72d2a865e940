"""tests/settings/fleet.py plus ``tenant_twin`` in DATABASES: a tenant that Django's own
``migrate --database tenant_twin`` can migrate, beside the tenants from code (parity test)."""

from tests.settings.fleet import *  # noqa: F403

DATABASES = {
    **DATABASES,  # noqa: F405
    "tenant_twin": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(VAR_DIR / "tenant_twin.sqlite3"),  # noqa: F405
    },
}
