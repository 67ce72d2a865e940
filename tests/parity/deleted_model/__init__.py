"""Scenario: a model deleted by a later migration. store's Entry, routed by model name to
``cache``, is created in 0001; 0002 copies its rows out (a ``RunPython`` hinted with
``model_name="entry"``) and deletes it. store's current models (Item, on default) no longer
include it.

Proves: Django creates and then drops store_entry on cache, runs the hinted data migration there
and records store's migrations there; asking the routers about the current models only misses
cache altogether.
"""

ALIASES = ("default", "cache")
