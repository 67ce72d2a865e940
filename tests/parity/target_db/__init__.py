"""Scenario: the "Data migrations and multiple databases" how-to's router, which honours
``hints={"target_db": ...}``; without that hint it keeps everything on default (the how-to's
``return True`` would send every app everywhere and prove nothing).

Proves: a ``RunPython`` with ``hints={"target_db": "other"}`` in an app whose models live on
default runs on ``other`` (Django's loop also records every migration there), and nowhere else.
"""

ALIASES = ("default", "other")
