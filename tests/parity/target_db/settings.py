from tests.parity.base import *  # noqa: F403
from tests.parity.base import installed

INSTALLED_APPS = installed("tests.parity.target_db.places")
DATABASE_ROUTERS = ["tests.parity.target_db.routers.TargetDbRouter"]
