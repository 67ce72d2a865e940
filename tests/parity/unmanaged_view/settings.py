from tests.parity.base import *  # noqa: F403
from tests.parity.base import installed

INSTALLED_APPS = installed("tests.parity.unmanaged_view.stats")
DATABASE_ROUTERS = ["tests.parity.unmanaged_view.routers.WarehouseRouter"]
