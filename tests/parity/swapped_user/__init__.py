"""Scenario: a swappable user model (``AUTH_USER_MODEL = "accounts.User"``) routed, with auth and
contenttypes, to the non-default alias ``users``; notes (on default) points at it through a
swappable dependency and a foreign key without a database constraint.

Proves: auth's swapped-out User is created nowhere; accounts' table and a data migration land on
users; the content types and permissions of every app, notes' included, are created on users
(where contenttypes and auth are), none on default.
"""

ALIASES = ("default", "users")
