"""The testproject with a router that raises for shop (migrator.E006), for the tests of the checks
that run before migrate_all in a child."""

from testproject.settings import *  # noqa: F403

DATABASE_ROUTERS = [
    "tests.routers.RaisingRouter",
    "testproject.routers.ReplicaRouter",
    "testproject.routers.AppLabelRouter",
]
