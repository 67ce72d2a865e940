from tests.parity.base import *  # noqa: F403
from tests.parity.base import installed

INSTALLED_APPS = installed("tests.parity.no_routers.notes")
