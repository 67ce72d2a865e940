"""Scenario: a router that answers only from hints, Django's own test router
(``MigrateWhenFooRouter`` in tests/migrations/test_operations.py: ``return hints.get("foo",
False)``), with a ``RunSQL(..., hints={"foo": True})``. As in Django's test, neither contenttypes
nor auth is installed (their tables would be created nowhere, a real mistake of its own).

Proves: the hinted ``RunSQL`` runs on both aliases, each of which records the migration, although
no model operation is allowed anywhere.
"""

ALIASES = ("default", "other")
