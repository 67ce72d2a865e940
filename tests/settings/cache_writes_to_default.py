"""The testproject with a routing mistake: cache's writes go to default, where its table is never
created (migrator.E002), for the tests of the checks that run before migrate_all in a child."""

from testproject.settings import *  # noqa: F403

DATABASE_ROUTERS = [
    "tests.routers.CacheWritesToDefaultRouter",
    "testproject.routers.ReplicaRouter",
    "testproject.routers.AppLabelRouter",
]
