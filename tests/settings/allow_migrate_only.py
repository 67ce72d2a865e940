"""The testproject with a router that defines only allow_migrate (reads and writes are chosen with
.using()): Django's own commands must work with migrator installed, the doctor only warns."""

from testproject.settings import *  # noqa: F403

DATABASE_ROUTERS = ["tests.routers.AllowMigrateOnlyRouter"]
