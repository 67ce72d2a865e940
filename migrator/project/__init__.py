"""Everything migrator learns from the Django project, read-only: its databases (``databases``),
routers (``routing``, ``router_hints``, per operation: ``operations``, cached: ``routing_cache``),
apps and migration files (``loader``). No module here writes to a database."""
