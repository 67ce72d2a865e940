"""``--risk``: the SQL each pending migration would run on each planned alias (``sql``), reviewed
for locks that block other sessions (``squawk`` on PostgreSQL, ``mysql_rules`` on MySQL and
MariaDB), weighted by the live size of the tables (``sizes``, ``levels``); ``review`` puts it
together, ``gate`` refuses a run, ``render`` shows it (pure). Import the modules, not this
package: it imports nothing, so the pure modules stay free of Django."""
