"""Control scenario: two aliases and no router, so every app is migrated on both.

Proves the harness can agree: migrate_all already leaves exactly what Django's loop leaves here
(tables, records, content types, permissions and the data migration on both aliases).
"""

ALIASES = ("default", "other")
