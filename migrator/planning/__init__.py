"""Pure planning: the (alias, app) dependency graph (``graph``) and the ordered levels of steps
(``plan``), from facts the project layer read. Nothing here imports ``django.db`` or reads settings."""
