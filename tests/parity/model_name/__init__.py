"""Scenario: a router that decides by ``model_name``: shop's Order lives on default and its
ArchivedOrder on archive (one app split over two aliases); every model of reports lives on
archive. Without a model name (data migrations without hints) it has no opinion, so Django allows
them everywhere.

Proves: the split app's tables land on the alias of each model, with the content types and
permissions of both on default (where contenttypes and auth are); reports' ``RunPython`` without
hints runs on default AND archive (wherever ``allow_migrate(db, "reports")`` allows), although
none of reports' tables is on default; auth's own unhinted ``RunPython`` (0011) makes Django
record auth's migrations on archive as well.
"""

ALIASES = ("default", "archive")
