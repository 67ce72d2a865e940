"""Parity tests (issue 12): each fixture project is migrated by Django's own per-alias ``migrate``
loop and by ``migrate_all`` on fresh databases, and the databases they leave are compared."""
