"""Scenario: squashed migrations. ledger (routed to ``books``) has 0001_initial, 0002_seed (an
unhinted ``RunPython``) and 0001_squashed_0002_seed, which replaces both; site (on default)
depends on ledger.0001_initial.

Proves: on fresh databases Django runs the squash (not the replaced migrations) on books, once,
and records the replaced migrations and the squash on every alias; migrate_all does the same
(the recording pass counts a squash as applied once what it replaces is, and never twice).
"""

ALIASES = ("default", "books")
