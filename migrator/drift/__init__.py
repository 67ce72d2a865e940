"""Schema drift: what ``django_migrations`` records on each alias, against the live tables.

``detect(selection)`` builds, per planned alias, the state of the migrations recorded there (as
Django's executor does: the plan of every migration, replayed for the recorded ones), keeps the
models the routers send to that alias, and compares their tables and columns with the database:

- ``missing-table``: a table whose creating migration is recorded is not there;
- ``missing-columns``: the table is there without columns recorded migrations add;
- ``wrong-schema`` (PostgreSQL): the table is not in the schema the alias's ``search_path``
  selects but in another schema of the same database (also for ``django_migrations`` itself);
- ``unrecorded``: a table of a routed app exists but the migration that creates it is not recorded.

Detection only reads. ``repair(report)`` makes the repairs that cannot lose data, each under the
alias's lock, and only ever writes ``django_migrations`` rows: a recorded migration whose tables
are all missing is unrecorded (with the later migrations of its app on that alias), so the next
run recreates them; an unrecorded migration whose tables exist with every column is recorded, by
Django's own ``--fake-initial`` rule (``MigrationExecutor.detect_soft_applied``). Everything else
gets manual steps. The interactive menu calls these two functions as the commands do.
"""

from __future__ import annotations

from migrator.drift.compare import detect
from migrator.drift.repair import repair

__all__ = ["detect", "repair"]
