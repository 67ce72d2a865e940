from tests.parity.base import *  # noqa: F403
from tests.parity.base import installed

INSTALLED_APPS = installed("tests.parity.hints_only.flags", contrib=False)
DATABASE_ROUTERS = ["tests.parity.hints_only.routers.MigrateWhenFooRouter"]
