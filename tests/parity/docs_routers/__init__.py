"""Scenario: the "Multiple databases" topic's AuthRouter + PrimaryReplicaRouter, verbatim, with
the documented empty ``DATABASES["default"] = {}``.

Proves: the dummy default is never planned, preflighted or connected to; auth and contenttypes
(and the content types and permissions of every app) land on auth_db only; PrimaryReplicaRouter's
``allow_migrate`` answers True for every other app on every alias, so Django's loop creates
library's table and runs its unhinted ``RunPython`` on auth_db, primary, replica1 and replica2,
and records every migration on all four.
"""

ALIASES = ("default", "auth_db", "primary", "replica1", "replica2")
EMPTY = ("default",)
