from tests.parity.base import *  # noqa: F403
from tests.parity.base import installed

INSTALLED_APPS = installed("tests.parity.model_name.shop", "tests.parity.model_name.reports")
DATABASE_ROUTERS = ["tests.parity.model_name.routers.ModelNameRouter"]
